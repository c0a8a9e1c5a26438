"""Baselines: the budget optimiser on curves fitted to history, and a simulating oracle.

* :func:`optimiser_policy`: what a measurement team would do. Play ``history`` episodes
  with budget splits and bids that vary around the static plan (Dirichlet shares, bids
  ``static * exp(N(0, 0.5^2))``); fit a Hill curve ``beta * s / (s + half)`` per channel to
  (spend, credited value) per episode and a demand curve ``spend = a * bid^b`` per period to
  the episodes whose spend stayed below their budget; let
  :func:`~mixlens.allocation.optimize.optimize_budget` split each candidate total (50% to
  100% of the budget, within twice the largest spend seen per channel) on the curves and keep
  the total with the best fitted profit; then bid, per channel, what the demand curve says
  spends its share (the pacing bid: the lowest bid that spends it).
* :func:`oracle_policy`: knows the true market: it simulates the environment itself
  (common random numbers over ``seeds``) and searches the stationary split *and* bids that
  maximise mean profit (Nelder-Mead from the static plan, or from a given plan such as the
  optimiser's), and keeps the plan found only if it also beats its start on validation
  seeds. It is the best *stationary* plan: the same split and bids every period, the class
  the optimiser chooses from; learned policies may change their actions from period to
  period, so they can in principle beat it.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

from mixlens.allocation.market.config import MarketConfig
from mixlens.allocation.market.env import MarketEnv, bidder
from mixlens.allocation.market.episode import FixedPolicy, run_episode
from mixlens.allocation.optimize import optimize_budget
from mixlens.allocation.response import SeparableCurves
from mixlens.errors import DataError

__all__ = [
    "History",
    "fit_history_curves",
    "optimiser_plan",
    "optimiser_policy",
    "oracle_policy",
    "play_history",
]

FloatArray = NDArray[np.float64]


@dataclass(frozen=True)
class History:
    """Per episode and channel, ``(E, C)``: spend, credited value, budget given and bid."""

    spend: FloatArray
    value: FloatArray
    cap: FloatArray
    bid: FloatArray


def play_history(config: MarketConfig, *, episodes: int = 24, seed: int = 0) -> History:
    """Play ``episodes`` with splits and bids varied around the static plan.

    Examples
    --------
    >>> hist = play_history(MarketConfig(users=100, periods=3), episodes=2)
    >>> hist.spend.shape, bool((hist.spend <= hist.cap + 1e-9).all())
    ((2, 3), True)
    """
    env = MarketEnv(config)
    rng = np.random.default_rng(np.random.SeedSequence([seed, 77]))
    base = np.asarray(config.static_shares)
    static_bids = np.asarray(config.static_bids)
    shape = (episodes, len(config.channels))
    spend, value, cap, bids = np.zeros(shape), np.zeros(shape), np.zeros(shape), np.zeros(shape)
    for e in range(episodes):
        shares = rng.dirichlet(5.0 * base + 0.5)
        noise = np.exp(rng.normal(0.0, 0.5, shape[1]))
        bids[e] = np.clip(static_bids * noise, 0, config.max_bids)
        policy = FixedPolicy(config.channel_names, tuple(shares), tuple(bids[e]))
        obs, _ = env.reset(seed=int(rng.integers(2**31)))
        while env.agents:
            obs, _, _, _, infos = env.step(policy.act(obs))
            for j, c in enumerate(config.channel_names):
                spend[e, j] += infos[bidder(c)]["channel_spend"]
                cap[e, j] += infos[bidder(c)]["cap"]
                value[e, j] += infos[bidder(c)]["credited"]
    return History(spend=spend, value=value, cap=cap, bid=bids)


def _hill_curves(config: MarketConfig, hist: History) -> SeparableCurves:
    from scipy.optimize import curve_fit

    betas, halves = [], []
    for j in range(hist.spend.shape[1]):
        s, v = hist.spend[:, j], hist.value[:, j]
        scale = max(float(s.max()), 1e-9)

        def hill(x: FloatArray, beta: float, half: float) -> FloatArray:
            out: FloatArray = beta * x / (x + half)
            return out

        try:
            (beta, half), _ = curve_fit(
                hill,
                s,
                v,
                p0=[2.0 * max(float(v.max()), 1.0), scale],
                bounds=([0.0, 1e-6 * scale], [np.inf, 100.0 * scale]),
                maxfev=5000,
            )
        except RuntimeError:  # no convergence: a straight line through the origin
            slope = float(s @ v / max(float(s @ s), 1e-12))
            beta, half = slope * 100.0 * scale, 100.0 * scale
        betas.append(float(beta))
        halves.append(float(half))
    return SeparableCurves(config.channel_names, beta=betas, half=halves)


def fit_history_curves(
    config: MarketConfig, *, episodes: int = 24, seed: int = 0
) -> SeparableCurves:
    """Fit one concave Hill curve per channel (spend to credited value) to simulated history.

    Examples
    --------
    >>> curves = fit_history_curves(MarketConfig(users=300, periods=6), episodes=6)
    >>> curves.channels
    ('paid_search_generic', 'social', 'display')
    """
    return _hill_curves(config, play_history(config, episodes=episodes, seed=seed))


def _demand(config: MarketConfig, hist: History) -> tuple[FloatArray, FloatArray]:
    """Per channel ``log a, b`` of ``spend per period = a * bid^b`` (uncapped episodes)."""
    periods = config.periods
    log_a, slope = np.zeros(hist.spend.shape[1]), np.ones(hist.spend.shape[1])
    for j in range(hist.spend.shape[1]):
        free = (hist.spend[:, j] < 0.97 * hist.cap[:, j]) & (hist.spend[:, j] > 0)
        x = np.log(np.maximum(hist.bid[free, j], 1e-9))
        y = np.log(hist.spend[free, j] / periods)
        if free.sum() >= 3 and np.ptp(x) > 0:
            b, a = np.polyfit(x, y, 1)
            slope[j], log_a[j] = max(float(b), 0.1), float(a)
        else:  # too few points below the budget: the static bid spends the mean spend
            log_a[j] = float(np.log(max(hist.spend[:, j].mean() / periods, 1e-9)))
            log_a[j] -= float(np.log(config.static_bids[j]))
    return log_a, slope


def optimiser_policy(config: MarketConfig, *, episodes: int = 24, seed: int = 0) -> FixedPolicy:
    """Split the budget on curves fitted to history and bid what spends each share.

    See the module docstring. The policy spends at most the budget.
    """
    return optimiser_plan(config, episodes=episodes, seed=seed)[0]


def optimiser_plan(
    config: MarketConfig, *, episodes: int = 24, seed: int = 0
) -> tuple[FixedPolicy, FloatArray]:
    """:func:`optimiser_policy` and the spend per channel it plans over the horizon."""
    hist = play_history(config, episodes=episodes, seed=seed)
    curves = _hill_curves(config, hist)
    log_a, slope = _demand(config, hist)
    total = config.budget * config.periods
    upper = 2.0 * hist.spend.max(axis=0)
    bounds = {c: (0.0, float(u)) for c, u in zip(config.channel_names, upper, strict=True)}
    current = np.asarray(config.static_shares) * total
    best: tuple[float, FloatArray] | None = None
    for fraction in np.linspace(0.5, 1.0, 11):
        spend = min(fraction * total, 0.999 * float(upper.sum()))
        try:
            plan = optimize_budget(curves, budget=spend, current=current, bounds=bounds)
        except DataError:
            continue
        recommended = np.maximum(plan.recommended, 0.0)
        profit = float(np.sum(curves.expected(recommended))) - float(recommended.sum())
        if best is None or profit > best[0]:
            best = (profit, recommended)
    if best is None:
        raise DataError("the optimiser found no feasible plan on the fitted curves")
    plan_spend = best[1]
    per_period = np.maximum(plan_spend / config.periods, 1e-9)
    bids = np.clip(np.exp((np.log(per_period) - log_a) / slope), 0.0, config.max_bids)
    shares = plan_spend / max(float(plan_spend.sum()), 1e-12)
    policy = FixedPolicy(
        config.channel_names,
        tuple(float(x) for x in shares),
        tuple(float(x) for x in bids),
    )
    return policy, plan_spend


def _reference_bids(config: MarketConfig) -> FloatArray:
    """Return the static bids, or a tenth of the largest bid where the static bid is 0."""
    static, top = np.asarray(config.static_bids), np.asarray(config.max_bids)
    out: FloatArray = np.where(static > 0, static, 0.1 * top)
    return out


def _policy_from(config: MarketConfig, x: FloatArray) -> FixedPolicy:
    c = len(config.channels)
    logits = np.concatenate([[0.0], x[: c - 1]])
    shares = np.exp(logits - logits.max())
    shares /= shares.sum()
    bids = np.clip(_reference_bids(config) * np.exp(x[c - 1 :]), 0.0, config.max_bids)
    return FixedPolicy(
        config.channel_names, tuple(float(v) for v in shares), tuple(float(v) for v in bids)
    )


def oracle_policy(
    config: MarketConfig,
    *,
    seeds: Sequence[int] = (0, 1, 2),
    evaluations: int = 120,
    start: FixedPolicy | None = None,
    validation_seeds: Sequence[int] = (),
) -> FixedPolicy:
    """Best stationary split and bids, found by simulating the true market.

    Parameters
    ----------
    config
        The market.
    seeds
        Episode seeds simulated for every candidate (common random numbers); keep them
        apart from the evaluation seeds.
    evaluations
        Largest number of candidate plans tried.
    start
        Plan the search starts from (default: the static plan); the oracle never returns a
        plan worse than its start on ``seeds``.
    validation_seeds
        Further episode seeds, apart from ``seeds`` and the evaluation seeds: where given,
        the search's best plan is kept only if its mean profit on them is at least the
        start's. A search on a few seeds can fit their noise; this keeps the oracle from
        falling below its start (such as the optimiser's plan) on new seeds.

    Returns
    -------
    FixedPolicy
    """
    from scipy.optimize import minimize

    env = MarketEnv(config)
    plan = start or FixedPolicy(config.channel_names, config.static_shares, config.static_bids)
    start_shares = np.maximum(np.asarray(plan.shares), 1e-3)
    start_bids = np.maximum(np.asarray(plan.bids), 1e-6) / _reference_bids(config)
    x0 = np.concatenate([np.log(start_shares[1:] / start_shares[0]), np.log(start_bids)])

    def loss(x: FloatArray) -> float:
        policy = _policy_from(config, x)
        return -float(np.mean([run_episode(env, policy, seed=s).profit for s in seeds]))

    best = minimize(
        loss,
        x0,
        method="Nelder-Mead",
        options={"maxfev": evaluations, "initial_simplex": _simplex(x0, 0.5)},
    )
    x = best.x if best.fun <= loss(x0) else x0
    policy = _policy_from(config, np.asarray(x, dtype=np.float64))
    if validation_seeds:
        found = np.mean([run_episode(env, policy, seed=s).profit for s in validation_seeds])
        kept = np.mean([run_episode(env, plan, seed=s).profit for s in validation_seeds])
        if found < kept:
            return plan
    return policy


def _simplex(x0: FloatArray, step: float) -> FloatArray:
    pts = [x0]
    for i in range(len(x0)):
        p = x0.copy()
        p[i] += step
        pts.append(p)
    return np.asarray(pts)
