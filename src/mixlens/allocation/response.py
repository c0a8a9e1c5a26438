"""Response models: the narrow context the budget optimiser needs.

A :class:`ResponseModel` maps a spend plan (total spend per channel over the planning
horizon, currency) to the expected media-driven outcome per posterior draw (target units).
The optimiser never sees the model behind it. Three implementations:

* :class:`MMMResponse`: a fitted MMM (:class:`~mixlens.mmm.results.MMMResult`); per draw,
  the plan goes through the channel's adstock and saturation;
* :class:`TrueResponse`: the MMM world simulator's true daily curves (an oracle with one
  "draw");
* :class:`SeparableCurves`: analytic Hill curves ``beta * s**k / (s**k + h**k)`` per
  channel, for tests and benchmarks.

Flighting rule (MMM and simulator): a plan for the next ``N`` weeks keeps each channel's
pattern over the last ``N`` observed weeks and scales it to the planned total. The future
window starts right after the data, so adstock carries over from the last observed weeks
into it; the outcome counted is the channels' contribution inside the window.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Protocol, runtime_checkable

import numpy as np
from numpy.typing import ArrayLike, NDArray

from mixlens.errors import DataError
from mixlens.transforms.adstock import adstock

if TYPE_CHECKING:
    from mixlens.data.simulate.mmm import MMMWorldConfig
    from mixlens.mmm.data import MMMData
    from mixlens.mmm.spec import MMMSpec

__all__ = ["MMMResponse", "ResponseModel", "SeparableCurves", "TrueResponse", "as_plan"]

FloatArray = NDArray[np.float64]


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

    Per channel the true daily pressure of a plan is ``carry + spend * unit`` (adstock and
    impressions are linear in spend) and the contribution is the true Hill curve of the
    pressure, summed over the window's days. Build it with :meth:`from_world`.

    Attributes
    ----------
    channels
        Channel names.
    current
        Spend of the last ``weeks`` simulated weeks per channel, currency, ``(C,)``.
    carry, unit
        Daily pressure over the window, shape ``(C, n_days)``.
    half, slope, beta
        True daily Hill parameters per channel, ``(C,)``.
    """

    channels: tuple[str, ...]
    current: FloatArray
    carry: FloatArray
    unit: FloatArray
    half: FloatArray
    slope: FloatArray
    beta: FloatArray

    @classmethod
    def from_world(cls, config: MMMWorldConfig, *, seed: int, weeks: int = 52) -> TrueResponse:
        """Replay the simulator's media draws for ``(config, seed)`` and plan ``weeks`` weeks.

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
        names, current, carry, unit, half, slope, beta = [], [], [], [], [], [], []
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
            current.append(total)
            carry.append(sim._pressure(ch, sim._impressions(ch, past)).sum(axis=1)[history:])
            unit.append(sim._pressure(ch, sim._impressions(ch, ahead)).sum(axis=1)[history:])
            half.append(cal.half_saturation)
            slope.append(spec.slope)
            beta.append(cal.beta)
        return cls(
            channels=tuple(names),
            current=np.asarray(current),
            carry=np.asarray(carry),
            unit=np.asarray(unit),
            half=np.asarray(half),
            slope=np.asarray(slope),
            beta=np.asarray(beta),
        )

    def contributions(self, spend: FloatArray) -> FloatArray:
        """Return the true channel contributions in the window, target units, ``(1, C)``."""
        pressure = self.carry + self.unit * spend[:, None]
        ratio = (np.maximum(pressure, 0.0) / self.half[:, None]) ** self.slope[:, None]
        out: FloatArray = (self.beta[:, None] * ratio / (1.0 + ratio)).sum(axis=1)[None, :]
        return out

    def expected(self, spend: FloatArray) -> FloatArray:
        """Return the true media outcome in the window, target units, ``(1,)``."""
        out: FloatArray = self.contributions(spend).sum(axis=1)
        return out

    def gradient(self, spend: FloatArray) -> FloatArray:
        """Return the true gradient, target units per currency, ``(1, C)``."""
        return _separable_gradient(self, spend)
