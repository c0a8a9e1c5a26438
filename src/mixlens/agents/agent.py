"""Agents: a private weekly shard plus the shared response model agreed up front.

The shared model is linear in its coefficients::

    y_t / target_scale = b0 + b1 * trend_t + sum_k g_k * control_k,t
                         + sum_c beta_c * hill(geometric_adstock(spend_c), h_c, s_c)_t

with adstock retention, half-saturation and slope FIXED and shared by every agent, so
an agent can summarize its rows by the sufficient statistics ``X'X, X'y, y'y, n``.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace
from typing import Any

import numpy as np
import numpy.typing as npt
import pandas as pd
import scipy.linalg

from mixlens.errors import DataError
from mixlens.transforms.adstock import geometric_adstock
from mixlens.transforms.saturation import hill

__all__ = ["OBJECTIVES", "Agent", "LiftTest", "LocalObjective", "SharedModel", "SufficientStats"]

OBJECTIVES = ("revenue", "profit", "ltv")

FloatArray = npt.NDArray[np.float64]


@dataclass(frozen=True)
class SharedModel:
    """Response model every agent uses, with its fixed transform parameters.

    Attributes
    ----------
    channels
        Channel names; media column of channel ``c`` is ``{c}_spend``.
    alpha
        Geometric adstock retention per channel, in ``[0, 1)`` per week.
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

    def __post_init__(self) -> None:
        n = len(self.channels)
        for name in ("alpha", "half_saturation", "slope"):
            if len(getattr(self, name)) != n:
                raise DataError(f"SharedModel.{name} needs one value per channel ({n})")
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

    def with_scales(self, *, target_scale: float, half_saturation: Sequence[float]) -> SharedModel:
        """Return a copy with the scales agreed in the setup round."""
        return replace(
            self,
            target_scale=float(target_scale),
            half_saturation=tuple(float(h) for h in half_saturation),
        )

    def media(self, frame: pd.DataFrame) -> FloatArray:
        """Return transformed media, shape ``(weeks, channels)``, dimensionless in ``[0, 1)``.

        Rows must be one region's consecutive weeks in date order.
        """
        spend = frame[[f"{c}_spend" for c in self.channels]].to_numpy(dtype=np.float64)
        stocked = geometric_adstock(spend, np.asarray(self.alpha), l_max=self.l_max, axis=0)
        return hill(
            stocked, half_saturation=np.asarray(self.half_saturation), slope=np.asarray(self.slope)
        )

    def design(self, frame: pd.DataFrame) -> tuple[FloatArray, FloatArray]:
        """Return ``(X, y)``: design ``(weeks, p)`` and scaled outcome ``(weeks,)``."""
        weeks = (pd.to_datetime(frame["date"]) - pd.Timestamp(self.start)).dt.days / 7.0
        trend = weeks.to_numpy(dtype=np.float64) / self.horizon
        controls = frame[list(self.controls)].to_numpy(dtype=np.float64)
        ones = np.ones((len(frame), 1))
        x = np.column_stack([ones, trend, controls, self.media(frame)])
        y = frame[self.target].to_numpy(dtype=np.float64) / self.target_scale
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

    def _xy(self) -> tuple[FloatArray, FloatArray]:
        if self._cache is None:
            self._cache = self.model.design(self._data)
        return self._cache

    def setup_sums(self) -> FloatArray:
        """Return ``[n, sum target, sum spend_c...]``, shape ``(2 + channels,)``."""
        spend = self._data[[f"{c}_spend" for c in self.model.channels]].to_numpy(np.float64)
        target = self._data[self.model.target].to_numpy(np.float64)
        return np.concatenate([[float(len(self._data)), target.sum()], spend.sum(axis=0)])

    def statistics(self, *, clip: tuple[float, float] | None = None) -> SufficientStats:
        """Sufficient statistics of the shard.

        Parameters
        ----------
        clip
            ``(row_norm, target_bound)``: if given, each design row is scaled to L2 norm
            at most ``row_norm`` and the scaled target clipped to ``[-bound, bound]``
            (what bounds the sensitivity for differential privacy).

        ``X'X``, ``X'y`` and ``y'y`` are weighted by the objective's ``loss_weight``.
        """
        x, y = self._xy()
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
        total = float(x[inside, j].sum()) * self.model.target_scale
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
        all media off, ``media[c]`` the summed ``beta_c * f_c`` (shape ``(channels,)``).
        """
        x, _ = self._xy()
        b = np.asarray(beta, dtype=np.float64)
        sl = self.model.media_slice
        base_cols = np.ones(x.shape[1], dtype=bool)
        base_cols[sl] = False
        base = float(x[:, base_cols].sum(axis=0) @ b[base_cols]) * self.model.target_scale
        media = x[:, sl].sum(axis=0) * b[sl] * self.model.target_scale
        return base, media

    def pooled_design_for_check(self) -> tuple[FloatArray, FloatArray]:
        """Design and target times ``sqrt(loss_weight)``; ONLY for the centralized check."""
        x, y = self._xy()
        s = float(np.sqrt(self.objective.loss_weight))
        return (x, y) if s == 1.0 else (x * s, y * s)
