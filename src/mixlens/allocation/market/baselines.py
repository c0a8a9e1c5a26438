"""Baselines: the budget optimiser on curves fitted to history, and a simulating oracle.

* :func:`optimiser_policy`: what a measurement team would do. Play ``history`` episodes
  with the static bids and a budget split that varies around the static one, fit a Hill
  curve ``beta * s / (s + half)`` per channel to (budget given, credited value) per episode,
  and let :func:`~mixlens.allocation.optimize.optimize_budget` split the budget on those
  curves. Bids stay static.
* :func:`oracle_policy`: knows the true market: it simulates the environment itself
  (common random numbers over ``seeds``) and searches the stationary split *and* bids that
  maximise mean profit (Nelder-Mead from the static plan).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from numpy.typing import NDArray

from mixlens.allocation.market.config import MarketConfig
from mixlens.allocation.market.env import MarketEnv, bidder
from mixlens.allocation.market.episode import FixedPolicy, run_episode
from mixlens.allocation.optimize import optimize_budget
from mixlens.allocation.response import SeparableCurves

__all__ = ["fit_history_curves", "optimiser_policy", "oracle_policy"]

FloatArray = NDArray[np.float64]


def _history(config: MarketConfig, *, episodes: int, seed: int) -> tuple[FloatArray, FloatArray]:
    """Per-episode channel budget (cap) and credited value under varied splits, ``(E, C)``."""
    env = MarketEnv(config)
    rng = np.random.default_rng(np.random.SeedSequence([seed, 77]))
    base = np.asarray(config.static_shares)
    spend = np.zeros((episodes, len(config.channels)))
    value = np.zeros_like(spend)
    for e in range(episodes):
        shares = rng.dirichlet(5.0 * base + 0.5)
        policy = FixedPolicy(config.channel_names, tuple(shares), config.static_bids)
        obs, _ = env.reset(seed=int(rng.integers(2**31)))
        while env.agents:
            obs, _, _, _, infos = env.step(policy.act(obs))
            for j, c in enumerate(config.channel_names):
                spend[e, j] += infos[bidder(c)]["cap"]
                value[e, j] += infos[bidder(c)]["credited"]
    return spend, value


def fit_history_curves(
    config: MarketConfig, *, episodes: int = 24, seed: int = 0
) -> SeparableCurves:
    """Fit one concave Hill curve per channel to simulated history (see module docstring).

    Examples
    --------
    >>> curves = fit_history_curves(MarketConfig(users=300, periods=6), episodes=6)
    >>> curves.channels
    ('search', 'social', 'display')
    """
    from scipy.optimize import curve_fit

    spend, value = _history(config, episodes=episodes, seed=seed)
    betas, halves = [], []
    for j in range(spend.shape[1]):
        s, v = spend[:, j], value[:, j]
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


def optimiser_policy(config: MarketConfig, *, episodes: int = 24, seed: int = 0) -> FixedPolicy:
    """Split the budget by the optimiser on curves fitted to history; keep static bids."""
    curves = fit_history_curves(config, episodes=episodes, seed=seed)
    total = config.budget * config.periods
    current = np.asarray(config.static_shares) * total
    plan = optimize_budget(curves, budget=total, current=current).recommended
    shares = np.maximum(plan, 0.0) / max(float(plan.sum()), 1e-12)
    return FixedPolicy(config.channel_names, tuple(float(x) for x in shares), config.static_bids)


def _policy_from(config: MarketConfig, x: FloatArray) -> FixedPolicy:
    c = len(config.channels)
    logits = np.concatenate([[0.0], x[: c - 1]])
    shares = np.exp(logits - logits.max())
    shares /= shares.sum()
    bids = np.clip(np.asarray(config.static_bids) * np.exp(x[c - 1 :]), 0.0, config.max_bid)
    return FixedPolicy(
        config.channel_names, tuple(float(v) for v in shares), tuple(float(v) for v in bids)
    )


def oracle_policy(
    config: MarketConfig, *, seeds: Sequence[int] = (0, 1, 2), evaluations: int = 120
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

    Returns
    -------
    FixedPolicy
    """
    from scipy.optimize import minimize

    env = MarketEnv(config)
    c = len(config.channels)
    start_shares = np.maximum(np.asarray(config.static_shares), 1e-3)
    x0 = np.concatenate([np.log(start_shares[1:] / start_shares[0]), np.zeros(c)])

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
    return policy


def _simplex(x0: FloatArray, step: float) -> FloatArray:
    pts = [x0]
    for i in range(len(x0)):
        p = x0.copy()
        p[i] += step
        pts.append(p)
    return np.asarray(pts)
