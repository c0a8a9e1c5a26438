"""Coordination protocols: secure aggregation, exact ridge, consensus ADMM, Gaussian DP.

Every protocol talks through a :class:`~mixlens.agents.messages.Bus`, so every byte that
crosses between parties is encoded, audited and sized, and asks agents to compute only
through :func:`~mixlens.agents.backends.call_each`, so the same code drives agents in
process or in Ray actors. Coefficients are in the shared model's scaled units (outcome
divided by ``target_scale``).

Secure aggregation (:func:`secure_collect`) uses pairwise additive masks: agents ``i < j``
share a seed; ``i`` adds the seed's pseudo-random vector and ``j`` subtracts it, so the
masks cancel in the sum and the coordinator sees only masked vectors. Agents encode their
vectors in 64-bit fixed point and mask them modulo ``2**64`` with words uniform over all
64-bit values (:mod:`mixlens.agents.masking`), so a masked vector reveals nothing and the
masks cancel exactly. Seeds come from a dealer (:func:`pairwise_seeds`), standing in for
pairwise key agreement. :func:`secure_sum` is the older float-mask form for vectors
already at hand (masks uniform on ``[-scale, scale]``, cancelling up to rounding).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import numpy.typing as npt
import scipy.optimize
import scipy.special

from mixlens._rng import RandomLike, as_generator
from mixlens.agents.agent import AgentLike, FloatArray, SharedModel, SufficientStats
from mixlens.agents.backends import call_each
from mixlens.agents.masking import MAX_PARTIES, from_fixed, pairwise_mask, pairwise_seeds
from mixlens.agents.messages import Bus, Message
from mixlens.errors import DataError

__all__ = [
    "COORDINATOR",
    "AdmmConfig",
    "DPConfig",
    "FitResult",
    "admm_protocol",
    "analytic_gaussian_sigma",
    "centralized_fit",
    "exact_protocol",
    "gaussian_sigma",
    "pairwise_mask",
    "pairwise_seeds",
    "rel_diff",
    "secure_collect",
    "secure_sum",
    "setup_protocol",
    "share_seeds",
    "solve_ridge",
]

COORDINATOR = "coordinator"
Progress = Callable[[str], None] | None


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


def share_seeds(agents: Sequence[AgentLike], seeds: Mapping[str, Mapping[str, int]]) -> None:
    """Hand each agent its own pairwise seeds (:meth:`Agent.set_peers`)."""
    call_each(agents, "set_peers", [(dict(seeds[a.name]),) for a in agents])


def secure_collect(
    agents: Sequence[AgentLike],
    bus: Bus,
    method: str,
    args: Sequence[Sequence[Any]] | None = None,
    *,
    round: int,
    kind: str,
    scale: float | FloatArray | None = None,
) -> FloatArray:
    """Sum what ``method`` computes on every agent; the coordinator sees only masked vectors.

    Each agent computes ``method(*args[i])``, encodes it in 64-bit fixed point and adds
    its pairwise masks itself (:meth:`Agent.secure_share`, after :func:`share_seeds`);
    one message per agent goes to the coordinator, which adds the words modulo ``2**64``
    (the masks cancel exactly) and decodes the sum.

    ``scale`` is the fixed-point range (scalar or per entry). If None, each agent first
    reports, per entry, the power of ten above its value's magnitude (message
    ``{kind}_range``; :meth:`Agent.share_magnitude`) and the range is the largest, so
    every entry keeps about 15 significant digits; the orders of magnitude are all
    that message reveals.

    Returns
    -------
    numpy.ndarray
        The sum over agents, each agent's values rounded to ``scale * 2**-52``.
    """
    arg_list = [tuple(a) for a in args] if args is not None else [()] * len(agents)
    if scale is None:
        mags = call_each(
            agents,
            "share_magnitude",
            [(method, x) for x in arg_list],
            [{"round": round, "kind": kind}] * len(agents),
        )
        got_mags = [
            bus.send(Message(a.name, COORDINATOR, f"{kind}_range", round, {"range": m}))
            for a, m in zip(agents, mags, strict=True)
        ]
        scale = np.max(np.array([g.payload["range"] for g in got_mags]), axis=0)
    masked = call_each(
        agents,
        "secure_share",
        [(method, x) for x in arg_list],
        [{"round": round, "kind": kind, "scale": scale, "parties": len(agents)}] * len(agents),
    )
    if not 1 <= len(agents) <= MAX_PARTIES:
        raise DataError(f"secure aggregation takes 1 to {MAX_PARTIES} agents, got {len(agents)}")
    total: npt.NDArray[np.uint64] | None = None
    for a, vec in zip(agents, masked, strict=True):
        got = bus.send(Message(a.name, COORDINATOR, kind, round, {"masked": vec}))
        words = np.asarray(got.payload["masked"], dtype=np.uint64)
        total = words.copy() if total is None else np.add(total, words)
    if total is None:
        raise DataError("secure aggregation needs at least one agent")
    return from_fixed(total, scale)


@dataclass(frozen=True)
class DPConfig:
    """Gaussian mechanism on each agent's sufficient statistics, with private feature scales.

    Two releases per agent and run, both Gaussian, composed exactly: the analytic
    calibration is exactly mu-Gaussian DP with ``mu = sensitivity / sigma`` (Balle and
    Wang 2018, Thm 8; Dong, Roth and Su 2019, Cor. 2.13), and Gaussian mechanisms compose
    as ``mu = sqrt(mu_1**2 + mu_2**2)``. The budget ``(epsilon, delta)`` fixes ``mu``; a
    share ``scale_share`` of ``mu**2`` goes to the scales release and the rest to the
    statistics, so the two together are exactly ``(epsilon, delta)``-DP. The setup round
    (:func:`setup_protocol`: exact pooled means through secure aggregation) is outside
    this guarantee.

    1. *Scales* (if ``scale_share > 0``): each agent releases, per feature, the sum of
       ``min(|x - mu|, scale_cap)`` over its rows (centered at the model's reference
       point) and its row count (:meth:`~mixlens.agents.Agent.scale_sums`). From the
       noisy sums the coordinator sets each feature's scale
       ``s = clip(scale_width * mean|x - mu|, scale_cap / 100, scale_cap)``, taking the
       mean with a two-sd margin against the noise (so noise makes scales larger, which
       clips less); with no budget left for it (noise-dominated sums) a scale falls back
       to ``scale_cap``, the public bound. Dividing each feature by its scale puts every
       feature on the same footing, so weakly varying features (a price index, a small
       channel) are not drowned by noise of the size set by the widest ones.
    2. *Statistics*: ``X'X`` and ``X'y`` of the centered, scaled rows, each row clipped
       to L2 norm ``row_norm`` and the centered scaled outcome to ``target_bound``.

    Attributes
    ----------
    epsilon, delta
        Privacy budget per agent for the whole run (row-level, add/remove one week of one
        agent). ``epsilon = math.inf`` adds no noise: the fit then differs from the
        non-private one only by clipping (a diagnostic of the clipping bias; not private).
    row_norm
        Each design row, centered at the model's reference point
        (:meth:`~mixlens.agents.SharedModel.reference_point`; the intercept stays 1) and
        divided by the feature scales, is scaled to L2 norm at most this.
    target_bound
        The centered scaled outcome (``y - 1``) is clipped to ``[-target_bound,
        target_bound]``.
    calibration
        ``"analytic"`` (default): the exact Gaussian-mechanism calibration of Balle and
        Wang (2018), valid for every epsilon; ``"classical"``: Dwork and Roth's
        ``sqrt(2 ln(1.25/delta)) / epsilon``, proved only for ``epsilon < 1`` (it adds
        too little noise beyond; kept for comparison; the two releases then split
        epsilon and delta by basic composition).
    distributed
        ``False`` (local DP): every agent adds the full noise, so its release is private
        even against the coordinator colluding with every other agent. ``True``
        (distributed DP over secure aggregation): each adds ``1/sqrt(N - colluders)`` of
        it, so the masked sum carries at least the full noise as long as no more than
        ``colluders`` agents reveal their own noise to the coordinator.
    colluders
        Agents that may collude with the coordinator in distributed mode.
    scale_share
        Share of the budget (of ``mu**2``; of epsilon and delta if classical) spent on
        the feature scales, in ``[0, 1)``; 0 skips that release (every scale is 1).
    scale_cap
        Public bound on a centered feature's magnitude used by the scales release (the
        shared model's features are O(1): Hill media in ``[0, 1)``, trend in ``[0, 1]``).
    scale_width
        A feature's scale is this many mean absolute deviations.
    intercept_scale
        With feature scales, the intercept column is divided by this too (it is known
        exactly, and ``n / intercept_scale**2`` still dwarfs the noise), so it takes less
        of the row norm and the other features can take more before clipping binds.
    post
        How the coordinator regularizes the noisy ``X'X`` (post-processing, no budget),
        at ``lam = post_strength * sd(sum) * sqrt(p)`` (``2 sd(sum) sqrt(p)`` is about the
        spectral size of the summed noise): ``"ridge"`` (default) adds ``lam`` to the
        diagonal of its PSD projection (as AdaSSP does); ``"floor"`` raises its
        eigenvalues below ``lam`` to ``lam``.
    post_strength
        Default 4, twice the noise's spectral size: on the regions scenario (5 agents,
        104 to 3328 rows each, epsilon 0.3 to 10) it kept the median credit error near 1
        (the error of crediting nothing) where the noise dominates, against 1.2 to 1.8
        with 2, and within 0.03 of 2 where the signal dominates; 8 shrank too much there.
    """

    epsilon: float
    delta: float = 1e-6
    row_norm: float = 2.0
    target_bound: float = 1.0
    calibration: str = "analytic"
    distributed: bool = False
    colluders: int = 0
    scale_share: float = 0.1
    scale_cap: float = 1.0
    scale_width: float = 4.0
    intercept_scale: float = 2.0
    post: str = "ridge"
    post_strength: float = 4.0

    def __post_init__(self) -> None:
        if not self.epsilon > 0 or not 0 < self.delta < 1:
            raise DataError("DP needs epsilon > 0 and 0 < delta < 1")
        if self.calibration not in ("analytic", "classical"):
            raise DataError(f"DP calibration is analytic or classical, not {self.calibration!r}")
        if self.colluders < 0 or self.row_norm <= 0 or self.target_bound <= 0:
            raise DataError("DP needs colluders >= 0 and positive clipping bounds")
        if not 0 <= self.scale_share < 1 or min(self.scale_cap, self.scale_width) <= 0:
            raise DataError("DP needs 0 <= scale_share < 1, scale_cap > 0 and scale_width > 0")
        if self.intercept_scale <= 0:
            raise DataError("DP needs intercept_scale > 0")
        if self.post_strength <= 0:
            raise DataError("DP needs post_strength > 0")
        if self.post not in ("ridge", "floor"):
            raise DataError(f"DP post-processing is ridge or floor, not {self.post!r}")

    @property
    def private(self) -> bool:
        """Whether noise is added (``epsilon`` finite)."""
        return math.isfinite(self.epsilon)

    def mu(self) -> float:
        """Total Gaussian-DP ``mu`` of the budget (analytic calibration; inf if no noise)."""
        if not self.private:
            return math.inf
        return 1.0 / analytic_gaussian_sigma(self.epsilon, self.delta, 1.0)

    def _release_sigma(self, share: float, sensitivity: float) -> float:
        if not self.private:
            return 0.0
        if self.calibration == "classical":
            return gaussian_sigma(share * self.epsilon, share * self.delta, sensitivity)
        return sensitivity / (math.sqrt(share) * self.mu())

    def sigma(self) -> float:
        """Noise standard deviation of the statistics release (its share of the budget)."""
        return self._release_sigma(1.0 - self.scale_share, self.sensitivity())

    def scale_sensitivity(self, p: int) -> float:
        """L2 sensitivity of the scales release for ``p`` coefficients (intercept included)."""
        return math.sqrt((p - 1) * self.scale_cap**2 + 1.0)

    def scale_sigma(self, p: int) -> float:
        """Noise standard deviation of the scales release (0 if it is skipped)."""
        if self.scale_share == 0:
            return 0.0
        return self._release_sigma(self.scale_share, self.scale_sensitivity(p))

    def _spread(self, sigma: float, w: FloatArray) -> FloatArray:
        if not self.distributed:
            return np.asarray(sigma * w, dtype=np.float64)
        honest = len(w) - self.colluders
        if honest < 1:
            raise DataError(f"distributed DP needs more than {self.colluders} agents")
        return np.full(len(w), sigma * float(w.max()) / math.sqrt(honest))

    def noise_sds(self, loss_weights: Sequence[float]) -> FloatArray:
        """Each agent's noise standard deviation, given the agents' (agreed) loss weights.

        A loss weight ``w`` scales an agent's statistics, so its sensitivity, by ``w``;
        noise is scaled by ``max(w, 1)`` (by the largest, in distributed mode).
        """
        w = np.maximum(np.asarray(loss_weights, dtype=np.float64), 1.0)
        return self._spread(self.sigma(), w)

    def scale_noise_sds(self, n_agents: int, p: int) -> FloatArray:
        """Each agent's noise standard deviation in the scales release (unweighted)."""
        return self._spread(self.scale_sigma(p), np.ones(n_agents))

    def feature_scales(self, total: npt.ArrayLike, noise_sd_of_sum: float) -> FloatArray:
        """Per-coefficient scales ``(p,)`` (``intercept_scale`` first) from the summed release.

        ``total`` is ``[sum of capped |x - mu| per feature..., n]`` over all agents,
        noisy with standard deviation ``noise_sd_of_sum`` per entry. Post-processing only.

        Examples
        --------
        >>> DPConfig(epsilon=1.0).feature_scales([10.0, 50.0, 100.0], 0.0).tolist()
        [2.0, 0.4, 1.0]
        """
        t = np.asarray(total, dtype=np.float64)
        margin = 2.0 * noise_sd_of_sum
        n_low = t[-1] - margin
        mad = (t[:-1] + margin) / n_low if n_low > 0 else np.full(t.size - 1, np.inf)
        cap = self.scale_cap
        s = np.clip(self.scale_width * mad, cap / 100.0, cap)
        return np.concatenate([[self.intercept_scale], s])

    def accounting(
        self,
        n_agents: int,
        loss_weights: Sequence[float],
        *,
        p: int | None = None,
        scales: Sequence[float] | None = None,
    ) -> dict[str, Any]:
        """JSON-safe record of the mechanism, its parameters and the budget spent.

        ``p`` (coefficients) and ``scales`` describe the scales release, if there was one.
        """
        sds = self.noise_sds(loss_weights)
        with_scales = self.scale_share > 0 and p is not None
        record: dict[str, Any] = {
            "mechanism": "gaussian",
            "calibration": self.calibration,
            "mode": "distributed" if self.distributed else "local",
            "epsilon": self.epsilon,
            "delta": self.delta,
            "releases_per_agent": 2 if with_scales else 1,
            "composition": (
                "gaussian DP, mu = sqrt(mu_scales^2 + mu_stats^2)"
                if self.calibration == "analytic"
                else "basic: epsilon and delta split by share"
            )
            if with_scales
            else "one release of the statistics per agent and run",
            "mu_total": self.mu() if self.calibration == "analytic" else None,
            "stats_share": 1.0 - self.scale_share if with_scales else 1.0,
            "post_processing": self.post,
            "sensitivity_l2": self.sensitivity(),
            "row_norm": self.row_norm,
            "target_bound": self.target_bound,
            "sigma_per_release": self.sigma(),
            "noise_sd_per_agent": sds.tolist(),
            "noise_sd_of_sum": float(np.sqrt((sds**2).sum())),
            "agents": n_agents,
            "colluders_tolerated": self.colluders if self.distributed else n_agents - 1,
        }
        if with_scales and p is not None:
            ssd = self.scale_noise_sds(n_agents, p)
            record["scales_release"] = {
                "share": self.scale_share,
                "cap": self.scale_cap,
                "width": self.scale_width,
                "sensitivity_l2": self.scale_sensitivity(p),
                "sigma": self.scale_sigma(p),
                "noise_sd_of_sum": float(np.sqrt((ssd**2).sum())),
                "scales": None if scales is None else [float(v) for v in scales],
            }
        return record

    def sensitivity(self) -> float:
        """L2 sensitivity of ``(vec(X'X), X'y)`` to adding or removing one row.

        ``sqrt(c**4 + (c b)**2)`` with ``c = row_norm``, ``b = target_bound``. Under DP an
        agent releases only these: ``y'y`` and ``n`` are sent as zeros (the ridge fit
        needs neither, and the setup round already gave the pooled ``n``).
        """
        c, b = self.row_norm, self.target_bound
        return math.sqrt(c**4 + (c * b) ** 2)


def analytic_gaussian_sigma(epsilon: float, delta: float, sensitivity: float) -> float:
    """Smallest noise scale of the Gaussian mechanism that is (epsilon, delta)-DP.

    Balle and Wang (2018, Theorem 8): ``N(0, sigma^2)`` noise on a query of L2
    sensitivity ``D`` is (epsilon, delta)-DP iff
    ``Phi(D/(2 sigma) - epsilon sigma/D) - e^epsilon Phi(-D/(2 sigma) - epsilon sigma/D)
    <= delta``; the left side decreases in ``sigma``, found here by bisection (relative
    precision 1e-12). Valid for every ``epsilon > 0``.

    Examples
    --------
    >>> round(analytic_gaussian_sigma(1.0, 1e-5, 1.0), 3)
    3.731
    """
    if epsilon <= 0 or not 0 < delta < 1 or sensitivity <= 0:
        raise DataError("the Gaussian mechanism needs epsilon > 0, 0 < delta < 1, sensitivity > 0")

    def excess(sigma: float) -> float:
        a, b = sensitivity / (2.0 * sigma), epsilon * sigma / sensitivity
        # capped exponent: a huge epsilon would overflow where the term is hugely negative
        second = math.exp(min(epsilon + float(scipy.special.log_ndtr(-a - b)), 700.0))
        return float(scipy.special.ndtr(a - b)) - second - delta

    lo, hi = 1e-3 * sensitivity, 1e3 * sensitivity
    while excess(hi) > 0:
        hi *= 10.0
    while excess(lo) <= 0:
        lo /= 10.0
    while hi / lo > 1.0 + 1e-12:
        mid = math.sqrt(lo * hi)
        lo, hi = (mid, hi) if excess(mid) > 0 else (lo, mid)
    return hi


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
    privacy
        The DP accounting (:meth:`DPConfig.accounting`); empty without DP.
    converged
        Whether the stopping rule was met (always true for the exact protocol).
    """

    coef: FloatArray
    model: SharedModel
    rounds: list[dict[str, Any]] = field(default_factory=list)
    epsilon_spent: float = 0.0
    delta_spent: float = 0.0
    privacy: dict[str, Any] = field(default_factory=dict)
    converged: bool = True


def setup_protocol(
    agents: Sequence[AgentLike],
    bus: Bus,
    *,
    seeds: Mapping[str, Mapping[str, int]],
    mask_scale: float | None = None,
) -> SharedModel:
    """Round 0: securely sum ``[n, sum target, sum spend_c]`` and fix the shared scales.

    ``target_scale`` becomes the pooled mean target per row, each channel's
    half-saturation its pooled mean weekly spend (both per capita for a per-capita
    model) and ``control_center`` the controls' pooled means; the new model is broadcast
    to all.
    """
    share_seeds(agents, seeds)
    total = secure_collect(agents, bus, "setup_sums", round=0, kind="setup", scale=mask_scale)
    n = total[0]
    n_channels = len(agents[0].model.channels)
    model = agents[0].model.with_scales(
        target_scale=total[1] / n,
        half_saturation=np.maximum(total[2 : 2 + n_channels] / n, 1e-9).tolist(),
        control_center=(total[2 + n_channels :] / n).tolist(),
    )
    scales = {
        "target_scale": np.array(model.target_scale),
        "half": np.array(model.half_saturation),
        "controls": np.array(model.control_center, dtype=np.float64),
    }
    got = [bus.send(Message(COORDINATOR, a.name, "setup_scales", 0, scales)) for a in agents]
    call_each(
        agents,
        "adopt_scales",
        [
            (
                float(g.payload["target_scale"]),
                g.payload["half"].tolist(),
                g.payload["controls"].tolist(),
            )
            for g in got
        ],
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
    agents: Sequence[AgentLike],
    bus: Bus,
    *,
    seeds: Mapping[str, Mapping[str, int]],
    dp: DPConfig | None = None,
    rng: RandomLike = None,
    mask_scale: float | None = None,
) -> FitResult:
    """One round: securely sum the agents' ``X'X, X'y, y'y, n`` and solve the ridge.

    Under DP with ``dp.scale_share > 0`` a first round agrees the per-feature scales from
    a noisy secure sum (:meth:`DPConfig.feature_scales`); the statistics follow in round 2.

    Parameters
    ----------
    agents
        Agents sharing one model (after :func:`setup_protocol`).
    bus
        Transport.
    seeds
        Pairwise seeds.
    dp
        If given, each agent centers, scales and clips its rows and adds Gaussian noise to
        its ``X'X`` and ``X'y`` before masking (local mode: the full noise, so the
        guarantee holds against everyone; distributed mode: its share, see
        :class:`DPConfig`); the coordinator regularizes the summed ``X'X`` at
        ``2 sd(sum) sqrt(p)`` (``dp.post``; post-processing) and maps the solution back to
        the model's coefficients.
    rng
        Randomness of the DP noise.
    mask_scale
        Fixed-point range of the statistics; default: agreed per entry from the agents'
        orders of magnitude (:func:`secure_collect`).

    Returns
    -------
    FitResult
        Ridge coefficients and one record per round.
    """
    model = agents[0].model
    p = model.n_features
    gen = as_generator(rng)
    weights = [a.objective.loss_weight for a in agents]
    records: list[dict[str, Any]] = []
    scales: FloatArray | None = None
    if dp is not None and dp.scale_share > 0:
        scales = _dp_scales(agents, bus, dp, gen, seeds)
        records.append({"round": 1, "phase": "dp_scales"})
    clip = None if dp is None else (dp.row_norm, dp.target_bound)
    sds = np.zeros(len(agents)) if dp is None else dp.noise_sds(weights)
    # each agent draws its own noise (from a seed dealt here, for reproducibility)
    noise_seeds = gen.integers(0, 2**63 - 1, len(agents)) if dp is not None else [0] * len(agents)
    share_seeds(agents, seeds)
    stats_round = len(records) + 1
    scale_arg = None if scales is None else scales.tolist()
    total = secure_collect(
        agents,
        bus,
        "stats_vector",
        [(clip, float(sd), int(s), scale_arg) for sd, s in zip(sds, noise_seeds, strict=True)],
        round=stats_round,
        kind="stats",
        scale=mask_scale,
    )
    stats = SufficientStats.from_vector(total, p)
    penalty = model.penalty()
    if dp is not None:
        d = np.ones(p) if scales is None else scales
        # post-processing, about the spectral size of the summed noise (post_strength 2),
        # lam = post_strength * sd(sum) * sqrt(p):
        # "ridge" (default; AdaSSP-like) projects X'X on the PSD cone and adds lam to its
        # diagonal, shrinking every direction by lam; "floor" raises eigenvalues below lam to
        # lam. Both keep noise directions from blowing up the solve and vanish as noise does.
        sym = 0.5 * (stats.xtx + stats.xtx.T)
        vals, vecs = np.linalg.eigh(sym)
        lam = dp.post_strength * float(np.sqrt((sds**2).sum())) * math.sqrt(p)
        if dp.post == "ridge":
            psd = (vecs * np.maximum(vals, 0.0)) @ vecs.T + lam * np.eye(p)
        else:
            psd = (vecs * np.maximum(vals, lam)) @ vecs.T
        # the rows were divided by the scales: the ridge on beta is penalty / d**2 on d * beta
        gamma = solve_ridge(SufficientStats(psd, stats.xty, stats.yty, stats.n), penalty / d**2)
        coef = gamma / d
        # the agents released centered rows: same slopes, shift the intercept back
        mu, y0 = model.reference_point()
        coef[0] += y0 - float(coef[1:] @ mu[1:])
    else:
        coef = solve_ridge(stats, penalty)
    records.append({"round": stats_round, "phase": "stats"})
    zero = {"primal_residual": 0.0, "dual_residual": 0.0, "rho": float("nan")}
    return FitResult(
        coef,
        model,
        [r | zero for r in records],
        epsilon_spent=0.0 if dp is None else dp.epsilon,
        delta_spent=0.0 if dp is None else dp.delta,
        privacy={}
        if dp is None
        else dp.accounting(
            len(agents), weights, p=p, scales=None if scales is None else scales.tolist()
        ),
    )


def _dp_scales(
    agents: Sequence[AgentLike],
    bus: Bus,
    dp: DPConfig,
    gen: np.random.Generator,
    seeds: Mapping[str, Mapping[str, int]],
) -> FloatArray:
    """DP round: securely sum the agents' noisy capped spreads; agree per-feature scales."""
    p = agents[0].model.n_features
    sds = dp.scale_noise_sds(len(agents), p)
    noise_seeds = gen.integers(0, 2**63 - 1, len(agents))
    share_seeds(agents, seeds)
    total = secure_collect(
        agents,
        bus,
        "scale_sums",
        [(dp.scale_cap, float(sd), int(s)) for sd, s in zip(sds, noise_seeds, strict=True)],
        round=1,
        kind="dp_scales",
    )
    scales = dp.feature_scales(total, float(np.sqrt((sds**2).sum())))
    for a in agents:
        bus.send(Message(COORDINATOR, a.name, "dp_scales_agreed", 1, {"scales": scales}))
    return scales


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
    agents: Sequence[AgentLike],
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
    call_each(agents, "reset", [(None if starts is None else starts.get(a.name),) for a in agents])
    if seeds is not None:
        return _secure_admm(agents, bus, cfg, model, rho, z, seeds, progress)
    for k in range(1, cfg.max_rounds + 1):
        xs: list[FloatArray] = []
        us: list[FloatArray] = []
        sent = [_broadcast(bus, a.name, k, z, rho, u_scale) for a in agents]
        steps = call_each(
            agents,
            "admm_step",
            [(g.payload["z"], float(g.payload["rho"])) for g in sent],
            [{"u_scale": float(g.payload["u_scale"])} for g in sent],
        )
        for a, (x_i, u_i) in zip(agents, steps, strict=True):
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


def _broadcast(bus: Bus, name: str, k: int, z: FloatArray, rho: float, u_scale: float) -> Message:
    payload = {"z": z, "rho": np.array(rho), "u_scale": np.array(u_scale)}
    return bus.send(Message(COORDINATOR, name, "admm_global", k, payload))


def _secure_admm(
    agents: Sequence[AgentLike],
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
    share_seeds(agents, seeds)
    for k in range(1, cfg.max_rounds + 1):
        big = max(1.0, float(np.linalg.norm(z)))
        amp = np.concatenate([np.full(p, 1e3 * big), [n_agents * big**2]])
        sent = [_broadcast(bus, a.name, k, z, rho, u_scale) for a in agents]
        total = secure_collect(
            agents,
            bus,
            "admm_masked_vector",
            [(g.payload["z"], float(g.payload["rho"]), float(g.payload["u_scale"])) for g in sent],
            round=k,
            kind="admm_masked",
            scale=amp,
        )
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
    agents: Sequence[AgentLike], *, nonnegative: bool = False, with_priors: bool = True
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
