"""Vertical partitioning: channel owners hold different columns for the same weeks.

The sales owner holds the outcome, the calendar's trend and the controls; each channel
owner holds the spend columns of its own channels for the same weeks. The shared model is
the one of :class:`~mixlens.agents.agent.SharedModel`, split into column blocks::

    y_t / target_scale = A0_t x0 + sum_j A_j,t x_j       (A0 = [1, trend, controls])

and is fitted by the sharing form of ADMM (Boyd et al. 2011, section 7.3) with ``N``
blocks (the sales owner's and one per channel owner), ridge on every coefficient but the
intercept and non-negative channel coefficients:

* each channel owner ``j`` receives the per-week vector ``v = zbar - Abar - u`` and
  solves its small box-constrained ridge problem for ``x_j`` on its own columns;
* the owners' per-week contributions ``A_j x_j`` are summed with pairwise additive masks,
  so the sales owner learns only their per-week total, never one owner's contribution;
* the sales owner (in the coordinator's seat, as it holds ``y``) updates its own block,
  ``zbar`` and the scaled dual ``u`` and broadcasts the next ``v``.

What crosses the wire each round, and so what is revealed: to the sales owner, the total
fitted media contribution per week (a ``weeks``-vector; no spend, no single owner's
part); to each owner, ``v`` (a ``weeks``-vector that depends on the outcome and on the
other blocks' fit, i.e. a residual-like signal, never ``y`` itself); at the end, each
owner's channel credits (the attribution, which is the output). Message sizes are fixed by
the number of weeks: they grow by 8 bytes per week and do not depend on how many channels
an owner holds. Each owner fixes its own half-saturation (mean weekly spend of its channel)
and the sales owner its own ``target_scale`` (mean outcome): no setup exchange is needed.

Owners compute (and mask) through :func:`~mixlens.agents.backends.call_each`, so they may
live in Ray actors (:class:`~mixlens.agents.backends.RayBackend`) with the same code.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

import numpy as np
import numpy.typing as npt
import pandas as pd
import scipy.optimize

from mixlens.agents.agent import FloatArray
from mixlens.agents.backends import Named, call_each
from mixlens.agents.messages import Bus, Message
from mixlens.agents.protocols import pairwise_mask
from mixlens.agents.shapley import shapley_credit
from mixlens.errors import DataError
from mixlens.transforms.adstock import geometric_adstock
from mixlens.transforms.saturation import hill

__all__ = [
    "ChannelOwner",
    "OwnerLike",
    "SalesOwner",
    "SharingConfig",
    "SharingResult",
    "attribute_vertical",
    "box_ridge",
    "centralized_vertical_fit",
    "sharing_admm",
]

Progress = Callable[[str], None] | None


def _calendar(frame: pd.DataFrame, start: str, weeks: int, who: str) -> None:
    dates = pd.to_datetime(frame["date"]).reset_index(drop=True)
    expected = pd.date_range(start, periods=weeks, freq="7D")
    if len(dates) != weeks or not (dates.to_numpy() == expected.to_numpy()).all():
        raise DataError(f"{who}: rows must be the agreed {weeks} weeks from {start}, in order")


def box_ridge(hess: FloatArray, grad: FloatArray, lower_zero: npt.NDArray[np.bool_]) -> FloatArray:
    """Minimize ``0.5 x'Hx - g'x`` with ``x_i >= 0`` where ``lower_zero[i]``.

    ``H`` must be positive definite. Up to 6 bounded variables the KKT system is solved
    exactly by enumerating free sets; beyond, ``scipy.optimize.minimize`` (L-BFGS-B).

    Examples
    --------
    >>> box_ridge(np.eye(2), np.array([1.0, -1.0]), np.array([True, True])).tolist()
    [1.0, 0.0]
    """
    full = np.asarray(np.linalg.solve(hess, grad), dtype=np.float64)
    bounded = np.flatnonzero(lower_zero)
    if bounded.size == 0 or np.all(full[bounded] >= 0):
        return full
    if bounded.size <= 6:
        free_always = np.flatnonzero(~lower_zero)
        best: FloatArray | None = None
        best_obj = math.inf
        for k in range(bounded.size, -1, -1):
            for subset in itertools.combinations(bounded.tolist(), k):
                free = np.concatenate([free_always, np.asarray(subset, dtype=np.int64)])
                x = np.zeros_like(grad)
                if free.size:
                    x[free] = np.linalg.solve(hess[np.ix_(free, free)], grad[free])
                if np.any(x[bounded] < -1e-15):
                    continue
                x[bounded] = np.maximum(x[bounded], 0.0)
                obj = float(0.5 * x @ hess @ x - grad @ x)
                if obj < best_obj:
                    best, best_obj = x, obj
        if best is not None:
            return best
    bounds = [(0.0, None) if b else (None, None) for b in lower_zero]
    res = scipy.optimize.minimize(
        lambda x: (0.5 * x @ hess @ x - grad @ x, hess @ x - grad),
        np.maximum(full, 0.0),
        jac=True,
        bounds=bounds,
        method="L-BFGS-B",
        options={"ftol": 1e-15, "gtol": 1e-12, "maxiter": 10_000},
    )
    return np.asarray(res.x, dtype=np.float64)


class _Block:
    """A column block with a private ``(weeks, k)`` design and its own ADMM state."""

    name: str
    penalty: FloatArray
    nonneg: npt.NDArray[np.bool_]

    def __init__(self) -> None:
        self._x: FloatArray | None = None
        self._hess: tuple[float, FloatArray] | None = None

    def features(self) -> FloatArray:
        """Private design block, shape ``(weeks, k)``."""
        raise DataError(f"{type(self).__name__} has no features")

    @property
    def coef(self) -> FloatArray:
        """Current coefficients of this block, shape ``(k,)``."""
        a = self.features()
        return self._x if self._x is not None else np.zeros(a.shape[1])

    def contribution(self) -> FloatArray:
        """Return ``A x`` for the current ``x``, shape ``(weeks,)`` (private until masked)."""
        return self.features() @ self.coef

    def reset(self) -> None:
        """Forget protocol state."""
        self._x = None

    def local_step(self, v: npt.ArrayLike, rho: float) -> FloatArray:
        """Sharing-ADMM block update; returns the new ``A x``, shape ``(weeks,)``.

        ``x = argmin 0.5 x' diag(penalty) x + rho/2 ||A x - (A x_old + v)||^2`` with the
        block's non-negativity, where ``v`` is the broadcast ``zbar - Abar - u``.
        """
        a = self.features()
        target = self.contribution() + np.asarray(v, dtype=np.float64)
        if self._hess is None or self._hess[0] != rho:
            self._hess = (rho, rho * (a.T @ a) + np.diag(self.penalty))
        self._x = box_ridge(self._hess[1], rho * (a.T @ target), self.nonneg)
        return self.contribution()


class ChannelOwner(_Block):
    """Owner of some channels' spend columns for the agreed weeks.

    Parameters
    ----------
    name
        Owner name.
    data
        ``date`` and ``{c}_spend`` per owned channel, one row per agreed week, in order.
    channels, alpha, slope
        Owned channels and their agreed adstock retention and Hill slope.
    start, weeks
        Agreed calendar.
    ridge, l_max
        Agreed ridge penalty (scaled units) and adstock kernel length.

    Examples
    --------
    >>> frame = pd.DataFrame({"date": pd.date_range("2023-01-02", periods=3, freq="7D"),
    ...                       "tv_spend": [1.0, 2.0, 3.0]})
    >>> ChannelOwner("tv", frame, ("tv",), (0.0,), (1.0,), start="2023-01-02",
    ...              weeks=3).features().shape
    (3, 1)
    """

    def __init__(
        self,
        name: str,
        data: pd.DataFrame,
        channels: Sequence[str],
        alpha: Sequence[float],
        slope: Sequence[float],
        *,
        start: str,
        weeks: int,
        ridge: float = 1.0,
        l_max: int = 8,
    ) -> None:
        super().__init__()
        cols = [f"{c}_spend" for c in channels]
        missing = [c for c in ["date", *cols] if c not in data.columns]
        if missing:
            raise DataError(f"channel owner {name!r}: missing columns {missing}")
        if not channels or len(alpha) != len(channels) or len(slope) != len(channels):
            raise DataError(f"channel owner {name!r}: one alpha and slope per channel")
        _calendar(data, start, weeks, f"channel owner {name!r}")
        self.name = name
        self.channels = tuple(channels)
        spend = data[cols].to_numpy(dtype=np.float64)
        if not np.isfinite(spend).all() or (spend < 0).any():
            raise DataError(f"channel owner {name!r}: spend must be finite and >= 0")
        half = np.maximum(spend.mean(axis=0), 1e-9)
        stocked = geometric_adstock(spend, np.asarray(alpha, dtype=np.float64), l_max=l_max)
        self._features = hill(stocked, half_saturation=half, slope=np.asarray(slope, float))
        self._spend = spend
        self._peers: dict[str, int] = {}
        self.penalty = np.full(len(channels), float(ridge))
        self.nonneg = np.ones(len(channels), dtype=bool)

    def features(self) -> FloatArray:
        """Return the transformed media of the owned channels, shape ``(weeks, channels)``."""
        return np.asarray(self._features, dtype=np.float64)

    def set_peers(self, peers: Mapping[str, int]) -> None:
        """Keep this owner's pairwise seeds with the other owners."""
        self._peers = {str(k): int(v) for k, v in peers.items()}

    def masked_step(self, v: npt.ArrayLike, rho: float, *, round: int, scale: float) -> FloatArray:
        """:meth:`local_step`, returned plus this owner's pairwise masks (kind ``share_contrib``).

        The masks of all owners cancel in the sum, so the sales owner learns only the
        per-week total of the owners' contributions.
        """
        contrib = self.local_step(v, rho)
        mask = pairwise_mask(
            self.name,
            self._peers,
            round=round,
            kind="share_contrib",
            size=contrib.size,
            scale=scale,
        )
        return np.asarray(contrib + mask, dtype=np.float64)

    def spend_for_check(self) -> FloatArray:
        """Raw spend; used ONLY by tests that prove it never crosses the wire."""
        return self._spend

    def channel_totals(self) -> FloatArray:
        """Return each owned channel's summed contribution ``beta_c sum_t f_c,t`` (model units)."""
        return np.asarray(self.features().sum(axis=0) * self.coef, dtype=np.float64)


class SalesOwner(_Block):
    """Holder of the outcome, the trend and the controls; sits in the coordinator's seat.

    Parameters
    ----------
    name
        Its name.
    data
        ``date``, the target and the controls, one row per agreed week, in order.
    controls, target
        Column names.
    start, weeks
        Agreed calendar; the trend is weeks since ``start`` over ``weeks``.
    ridge
        Ridge on every coefficient but the intercept (scaled units).
    """

    def __init__(
        self,
        name: str,
        data: pd.DataFrame,
        *,
        controls: Sequence[str] = ("price", "promotion"),
        target: str = "sales",
        start: str,
        weeks: int,
        ridge: float = 1.0,
    ) -> None:
        super().__init__()
        missing = [c for c in ["date", target, *controls] if c not in data.columns]
        if missing:
            raise DataError(f"sales owner {name!r}: missing columns {missing}")
        _calendar(data, start, weeks, f"sales owner {name!r}")
        self.name = name
        self.controls = tuple(controls)
        sales = data[target].to_numpy(dtype=np.float64)
        self.target_scale = float(np.mean(sales)) if np.mean(sales) > 0 else 1.0
        self.y = sales / self.target_scale
        trend = np.arange(weeks, dtype=np.float64) / weeks
        ctrl = data[list(controls)].to_numpy(dtype=np.float64)
        self._features = np.column_stack([np.ones(weeks), trend, ctrl])
        self.penalty = np.full(self._features.shape[1], float(ridge))
        self.penalty[0] = 0.0
        self.nonneg = np.zeros(self._features.shape[1], dtype=bool)
        self.feature_names = ("intercept", "trend", *self.controls)

    def features(self) -> FloatArray:
        """``[1, trend, controls]``, shape ``(weeks, 2 + controls)``."""
        return np.asarray(self._features, dtype=np.float64)


@dataclass(frozen=True)
class SharingConfig:
    """Sharing-ADMM settings.

    Attributes
    ----------
    rho
        Initial penalty (the loss is in scaled outcome units per week).
    tol
        Stop when ``||Abar - zbar||`` and ``||zbar - zbar_prev||``, relative to
        ``||zbar||``, are both below it.
    max_rounds
        Round limit.
    adaptive
        Residual balancing: double or halve ``rho`` when one residual is 10x the other.
    mask_scale
        Amplitude of the pairwise masks on the owners' contributions (scaled units).
    """

    rho: float = 0.1
    tol: float = 1e-10
    max_rounds: int = 5000
    adaptive: bool = True
    mask_scale: float = 1e3


@dataclass(frozen=True)
class SharingResult:
    """Outcome of :func:`sharing_admm`.

    Attributes
    ----------
    coef
        Coefficients per block name (the sales owner's, then each owner's), scaled units.
    rounds
        One dict per round: ``round, phase, primal_residual, dual_residual, rho``.
    converged
        Whether the stopping rule was met.
    """

    coef: dict[str, FloatArray]
    rounds: list[dict[str, Any]] = field(default_factory=list)
    converged: bool = False

    def vector(self, order: Sequence[str]) -> FloatArray:
        """Concatenate the blocks' coefficients in ``order``."""
        return np.concatenate([self.coef[n] for n in order])


class OwnerLike(Named, Protocol):
    """A channel owner in process or behind a backend (what the protocols read directly)."""

    @property
    def channels(self) -> tuple[str, ...]:
        """Owned channels."""
        ...


def sharing_admm(
    sales: SalesOwner,
    owners: Sequence[OwnerLike],
    bus: Bus,
    *,
    seeds: Mapping[str, Mapping[str, int]],
    config: SharingConfig | None = None,
    progress: Progress = None,
) -> SharingResult:
    """Fit the shared model over column blocks by sharing-form ADMM.

    Parameters
    ----------
    sales
        Outcome holder (runs the ``zbar`` and dual updates).
    owners
        Channel owners (two or more, so masks hide each one's contribution).
    bus
        Transport; every message is audited.
    seeds
        Pairwise seeds among the owners (:func:`~mixlens.agents.protocols.pairwise_seeds`).
    config
        Settings; default :class:`SharingConfig()`.
    progress
        Called with a one-line status every 100 rounds.

    Returns
    -------
    SharingResult
        Each block's coefficients (owners report theirs once, at the end) and the rounds.
    """
    cfg = config if config is not None else SharingConfig()
    if len(owners) < 2:
        raise DataError("the channels scenario needs at least two channel owners")
    n_blocks = len(owners) + 1
    weeks = sales.y.size
    rho = cfg.rho
    sales.reset()
    call_each(owners, "reset")
    call_each(owners, "set_peers", [(dict(seeds[o.name]),) for o in owners])
    zbar = np.zeros(weeks)
    u = np.zeros(weeks)
    abar = np.zeros(weeks)
    records: list[dict[str, Any]] = []
    converged = False
    for k in range(1, cfg.max_rounds + 1):
        v = zbar - abar - u
        total = np.zeros(weeks)
        got = [
            bus.send(Message(sales.name, o.name, "share_v", k, {"v": v, "rho": np.array(rho)}))
            for o in owners
        ]
        masked = call_each(
            owners,
            "masked_step",
            [(g.payload["v"], float(g.payload["rho"])) for g in got],
            [{"round": k, "scale": cfg.mask_scale}] * len(owners),
        )
        for o, vec in zip(owners, masked, strict=True):
            sent = bus.send(Message(o.name, sales.name, "share_contrib", k, {"masked": vec}))
            total += sent.payload["masked"]
        total += sales.local_step(v, rho)
        abar = total / n_blocks
        z_old = zbar
        zbar = (sales.y + rho * (u + abar)) / (n_blocks + rho)
        u = u + abar - zbar
        norm = max(float(np.linalg.norm(zbar)), 1e-12)
        r = float(np.linalg.norm(abar - zbar)) / norm
        s = float(np.linalg.norm(zbar - z_old)) / norm
        records.append(
            {"round": k, "phase": "sharing", "primal_residual": r, "dual_residual": s, "rho": rho}
        )
        if progress is not None and k % 100 == 0:
            progress(f"sharing round {k}: primal {r:.2e}, dual {s:.2e}")
        if k > 1 and r < cfg.tol and s < cfg.tol:
            converged = True
            break
        if cfg.adaptive and k > 1:
            if r > 10 * s:
                rho, u = rho * 2.0, u / 2.0
            elif s > 10 * r:
                rho, u = rho / 2.0, u * 2.0
    final = len(records) + 1
    coef = {sales.name: sales.coef}
    for o, own in zip(owners, call_each(owners, "coef"), strict=True):
        reply = bus.send(Message(o.name, sales.name, "coef", final, {"coef": own}))
        coef[o.name] = reply.payload["coef"]
    return SharingResult(coef, records, converged)


def centralized_vertical_fit(
    sales: SalesOwner, owners: Sequence[ChannelOwner], *, nonnegative: bool = True
) -> FloatArray:
    """Pooled-columns reference fit (for the check only; no protocol uses it).

    Coefficients ordered as the sales block, then each owner's block.
    """
    x = np.column_stack([sales.features(), *(o.features() for o in owners)])
    lam = np.concatenate([sales.penalty, *(o.penalty for o in owners)])
    lower = np.concatenate(
        [np.full(sales.penalty.size, -np.inf)]
        + [
            np.zeros(o.penalty.size) if nonnegative else np.full(o.penalty.size, -np.inf)
            for o in owners
        ]
    )
    aug_x = np.vstack([x, np.diag(np.sqrt(lam))])
    aug_y = np.concatenate([sales.y, np.zeros(lam.size)])
    res = scipy.optimize.lsq_linear(
        aug_x, aug_y, bounds=(lower, np.full(lam.size, np.inf)), method="bvls", tol=1e-15
    )
    return np.asarray(res.x, dtype=np.float64)


def attribute_vertical(
    sales: SalesOwner,
    owners: Sequence[OwnerLike],
    bus: Bus,
    *,
    round: int,
    rng: int | None = 0,
) -> pd.DataFrame:
    """Shapley credit per channel and per owner on the fitted shared model.

    Each owner reports its channels' summed contributions (model units); the sales owner
    adds the baseline, converts to target units and computes the global Shapley credit
    (exact up to 15 channels, sampled beyond). Each owner's own credit is computed locally
    from its totals and the target scale the sales owner sends back at the end.

    Returns
    -------
    pandas.DataFrame
        ``agent, channel, credit``: one row per owner and owned channel, and ``all`` rows.
    """
    media: list[float] = []
    channels: list[str] = []
    totals = call_each(owners, "channel_totals")
    for o, own in zip(owners, totals, strict=True):
        got = bus.send(Message(o.name, sales.name, "channel_totals", round, {"m": own}))
        media += got.payload["m"].tolist()
        channels += list(o.channels)
    ts = sales.target_scale
    base = float(sales.contribution().sum()) * ts
    global_credit = shapley_credit(base, np.asarray(media) * ts, rng=rng)
    rows: list[dict[str, object]] = []
    for o, own in zip(owners, totals, strict=True):
        got = bus.send(Message(sales.name, o.name, "target_scale", round, {"s": np.array(ts)}))
        local = np.asarray(own) * float(got.payload["s"])
        rows += [
            {"agent": o.name, "channel": c, "credit": float(v)}
            for c, v in zip(o.channels, local, strict=True)
        ]
    rows += [
        {"agent": "all", "channel": c, "credit": float(v)}
        for c, v in zip(channels, global_credit, strict=True)
    ]
    return pd.DataFrame(rows, columns=["agent", "channel", "credit"])
