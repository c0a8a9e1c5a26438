"""Policies as the market sees them, and one episode played by a policy."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Protocol, runtime_checkable

import numpy as np
from numpy.typing import NDArray

from mixlens.allocation.market.config import MarketConfig
from mixlens.allocation.market.env import PORTFOLIO, MarketEnv, bidder

__all__ = ["EpisodeResult", "FixedPolicy", "MarketPolicy", "run_episode", "static_policy"]

FloatArray = NDArray[np.float64]
Observations = Mapping[str, NDArray[np.float32]]


@runtime_checkable
class MarketPolicy(Protocol):
    """Maps the agents' local observations to their actions (one period)."""

    def act(self, observations: Observations) -> dict[str, FloatArray]:
        """Actions of every agent present in ``observations``."""
        ...


@dataclass(frozen=True)
class FixedPolicy:
    """The same budget split and bids every period.

    Parameters
    ----------
    channels
        Channel names.
    shares
        Budget share per channel (sums to 1).
    bids
        Bid per impression per channel.
    """

    channels: tuple[str, ...]
    shares: tuple[float, ...]
    bids: tuple[float, ...]

    def act(self, observations: Observations) -> dict[str, FloatArray]:
        """Return the fixed split and bids."""
        out = {PORTFOLIO: np.asarray(self.shares, dtype=np.float64)}
        for name, bid in zip(self.channels, self.bids, strict=True):
            out[bidder(name)] = np.array([bid])
        return out


def static_policy(config: MarketConfig) -> FixedPolicy:
    """Return the historical static split and bids of ``config``."""
    return FixedPolicy(config.channel_names, config.static_shares, config.static_bids)


@dataclass(frozen=True)
class EpisodeResult:
    """Totals of one episode.

    Attributes
    ----------
    profit, revenue, spend
        Cumulative market profit, revenue and spend, currency.
    conversions
        Number of conversions.
    profits
        Profit per period, ``(periods,)``.
    channel_spend
        Spend per channel over the episode, ``(C,)``.
    """

    profit: float
    revenue: float
    spend: float
    conversions: int
    profits: FloatArray
    channel_spend: FloatArray


def run_episode(env: MarketEnv, policy: MarketPolicy, *, seed: int) -> EpisodeResult:
    """Play one episode of ``env`` with ``policy`` from ``reset(seed=seed)``.

    Examples
    --------
    >>> cfg = MarketConfig(users=200, periods=4)
    >>> env = MarketEnv(cfg)
    >>> a = run_episode(env, static_policy(cfg), seed=3)
    >>> b = run_episode(env, static_policy(cfg), seed=3)
    >>> a.profit == b.profit, a.profits.shape
    (True, (4,))
    """
    obs, _ = env.reset(seed=seed)
    profits, revenue, spend, conversions = [], 0.0, 0.0, 0
    channel_spend = np.zeros(len(env.channels))
    while env.agents:
        obs, _, _, _, infos = env.step(policy.act(obs))
        info = infos[PORTFOLIO]
        profits.append(info["profit"])
        revenue += info["revenue"]
        spend += info["spend"]
        conversions += info["conversions"]
        channel_spend += [infos[bidder(c)]["channel_spend"] for c in env.channels]
    return EpisodeResult(
        profit=float(sum(profits)),
        revenue=revenue,
        spend=spend,
        conversions=conversions,
        profits=np.asarray(profits),
        channel_spend=channel_spend,
    )
