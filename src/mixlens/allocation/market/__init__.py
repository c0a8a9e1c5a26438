"""A multi-agent advertising market: a PettingZoo environment, baselines and learners.

Each period a ``portfolio`` agent splits the budget across channels and each channel's
``bidder_{channel}`` agent bids in second-price impression auctions against scripted
competitors; exposed users carry the decaying effects forward and convert with value
(:class:`MarketEnv`). The users, their conversion process and the channels' effects are
those of a journey world (:mod:`mixlens.data.simulate.journeys`, ``MarketConfig.world``).
Baselines (:mod:`~mixlens.allocation.market.baselines`): the static historical split, the
budget optimiser on curves fitted to history (with pacing bids), and an oracle that
simulates the true market. Learners (:mod:`~mixlens.allocation.market.learn`, torch):
independent, centralised-critic (CTDE) and hierarchical policy gradients with PPO clipping.
Evaluation over held-out seeds: :func:`evaluate_policies`.

Needs the ``market`` extra (PettingZoo, Gymnasium); the learners need ``neural`` (torch).

Examples
--------
>>> from mixlens.allocation.market import MarketConfig, MarketEnv, run_episode, static_policy
>>> config = MarketConfig(users=200, periods=4)
>>> result = run_episode(MarketEnv(config), static_policy(config), seed=0)
>>> result.spend <= config.budget * config.periods
True
"""

from __future__ import annotations

from mixlens.allocation.market.auction import (
    AuctionOutcome,
    run_capped_auctions,
    second_price_auction,
)
from mixlens.allocation.market.baselines import (
    History,
    fit_history_curves,
    optimiser_policy,
    oracle_policy,
    play_history,
)
from mixlens.allocation.market.config import ChannelSpec, MarketConfig, RewardKind
from mixlens.allocation.market.env import PORTFOLIO, MarketEnv, bidder
from mixlens.allocation.market.episode import (
    EpisodeResult,
    FixedPolicy,
    MarketPolicy,
    run_episode,
    static_policy,
)
from mixlens.allocation.market.evaluate import EvaluationResult, evaluate_policies

__all__ = [
    "PORTFOLIO",
    "AuctionOutcome",
    "ChannelSpec",
    "EpisodeResult",
    "EvaluationResult",
    "FixedPolicy",
    "History",
    "MarketConfig",
    "MarketEnv",
    "MarketPolicy",
    "RewardKind",
    "bidder",
    "evaluate_policies",
    "fit_history_curves",
    "optimiser_policy",
    "oracle_policy",
    "play_history",
    "run_capped_auctions",
    "run_episode",
    "second_price_auction",
    "static_policy",
]
