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

__all__ = ["Agent", "SharedModel", "SufficientStats"]

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

    Examples
    --------
    >>> frame = pd.DataFrame({"date": pd.date_range("2023-01-02", periods=4, freq="7D"),
    ...     "sales": [10.0, 12, 11, 13], "tv_spend": [1.0, 0, 2, 1],
    ...     "price": 1.0, "promotion": 0.0})
    >>> model = SharedModel(("tv",), (0.5,), (1.0,), (1.0,))
    >>> Agent("r1", frame, model).statistics().n
    4.0
    """

    def __init__(self, name: str, data: pd.DataFrame, model: SharedModel) -> None:
        needed = ["date", model.target, *model.controls, *(f"{c}_spend" for c in model.channels)]
        missing = [c for c in needed if c not in data.columns]
        if missing:
            raise DataError(f"agent {name!r}: missing columns {missing}")
        if len(data) == 0:
            raise DataError(f"agent {name!r}: empty shard")
        self.name = name
        self._data = data.reset_index(drop=True)
        self.model = model
        self._cache: tuple[FloatArray, FloatArray] | None = None
        self._u: FloatArray | None = None
        self._x: FloatArray | None = None
        self._factor: tuple[Any, float] | None = None

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
        """
        x, y = self._xy()
        if clip is not None:
            norms = np.linalg.norm(x, axis=1)
            x = x * np.minimum(1.0, clip[0] / np.maximum(norms, 1e-300))[:, None]
            y = np.clip(y, -clip[1], clip[1])
        return SufficientStats(x.T @ x, x.T @ y, float(y @ y), float(len(y)))

    def admm_step(
        self, z: FloatArray, rho: float, *, u_scale: float = 1.0
    ) -> tuple[FloatArray, FloatArray]:
        """One consensus-ADMM round on this agent; returns ``(x_i, u_i)``, each ``(p,)``.

        First the dual update with the received ``z``: ``u_i = (u_i + x_i - z) * u_scale``
        (``u_scale = rho_old / rho`` when the coordinator changed ``rho``); then the local
        proximal step ``x_i = argmin 0.5 ||y_i - X_i x||^2 + rho/2 ||x - z + u_i||^2``
        (a Cholesky solve with ``scipy.linalg``, factorized once per ``rho``).
        """
        x_mat, y = self._xy()
        p = x_mat.shape[1]
        if self._u is None:
            self._u = np.zeros(p)
        if self._x is not None:
            self._u = (self._u + self._x - z) * u_scale
        if self._factor is None or self._factor[1] != rho:
            gram = x_mat.T @ x_mat + rho * np.eye(p)
            self._factor = (scipy.linalg.cho_factor(gram), rho)
        rhs = x_mat.T @ y + rho * (z - self._u)
        self._x = np.asarray(scipy.linalg.cho_solve(self._factor[0], rhs), dtype=np.float64)
        return self._x, self._u

    def reset(self) -> None:
        """Forget protocol state (local iterate and dual variable)."""
        self._u = None
        self._x = None

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
        """Raw design and target; used ONLY by the centralized check, never sent."""
        return self._xy()
