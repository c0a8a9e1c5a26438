"""Response models: the narrow context the budget optimiser needs.

A :class:`ResponseModel` maps a spend plan (total spend per channel over the planning
horizon, currency) to the expected media-driven outcome per posterior draw (target units).
The optimiser never sees the model behind it. Three implementations:

* :class:`MMMResponse`: a fitted MMM (:class:`~mixlens.mmm.results.MMMResult`); per draw,
  the plan goes through the channel's adstock and saturation;
* :class:`TrueResponse`: the MMM world simulator's true daily curves, each channel with
  its own adstock and saturation kind (an oracle with one "draw");
* :class:`SeparableCurves`: analytic Hill curves ``beta * s**k / (s**k + h**k)`` per
  channel, for tests and benchmarks.

Flighting rule (MMM and simulator): a plan for the next ``N`` weeks keeps each channel's
pattern over the last ``N`` observed weeks and scales it to the planned total. The future
window starts right after the data, so adstock carries over from the last observed weeks
into it; the outcome counted is the channels' contribution inside the window.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Protocol, runtime_checkable

import numpy as np
from numpy.typing import ArrayLike, NDArray

from mixlens.errors import DataError
from mixlens.transforms.adstock import adstock
from mixlens.transforms.saturation import logistic_saturation

if TYPE_CHECKING:
    from mixlens.data.simulate.mmm import MMMWorldConfig
    from mixlens.mmm.data import MMMData
    from mixlens.mmm.spec import MMMSpec

__all__ = ["MMMResponse", "ResponseModel", "SeparableCurves", "TrueResponse", "as_plan"]

FloatArray = NDArray[np.float64]

#: Saturation kinds of the simulator's channels that :class:`TrueResponse` evaluates.
_SATURATION_KINDS = ("hill", "logistic")


@runtime_checkable
class ResponseModel(Protocol):
    """Expected outcome of a spend plan, per posterior draw.

    Attributes
    ----------
    channels
        Channel names, the order of every spend vector.
    """

    @property
    def channels(self) -> tuple[str, ...]:
        """Channel names."""
        ...

    def contributions(self, spend: FloatArray) -> FloatArray:
        """Per-draw contribution of each channel.

        Parameters
        ----------
        spend
            Total spend per channel over the horizon, currency, shape ``(n_channels,)``.

        Returns
        -------
        numpy.ndarray
            Target units, shape ``(n_draws, n_channels)``.
        """
        ...

    def expected(self, spend: FloatArray) -> FloatArray:
        """Per-draw expected media outcome of ``spend``, target units, ``(n_draws,)``."""
        ...

    def gradient(self, spend: FloatArray) -> FloatArray:
        """Per-draw gradient of :meth:`expected`, target units per currency, ``(n_draws, C)``."""
        ...


class FittedMMM(Protocol):
    """What :class:`MMMResponse` reads from a fitted MMM: spec, data and posterior draws.

    :class:`~mixlens.mmm.results.MMMResult` has it; so does one geo of a geo MMM.
    """

    @property
    def spec(self) -> MMMSpec:
        """The model specification."""
        ...

    @property
    def data(self) -> MMMData:
        """The prepared model data."""
        ...

    @property
    def _params(self) -> dict[str, FloatArray]:
        """Posterior draws per parameter, first axis the draw."""
        ...


def as_plan(model: ResponseModel, spend: ArrayLike, *, name: str = "spend") -> FloatArray:
    """Check a spend vector against ``model``'s channels and return it as float64.

    Raises
    ------
    DataError
        If the shape is wrong or a value is negative or not finite.

    Examples
    --------
    >>> curves = SeparableCurves(("tv", "search"), beta=[10.0, 5.0], half=[1.0, 1.0])
    >>> as_plan(curves, [1, 2]).tolist()
    [1.0, 2.0]
    """
    plan = np.asarray(spend, dtype=np.float64)
    n = len(model.channels)
    if plan.shape != (n,):
        raise DataError(f"{name} must have one value per channel ({n}), got shape {plan.shape}")
    bad = ~np.isfinite(plan) | (plan < 0)
    if bad.any():
        channel = model.channels[int(np.argmax(bad))]
        raise DataError(f"{name} for channel {channel!r} must be finite and >= 0")
    return plan


def _separable_gradient(model: ResponseModel, spend: FloatArray) -> FloatArray:
    """Central differences of a separable model's channel contributions (2 evaluations)."""
    step = 1e-4 * np.maximum(spend, 1e-3 * max(float(spend.mean()), 1.0))
    lower = np.minimum(step, spend)  # one-sided at zero spend
    up = model.contributions(spend + step)
    down = model.contributions(spend - lower)
    out: FloatArray = (up - down) / (step + lower)
    return out


@dataclass(frozen=True, eq=False)
class SeparableCurves:
    """Known concave (or S-shaped) curves ``beta * s**slope / (s**slope + half**slope)``.

    Parameters
    ----------
    channels
        Channel names, length ``C``.
    beta
        Saturation level per channel (target units), shape ``(C,)`` or ``(n_draws, C)``.
    half
        Spend at half saturation (currency), same shapes as ``beta``.
    slope
        Hill slope (1 is concave), scalar or broadcastable to ``beta``.

    Examples
    --------
    >>> curves = SeparableCurves(("tv", "search"), beta=[10.0, 5.0], half=[1.0, 1.0])
    >>> curves.expected(np.array([1.0, 1.0])).tolist()
    [7.5]
    """

    channels: tuple[str, ...]
    beta: ArrayLike
    half: ArrayLike
    slope: ArrayLike = 1.0

    def _arrays(self) -> tuple[FloatArray, FloatArray, FloatArray]:
        beta = np.atleast_2d(np.asarray(self.beta, dtype=np.float64))
        half = np.atleast_2d(np.asarray(self.half, dtype=np.float64))
        slope = np.atleast_2d(np.asarray(self.slope, dtype=np.float64))
        return beta, half, slope

    def contributions(self, spend: FloatArray) -> FloatArray:
        """Per-draw channel contributions, target units, ``(n_draws, C)``."""
        beta, half, slope = self._arrays()
        ratio = (np.maximum(spend, 0.0)[None, :] / half) ** slope
        out: FloatArray = beta * ratio / (1.0 + ratio)
        return out

    def expected(self, spend: FloatArray) -> FloatArray:
        """Per-draw total outcome, target units, ``(n_draws,)``."""
        out: FloatArray = self.contributions(spend).sum(axis=1)
        return out

    def gradient(self, spend: FloatArray) -> FloatArray:
        """Analytic gradient, target units per currency, ``(n_draws, C)``."""
        beta, half, slope = self._arrays()
        s = np.maximum(spend, 1e-300)[None, :]
        ratio = (s / half) ** slope
        out: FloatArray = beta * slope * ratio / (s * (1.0 + ratio) ** 2)
        return out


@dataclass(frozen=True, eq=False)
class MMMResponse:
    """A fitted MMM as a :class:`ResponseModel` over the next ``weeks`` weeks.

    Build it with :meth:`from_result`. Adstock is linear, so per draw the adstocked media
    of a plan is ``carry + spend * unit``: the carryover of the observed weeks plus the
    plan's total times the adstocked unit-total pattern; only the saturation is evaluated
    per plan.

    Attributes
    ----------
    channels
        Channel names.
    current
        Spend of the last ``weeks`` observed weeks per channel, currency, ``(C,)``.
    carry, unit
        Scaled adstocked media over the window, ``(n_draws, weeks, C)``.
    beta
        Per-draw channel scale, target units, ``(n_draws, C)``.
    """

    channels: tuple[str, ...]
    current: FloatArray
    carry: FloatArray
    unit: FloatArray
    beta: FloatArray
    _result: FittedMMM

    @classmethod
    def from_result(cls, result: FittedMMM, *, weeks: int = 52) -> MMMResponse:
        """Plan the next ``weeks`` weeks on the flighting of the last ``weeks`` weeks.

        Parameters
        ----------
        result
            A fitted (or loaded) MMM.
        weeks
            Planning horizon in weeks, ``1 <= weeks <= n_weeks`` of the fitted data.

        Returns
        -------
        MMMResponse

        Raises
        ------
        DataError
            If ``weeks`` is out of range.
        """
        data, spec = result.data, result.spec
        if not 1 <= weeks <= data.n_weeks:
            raise DataError(f"weeks must be between 1 and {data.n_weeks} (the fitted weeks)")
        params = result._params
        history = min(spec.adstocks.l_max - 1, data.n_weeks)
        spend = data.spend[data.n_weeks - weeks :]  # (N, C)
        totals = spend.sum(axis=0)
        share = np.where(totals > 0, spend / np.where(totals > 0, totals, 1.0), 1.0 / weeks)
        past = data.media[data.n_weeks - history :] if history else np.zeros((0, len(totals)))
        n_ch = len(spec.channels)
        carry_in = np.concatenate([past, np.zeros((weeks, n_ch))])
        unit_in = np.concatenate([np.zeros((history, n_ch)), share / data.media_scale])
        weights = spec.adstocks.np_weights({k: params[k] for k in spec.adstocks.parameters})
        s = weights.shape[1]

        def apply(x: FloatArray) -> FloatArray:
            xs = np.broadcast_to(x[:, None, :], (x.shape[0], s, n_ch))
            return np.ascontiguousarray(np.moveaxis(adstock(xs, weights, axis=0)[history:], 1, 0))

        return cls(
            channels=tuple(spec.channels),
            current=totals.astype(np.float64),
            carry=apply(carry_in),
            unit=apply(unit_in),
            beta=params["beta"] * data.y_scale,
            _result=result,
        )

    def contributions(self, spend: FloatArray) -> FloatArray:
        """Per-draw channel contributions in the window, target units, ``(n_draws, C)``."""
        x = self.carry + self.unit * spend[None, None, :]
        spec, params = self._result.spec, self._result._params
        sat_params = {k: params[k][:, None, :] for k in spec.saturations.parameters}
        out: FloatArray = spec.saturations.np_apply(x, sat_params).sum(axis=1) * self.beta
        return out

    def expected(self, spend: FloatArray) -> FloatArray:
        """Per-draw media outcome in the window, target units, ``(n_draws,)``."""
        out: FloatArray = self.contributions(spend).sum(axis=1)
        return out

    def gradient(self, spend: FloatArray) -> FloatArray:
        """Per-draw gradient, target units per currency, ``(n_draws, C)``."""
        return _separable_gradient(self, spend)


@dataclass(frozen=True, eq=False)
class TrueResponse:
    """The simulator's true channel response (national worlds), one "draw".

    Per channel the true daily pressure of a plan is ``carry + spend * unit``: impressions
    and adstock are linear in spend, so the carry-in of the observed days and the plan's
    unit-total flighting go once through the channel's own daily kernel (delayed,
    geometric or Weibull). The contribution is ``beta * f(pressure)`` summed over the
    window's days, with ``f`` the channel's true saturation in the simulator's daily
    pressure units and the simulator's calibrated parameters: Hill with ``half`` and
    ``slope``, or logistic ``tanh(lam * x / 2)``
    (:func:`~mixlens.transforms.saturation.logistic_saturation`, as the simulator calls
    it). Build it with :meth:`from_world`.

    Attributes
    ----------
    channels
        Channel names.
    current
        Spend of the last ``weeks`` simulated weeks per channel, currency, ``(C,)``.
    carry, unit
        Daily pressure over the window, shape ``(C, n_days)``.
    half, slope
        True daily Hill half-saturation and slope per channel, ``(C,)``; NaN for a
        logistic channel.
    beta
        True daily maximum contribution per channel, target units, ``(C,)``.
    lam
        True daily logistic steepness per unit of pressure, ``(C,)``; NaN for a Hill channel.
    saturation
        Saturation kind per channel, ``"hill"`` or ``"logistic"``.

    Raises
    ------
    ValueError
        If ``saturation`` does not name one known kind per channel.
    """

    channels: tuple[str, ...]
    current: FloatArray
    carry: FloatArray
    unit: FloatArray
    half: FloatArray
    slope: FloatArray
    beta: FloatArray
    lam: FloatArray
    saturation: tuple[str, ...]
    _curves: tuple[FloatArray, FloatArray, NDArray[np.intp]] = field(init=False, repr=False)

    def __post_init__(self) -> None:
        if len(self.saturation) != len(self.channels):
            raise ValueError(
                f"saturation needs one kind per channel ({len(self.channels)}), "
                f"got {len(self.saturation)}"
            )
        for name, kind in zip(self.channels, self.saturation, strict=True):
            if kind not in _SATURATION_KINDS:
                raise ValueError(
                    f"channel {name!r}: unknown saturation kind {kind!r}; "
                    f"known: {', '.join(_SATURATION_KINDS)}"
                )
        hills = np.array([kind == "hill" for kind in self.saturation], dtype=bool)
        half = np.where(hills, self.half, 1.0)
        slope = np.where(hills, self.slope, 1.0)
        object.__setattr__(self, "_curves", (half, slope, np.flatnonzero(~hills)))

    @classmethod
    def from_world(cls, config: MMMWorldConfig, *, seed: int, weeks: int = 52) -> TrueResponse:
        """Replay the simulator's media draws for ``(config, seed)`` and plan ``weeks`` weeks.

        Every channel keeps its own true adstock and saturation kind (see
        :mod:`mixlens.data.simulate.mmm_channels`).

        Parameters
        ----------
        config, seed
            The world's configuration and seed, as given to ``simulate_mmm``.
        weeks
            Planning horizon, ``1 <= weeks <= config.weeks``.

        Returns
        -------
        TrueResponse

        Raises
        ------
        DataError
            If the world has regions or ``weeks`` is out of range.
        """
        import pandas as pd

        from mixlens.data.simulate import mmm as sim

        if config.regions != 1:
            raise DataError("TrueResponse supports national worlds (regions=1) only")
        if not 1 <= weeks <= config.weeks:
            raise DataError(f"weeks must be between 1 and {config.weeks}")
        n_days = config.weeks * 7
        rng = np.random.default_rng(np.random.SeedSequence(seed).spawn(4)[0])
        first_weekday = int(pd.Timestamp(config.start).weekday())
        window = weeks * 7
        names, kinds = [], []
        current, carry, unit, half, slope, beta, lam = [], [], [], [], [], [], []
        for spec in config.channel_specs:
            ch = sim._draw_channel(spec, n_days, rng, first_weekday)
            cal = sim._calibrate(ch)
            history = min(len(ch.weights) - 1, n_days)
            spend = ch.spend[n_days - window :]  # (days, campaigns)
            total = float(spend.sum())
            share = spend / total if total > 0 else np.full(spend.shape, 1.0 / spend.size)
            k = spend.shape[1]
            past = np.concatenate([ch.spend[n_days - history :], np.zeros((window, k))])
            ahead = np.concatenate([np.zeros((history, k)), share])
            names.append(spec.name)
            kinds.append(cal.saturation)
            current.append(total)
            carry.append(sim._pressure(ch, sim._impressions(ch, past)).sum(axis=1)[history:])
            unit.append(sim._pressure(ch, sim._impressions(ch, ahead)).sum(axis=1)[history:])
            half.append(cal.half_saturation)
            slope.append(cal.slope)
            beta.append(cal.beta)
            lam.append(cal.lam)
        return cls(
            channels=tuple(names),
            current=np.asarray(current),
            carry=np.asarray(carry),
            unit=np.asarray(unit),
            half=np.asarray(half),
            slope=np.asarray(slope),
            beta=np.asarray(beta),
            lam=np.asarray(lam),
            saturation=tuple(kinds),
        )

    def contributions(self, spend: FloatArray) -> FloatArray:
        """Return the true channel contributions in the window, target units, ``(1, C)``."""
        pressure = np.maximum(self.carry + self.unit * spend[:, None], 0.0)
        half, slope, logistics = self._curves
        # Hill as ``beta r / (1 + r)``, ``r = (x / K)**s``: within one ulp of ``hill()``
        # (whose overflow-safe form takes ``1 / (1 + (K / x)**s)`` above K), several times
        # faster inside the optimiser's loops, and the numbers this class always gave.
        # Logistic rows are evaluated with K = s = 1 (finite) and replaced by their curve below.
        ratio = (pressure / half[:, None]) ** slope[:, None]
        daily = self.beta[:, None] * ratio / (1.0 + ratio)
        if logistics.size:
            daily[logistics] = self.beta[logistics, None] * logistic_saturation(
                pressure[logistics], lam=self.lam[logistics, None]
            )
        out: FloatArray = daily.sum(axis=1)[None, :]
        return out

    def expected(self, spend: FloatArray) -> FloatArray:
        """Return the true media outcome in the window, target units, ``(1,)``."""
        out: FloatArray = self.contributions(spend).sum(axis=1)
        return out

    def gradient(self, spend: FloatArray) -> FloatArray:
        """Return the true gradient, target units per currency, ``(1, C)``."""
        return _separable_gradient(self, spend)
