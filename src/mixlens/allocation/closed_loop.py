"""Closed-loop re-allocation in the MMM simulator's world.

Each simulated week a policy splits a fixed weekly budget over the channels, the world
returns a noisy outcome from its true curves, the policy's posterior over per-channel
response scales takes one sequential Bayesian update, and the next week is re-planned.

World. Channel ``c``'s true weekly response to a steady weekly spend ``s`` is
``f_c(s) = F_c(H s) / H``: the simulator's true daily curves applied to ``H`` weeks
of the channel's own flighting (:class:`~mixlens.allocation.response.TrueResponse` with
no carry-in; each channel with its own true adstock and saturation kind). Week ``t`` feeds
the curve the geometrically adstocked spend
``e_c(t) = theta_c e_c(t-1) + (1 - theta_c) s_c(t)`` (``e`` starts at the historical
spend), so carryover links weeks. ``theta_c`` is the channel's true weekly retention: a
geometric channel's ``alpha`` (the recursion is its normalized kernel ``(1 - alpha)
alpha**l``, untruncated), a delayed channel's ``theta`` (its peak lag is not modelled). A
Weibull kernel has no one-parameter weekly retention, so a world with a Weibull channel
is refused rather than given a made-up one. The outcome is
``y_t = sum_c m_c(t) f_c(e_c(t)) + noise``, with ``m_c = 1`` until the shift week, when
one channel's response is multiplied by ``shift_factor``.

Learner (:mod:`mixlens.allocation.learner`). ``y_t = sum_c b_c phi_c(t) + noise`` with
known features ``phi_c(t) = f_c(e_c(t))`` (the response shapes and carryover are known,
their scale is not: the structure an MMM gives) and a Gaussian posterior over ``b``. The
prior (the "initial model") is off by a lognormal error per channel, with a relative
prior sd. Each week the posterior takes one rank-one conjugate update (no refit); a CUSUM
on the prediction errors detects a change and branches the posterior over change
hypotheses (all channels, or one channel, jumped) weighted by their likelihood, so the
posterior forgets the old regime only where the data say it changed.

Delivery. The spend delivered each week is the plan times a mean-one lognormal factor
per channel (``delivery_cv``), the same draws for every policy, as media buys deliver.

Policies: ``historical`` (the last year's split), ``static`` (optimise once on the prior
mean and keep that week-0 plan), ``greedy`` (optimise on the posterior mean each week),
``thompson`` (optimise on one posterior draw each week, tempered by ``explore``),
``directed`` (the greedy plan, moved each week as far as the ramp allows along the spend
direction that teaches most per unit of cost when the value of what it teaches over the
weeks left, :func:`~mixlens.allocation.learner.information_value`, exceeds its cost: an
in-market flighting test only where it pays), ``oracle`` (optimise on the true, shifted
curves; it knows the shift the week it happens). The adaptive policies start from the
static plan and move each channel at most ``step`` a week (a ramp limit; the oracle has
none). Every plan comes from
:func:`~mixlens.allocation.optimize.optimize_budget`. Profit is
``margin * expected outcome - spend`` (noise-free, so regret measures decisions, not luck);
regret is the oracle's cumulative profit minus the policy's.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, replace
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd
from numpy.typing import NDArray
from scipy.linalg import eigh

from mixlens.allocation.learner import (
    CoefficientPosterior,
    LearnerConfig,
    decision_loss,
    information_value,
    jump_hypotheses,
)
from mixlens.allocation.optimize import optimize_budget
from mixlens.allocation.response import TrueResponse
from mixlens.allocation.scenarios import ScaledResponse
from mixlens.errors import DataError

if TYPE_CHECKING:
    from mixlens.data.simulate.mmm import MMMWorldConfig
    from mixlens.data.simulate.mmm_channels import MediaChannelSpec

__all__ = [
    "POLICIES",
    "ClosedLoopResult",
    "LoopWorld",
    "WeeklyResponse",
    "simulate_closed_loop",
]

FloatArray = NDArray[np.float64]
ProgressCallback = Callable[[str, float], None]

#: Policies in the order they are reported.
POLICIES: tuple[str, ...] = ("historical", "static", "greedy", "thompson", "directed", "oracle")
_LEARNERS = ("greedy", "thompson", "directed")


@dataclass(frozen=True, eq=False)
class WeeklyResponse:
    """True weekly response ``f_c(s) = F_c(horizon * s) / horizon`` to a steady weekly spend.

    Attributes
    ----------
    curve
        The simulator's true curves over ``horizon`` weeks, without carry-in.
    horizon
        Weeks the curve spans.
    """

    curve: TrueResponse
    horizon: int

    @property
    def channels(self) -> tuple[str, ...]:
        """Channel names."""
        return self.curve.channels

    @property
    def current(self) -> FloatArray:
        """Historical weekly spend per channel, currency."""
        out: FloatArray = self.curve.current / self.horizon
        return out

    def contributions(self, spend: FloatArray) -> FloatArray:
        """Weekly contribution per channel, target units, ``(1, C)``."""
        out: FloatArray = self.curve.contributions(spend * self.horizon) / self.horizon
        return out

    def expected(self, spend: FloatArray) -> FloatArray:
        """Weekly media outcome, target units, ``(1,)``."""
        out: FloatArray = self.contributions(spend).sum(axis=1)
        return out

    def gradient(self, spend: FloatArray) -> FloatArray:
        """Weekly marginal return per channel, target units per currency, ``(1, C)``."""
        return self.curve.gradient(spend * self.horizon)


def _weekly_retention(spec: MediaChannelSpec) -> float:
    """Return the weekly retention ``theta_c`` of the loop's carryover for a channel."""
    params = spec.adstock_parameters()
    if spec.adstock == "geometric":
        return params["alpha"]
    if spec.adstock == "delayed":
        return params["theta"]
    raise DataError(
        f"channel {spec.name!r} has {spec.adstock} adstock, which has no weekly retention "
        "for the closed loop's carryover e(t) = theta e(t-1) + (1 - theta) s(t); "
        "give it geometric or delayed adstock"
    )


@dataclass(frozen=True, eq=False)
class LoopWorld:
    """The world a closed loop runs in: weekly curves, carryover, noise and one shift.

    Attributes
    ----------
    response
        True weekly curves.
    theta
        Weekly geometric carryover per channel, ``[0, 1)``: the true ``alpha`` of a
        geometric channel, ``theta`` of a delayed one.
    noise_sd
        Weekly outcome noise, target units.
    shift_channel, shift_week, shift_factor
        From week ``shift_week`` (1-based) on, channel ``shift_channel``'s response is
        multiplied by ``shift_factor``.
    """

    response: WeeklyResponse
    theta: FloatArray
    noise_sd: float
    shift_channel: str
    shift_week: int
    shift_factor: float

    @classmethod
    def from_simulator(
        cls,
        config: MMMWorldConfig,
        *,
        seed: int,
        horizon: int = 52,
        shift_channel: str | None = None,
        shift_week: int = 26,
        shift_factor: float = 0.3,
    ) -> LoopWorld:
        """Build the loop's world from an MMM world configuration and seed.

        Parameters
        ----------
        config, seed
            As given to ``simulate_mmm`` (a national world).
        horizon
            Weeks of flighting behind the weekly curves (``<= config.weeks``).
        shift_channel
            Channel whose response shifts; default: the one with the largest share of
            the oracle's plan, so that the shift (a fall, by default) changes the best plan.
        shift_week, shift_factor
            When the shift happens (1-based week) and its multiplier (``> 0``).

        Returns
        -------
        LoopWorld

        Raises
        ------
        DataError
            On an unknown channel, a non-positive factor, or a channel whose true adstock
            has no weekly retention (Weibull; see the module docstring).
        """
        theta = np.array([_weekly_retention(spec) for spec in config.channel_specs])
        curve = TrueResponse.from_world(config, seed=seed, weeks=horizon)
        curve = replace(curve, carry=np.zeros_like(curve.carry))
        response = WeeklyResponse(curve, horizon)
        if not (np.isfinite(shift_factor) and shift_factor > 0):
            raise DataError(f"shift factor must be a positive number, got {shift_factor}")
        if shift_channel is None:
            best = optimize_budget(response, budget=float(response.current.sum()))
            shift_channel = response.channels[int(np.argmax(best.recommended))]
        if shift_channel not in response.channels:
            raise DataError(f"unknown shift channel {shift_channel!r}; {response.channels}")
        weekly_media = float(response.expected(response.current)[0])
        daily_sales = weekly_media / config.media_share / 7
        return cls(
            response=response,
            theta=theta,
            noise_sd=config.noise_cv * np.sqrt(7.0) * daily_sales,
            shift_channel=shift_channel,
            shift_week=shift_week,
            shift_factor=shift_factor,
        )

    def multiplier(self, week: int) -> FloatArray:
        """Return the true coefficient per channel in ``week`` (1-based): ones until the shift."""
        out = np.ones(len(self.response.channels))
        if week >= self.shift_week:
            out[self.response.channels.index(self.shift_channel)] = self.shift_factor
        return out


@dataclass(frozen=True)
class ClosedLoopResult:
    """Week-by-week outcome of every policy.

    Attributes
    ----------
    frame
        ``regret.csv``: ``week, policy, spend, outcome, observed, profit,
        cumulative_profit, cumulative_regret`` plus ``spend_<channel>`` columns and, for
        the learning policies, the posterior mean and standard deviation of each
        channel's coefficient after the week's update (``coef_<channel>``,
        ``sd_<channel>``; empty for the others).
    meta
        World and learner settings (channels, shift, noise, prior, forgetting).
    """

    frame: pd.DataFrame
    meta: dict[str, Any]

    def to_frame(self) -> pd.DataFrame:
        """Return ``regret.csv`` (see ``frame``)."""
        return self.frame

    def summary(self, checkpoints: Sequence[int] = (13, 26, 39, 52)) -> dict[str, Any]:
        """JSON-safe summary: cumulative regret per policy at ``checkpoints`` and profit."""
        out: dict[str, Any] = {"meta": self.meta, "policies": {}}
        for policy, part in self.frame.groupby("policy", sort=False):
            regret = part.set_index("week")["cumulative_regret"].astype(np.float64)
            weeks = [w for w in checkpoints if w in regret.index]
            out["policies"][str(policy)] = {
                "cumulative_profit": float(part["cumulative_profit"].iloc[-1]),
                "cumulative_regret": float(regret.iloc[-1]),
                "regret_at": {str(w): float(regret[w]) for w in weeks},
            }
        return out


def _plan(
    world: LoopWorld,
    coef: FloatArray,
    budget: float,
    current: FloatArray,
    *,
    last: FloatArray | None = None,
    step: float | None = None,
) -> FloatArray:
    """Return the best plan for coefficients ``coef``.

    With ``step``, each channel stays within ``step * max(last_c, budget / C)`` of last
    week's plan ``last``.
    """
    model = ScaledResponse(world.response, np.maximum(coef, 1e-6)[None, :])
    bounds = None
    if step is not None and last is not None:
        room = step * np.maximum(last, budget / last.size)
        bounds = {
            c: (float(max(lo, 0.0)), float(hi))
            for c, lo, hi in zip(world.response.channels, last - room, last + room, strict=True)
        }
    plan: FloatArray = optimize_budget(
        model, budget=budget, current=current, bounds=bounds
    ).recommended
    return plan


def _box(last: FloatArray, budget: float, step: float | None) -> tuple[FloatArray, FloatArray]:
    """Per-channel spend range allowed this week (the ramp limit around last week's plan)."""
    if step is None:
        return np.zeros_like(last), np.full_like(last, budget)
    room = step * np.maximum(last, budget / last.size)
    return np.maximum(last - room, 0.0), last + room


def _reach(plan: FloatArray, move: FloatArray, lo: FloatArray, hi: FloatArray) -> float:
    """Largest ``a >= 0`` with ``lo <= plan + a * move <= hi``."""
    up = move > 1e-12
    down = move < -1e-12
    limits = np.concatenate(
        [(hi[up] - plan[up]) / move[up], (lo[down] - plan[down]) / move[down], [np.inf]]
    )
    return float(max(limits.min(), 0.0))


def _directions(
    slope: FloatArray, curvature: FloatArray, loss: FloatArray, cov: FloatArray, top: int = 2
) -> list[FloatArray]:
    """Budget-neutral spend moves teaching most per unit of their cost (small moves).

    A move ``d`` (summing to zero) shifts the features by ``f' * d``, which removes about
    ``0.5 (f' d)' S G S (f' d) / noise^2`` of expected weekly loss and costs
    ``0.5 d' A d``: the top generalised eigenvectors of that pair, on active channels.
    """
    active = np.isfinite(curvature) & (curvature > 0) & np.isfinite(slope)
    idx = np.flatnonzero(active)
    if idx.size < 2:
        return []
    basis = np.linalg.svd(np.ones((1, idx.size)))[2][1:].T  # sum-zero subspace
    gain = slope[idx, None] * (cov @ loss @ cov)[np.ix_(idx, idx)] * slope[None, idx]
    num = basis.T @ gain @ basis
    den = basis.T @ np.diag(curvature[idx]) @ basis
    _, vecs = eigh(0.5 * (num + num.T), den)
    out = []
    for k in range(1, min(top, vecs.shape[1]) + 1):
        move = np.zeros(slope.size)
        move[idx] = basis @ vecs[:, -k]
        out.append(move / np.abs(move).max())
    return out


def _directed(
    world: LoopWorld,
    post: CoefficientPosterior,
    greedy: FloatArray,
    state: FloatArray,
    budget: float,
    box: tuple[FloatArray, FloatArray],
    horizon: int,
) -> FloatArray:
    """Greedy plan, or an in-market test around it where what it teaches pays its cost.

    Candidates move the greedy plan as far as the ramp allows (or half, a quarter) along
    the directions of :func:`_directions`, either sign; each is scored by
    ``horizon * information_value - cost`` (cost: the weekly outcome the plan gives up
    against the greedy one at steady state, under the posterior mean: to first order what
    a week's move costs over the weeks its carryover lasts). The greedy plan scores 0.
    No test while the greedy plan is still travelling (at a ramp bound, e.g. after a
    change): a detour then also delays the arrival.
    """
    lo, hi = box
    tol = 1e-6 * budget
    in_transit = bool(np.any((greedy <= lo + tol) & (lo > tol)) or np.any(greedy >= hi - tol))
    if horizon <= 0 or in_transit:
        return greedy
    mean, cov = post.mean, post.cov
    response = world.response
    n = greedy.size
    h = 1e-3 * np.maximum(greedy, budget / n)
    mid = response.contributions(greedy)[0]
    up = response.contributions(greedy + h)[0]
    down = response.contributions(np.maximum(greedy - h, 0.0))[0]
    slope = (up - down) / (2 * h)
    curvature = np.where(greedy > 1e-6 * budget, -mean * (up - 2 * mid + down) / h**2, np.nan)
    loss = decision_loss(slope, curvature)

    def features(plan: FloatArray) -> FloatArray:
        out: FloatArray = response.contributions(world.theta * state + (1 - world.theta) * plan)[0]
        return out

    ref = features(greedy)
    best, score = greedy, 0.0
    for move in _directions(slope, curvature, loss, cov):
        for sign in (1.0, -1.0):
            reach = _reach(greedy, sign * move, *box)
            for frac in (1.0, 0.5, 0.25):
                plan = np.maximum(greedy + frac * reach * sign * move, 0.0)
                value = information_value(cov, loss, features(plan), ref, world.noise_sd)
                cost = float(mean @ (mid - response.contributions(plan)[0]))
                gain = horizon * value - cost
                if gain > score:
                    best, score = plan, gain
    return best


def _check(policies: Sequence[str], weeks: int, delivery_cv: float) -> None:
    unknown = [p for p in policies if p not in POLICIES]
    if unknown:
        raise DataError(f"unknown policy {unknown[0]!r}; choose from {POLICIES}")
    if weeks < 1:
        raise DataError(f"weeks must be >= 1, got {weeks}")
    if not delivery_cv >= 0:
        raise DataError(f"delivery_cv must be >= 0, got {delivery_cv}")


def simulate_closed_loop(
    world: LoopWorld,
    *,
    weeks: int = 52,
    policies: Sequence[str] = POLICIES,
    margin: float = 1.0,
    delivery_cv: float = 0.2,
    learner: LearnerConfig | None = None,
    seed: int = 0,
    progress: ProgressCallback | None = None,
) -> ClosedLoopResult:
    """Run each policy for ``weeks`` weeks in ``world`` at the historical weekly budget.

    Parameters
    ----------
    world
        See :class:`LoopWorld`.
    weeks
        Weeks simulated.
    policies
        Any of :data:`POLICIES`; ``oracle`` is always run (regret is measured against it).
    margin
        Profit per target unit of outcome; profit is ``margin * outcome - spend``.
    delivery_cv
        Delivery noise: the spend delivered in a week is the plan times a mean-one
        lognormal factor per channel with this coefficient of variation (as media buys
        deliver in practice); the same draws for every policy.
    learner
        Prior, change detection and exploration of the adaptive policies
        (default :class:`~mixlens.allocation.learner.LearnerConfig()`).
    seed
        Seeds the initial model's error, the outcome noise and delivery (common to all
        policies) and Thompson sampling.
    progress
        Optional callback ``(stage, fraction_done)``.

    Returns
    -------
    ClosedLoopResult

    Raises
    ------
    DataError
        On an unknown policy or a setting out of range.
    """
    _check(policies, weeks, delivery_cv)
    cfg = learner or LearnerConfig()
    run = [p for p in POLICIES if p in policies or p == "oracle"]
    report = progress or (lambda stage, fraction: None)
    streams = np.random.SeedSequence(seed).spawn(4)
    prior_rng, noise_rng, ts_rng, delivery_rng = (np.random.default_rng(s) for s in streams)
    channels = world.response.channels
    n = len(channels)
    current = world.response.current
    budget = float(current.sum())
    prior_mean = np.exp(prior_rng.normal(0.0, cfg.prior_error, n))
    noise = noise_rng.normal(0.0, world.noise_sd, weeks)
    sigma = np.sqrt(np.log1p(delivery_cv**2))
    delivery = np.exp(delivery_rng.normal(-0.5 * sigma**2, sigma, (weeks, n)))
    static_plan = _plan(world, prior_mean, budget, current)
    jumps = jump_hypotheses(
        prior_mean, prior_sd=cfg.prior_sd, jump_sd=cfg.jump_sd, sparse=cfg.sparse
    )
    rows: list[dict[str, Any]] = []
    oracle_plans: dict[tuple[float, ...], FloatArray] = {}
    changes: dict[str, list[int]] = {}
    alarms: dict[str, list[int]] = {}
    for k, policy in enumerate(run):
        report(policy, k / len(run))
        learns = policy in _LEARNERS
        post = CoefficientPosterior(
            prior_mean,
            np.diag((cfg.prior_sd * prior_mean) ** -2),
            jumps=jumps,
            threshold=cfg.detect,
            drift=cfg.drift,
        )
        state = current.copy()
        last = static_plan
        for week in range(1, weeks + 1):
            truth = world.multiplier(week)
            if policy == "historical":
                plan = current
            elif policy == "static":
                plan = static_plan
            elif policy == "greedy":
                plan = _plan(world, post.mean, budget, current, last=last, step=cfg.step)
            elif policy == "thompson":
                mean = post.mean
                draw = mean + cfg.explore * (post.sample(ts_rng) - mean)
                plan = _plan(world, draw, budget, current, last=last, step=cfg.step)
            elif policy == "directed":
                plan = _plan(world, post.mean, budget, current, last=last, step=cfg.step)
                left = weeks - week if cfg.horizon is None else cfg.horizon
                box = _box(last, budget, cfg.step)
                plan = _directed(world, post, plan, state, budget, box, left)
            else:
                key = tuple(truth.tolist())
                if key not in oracle_plans:
                    oracle_plans[key] = _plan(world, truth, budget, current)
                plan = oracle_plans[key]
            last = plan
            plan = plan * delivery[week - 1]
            state = world.theta * state + (1 - world.theta) * plan
            phi = world.response.contributions(state)[0]
            outcome = float(truth @ phi)
            observed = outcome + float(noise[week - 1])
            if learns:
                post.update(phi, observed, noise_sd=world.noise_sd, forget=cfg.forget)
            coef = post.mean if learns else np.full(n, np.nan)
            sd = post.sd if learns else np.full(n, np.nan)
            rows.append(
                {
                    "week": week,
                    "policy": policy,
                    "spend": float(plan.sum()),
                    "outcome": outcome,
                    "observed": observed,
                    "profit": margin * outcome - float(plan.sum()),
                    **{f"spend_{c}": float(v) for c, v in zip(channels, plan, strict=True)},
                    **{f"coef_{c}": float(v) for c, v in zip(channels, coef, strict=True)},
                    **{f"sd_{c}": float(v) for c, v in zip(channels, sd, strict=True)},
                }
            )
        if learns:
            changes[policy] = list(post.changes)
            alarms[policy] = list(post.alarms)
    frame = pd.DataFrame(rows)
    frame["cumulative_profit"] = frame.groupby("policy", sort=False)["profit"].cumsum()
    oracle = frame[frame["policy"] == "oracle"].set_index("week")["cumulative_profit"]
    frame["cumulative_regret"] = frame["week"].map(oracle) - frame["cumulative_profit"]
    head = ["week", "policy", "spend", "outcome", "observed", "profit"]
    tail = ["cumulative_profit", "cumulative_regret"]
    spend = [f"spend_{c}" for c in channels]
    learned = [f"{k}_{c}" for k in ("coef", "sd") for c in channels]
    frame = frame[head + tail + spend + learned]
    meta = {
        "channels": list(channels),
        "weeks": weeks,
        "weekly_budget": budget,
        "margin": margin,
        "shift": {
            "channel": world.shift_channel,
            "week": world.shift_week,
            "factor": world.shift_factor,
        },
        "noise_sd": world.noise_sd,
        "delivery_cv": delivery_cv,
        "learner": asdict(cfg),
        "seed": seed,
        "changes_detected": changes,
        "change_alarms": alarms,
        "theta": dict(zip(channels, world.theta.tolist(), strict=True)),
        "initial_model": dict(zip(channels, prior_mean.tolist(), strict=True)),
    }
    report("done", 1.0)
    return ClosedLoopResult(frame=frame, meta=meta)
