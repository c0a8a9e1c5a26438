"""Agents: a private weekly shard plus the shared response model agreed up front.

The shared model is linear in its coefficients::

    y_t / (size * target_scale) = b0 + b1 * trend_t + sum_k g_k * control_k,t
                                  + sum_c beta_c * hill(adstock(spend_c / size), h_c, s_c)_t

with the adstock (geometric, or delayed as the MMM's default), half-saturation and slope
FIXED and shared by every agent, so an agent can summarize its rows by the sufficient
statistics ``X'X, X'y, y'y, n``. ``size`` is 1 unless the model is *per capita*: then
each agent divides its outcome and its spend by its own size (its mean outcome, kept
private), so regions of very different size share one response curve per capita.

Everything a protocol asks an agent to compute runs through the agent's own methods
(masking included, :meth:`Agent.secure_share`), so the same protocol code drives an
agent in this process or in a Ray actor (:mod:`mixlens.agents.backends`).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from typing import Any, Protocol

import numpy as np
import numpy.typing as npt
import pandas as pd
import scipy.linalg

from mixlens.agents.masking import fixed_mask, to_fixed
from mixlens.errors import DataError
from mixlens.transforms.adstock import delayed_adstock, geometric_adstock
from mixlens.transforms.saturation import hill

__all__ = [
    "ADSTOCKS",
    "OBJECTIVES",
    "SHAREABLE",
    "Agent",
    "AgentLike",
    "LiftTest",
    "LocalObjective",
    "SharedModel",
    "SufficientStats",
]

OBJECTIVES = ("revenue", "profit", "ltv")
ADSTOCKS = ("geometric", "delayed")
SHAREABLE = frozenset(
    {
        "setup_sums",
        "scale_sums",
        "stats_vector",
        "coalition_vector",
        "shrink_vector",
        "fit_local",
        "admm_masked_vector",
    }
)
"""Agent methods whose result may leave the agent, and only masked (:meth:`Agent.secure_share`)."""

FloatArray = npt.NDArray[np.float64]


@dataclass(frozen=True)
class SharedModel:
    """Response model every agent uses, with its fixed transform parameters.

    Attributes
    ----------
    channels
        Channel names; media column of channel ``c`` is ``{c}_spend``.
    alpha
        Adstock retention per channel, in ``[0, 1)`` per week (geometric decay, or the
        delayed kernel's ``theta``).
    half_saturation
        Hill half-saturation per channel, in spend units per week (after adstock).
    slope
        Hill slope per channel, dimensionless.
    controls
        Control columns entering linearly.
    start
        First week of the shared calendar (ISO date); the trend is weeks since it.
    horizon
        Trend scale in weeks (trend = weeks since ``start`` / ``horizon``).
    target_scale
        Outcome unit: the model fits ``target / target_scale``.
    ridge
        Ridge penalty on every coefficient but the intercept, in scaled units.
    l_max
        Adstock kernel length, weeks.
    target
        Outcome column.
    adstock
        ``"geometric"`` (``alpha**l``, not normalized) or ``"delayed"`` (the MMM's default:
        ``alpha**((l - peak)**2)``, normalized to sum 1; Jin et al. 2017).
    peak
        Peak lag per channel in weeks (delayed adstock only; default 0).
    per_capita
        Each agent divides its outcome and spend by its own size (its mean outcome), so
        the shared coefficients are per capita and credit is scaled back by the size.
    control_center
        Pooled mean of each control, agreed in the setup round (default 0); part of the
        :meth:`reference_point` that centers the rows released under DP.
    """

    channels: tuple[str, ...]
    alpha: tuple[float, ...]
    half_saturation: tuple[float, ...]
    slope: tuple[float, ...]
    controls: tuple[str, ...] = ("price", "promotion")
    start: str = "2023-01-02"
    horizon: float = 104.0
    target_scale: float = 1.0
    ridge: float = 1.0
    l_max: int = 8
    target: str = "sales"
    adstock: str = "geometric"
    peak: tuple[float, ...] | None = None
    per_capita: bool = False
    control_center: tuple[float, ...] | None = None

    def __post_init__(self) -> None:
        n = len(self.channels)
        for name in ("alpha", "half_saturation", "slope"):
            if len(getattr(self, name)) != n:
                raise DataError(f"SharedModel.{name} needs one value per channel ({n})")
        if self.adstock not in ADSTOCKS:
            raise DataError(f"adstock must be one of {', '.join(ADSTOCKS)}, got {self.adstock!r}")
        if self.peak is not None and (
            len(self.peak) != n or self.adstock != "delayed" or min(self.peak) < 0
        ):
            raise DataError(f"peak needs delayed adstock and one lag >= 0 per channel ({n})")
        if not 1 <= n <= 15:
            raise DataError(f"SharedModel supports 1 to 15 channels, got {n}")
        if self.target_scale <= 0 or self.horizon <= 0 or self.ridge < 0:
            raise DataError("target_scale and horizon must be > 0 and ridge >= 0")

    @property
    def feature_names(self) -> tuple[str, ...]:
        """Coefficient names: ``intercept, trend, *controls, *channels``."""
        return ("intercept", "trend", *self.controls, *self.channels)

    @property
    def n_features(self) -> int:
        """Number of coefficients ``p``."""
        return 2 + len(self.controls) + len(self.channels)

    @property
    def media_slice(self) -> slice:
        """Positions of the channel coefficients in the coefficient vector."""
        return slice(2 + len(self.controls), self.n_features)

    def penalty(self) -> FloatArray:
        """Ridge penalty per coefficient, shape ``(p,)`` (0 for the intercept)."""
        lam = np.full(self.n_features, float(self.ridge))
        lam[0] = 0.0
        return lam

    def with_scales(
        self,
        *,
        target_scale: float,
        half_saturation: Sequence[float],
        control_center: Sequence[float] | None = None,
    ) -> SharedModel:
        """Return a copy with the scales agreed in the setup round."""
        return replace(
            self,
            target_scale=float(target_scale),
            half_saturation=tuple(float(h) for h in half_saturation),
            control_center=(
                self.control_center
                if control_center is None
                else tuple(float(c) for c in control_center)
            ),
        )

    def reference_point(self) -> tuple[FloatArray, float]:
        """Typical design row and scaled outcome, ``(mu (p,), 1.0)``; fixed by the model.

        ``mu`` is 0 for the intercept, 0.5 for the trend (middle of the calendar), the
        agreed control means and 0.5 for each channel (Hill at the half-saturation, which
        the setup round set to the mean spend); the scaled outcome's mean is 1 by
        construction. Under DP, agents release statistics of rows centered at this point:
        the slopes are unchanged (the intercept is unpenalized), the rows are shorter, so
        a tighter clipping bound and less noise suffice.
        """
        mu = np.zeros(self.n_features)
        mu[1] = 0.5
        if self.control_center is not None:
            mu[2 : 2 + len(self.controls)] = self.control_center
        mu[self.media_slice] = 0.5
        return mu, 1.0

    def media(self, frame: pd.DataFrame, *, size: float = 1.0) -> FloatArray:
        """Return transformed media, shape ``(weeks, channels)``, dimensionless in ``[0, 1)``.

        Rows must be one region's consecutive weeks in date order; spend is divided by
        ``size`` first (per-capita models).
        """
        spend = frame[[f"{c}_spend" for c in self.channels]].to_numpy(dtype=np.float64) / size
        alpha = np.asarray(self.alpha)
        if self.adstock == "delayed":
            peak = np.zeros(len(self.channels)) if self.peak is None else np.asarray(self.peak)
            stocked = np.column_stack(
                [
                    delayed_adstock(spend[:, c], alpha[c], peak=peak[c], l_max=self.l_max)
                    for c in range(len(self.channels))
                ]
            )
        else:
            stocked = geometric_adstock(spend, alpha, l_max=self.l_max, axis=0)
        return hill(
            stocked, half_saturation=np.asarray(self.half_saturation), slope=np.asarray(self.slope)
        )

    def design(self, frame: pd.DataFrame, *, size: float = 1.0) -> tuple[FloatArray, FloatArray]:
        """Return ``(X, y)``: design ``(weeks, p)`` and scaled outcome ``(weeks,)``.

        ``size`` divides outcome and spend (1 unless the model is per capita).
        """
        weeks = (pd.to_datetime(frame["date"]) - pd.Timestamp(self.start)).dt.days / 7.0
        trend = weeks.to_numpy(dtype=np.float64) / self.horizon
        controls = frame[list(self.controls)].to_numpy(dtype=np.float64)
        ones = np.ones((len(frame), 1))
        x = np.column_stack([ones, trend, controls, self.media(frame, size=size)])
        y = frame[self.target].to_numpy(dtype=np.float64) / (size * self.target_scale)
        return x, y


@dataclass(frozen=True)
class SufficientStats:
    """Aggregates of one shard: ``X'X (p, p)``, ``X'y (p,)``, ``y'y`` and ``n`` rows."""

    xtx: FloatArray
    xty: FloatArray
    yty: float
    n: float

    def to_vector(self) -> FloatArray:
        """Flatten to ``(p*p + p + 2,)`` for masking and transport."""
        return np.concatenate([self.xtx.ravel(), self.xty, [self.yty, self.n]])

    @classmethod
    def from_vector(cls, vec: npt.ArrayLike, p: int) -> SufficientStats:
        """Inverse of :meth:`to_vector`."""
        v = np.asarray(vec, dtype=np.float64)
        return cls(v[: p * p].reshape(p, p), v[p * p : p * p + p], float(v[-2]), float(v[-1]))

    def __add__(self, other: SufficientStats) -> SufficientStats:
        return SufficientStats(
            self.xtx + other.xtx, self.xty + other.xty, self.yty + other.yty, self.n + other.n
        )


@dataclass(frozen=True)
class LiftTest:
    """A lift-test result an agent brings: media of ``channel`` off in its weeks ``[start, end]``.

    Attributes
    ----------
    channel
        The tested channel.
    start, end
        First and last week of the test (ISO dates, inclusive).
    lift, se
        Measured incremental outcome over those weeks and its standard error (target units).

    The agent turns it into a Gaussian prior on the channel's coefficient: with
    ``F = sum f_c`` over the test weeks of its own rows, ``beta_c ~ N(lift / (s F),
    (se / (s F))**2)`` where ``s`` is the shared ``target_scale``.
    """

    channel: str
    start: str
    end: str
    lift: float
    se: float

    def __post_init__(self) -> None:
        if not self.se > 0 or not np.isfinite(self.lift):
            raise DataError("a lift test needs a finite lift and a standard error > 0")


@dataclass(frozen=True)
class LocalObjective:
    """How an agent values the outcome: revenue, profit with a margin, or long-term value.

    Attributes
    ----------
    kind
        ``"revenue"`` (factor 1), ``"profit"`` (factor = margin in ``(0, 1]``) or
        ``"ltv"`` (factor = long-term value per unit of outcome, ``> 0``).
    factor
        Value of one unit of outcome in the agent's own units.

    The agent's loss is the squared error in its own value units,
    ``factor**2 * 0.5 ||y - X b||^2``: convex, so any protocol that converges reaches the
    unique weighted least-squares equilibrium, whatever its start.

    Examples
    --------
    >>> LocalObjective("profit", 0.3).loss_weight
    0.09
    """

    kind: str = "revenue"
    factor: float = 1.0

    def __post_init__(self) -> None:
        if self.kind not in OBJECTIVES:
            raise DataError(f"objective must be one of {', '.join(OBJECTIVES)}, got {self.kind!r}")
        if not (self.factor > 0 and np.isfinite(self.factor)):
            raise DataError(f"objective factor must be finite and > 0, got {self.factor}")
        if self.kind == "revenue" and self.factor != 1.0:
            raise DataError("a revenue objective has factor 1")
        if self.kind == "profit" and self.factor > 1.0:
            raise DataError(f"a profit margin must be in (0, 1], got {self.factor}")

    @property
    def loss_weight(self) -> float:
        """Weight of the agent's squared error, ``factor**2``."""
        return round(self.factor**2, 15)


class AgentLike(Protocol):
    """What a protocol may touch on an agent directly, in process or through a backend.

    Everything else a protocol asks of an agent goes through
    :func:`mixlens.agents.backends.call_each` by method name; the methods below serve
    the coordinator's bookkeeping and the centralized check.
    """

    @property
    def name(self) -> str:
        """Agent name."""
        ...

    @property
    def n_rows(self) -> int:
        """Rows held."""
        ...

    @property
    def model(self) -> SharedModel:
        """Shared model as the agent currently holds it."""
        ...

    @property
    def objective(self) -> LocalObjective:
        """Local objective."""
        ...

    @property
    def lift(self) -> LiftTest | None:
        """Lift test the agent brings, if any."""
        ...

    @property
    def local_coef(self) -> FloatArray | None:
        """Own coefficients of the hierarchical variant."""
        ...

    def lift_prior(self) -> tuple[float, float] | None:
        """Prior ``(mean, sd)`` of the tested channel's coefficient."""
        ...

    def prior_statistics(self) -> SufficientStats:
        """Lift-test prior as quadratic terms."""
        ...

    def channel_sums(self, beta: npt.ArrayLike) -> tuple[float, FloatArray]:
        """Predicted baseline and per-channel totals over the agent's weeks."""
        ...

    def pooled_design_for_check(self) -> tuple[FloatArray, FloatArray]:
        """Weighted design and target, for the centralized check only."""
        ...


class Agent:
    """A party holding a private shard; it reveals only aggregates.

    Parameters
    ----------
    name
        Agent name (e.g. its region).
    data
        Its weekly rows, in date order: ``date``, the target, ``{c}_spend`` and controls.
    model
        The shared response model.
    lift
        Optional lift-test result, a Gaussian prior on one channel's coefficient in the
        agent's local objective.
    objective
        How the agent values the outcome (default revenue); weights its squared error.

    Examples
    --------
    >>> frame = pd.DataFrame({"date": pd.date_range("2023-01-02", periods=4, freq="7D"),
    ...     "sales": [10.0, 12, 11, 13], "tv_spend": [1.0, 0, 2, 1],
    ...     "price": 1.0, "promotion": 0.0})
    >>> model = SharedModel(("tv",), (0.5,), (1.0,), (1.0,))
    >>> Agent("r1", frame, model).statistics().n
    4.0
    """

    def __init__(
        self,
        name: str,
        data: pd.DataFrame,
        model: SharedModel,
        *,
        lift: LiftTest | None = None,
        objective: LocalObjective | None = None,
    ) -> None:
        needed = ["date", model.target, *model.controls, *(f"{c}_spend" for c in model.channels)]
        missing = [c for c in needed if c not in data.columns]
        if missing:
            raise DataError(f"agent {name!r}: missing columns {missing}")
        if len(data) == 0:
            raise DataError(f"agent {name!r}: empty shard")
        if lift is not None and lift.channel not in model.channels:
            raise DataError(f"agent {name!r}: lift test on unknown channel {lift.channel!r}")
        self.name = name
        self.lift = lift
        self.objective = objective if objective is not None else LocalObjective()
        self._data = data.reset_index(drop=True)
        self.model = model
        self.size = 1.0
        """Own size dividing outcome and spend (mean outcome if per capita); never sent."""
        if model.per_capita:
            mean = float(self._data[model.target].to_numpy(np.float64).mean())
            if not (mean > 0 and np.isfinite(mean)):
                raise DataError(f"agent {name!r}: a per-capita model needs a mean outcome > 0")
            self.size = mean
        self._peers: dict[str, int] = {}
        self._pending: dict[tuple[str, int], FloatArray] = {}
        self._cache: tuple[FloatArray, FloatArray] | None = None
        self._u: FloatArray | None = None
        self._x: FloatArray | None = None
        self._factor: tuple[Any, float] | None = None
        self.local_coef: FloatArray | None = None
        """Own coefficients after :meth:`fit_local` (hierarchical variant); never sent."""

    @property
    def n_rows(self) -> int:
        """Rows held (never sent)."""
        return len(self._data)

    def set_model(self, model: SharedModel) -> None:
        """Adopt the shared model (e.g. after the setup round fixed its scales)."""
        self.model = model
        self._cache = None
        self._factor = None

    def adopt_scales(
        self,
        target_scale: float,
        half_saturation: Sequence[float],
        control_center: Sequence[float] | None = None,
    ) -> SharedModel:
        """Adopt the scales the setup round fixed; returns the agent's new model."""
        self.set_model(
            self.model.with_scales(
                target_scale=target_scale,
                half_saturation=half_saturation,
                control_center=control_center,
            )
        )
        return self.model

    def _xy(self) -> tuple[FloatArray, FloatArray]:
        if self._cache is None:
            self._cache = self.model.design(self._data, size=self.size)
        return self._cache

    def setup_sums(self) -> FloatArray:
        """Return ``[n, sum target, sum spend_c..., sum control_k...]``, ``(2 + C + K,)``.

        Target and spend are per capita if the model is.
        """
        spend = self._data[[f"{c}_spend" for c in self.model.channels]].to_numpy(np.float64)
        target = self._data[self.model.target].to_numpy(np.float64)
        controls = self._data[list(self.model.controls)].to_numpy(np.float64)
        return np.concatenate(
            [
                [float(len(self._data)), target.sum() / self.size],
                spend.sum(axis=0) / self.size,
                controls.sum(axis=0),
            ]
        )

    def set_peers(self, peers: Mapping[str, int]) -> None:
        """Keep this agent's pairwise seeds (its side of the pairwise key agreement)."""
        self._peers = {str(k): int(v) for k, v in peers.items()}

    def secure_share(
        self,
        method: str,
        args: Sequence[Any] = (),
        *,
        round: int,
        kind: str,
        scale: float | npt.ArrayLike,
        parties: int = 1,
    ) -> npt.NDArray[np.uint64]:
        """Compute ``method(*args)``; return it in fixed point plus this agent's masks.

        ``method`` must be one of :data:`SHAREABLE`; ``scale`` bounds the values (a
        scalar or one per entry, the same for every agent) and sets the resolution,
        ``scale * 2**-52`` (:func:`~mixlens.agents.masking.to_fixed`; ``parties`` agents
        are summed, which bounds each value by ``scale * 1024 / parties``). The words are
        masked modulo ``2**64`` (:func:`~mixlens.agents.masking.fixed_mask`); the
        unmasked vector never leaves the agent.
        """
        vec = self._pending.pop((kind, round), None)
        if vec is None:
            vec = self._shareable(method, args)
        try:
            words = to_fixed(vec, scale, parties=parties)
        except ValueError as err:
            raise DataError(f"agent {self.name!r}, {kind!r}: {err}") from err
        mask = fixed_mask(self.name, self._peers, round=round, kind=kind, size=vec.size)
        return np.add(words, mask)

    def _shareable(self, method: str, args: Sequence[Any]) -> FloatArray:
        if method not in SHAREABLE:
            raise DataError(f"agent {self.name!r}: {method!r} may not be shared")
        return np.asarray(getattr(self, method)(*args), dtype=np.float64).ravel()

    def share_magnitude(
        self, method: str, args: Sequence[Any] = (), *, round: int, kind: str
    ) -> FloatArray:
        """Prepare the next :meth:`secure_share` of ``(kind, round)``; return only ranges.

        Computes ``method(*args)``, keeps it for the share, and returns the power of ten
        at or above each entry's magnitude. The coordinator takes the largest over
        agents as the fixed-point range, so the masked sum keeps about 15 significant
        digits per entry.
        """
        vec = self._shareable(method, args)
        self._pending[(kind, round)] = vec
        return np.asarray(10.0 ** np.ceil(np.log10(np.maximum(np.abs(vec), 1e-300))))

    def stats_vector(
        self,
        clip: tuple[float, float] | None = None,
        noise_sd: float = 0.0,
        noise_seed: int = 0,
        scales: Sequence[float] | None = None,
    ) -> FloatArray:
        """Flattened statistics plus the lift prior, with Gaussian noise if ``noise_sd > 0``.

        The agent draws the noise itself from ``noise_seed``; ``noise_sd`` follows the
        agreed DP configuration (:meth:`~mixlens.agents.protocols.DPConfig.noise_sds`).
        With ``clip`` (DP) the rows are centered at the model's reference point first and,
        with ``scales``, each feature divided by its agreed scale (the lift prior is
        expressed in the same scaled coordinates); with noise, ``y'y`` and ``n`` are sent
        as zeros: only ``X'X`` and ``X'y`` are released (what the DP sensitivity covers).
        """
        centered = clip is not None
        prior = self.prior_statistics()
        if scales is not None:
            d = 1.0 / np.asarray(scales, dtype=np.float64)
            prior = SufficientStats(prior.xtx * np.outer(d, d), prior.xty * d, 0.0, 0.0)
        stats = self.statistics(clip=clip, center=centered, scales=scales)
        vec = (stats + prior).to_vector()
        if noise_sd > 0:
            vec[:-2] += np.random.default_rng(noise_seed).normal(0.0, noise_sd, vec.size - 2)
            vec[-2:] = 0.0
        return vec

    def scale_sums(self, cap: float, noise_sd: float = 0.0, noise_seed: int = 0) -> FloatArray:
        """Return ``[sum_t min(|x_tj - mu_j|, cap) for each feature but the intercept, n]``.

        The per-feature spread of the rows centered at the model's reference point,
        capped at ``cap`` so one row moves the vector by at most
        ``sqrt((p - 1) cap**2 + 1)`` in L2; with ``noise_sd > 0`` the agent adds its own
        Gaussian noise (seeded by ``noise_seed``). This is the DP release from which the
        coordinator sets the per-feature scales (:class:`~mixlens.agents.protocols.DPConfig`).
        Unweighted by the objective (it counts rows).
        """
        x, _ = self._xy()
        mu, _ = self.model.reference_point()
        spread = np.minimum(np.abs(x[:, 1:] - mu[1:]), cap).sum(axis=0)
        vec = np.concatenate([spread, [float(len(x))]])
        if noise_sd > 0:
            vec += np.random.default_rng(noise_seed).normal(0.0, noise_sd, vec.size)
        return np.asarray(vec, dtype=np.float64)

    def coalition_vector(self, coef: npt.ArrayLike, local: bool = False) -> FloatArray:
        """Value of every channel coalition on this agent's weeks, ``(2**C,)``, target units.

        Uses :attr:`local_coef` instead of ``coef`` when ``local`` and the agent has one.
        """
        from mixlens.agents.shapley import coalition_values

        own = self.local_coef if local and self.local_coef is not None else coef
        base, media = self.channel_sums(own)
        return coalition_values(base, media)

    def own_credit(self, coef: npt.ArrayLike, local: bool = False) -> FloatArray:
        """Exact Shapley credit of the channels on this agent's weeks, ``(C,)``."""
        from mixlens.agents.shapley import exact_shapley

        return exact_shapley(self.coalition_vector(coef, local))

    def shrink_vector(self, lam: float) -> FloatArray:
        """Hierarchical terms ``[vec(lam (I - lam A^-1)), lam A^-1 b]``, ``(p*p + p,)``.

        ``A = X'X + P + lam I`` and ``b = X'y + P mu`` (with the lift prior ``P, mu``).
        """
        stats = self.statistics() + self.prior_statistics()
        p = stats.xty.size
        a = stats.xtx + lam * np.eye(p)
        a_inv_b = np.asarray(np.linalg.solve(a, stats.xty), dtype=np.float64)
        mat = lam * (np.eye(p) - lam * np.linalg.inv(a))
        return np.concatenate([mat.ravel(), lam * a_inv_b])

    def admm_masked_vector(self, z: npt.ArrayLike, rho: float, u_scale: float = 1.0) -> FloatArray:
        """``[x_i + u_i, ||x_i_prev - z||^2]`` after one ADMM step (secure ADMM), ``(p + 1,)``."""
        zz = np.asarray(z, dtype=np.float64)
        prev = self.current_iterate()
        r_prev = 0.0 if prev is None else float(((prev - zz) ** 2).sum())
        x, u = self.admm_step(zz, rho, u_scale=u_scale)
        return np.concatenate([x + u, [r_prev]])

    def statistics(
        self,
        *,
        clip: tuple[float, float] | None = None,
        center: bool = False,
        scales: Sequence[float] | None = None,
    ) -> SufficientStats:
        """Sufficient statistics of the shard.

        Parameters
        ----------
        clip
            ``(row_norm, target_bound)``: if given, each design row is scaled to L2 norm
            at most ``row_norm`` and the scaled target clipped to ``[-bound, bound]``
            (what bounds the sensitivity for differential privacy).
        center
            Center rows and target at the model's :meth:`SharedModel.reference_point`
            first (the intercept column stays 1).
        scales
            Divide each (centered) feature by its scale before clipping, ``(p,)`` with 1
            for the intercept: the statistics of the reparameterized design ``X D``,
            ``D = diag(1 / scales)``, whose coefficients are ``scales * beta``.

        ``X'X``, ``X'y`` and ``y'y`` are weighted by the objective's ``loss_weight``.
        """
        x, y = self._xy()
        if center:
            mu, y0 = self.model.reference_point()
            x, y = x - mu, y - y0
        if scales is not None:
            x = x / np.asarray(scales, dtype=np.float64)
        if clip is not None:
            norms = np.linalg.norm(x, axis=1)
            x = x * np.minimum(1.0, clip[0] / np.maximum(norms, 1e-300))[:, None]
            y = np.clip(y, -clip[1], clip[1])
        w = self.objective.loss_weight
        return SufficientStats(w * (x.T @ x), w * (x.T @ y), w * float(y @ y), float(len(y)))

    def prior_statistics(self) -> SufficientStats:
        """Return the lift-test prior as quadratic terms: ``(diag(precision), precision * mean)``.

        Zero without a lift test. Adding them to ``X'X`` and ``X'y`` gives the MAP fit
        with the prior; ``n`` and ``y'y`` are 0 (the prior holds no rows).
        """
        p = self.model.n_features
        prec = np.zeros(p)
        pm = np.zeros(p)
        mean_sd = self.lift_prior()
        if mean_sd is not None:
            j = self.model.feature_names.index(self.lift.channel)  # type: ignore[union-attr]
            prec[j] = 1.0 / mean_sd[1] ** 2
            pm[j] = mean_sd[0] * prec[j]
        return SufficientStats(np.diag(prec), pm, 0.0, 0.0)

    def lift_prior(self) -> tuple[float, float] | None:
        """Prior ``(mean, sd)`` of the tested channel's coefficient (scaled units), or None."""
        if self.lift is None:
            return None
        x, _ = self._xy()
        dates = pd.to_datetime(self._data["date"])
        lo, hi = pd.Timestamp(self.lift.start), pd.Timestamp(self.lift.end)
        inside = ((dates >= lo) & (dates <= hi)).to_numpy()
        j = self.model.feature_names.index(self.lift.channel)
        total = float(x[inside, j].sum()) * self.model.target_scale * self.size
        if not total > 0:
            raise DataError(f"agent {self.name!r}: no {self.lift.channel} media in the lift weeks")
        return self.lift.lift / total, self.lift.se / total

    def admm_step(
        self, z: FloatArray, rho: float, *, u_scale: float = 1.0
    ) -> tuple[FloatArray, FloatArray]:
        """One consensus-ADMM round on this agent; returns ``(x_i, u_i)``, each ``(p,)``.

        First the dual update with the received ``z``: ``u_i = (u_i + x_i - z) * u_scale``
        (``u_scale = rho_old / rho`` when the coordinator changed ``rho``); then the local
        proximal step ``x_i = argmin 0.5 ||y_i - X_i x||^2 + rho/2 ||x - z + u_i||^2``
        (a Cholesky solve with ``scipy.linalg``, factorized once per ``rho``), plus the
        lift-test prior's quadratic term when the agent has one.
        """
        x_mat, y = self._xy()
        p = x_mat.shape[1]
        if self._u is None:
            self._u = np.zeros(p)
        if self._x is not None:
            self._u = (self._u + self._x - z) * u_scale
        prior = self.prior_statistics()
        w = self.objective.loss_weight
        if self._factor is None or self._factor[1] != rho:
            gram = w * (x_mat.T @ x_mat) + prior.xtx + rho * np.eye(p)
            self._factor = (scipy.linalg.cho_factor(gram), rho)
        rhs = w * (x_mat.T @ y) + prior.xty + rho * (z - self._u)
        self._x = np.asarray(scipy.linalg.cho_solve(self._factor[0], rhs), dtype=np.float64)
        return self._x, self._u

    def fit_local(self, z: npt.ArrayLike, lam: float) -> FloatArray:
        """Fit own coefficients shrunk toward the global ``z`` with strength ``lam``.

        ``x = argmin 0.5 ||y - X x||^2 + prior(x) + lam/2 ||x - z||^2``, kept in
        :attr:`local_coef`. Returns ``[SSE, SST, ||x - z||^2]`` (SST about the shard's mean),
        the scalars the trade-off curve needs.
        """
        x_mat, y = self._xy()
        zz = np.asarray(z, dtype=np.float64)
        stats = self.statistics() + self.prior_statistics()
        a = stats.xtx + lam * np.eye(zz.size)
        self.local_coef = np.asarray(np.linalg.solve(a, stats.xty + lam * zz), dtype=np.float64)
        resid = y - x_mat @ self.local_coef
        return np.array(
            [
                float(resid @ resid),
                float(((y - y.mean()) ** 2).sum()),
                float(((self.local_coef - zz) ** 2).sum()),
            ]
        )

    def current_iterate(self) -> FloatArray | None:
        """Return the local ADMM iterate ``x_i`` (None before the first step); never sent bare."""
        return None if self._x is None else self._x.copy()

    def reset(self, start: npt.ArrayLike | None = None) -> None:
        """Forget protocol state; optionally start the local iterate at ``start`` ``(p,)``."""
        self._u = None
        self._x = None if start is None else np.array(start, dtype=np.float64)

    def channel_sums(self, beta: npt.ArrayLike) -> tuple[float, FloatArray]:
        """Predicted baseline total and per-channel totals over this shard's weeks.

        Returns ``(base, media)`` in target units: ``base`` is the summed prediction with
        all media off, ``media[c]`` the summed ``beta_c * f_c`` (shape ``(channels,)``),
        both times the agent's size for a per-capita model.
        """
        x, _ = self._xy()
        b = np.asarray(beta, dtype=np.float64)
        sl = self.model.media_slice
        base_cols = np.ones(x.shape[1], dtype=bool)
        base_cols[sl] = False
        unit = self.model.target_scale * self.size
        base = float(x[:, base_cols].sum(axis=0) @ b[base_cols]) * unit
        media = x[:, sl].sum(axis=0) * b[sl] * unit
        return base, media

    def pooled_design_for_check(self) -> tuple[FloatArray, FloatArray]:
        """Design and target times ``sqrt(loss_weight)``; ONLY for the centralized check."""
        x, y = self._xy()
        s = float(np.sqrt(self.objective.loss_weight))
        return (x, y) if s == 1.0 else (x * s, y * s)
