"""Judge policies on the same held-out seeds: cumulative profit and incremental ROI."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd
from numpy.typing import NDArray

from mixlens.allocation.market.config import MarketConfig
from mixlens.allocation.market.env import MarketEnv
from mixlens.allocation.market.episode import FixedPolicy, MarketPolicy, run_episode

__all__ = ["EvaluationResult", "evaluate_policies"]


@dataclass(frozen=True)
class EvaluationResult:
    """Per-seed outcomes of each policy and their summary.

    Attributes
    ----------
    episodes
        One row per policy and seed: ``policy, seed, profit, revenue, spend, conversions,
        incremental, roi``. ``incremental`` is revenue minus the revenue of the same seed
        with no advertising (common random numbers), ``roi`` is ``incremental / spend``.
    level
        Mass of the intervals (0.95).
    """

    episodes: pd.DataFrame
    level: float = 0.95

    def to_frame(self) -> pd.DataFrame:
        """One row per policy: profit and ROI means with their intervals, spend, seeds.

        Columns ``policy, profit_mean, profit_lo, profit_hi, roi_mean, roi_lo, roi_hi,
        spend_mean, n_seeds``.

        ``profit_lo``/``profit_hi`` and ``roi_lo``/``roi_hi`` bound the ``level`` t-intervals
        of the mean cumulative profit and of the mean incremental ROI over the seeds.
        """
        rows = []
        for policy, group in self.episodes.groupby("policy", sort=False):
            profit_mean, profit_lo, profit_hi = _t_interval(group["profit"].to_numpy(), self.level)
            roi_mean, roi_lo, roi_hi = _t_interval(group["roi"].to_numpy(), self.level)
            rows.append(
                {
                    "policy": policy,
                    "profit_mean": profit_mean,
                    "profit_lo": profit_lo,
                    "profit_hi": profit_hi,
                    "roi_mean": roi_mean,
                    "roi_lo": roi_lo,
                    "roi_hi": roi_hi,
                    "spend_mean": float(group["spend"].mean()),
                    "n_seeds": len(group),
                }
            )
        return pd.DataFrame(rows)


def _t_interval(values: NDArray[np.float64], level: float) -> tuple[float, float, float]:
    """Mean and the ``level`` t-interval of the mean of ``values`` (shape ``(n,)``)."""
    from scipy import stats

    n, mean = len(values), float(values.mean())
    if n < 2:
        return mean, mean, mean
    half = float(stats.t.ppf(0.5 + level / 2, n - 1) * values.std(ddof=1) / np.sqrt(n))
    return mean, mean - half, mean + half


def evaluate_policies(
    config: MarketConfig,
    policies: Mapping[str, MarketPolicy],
    *,
    seeds: Sequence[int],
    progress: Callable[[float], None] | None = None,
) -> EvaluationResult:
    """Play every policy on every seed (the same seeds for all) and tabulate the outcomes.

    Examples
    --------
    >>> from mixlens.allocation.market.episode import static_policy
    >>> cfg = MarketConfig(users=200, periods=4)
    >>> res = evaluate_policies(cfg, {"static": static_policy(cfg)}, seeds=[10, 11])
    >>> res.to_frame()["policy"].tolist()
    ['static']
    """
    env = MarketEnv(config)
    zero = FixedPolicy(config.channel_names, config.static_shares, (0.0,) * len(config.channels))
    no_ads = {s: run_episode(env, zero, seed=s).revenue for s in seeds}
    rows = []
    total, done = len(policies) * len(seeds), 0
    for name, policy in policies.items():
        for s in seeds:
            ep = run_episode(env, policy, seed=s)
            incremental = ep.revenue - no_ads[s]
            rows.append(
                {
                    "policy": name,
                    "seed": s,
                    "profit": ep.profit,
                    "revenue": ep.revenue,
                    "spend": ep.spend,
                    "conversions": ep.conversions,
                    "incremental": incremental,
                    "roi": incremental / ep.spend if ep.spend > 0 else 0.0,
                }
            )
            done += 1
            if progress is not None:
                progress(done / total)
    return EvaluationResult(episodes=pd.DataFrame(rows))
