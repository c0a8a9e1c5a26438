"""Coordination protocols: secure aggregation, exact ridge, consensus ADMM, Gaussian DP.

Every protocol talks through a :class:`~mixlens.agents.messages.Bus`, so every byte that
crosses between parties is encoded, audited and sized. Coefficients are in the shared
model's scaled units (outcome divided by ``target_scale``).

Secure aggregation uses pairwise additive masks: agents ``i < j`` share a seed; ``i``
adds the seed's pseudo-random vector and ``j`` subtracts it, so the masks cancel in the
sum and the coordinator sees only masked vectors. Masks are float64 uniforms on
``[-mask_scale, mask_scale]``: they cancel up to rounding (about ``1e-16 * mask_scale``
per entry), which hides magnitudes well below ``mask_scale``; a production deployment
would use fixed-point arithmetic modulo ``2**64`` and key agreement instead of a dealer.
"""

from __future__ import annotations

import math
import zlib
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import numpy.typing as npt
import scipy.optimize

from mixlens._rng import RandomLike, as_generator
from mixlens.agents.agent import Agent, FloatArray, SharedModel, SufficientStats
from mixlens.agents.messages import Bus, Message
from mixlens.errors import DataError

__all__ = [
    "COORDINATOR",
    "AdmmConfig",
    "DPConfig",
    "FitResult",
    "admm_protocol",
    "centralized_fit",
    "exact_protocol",
    "gaussian_sigma",
    "pairwise_mask",
    "pairwise_seeds",
    "rel_diff",
    "secure_sum",
    "setup_protocol",
    "solve_ridge",
]

COORDINATOR = "coordinator"
Progress = Callable[[str], None] | None


def pairwise_seeds(names: Sequence[str], rng: RandomLike = None) -> dict[str, dict[str, int]]:
    """Deal one shared seed per pair of agents; each agent's view of its pairs.

    Parameters
    ----------
    names
        Agent names.
    rng
        Randomness of the dealer (stands in for pairwise key agreement).

    Returns
    -------
    dict
        ``seeds[a][b] == seeds[b][a]`` for every pair ``a != b``.

    Examples
    --------
    >>> s = pairwise_seeds(["a", "b", "c"], rng=0)
    >>> s["a"]["b"] == s["b"]["a"], sorted(s["c"])
    (True, ['a', 'b'])
    """
    gen = as_generator(rng)
    seeds: dict[str, dict[str, int]] = {n: {} for n in names}
    for i, a in enumerate(names):
        for b in names[i + 1 :]:
            seed = int(gen.integers(0, 2**63 - 1))
            seeds[a][b] = seed
            seeds[b][a] = seed
    return seeds


def pairwise_mask(
    name: str, peers: Mapping[str, int], *, round: int, kind: str, size: int, scale: float
) -> FloatArray:
    """Sum of ``name``'s signed pairwise masks, shape ``(size,)``.

    ``+mask`` toward peers whose name sorts after ``name``, ``-mask`` otherwise, so the
    masks of all agents sum to zero (up to rounding).

    Examples
    --------
    >>> s = pairwise_seeds(["a", "b"], rng=1)
    >>> m = [pairwise_mask(n, s[n], round=1, kind="x", size=3, scale=1.0) for n in "ab"]
    >>> bool(np.allclose(m[0] + m[1], 0.0))
    True
    """
    total = np.zeros(size)
    tag = zlib.crc32(kind.encode("utf-8"))
    for peer, seed in peers.items():
        draw = np.random.default_rng([seed, round, tag]).uniform(-scale, scale, size)
        total += draw if name < peer else -draw
    return total


def secure_sum(
    vectors: Mapping[str, FloatArray],
    bus: Bus,
    *,
    seeds: Mapping[str, Mapping[str, int]],
    round: int,
    kind: str,
    scale: float,
) -> tuple[FloatArray, dict[str, FloatArray]]:
    """Sum agents' vectors at the coordinator, which sees only masked vectors.

    Parameters
    ----------
    vectors
        Each agent's private vector, same shape ``(size,)``.
    bus
        Transport; one message per agent to the coordinator.
    seeds
        Each agent's pairwise seeds (from :func:`pairwise_seeds`).
    round, kind
        Message round and kind (also select the masks).
    scale
        Mask amplitude, in the vectors' units.

    Returns
    -------
    tuple
        ``(sum, received)``: the exact sum and the masked vectors the coordinator got.

    Examples
    --------
    >>> s = pairwise_seeds(["a", "b"], rng=2)
    >>> vecs = {"a": np.array([1.0, 2.0]), "b": np.array([3.0, 4.0])}
    >>> total, seen = secure_sum(vecs, Bus(), seeds=s, round=1, kind="x", scale=100.0)
    >>> np.round(total, 9).tolist(), bool(np.allclose(seen["a"], vecs["a"]))
    ([4.0, 6.0], False)
    """
    received: dict[str, FloatArray] = {}
    total: FloatArray | None = None
    for name, vec in vectors.items():
        v = np.asarray(vec, dtype=np.float64)
        mask = pairwise_mask(name, seeds[name], round=round, kind=kind, size=v.size, scale=scale)
        got = bus.send(Message(name, COORDINATOR, kind, round, {"masked": v + mask}))
        received[name] = got.payload["masked"]
        total = received[name].copy() if total is None else total + received[name]
    if total is None:
        raise DataError("secure_sum needs at least one agent")
    return total, received


@dataclass(frozen=True)
class DPConfig:
    """Gaussian mechanism on each agent's sufficient statistics.

    Attributes
    ----------
    epsilon, delta
        Privacy budget per agent for the statistics release.
    row_norm
        Each design row is scaled to L2 norm at most this (bounds the sensitivity).
    target_bound
        The scaled outcome is clipped to ``[-target_bound, target_bound]``.
    """

    epsilon: float
    delta: float = 1e-6
    row_norm: float = 3.0
    target_bound: float = 3.0

    def __post_init__(self) -> None:
        if self.epsilon <= 0 or not 0 < self.delta < 1:
            raise DataError("DP needs epsilon > 0 and 0 < delta < 1")

    def sensitivity(self) -> float:
        """L2 sensitivity of ``(vec(X'X), X'y, y'y, n)`` to adding or removing one row."""
        c, b = self.row_norm, self.target_bound
        return math.sqrt(c**4 + (c * b) ** 2 + b**4 + 1.0)


def gaussian_sigma(epsilon: float, delta: float, sensitivity: float) -> float:
    """Noise scale of the classical Gaussian mechanism.

    ``sigma = sensitivity * sqrt(2 ln(1.25 / delta)) / epsilon`` (Dwork and Roth, Thm A.1;
    the proof covers ``epsilon < 1``; larger values are reported with the same formula).

    Examples
    --------
    >>> round(gaussian_sigma(1.0, 1e-5, 1.0), 3)
    4.845
    """
    return sensitivity * math.sqrt(2.0 * math.log(1.25 / delta)) / epsilon


@dataclass(frozen=True)
class FitResult:
    """Outcome of a protocol.

    Attributes
    ----------
    coef
        Coefficients ``(p,)`` in scaled units, ordered as ``model.feature_names``.
    model
        The shared model (with the scales agreed in setup).
    rounds
        One dict per protocol round: ``round, phase, primal_residual, dual_residual, rho``.
    epsilon_spent, delta_spent
        Differential-privacy budget used per agent (0 without DP).
    converged
        Whether the stopping rule was met (always true for the exact protocol).
    """

    coef: FloatArray
    model: SharedModel
    rounds: list[dict[str, Any]] = field(default_factory=list)
    epsilon_spent: float = 0.0
    delta_spent: float = 0.0
    converged: bool = True


def setup_protocol(
    agents: Sequence[Agent],
    bus: Bus,
    *,
    seeds: Mapping[str, Mapping[str, int]],
    mask_scale: float = 1e12,
) -> SharedModel:
    """Round 0: securely sum ``[n, sum target, sum spend_c]`` and fix the shared scales.

    ``target_scale`` becomes the pooled mean target per row and each channel's
    half-saturation its pooled mean weekly spend; the new model is broadcast to all.
    """
    vecs = {a.name: a.setup_sums() for a in agents}
    total, _ = secure_sum(vecs, bus, seeds=seeds, round=0, kind="setup", scale=mask_scale)
    n = total[0]
    model = agents[0].model.with_scales(
        target_scale=total[1] / n, half_saturation=np.maximum(total[2:] / n, 1e-9).tolist()
    )
    for a in agents:
        got = bus.send(
            Message(
                COORDINATOR,
                a.name,
                "setup_scales",
                0,
                {
                    "target_scale": np.array(model.target_scale),
                    "half": np.array(model.half_saturation),
                },
            )
        )
        a.set_model(
            a.model.with_scales(
                target_scale=float(got.payload["target_scale"]),
                half_saturation=got.payload["half"].tolist(),
            )
        )
    return model


def solve_ridge(stats: SufficientStats, penalty: FloatArray) -> FloatArray:
    """Ridge solution ``(X'X + diag(penalty))^-1 X'y``, shape ``(p,)``.

    Examples
    --------
    >>> s = SufficientStats(np.eye(2) * 4.0, np.array([4.0, 8.0]), 0.0, 4.0)
    >>> solve_ridge(s, np.zeros(2)).tolist()
    [1.0, 2.0]
    """
    a = stats.xtx + np.diag(penalty)
    a = 0.5 * (a + a.T)
    try:
        return np.asarray(np.linalg.solve(a, stats.xty), dtype=np.float64)
    except np.linalg.LinAlgError:
        return np.asarray(np.linalg.lstsq(a, stats.xty, rcond=None)[0], dtype=np.float64)


def exact_protocol(
    agents: Sequence[Agent],
    bus: Bus,
    *,
    seeds: Mapping[str, Mapping[str, int]],
    dp: DPConfig | None = None,
    rng: RandomLike = None,
    mask_scale: float | None = None,
) -> FitResult:
    """One round: securely sum the agents' ``X'X, X'y, y'y, n`` and solve the ridge.

    Parameters
    ----------
    agents
        Agents sharing one model (after :func:`setup_protocol`).
    bus
        Transport.
    seeds
        Pairwise seeds.
    dp
        If given, each agent clips its rows and adds Gaussian noise to its statistics
        before masking (the noise is its own: the guarantee holds against everyone).
    rng
        Randomness of the DP noise.
    mask_scale
        Mask amplitude; default ``1e3 * (rows held by the largest agent)``.

    Returns
    -------
    FitResult
        Ridge coefficients and one round record.
    """
    model = agents[0].model
    p = model.n_features
    gen = as_generator(rng)
    clip = None if dp is None else (dp.row_norm, dp.target_bound)
    sigma = 0.0 if dp is None else gaussian_sigma(dp.epsilon, dp.delta, dp.sensitivity())
    vecs: dict[str, FloatArray] = {}
    for a in agents:
        vec = (a.statistics(clip=clip) + a.prior_statistics()).to_vector()
        if sigma > 0:  # a weighted objective scales the sensitivity by its loss weight
            vec = vec + gen.normal(0.0, sigma * max(a.objective.loss_weight, 1.0), vec.size)
        vecs[a.name] = vec
    scale = mask_scale if mask_scale is not None else 1e3 * max(a.n_rows for a in agents)
    total, _ = secure_sum(vecs, bus, seeds=seeds, round=1, kind="stats", scale=scale)
    stats = SufficientStats.from_vector(total, p)
    if dp is not None:
        # post-processing: floor X'X's eigenvalues at the spectral size of the summed noise,
        # about 2 * sigma * sqrt(agents * p), so noise directions cannot blow up the solve
        sym = 0.5 * (stats.xtx + stats.xtx.T)
        vals, vecs_ = np.linalg.eigh(sym)
        floor = 2.0 * sigma * math.sqrt(len(agents) * p)
        psd = (vecs_ * np.maximum(vals, floor)) @ vecs_.T
        stats = SufficientStats(psd, stats.xty, stats.yty, stats.n)
    coef = solve_ridge(stats, model.penalty())
    record = {"round": 1, "phase": "stats", "primal_residual": 0.0, "dual_residual": 0.0}
    return FitResult(
        coef,
        model,
        [record | {"rho": float("nan")}],
        epsilon_spent=0.0 if dp is None else dp.epsilon,
        delta_spent=0.0 if dp is None else dp.delta,
    )


@dataclass(frozen=True)
class AdmmConfig:
    """Consensus-ADMM settings.

    Attributes
    ----------
    rho
        Initial penalty relative to rows per agent: ``rho = rho * n_total / n_agents``.
    tol
        Stop when primal and dual residuals, relative to ``sqrt(N) * ||z||``, are below it.
    max_rounds
        Round limit.
    adaptive
        Residual balancing: double or halve ``rho`` when one residual is 10x the other.
    nonnegative
        Constrain the channel coefficients to be ``>= 0``.
    """

    rho: float = 1.0
    tol: float = 1e-7
    max_rounds: int = 2000
    adaptive: bool = True
    nonnegative: bool = True


def _z_step(
    v: FloatArray, n_agents: int, rho: float, model: SharedModel, nonneg: bool
) -> FloatArray:
    lam = model.penalty()
    z = n_agents * rho * v / (n_agents * rho + lam)
    if nonneg:
        z[model.media_slice] = np.maximum(z[model.media_slice], 0.0)
    return z


def admm_protocol(
    agents: Sequence[Agent],
    bus: Bus,
    *,
    config: AdmmConfig | None = None,
    n_total: float | None = None,
    progress: Progress = None,
    z0: npt.ArrayLike | None = None,
    starts: Mapping[str, npt.ArrayLike] | None = None,
    seeds: Mapping[str, Mapping[str, int]] | None = None,
) -> FitResult:
    """Consensus ADMM for the (non-negative) ridge fit.

    Each round the coordinator broadcasts ``(z, rho, u_scale)``; each agent does its dual
    update and local proximal step (:meth:`Agent.admm_step`) and returns ``(x_i, u_i)``;
    the coordinator sets ``z = prox_g(mean(x_i + u_i))`` where ``g`` is the ridge penalty
    plus the non-negativity constraint (a separable closed form).

    Parameters
    ----------
    agents
        Agents sharing one model.
    bus
        Transport.
    config
        Settings; default :class:`AdmmConfig()`.
    n_total
        Pooled rows (known from the setup round); sets the scale of ``rho``.
    progress
        Called with a one-line status every 50 rounds.
    z0, starts
        Starting consensus ``(p,)`` and each agent's starting local iterate (by name);
        default zeros. The objective is convex, so the answer does not depend on them.
    seeds
        If given, secure mode: each agent sends ``[x_i + u_i, ||x_i_prev - z||^2]`` with
        pairwise masks, so the coordinator learns only their sums (what the ``z`` step
        and the primal residual need), never one agent's iterate. Each agent reports the
        previous round's residual (it needs that round's ``z``), so the stopping rule
        lags one round. Masks on ``x + u`` have amplitude ``1e3 * max(1, ||z||)``, on
        the residual ``agents * max(1, ||z||)**2``; their rounding (~1e-16 of that) is far
        below ``tol``.

    Returns
    -------
    FitResult
        Consensus ``z`` and one record per round.
    """
    cfg = config if config is not None else AdmmConfig()
    model = agents[0].model
    p = model.n_features
    n_agents = len(agents)
    rows = n_total if n_total is not None else float(sum(a.n_rows for a in agents))
    rho = cfg.rho * rows / n_agents
    z = np.zeros(p) if z0 is None else np.array(z0, dtype=np.float64)
    u_scale = 1.0
    records: list[dict[str, Any]] = []
    converged = False
    for a in agents:
        a.reset(None if starts is None else starts.get(a.name))
    if seeds is not None:
        return _secure_admm(agents, bus, cfg, model, rho, z, seeds, progress)
    for k in range(1, cfg.max_rounds + 1):
        xs: list[FloatArray] = []
        us: list[FloatArray] = []
        for a in agents:
            got = bus.send(
                Message(
                    COORDINATOR,
                    a.name,
                    "admm_global",
                    k,
                    {"z": z, "rho": np.array(rho), "u_scale": np.array(u_scale)},
                )
            )
            x_i, u_i = a.admm_step(
                got.payload["z"], float(got.payload["rho"]), u_scale=float(got.payload["u_scale"])
            )
            reply = bus.send(Message(a.name, COORDINATOR, "admm_local", k, {"x": x_i, "u": u_i}))
            xs.append(reply.payload["x"])
            us.append(reply.payload["u"])
        x_arr, u_arr = np.array(xs), np.array(us)
        z_old = z
        z = _z_step((x_arr + u_arr).mean(axis=0), n_agents, rho, model, cfg.nonnegative)
        r = float(np.sqrt(((x_arr - z) ** 2).sum()))
        s = float(rho * math.sqrt(n_agents) * np.linalg.norm(z - z_old))
        norm = math.sqrt(n_agents) * max(float(np.linalg.norm(z)), 1e-12)
        records.append(
            {
                "round": k,
                "phase": "admm",
                "primal_residual": r / norm,
                "dual_residual": s / (rho * norm),
                "rho": rho,
            }
        )
        if progress is not None and k % 50 == 0:
            progress(f"admm round {k}: primal {r / norm:.2e}, dual {s / (rho * norm):.2e}")
        if r / norm < cfg.tol and s / (rho * norm) < cfg.tol and k > 1:
            converged = True
            break
        u_scale = 1.0
        if cfg.adaptive:
            if r > 10 * s:
                rho, u_scale = rho * 2.0, 0.5
            elif s > 10 * r:
                rho, u_scale = rho / 2.0, 2.0
    return FitResult(z, model, records, converged=converged)


def _secure_admm(
    agents: Sequence[Agent],
    bus: Bus,
    cfg: AdmmConfig,
    model: SharedModel,
    rho: float,
    z: FloatArray,
    seeds: Mapping[str, Mapping[str, int]],
    progress: Progress,
) -> FitResult:
    n_agents = len(agents)
    p = model.n_features
    u_scale = 1.0
    records: list[dict[str, Any]] = []
    converged = False
    dz_prev = math.inf
    norm_prev = 1.0
    for k in range(1, cfg.max_rounds + 1):
        big = max(1.0, float(np.linalg.norm(z)))
        amp = np.concatenate([np.full(p, 1e3 * big), [n_agents * big**2]])
        total = np.zeros(p + 1)
        for a in agents:
            got = bus.send(
                Message(
                    COORDINATOR,
                    a.name,
                    "admm_global",
                    k,
                    {"z": z, "rho": np.array(rho), "u_scale": np.array(u_scale)},
                )
            )
            z_got = got.payload["z"]
            prev = a.current_iterate()
            r_prev = 0.0 if prev is None else float(((prev - z_got) ** 2).sum())
            x_i, u_i = a.admm_step(
                z_got, float(got.payload["rho"]), u_scale=float(got.payload["u_scale"])
            )
            mask = pairwise_mask(
                a.name, seeds[a.name], round=k, kind="admm_masked", size=p + 1, scale=1.0
            )
            vec = np.concatenate([x_i + u_i, [r_prev]]) + mask * amp
            reply = bus.send(Message(a.name, COORDINATOR, "admm_masked", k, {"masked": vec}))
            total += reply.payload["masked"]
        z_old = z
        z = _z_step(total[:p] / n_agents, n_agents, rho, model, cfg.nonnegative)
        if k > 1:
            # primal residual of round k - 1 (reported now) with that round's dual residual
            r = math.sqrt(max(float(total[p]), 0.0))
            records.append(
                {
                    "round": k - 1,
                    "phase": "admm",
                    "primal_residual": r / norm_prev,
                    "dual_residual": dz_prev / norm_prev,
                    "rho": rho,
                }
            )
            if progress is not None and k % 50 == 0:
                progress(f"admm round {k - 1}: primal {r / norm_prev:.2e}")
            if k > 2 and r / norm_prev < cfg.tol and dz_prev / norm_prev < cfg.tol:
                converged = True
                break
            u_scale = 1.0
            if cfg.adaptive:
                if r > 10 * rho * dz_prev:
                    rho, u_scale = rho * 2.0, 0.5
                elif rho * dz_prev > 10 * r:
                    rho, u_scale = rho / 2.0, 2.0
        dz_prev = float(math.sqrt(n_agents) * np.linalg.norm(z - z_old))
        norm_prev = math.sqrt(n_agents) * max(float(np.linalg.norm(z)), 1e-12)
    records.append(
        {
            "round": len(records) + 1,
            "phase": "admm",
            "primal_residual": float("nan"),
            "dual_residual": dz_prev / norm_prev,
            "rho": rho,
        }
    )
    return FitResult(z, model, records, converged=converged)


def centralized_fit(
    agents: Sequence[Agent], *, nonnegative: bool = False, with_priors: bool = True
) -> FloatArray:
    """Fit the reference model on the pooled rows (for the check only; no protocol uses it).

    Agents' lift-test priors (:meth:`Agent.prior_statistics`) enter as quadratic terms
    unless ``with_priors`` is false.

    ``nonnegative`` constrains the channel coefficients with bounded-variable least
    squares (``scipy.optimize.lsq_linear``, method ``bvls``) on the ridge-augmented system.
    """
    model = agents[0].model
    parts = [a.pooled_design_for_check() for a in agents]
    x = np.vstack([p[0] for p in parts])
    y = np.concatenate([p[1] for p in parts])
    lam = model.penalty()
    prec = np.zeros(len(lam))
    pm = np.zeros(len(lam))
    if with_priors:
        for a in agents:
            prior = a.prior_statistics()
            prec += np.diag(prior.xtx)
            pm += prior.xty
    if not nonnegative:
        stats = SufficientStats(x.T @ x + np.diag(prec), x.T @ y + pm, float(y @ y), len(y))
        return solve_ridge(stats, lam)
    has = prec > 0
    aug_x = np.vstack([x, np.diag(np.sqrt(lam)), np.diag(np.sqrt(prec))[has]])
    aug_y = np.concatenate([y, np.zeros(len(lam)), pm[has] / np.sqrt(prec[has])])
    lower = np.full(len(lam), -np.inf)
    lower[model.media_slice] = 0.0
    res = scipy.optimize.lsq_linear(
        aug_x, aug_y, bounds=(lower, np.full(len(lam), np.inf)), method="bvls", tol=1e-15
    )
    return np.asarray(res.x, dtype=np.float64)


def rel_diff(a: npt.ArrayLike, b: npt.ArrayLike) -> float:
    """Relative L2 difference ``||a - b|| / ||b||``.

    Examples
    --------
    >>> rel_diff([1.0, 1.0], [1.0, 0.0])
    1.0
    """
    aa, bb = np.asarray(a, dtype=np.float64), np.asarray(b, dtype=np.float64)
    return float(np.linalg.norm(aa - bb) / max(float(np.linalg.norm(bb)), 1e-300))
