"""The multi-agent market as a PettingZoo ``ParallelEnv``.

Agents: ``portfolio`` splits each period's budget across channels (action: non-negative
weights, normalised to shares; all zero means an equal split); ``bidder_{channel}`` bids per
impression in its channel's second-price auctions against scripted competitors, within the
budget the portfolio gave it this period.

Users are the journey world's (:mod:`.population`) and follow its conversion process in
continuous time, integrated exactly over each period of ``D = period_days`` days. A won
impression is a touch of user ``u`` at a uniform time ``s`` in the period: it adds
``alpha = effect_c * (1 + gamma)`` (``gamma`` when a synergy's source channel touched ``u``
within its window, in an earlier period; else 0) to ``u``'s conversion intensity, decaying
with half-life ``h_c``; the intensity is carried forward to later periods. ``u``'s
integrated intensity ``Lambda_u`` grows by the period's base integral (in-market episodes
included) plus ``alpha h_c / ln 2 (1 - 2^(-(D - s) / h_c))`` per touch and the decay of the
carried intensity; ``u`` converts for the ``k``-th time when ``Lambda_u`` passes
``theta_uk = E_1 + ... + E_k`` (``E ~ Exp(1)``, drawn per episode, at most ``K``) and brings
the world's value of that conversion. The value of a period's conversions is credited to
the base and to each channel in proportion to their shares of the period's intensity
integral (a Poisson process superposed of base and channels).

Rewards (``config.reward``, times ``config.reward_scale``):

* ``"profit"``: a bidder earns the value of the conversions credited to its channel minus
  its spend; the portfolio earns the base (non-media) value. They add up to the market's
  profit, revenue minus spend;
* ``"roi"``: a bidder earns credited value / spend - 1; the portfolio, the market's
  media value / spend - 1;
* ``"ltv"``: profit plus ``discount * phi(next) - phi(now)``, where ``phi`` is the
  discounted value of the conversions still to come from the intensity each channel has
  built (potential-based shaping; the intensity left at the end counts).

Training with RLlib: the environment is a plain PettingZoo ``ParallelEnv``;
``benchmarks/market_rllib.py`` trains PPO on it through RLlib's PettingZoo wrapper
(``pip install "mixlens[market,neural,ray]"``).
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
    ['bidder_display', 'bidder_paid_search_generic', 'bidder_social', 'portfolio']
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
        k = self.population.values.shape[1]
        self._intensity = np.zeros((n, c))  # ad intensity at the period start, per day
        self._last_touch = np.full((n, c), -np.inf)  # period of the user's last touch
        self._lambda = np.zeros(n)  # integrated intensity so far
        self._converted = np.zeros(n, dtype=np.int64)
        self._thresholds = np.full((n, k), np.inf)
        self._cum_values = np.concatenate(
            [np.zeros((n, 1)), np.cumsum(self.population.values, axis=1)], axis=1
        )
        self._t = 0
        self._last: dict[str, FloatArray] = {}
        days = float(self.config.period_days)
        self._mean_life = self.population.half_life / np.log(2.0)  # h / ln 2, days
        self._carry = 2.0 ** (-days / self.population.half_life)  # decay over a period
        gd = self.config.discount * self._carry
        self._ltv_factor = self._mean_life * (1.0 - self._carry) / (1.0 - gd)

    # --- spaces -------------------------------------------------------------------------
    @functools.cache  # noqa: B019  (one space object per agent, as PettingZoo asks)
    def observation_space(self, agent: str) -> spaces.Box:
        """Local observation space of ``agent`` (see :meth:`observe`)."""
        size = BIDDER_OBS if agent != PORTFOLIO else 3 + 2 * len(self.channels)
        return spaces.Box(-np.inf, np.inf, shape=(size,), dtype=np.float32)

    @functools.cache  # noqa: B019
    def action_space(self, agent: str) -> spaces.Box:
        """Portfolio: weights in ``[0, 1]`` per channel; bidder: a bid in ``[0, max_bid]``.

        ``max_bid`` is the channel's (:class:`~mixlens.allocation.market.config.ChannelSpec`).
        """
        if agent == PORTFOLIO:
            return spaces.Box(0.0, 1.0, shape=(len(self.channels),), dtype=np.float32)
        j = self.channels.index(agent.removeprefix("bidder_"))
        return spaces.Box(0.0, self.config.channels[j].max_bid, shape=(1,), dtype=np.float32)

    # --- dynamics -----------------------------------------------------------------------
    def reset(
        self, seed: int | None = None, options: dict[str, Any] | None = None
    ) -> tuple[dict[str, NDArray[np.float32]], dict[str, dict[str, Any]]]:
        """Start an episode; ``seed`` fixes auctions, exposures and conversions."""
        self._rng = np.random.default_rng(seed)
        self.agents = list(self.possible_agents)
        self._intensity[:] = 0.0
        self._last_touch[:] = -np.inf
        self._lambda[:] = 0.0
        self._converted[:] = 0
        self._thresholds = np.cumsum(self._rng.standard_exponential(self._thresholds.shape), axis=1)
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
        """Discounted expected value of the conversions each channel's intensity will add."""
        values = self.population.values
        k = values.shape[1]
        nxt = np.minimum(self._converted, k - 1)
        value = np.where(self._converted < k, values[np.arange(len(nxt)), nxt], 0.0)
        out: FloatArray = (value @ self._intensity) * self._ltv_factor
        return out

    def _touches(
        self, j: int, users: NDArray[np.int64], area: FloatArray, carried: FloatArray
    ) -> None:
        """Add the touches of channel ``j`` to ``users`` to this period's intensity."""
        pop, rng = self.population, self._rng
        amp = np.full(users.shape[0], pop.effect[j])
        for syn in pop.synergies:
            if j in syn.targets:
                since = self._t - self._last_touch[users][:, list(syn.sources)]
                active = ((since > 0) & (since <= syn.window)).any(axis=1)
                amp = np.where(active, amp * (1.0 + syn.gamma), amp)
        days = float(self.config.period_days)
        left = days - rng.random(users.shape[0]) * days  # time from the touch to period end
        remain = 2.0 ** (-left / pop.half_life[j])
        n = self.config.users
        area[:, j] += np.bincount(users, amp * self._mean_life[j] * (1.0 - remain), minlength=n)
        carried[:, j] += np.bincount(users, amp * remain, minlength=n)

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
        phi_before = self._potential() if cfg.reward == "ltv" else np.zeros(c)
        area = self._intensity * (self._mean_life * (1.0 - self._carry))
        carried = self._intensity * self._carry
        touched = np.zeros((cfg.users, c), dtype=bool)
        for j, ch in enumerate(cfg.channels):
            raw = actions.get(bidder(ch.name), [cfg.static_bids[j]])
            bid = float(
                np.clip(
                    np.nan_to_num(np.asarray(raw, dtype=np.float64).ravel()[0]), 0.0, ch.max_bid
                )
            )
            comp = rng.lognormal(
                ch.competitor_log_mean, ch.competitor_log_sd, size=(ch.auctions, ch.competitors)
            )
            reach = rng.random(ch.auctions)
            users = np.searchsorted(pop.cumulative[self._t, j], reach, side="right")
            users = np.minimum(users, cfg.users - 1).astype(np.int64)
            outcome = run_capped_auctions(bid, comp, cap=float(caps[j]), reserve=ch.reserve)
            self._touches(j, users[outcome.won], area, carried)
            touched[users[outcome.won], j] = True
            spend[j], wins[j], bids[j] = outcome.spend, outcome.wins, bid
        self._last_touch[touched] = self._t
        self._intensity = carried
        increment = pop.base[self._t] + area.sum(axis=1)
        self._lambda += increment
        before = self._converted
        self._converted = (self._thresholds <= self._lambda[:, None]).sum(axis=1)
        rows = np.arange(cfg.users)
        value = self._cum_values[rows, self._converted] - self._cum_values[rows, before]
        credited = (value / increment) @ area
        revenue = float(value.sum())
        baseline = revenue - float(credited.sum())
        profit = revenue - float(spend.sum())
        phi_after = self._potential() if cfg.reward == "ltv" else np.zeros(c)
        rewards = self._rewards(credited, spend, baseline, phi_before, phi_after)
        if cfg.reward_scale != 1.0:
            rewards = {a: r * cfg.reward_scale for a, r in rewards.items()}
        conversions = int((self._converted - before).sum())
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
            "conversions": conversions,
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
                    avg / ch.max_bid,
                    last["credited"][j] / b,
                    last["bid"][j] / ch.max_bid,
                ],
                dtype=np.float32,
            )
        return obs

    @property
    def integrated_intensity(self) -> FloatArray:
        """Each user's conversion intensity integrated since the episode began, ``(N,)``."""
        return self._lambda.copy()

    @property
    def carried_intensity(self) -> FloatArray:
        """Ad intensity carried into the next period per user and channel, ``(N, C)``."""
        return self._intensity.copy()

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
