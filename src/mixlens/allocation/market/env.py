"""The multi-agent market as a PettingZoo ``ParallelEnv``.

Agents: ``portfolio`` splits each period's budget across channels (action: non-negative
weights, normalised to shares; all zero means an equal split); ``bidder_{channel}`` bids per
impression in its channel's second-price auctions against scripted competitors, within the
budget the portfolio gave it this period. Impressions reach users, whose per-channel ad
stock decays and is carried forward; users convert with a probability that grows with
their total stock and bring their value.

Rewards (``config.reward``):

* ``"profit"``: a bidder earns the value of the conversions credited to its channel (the
  media share of each conversion, split by the user's ad stock per channel) minus its
  spend; the portfolio earns the baseline (non-media) value. They add up to the market's
  profit, revenue minus spend;
* ``"roi"``: a bidder earns credited value / spend - 1; the portfolio, the market's
  media value / spend - 1;
* ``"ltv"``: profit plus ``discount * phi(next) - phi(now)``, where ``phi`` is the
  discounted value of the ad stock each channel has built (potential-based shaping; the
  stock left at the end counts).

Training with RLlib
-------------------
The environment is a plain PettingZoo ``ParallelEnv``, so RLlib trains it through its
PettingZoo wrapper (not a dependency of mixlens and not run in its tests;
``pip install "ray[rllib]"``). The three bidders share spaces and can share a policy; the
portfolio has its own::

    from ray.rllib.algorithms.ppo import PPOConfig
    from ray.rllib.env.wrappers.pettingzoo_env import ParallelPettingZooEnv
    from ray.tune.registry import register_env

    from mixlens.allocation.market import MarketConfig, MarketEnv

    register_env("mixlens_market", lambda cfg: ParallelPettingZooEnv(MarketEnv(MarketConfig())))
    config = (
        PPOConfig()
        .environment("mixlens_market")
        .multi_agent(
            policies={"portfolio", "bidder"},
            policy_mapping_fn=lambda agent_id, *args, **kwargs: (
                "portfolio" if agent_id == "portfolio" else "bidder"
            ),
        )
    )
    algo = config.build()
    for _ in range(20):
        algo.train()
"""

from __future__ import annotations

import functools
from typing import Any

import numpy as np
from numpy.typing import NDArray

from mixlens.allocation.market.auction import run_capped_auctions
from mixlens.allocation.market.config import MarketConfig
from mixlens.allocation.market.population import Population, draw_population

try:
    from gymnasium import spaces
    from pettingzoo import ParallelEnv  # type: ignore[import-untyped]
except ImportError as err:  # pragma: no cover - exercised only without the extra
    raise ImportError(
        "the market needs PettingZoo and Gymnasium: install `mixlens[market]`"
    ) from err

__all__ = ["PORTFOLIO", "MarketEnv", "bidder"]

FloatArray = NDArray[np.float64]
PORTFOLIO = "portfolio"
#: Length of a bidder's observation.
BIDDER_OBS = 7


def bidder(channel: str) -> str:
    """Agent id of a channel's bidder."""
    return f"bidder_{channel}"


class MarketEnv(ParallelEnv):  # type: ignore[misc]
    """Portfolio and channel bidders in a simulated advertising market.

    Parameters
    ----------
    config
        The market (default :class:`MarketConfig`).

    Examples
    --------
    >>> env = MarketEnv(MarketConfig(users=200, periods=3))
    >>> obs, _ = env.reset(seed=1)
    >>> sorted(obs)
    ['bidder_display', 'bidder_search', 'bidder_social', 'portfolio']
    >>> actions = {a: env.action_space(a).sample() for a in env.agents}
    >>> _, rewards, _, _, infos = env.step(actions)
    >>> bool(abs(sum(rewards.values()) - infos["portfolio"]["profit"]) < 1e-6)
    True
    """

    metadata: dict[str, Any] = {"name": "mixlens_market_v0", "render_modes": []}  # noqa: RUF012

    def __init__(self, config: MarketConfig | None = None) -> None:
        self.config = config or MarketConfig()
        self.population: Population = draw_population(self.config)
        self.channels = self.config.channel_names
        self.possible_agents: list[str] = [PORTFOLIO, *(bidder(c) for c in self.channels)]
        self.agents: list[str] = []
        self.render_mode = None
        self._rng = np.random.default_rng(0)
        n, c = self.config.users, len(self.channels)
        self._stock = np.zeros((n, c))
        self._t = 0
        self._last: dict[str, FloatArray] = {}
        self._decay = np.array([ch.decay for ch in self.config.channels])
        self._effect = np.array([ch.effect for ch in self.config.channels])
        gd = self.config.discount * self._decay
        self._ltv_factor = gd / (1.0 - gd)

    # --- spaces -------------------------------------------------------------------------
    @functools.cache  # noqa: B019  (one space object per agent, as PettingZoo asks)
    def observation_space(self, agent: str) -> spaces.Box:
        """Local observation space of ``agent`` (see :meth:`observe`)."""
        size = BIDDER_OBS if agent != PORTFOLIO else 3 + 2 * len(self.channels)
        return spaces.Box(-np.inf, np.inf, shape=(size,), dtype=np.float32)

    @functools.cache  # noqa: B019
    def action_space(self, agent: str) -> spaces.Box:
        """Portfolio: weights in ``[0, 1]`` per channel; bidder: a bid in ``[0, max_bid]``."""
        if agent == PORTFOLIO:
            return spaces.Box(0.0, 1.0, shape=(len(self.channels),), dtype=np.float32)
        return spaces.Box(0.0, self.config.max_bid, shape=(1,), dtype=np.float32)

    # --- dynamics -----------------------------------------------------------------------
    def reset(
        self, seed: int | None = None, options: dict[str, Any] | None = None
    ) -> tuple[dict[str, NDArray[np.float32]], dict[str, dict[str, Any]]]:
        """Start an episode; ``seed`` fixes auctions, exposures and conversions."""
        self._rng = np.random.default_rng(seed)
        self.agents = list(self.possible_agents)
        self._stock[:] = 0.0
        self._t = 0
        c = len(self.channels)
        zeros = np.zeros(c)
        self._last = {
            "cap": np.asarray(self.config.static_shares) * self.config.budget,
            "spend": zeros,
            "wins": zeros,
            "credited": zeros,
            "bid": np.asarray(self.config.static_bids, dtype=np.float64),
            "market": np.zeros(2),
        }
        return self._observations(), {a: {} for a in self.agents}

    def shares(self, weights: Any) -> FloatArray:
        """Normalise portfolio weights to budget shares (all zero: an equal split)."""
        w = np.clip(np.nan_to_num(np.asarray(weights, dtype=np.float64).ravel()), 0.0, None)
        total = w.sum()
        if total <= 0:
            return np.full(len(self.channels), 1.0 / len(self.channels))
        out: FloatArray = w / total
        return out

    def _potential(self) -> FloatArray:
        """Discounted value of each channel's ad stock (linearised at the current stock)."""
        pop, cfg = self.population, self.config
        marginal = pop.value * pop.propensity * cfg.lift * np.exp(-self._stock.sum(axis=1))
        out: FloatArray = (marginal @ (self._stock * self._decay)) * self._ltv_factor
        return out

    def step(
        self, actions: dict[str, Any]
    ) -> tuple[
        dict[str, NDArray[np.float32]],
        dict[str, float],
        dict[str, bool],
        dict[str, bool],
        dict[str, dict[str, Any]],
    ]:
        """Play one period: split, auctions, exposure, conversions, rewards."""
        if not self.agents:
            raise RuntimeError("step() called on a finished episode: call reset()")
        cfg, pop, rng = self.config, self.population, self._rng
        caps = self.shares(actions.get(PORTFOLIO, cfg.static_shares)) * cfg.budget
        c = len(self.channels)
        spend, wins, bids = np.zeros(c), np.zeros(c), np.zeros(c)
        impressions = np.zeros_like(self._stock)
        phi_before = self._potential() if cfg.reward == "ltv" else np.zeros(c)
        for j, ch in enumerate(cfg.channels):
            raw = actions.get(bidder(ch.name), [cfg.static_bids[j]])
            bid = float(
                np.clip(
                    np.nan_to_num(np.asarray(raw, dtype=np.float64).ravel()[0]), 0.0, cfg.max_bid
                )
            )
            comp = rng.lognormal(
                ch.competitor_log_mean, ch.competitor_log_sd, size=(ch.auctions, ch.competitors)
            )
            users = np.searchsorted(pop.cumulative[j], rng.random(ch.auctions), side="right")
            users = np.minimum(users, cfg.users - 1)
            outcome = run_capped_auctions(bid, comp, cap=float(caps[j]), reserve=ch.reserve)
            impressions[:, j] = np.bincount(users[outcome.won], minlength=cfg.users)
            spend[j], wins[j], bids[j] = outcome.spend, outcome.wins, bid
        self._stock = self._stock * self._decay + impressions * self._effect
        total_stock = self._stock.sum(axis=1)
        media = cfg.lift * (1.0 - np.exp(-total_stock))
        prob = pop.propensity * (cfg.base_rate + media)
        converted = rng.random(cfg.users) < prob
        value = np.where(converted, pop.value, 0.0)
        media_value = value * media / (cfg.base_rate + media)
        split = self._stock / np.where(total_stock > 0, total_stock, 1.0)[:, None]
        credited = media_value @ split
        baseline = float(value.sum() - credited.sum())
        revenue = float(value.sum())
        profit = revenue - float(spend.sum())
        phi_after = self._potential() if cfg.reward == "ltv" else np.zeros(c)
        rewards = self._rewards(credited, spend, baseline, phi_before, phi_after)
        self._t += 1
        done = self._t >= cfg.periods
        self._last = {
            "cap": caps,
            "spend": spend,
            "wins": wins,
            "credited": credited,
            "bid": bids,
            "market": np.array([revenue, profit]),
        }
        info_common = {
            "profit": profit,
            "revenue": revenue,
            "spend": float(spend.sum()),
            "conversions": int(converted.sum()),
            "period": self._t - 1,
        }
        infos: dict[str, dict[str, Any]] = {PORTFOLIO: dict(info_common, shares=caps / cfg.budget)}
        for j, name in enumerate(self.channels):
            infos[bidder(name)] = dict(
                info_common,
                channel_spend=float(spend[j]),
                cap=float(caps[j]),
                wins=int(wins[j]),
                credited=float(credited[j]),
                potential=float(phi_after[j]),
            )
        obs = self._observations()
        terminations = dict.fromkeys(self.agents, False)
        truncations = dict.fromkeys(self.agents, done)
        if done:
            self.agents = []
        return obs, rewards, terminations, truncations, infos

    def _rewards(
        self,
        credited: FloatArray,
        spend: FloatArray,
        baseline: float,
        phi_before: FloatArray,
        phi_after: FloatArray,
    ) -> dict[str, float]:
        cfg = self.config
        if cfg.reward == "roi":
            roi = np.where(spend > 0, credited / np.where(spend > 0, spend, 1.0) - 1.0, 0.0)
            total = float(spend.sum())
            port = float(credited.sum()) / total - 1.0 if total > 0 else 0.0
            out = {PORTFOLIO: port}
            out.update({bidder(n): float(roi[j]) for j, n in enumerate(self.channels)})
            return out
        local = credited - spend
        if cfg.reward == "ltv":
            local = local + cfg.discount * phi_after - phi_before
        out = {PORTFOLIO: baseline}
        out.update({bidder(n): float(local[j]) for j, n in enumerate(self.channels)})
        return out

    def _observations(self) -> dict[str, NDArray[np.float32]]:
        cfg, last = self.config, self._last
        b, t = cfg.budget, self._t / cfg.periods
        revenue, profit = last["market"]
        obs: dict[str, NDArray[np.float32]] = {
            PORTFOLIO: np.concatenate(
                [[t], last["cap"] / b, last["spend"] / b, [revenue / b, profit / b]]
            ).astype(np.float32)
        }
        for j, ch in enumerate(cfg.channels):
            w = last["wins"][j]
            avg = last["spend"][j] / w if w > 0 else 0.0
            obs[bidder(ch.name)] = np.array(
                [
                    t,
                    last["cap"][j] / b,
                    last["spend"][j] / b,
                    w / ch.auctions,
                    avg / cfg.max_bid,
                    last["credited"][j] / b,
                    last["bid"][j] / cfg.max_bid,
                ],
                dtype=np.float32,
            )
        return obs

    def observe(self, agent: str) -> NDArray[np.float32]:
        """Return the current local observation of ``agent``."""
        return self._observations()[agent]

    def state(self) -> NDArray[np.float32]:
        """Global state: every agent's observation, concatenated (for a centralised critic)."""
        obs = self._observations()
        return np.concatenate([obs[a] for a in self.possible_agents])

    def render(self) -> None:
        """No rendering: the market is watched through its infos and the report."""
        return None

    def close(self) -> None:
        """Nothing to release."""
        return None
