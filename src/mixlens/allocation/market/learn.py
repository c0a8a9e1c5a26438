"""Policy-gradient agents for the market (torch, CPU, tiny networks).

Three arrangements, all advantage actor-critic with Monte-Carlo returns (no bootstrapping)
over batches of episodes played in lockstep, each batch used for ``epochs`` updates of
PPO's clipped surrogate (``min(r A, clip(r, 1 - eps, 1 + eps) A)``, ``r`` the ratio of the
new to the sampling policy's probability of the action, per agent; ``clip=0`` with
``epochs=1`` is plain REINFORCE with a baseline):

* ``"independent"``: each agent learns from its own reward with its own critic on its own
  observation (the portfolio, whose own reward is the baseline value, learns from the
  team's profit);
* ``"ctde"``: centralised training, decentralised execution: every actor acts on its own
  observation, and one critic sees all observations and the other agents' actions (never
  the agent's own action, so the baseline stays unbiased) and scores the team's profit;
* ``"hierarchical"``: the portfolio acts first; each bidder sees the budget share it was
  just given beside its observation; all learn from the team's profit.

Actors are Gaussian: the portfolio over budget logits (softmax to shares), a bidder over
the log of its bid relative to the historical bid. Both start at the historical plan.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Mapping
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Literal

import numpy as np
import torch
from numpy.typing import NDArray
from torch import nn

from mixlens.allocation.market.config import MarketConfig
from mixlens.allocation.market.env import BIDDER_OBS, PORTFOLIO, MarketEnv, bidder
from mixlens.data.io import write_json
from mixlens.errors import DataError

__all__ = ["LearnedPolicy", "TrainConfig", "TrainResult", "agent_returns", "load_policy", "train"]

FloatArray = NDArray[np.float64]
Mode = Literal["independent", "ctde", "hierarchical"]


@dataclass(frozen=True)
class TrainConfig:
    """How to train.

    Parameters
    ----------
    mode
        ``"independent"``, ``"ctde"`` or ``"hierarchical"`` (module docstring).
    updates
        Policy updates.
    batch
        Episodes per update (played in lockstep).
    hidden
        Width of the one hidden layer of every network.
    lr
        Adam learning rate.
    gamma
        Discount of returns within an episode.
    init_std
        Initial exploration noise (log-space for bids, logit-space for shares).
    clip
        PPO's clipping ``eps`` of the probability ratio (0: no clipping).
    epochs
        Optimisation passes over each batch.
    seed
        Seed of the weights, the exploration and the training episodes.
    """

    mode: Mode = "independent"
    updates: int = 250
    batch: int = 8
    hidden: int = 16
    lr: float = 0.01
    gamma: float = 0.9
    init_std: float = 0.3
    clip: float = 0.2
    epochs: int = 4
    seed: int = 0

    def __post_init__(self) -> None:
        if self.mode not in ("independent", "ctde", "hierarchical"):
            raise DataError(f"mode must be independent, ctde or hierarchical, got {self.mode!r}")
        if self.updates < 1 or self.batch < 1 or self.hidden < 1 or self.epochs < 1:
            raise DataError("updates, batch, hidden and epochs must be positive")
        if not 0 <= self.clip < 1:
            raise DataError(f"clip must lie in [0, 1), got {self.clip}")


def _mlp(n_in: int, n_out: int, hidden: int) -> nn.Sequential:
    net = nn.Sequential(nn.Linear(n_in, hidden), nn.Tanh(), nn.Linear(hidden, n_out))
    last = net[2]
    assert isinstance(last, nn.Linear)
    nn.init.zeros_(last.weight)
    nn.init.zeros_(last.bias)
    return net


class _Agents(nn.Module):
    """Actors (and critics) of every agent."""

    def __init__(self, market: MarketConfig, config: TrainConfig) -> None:
        super().__init__()
        c, h = len(market.channels), config.hidden
        self.n_channels = c
        self.hierarchical = config.mode == "hierarchical"
        p_obs = 3 + 2 * c
        b_obs = BIDDER_OBS + (1 if self.hierarchical else 0)
        self.portfolio = _mlp(p_obs, c, h)
        self.bidders = nn.ModuleList([_mlp(b_obs, 1, h) for _ in range(c)])
        self.log_std = nn.Parameter(torch.full((2 * c,), float(np.log(config.init_std))))
        shares = np.maximum(np.asarray(market.static_shares), 1e-3)
        self.register_buffer("share_bias", torch.tensor(np.log(shares), dtype=torch.float32))
        # critics: one per agent on its own observation, or one central critic
        state = p_obs + c * BIDDER_OBS
        self.central = _mlp(state + 2 * c + (c + 1), 1, 2 * h)
        self.local = nn.ModuleList([_mlp(p_obs, 1, h)] + [_mlp(b_obs, 1, h) for _ in range(c)])

    def means(self, p_obs: torch.Tensor, b_obs: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Mean portfolio logits ``(B, C)`` and bid log-multipliers ``(B, C)``."""
        logits = self.portfolio(p_obs) + self.share_bias
        bids = torch.cat([net(b_obs[:, j]) for j, net in enumerate(self.bidders)], dim=1)
        return logits, bids


@dataclass(frozen=True)
class TrainResult:
    """Training outcome.

    Attributes
    ----------
    curve
        Per update: ``update``, ``episodes`` (seen so far), ``profit`` (mean training
        episode profit, exploring), ``seconds``.
    seconds
        Wall time of training.
    """

    curve: list[dict[str, float]]
    seconds: float


@dataclass
class LearnedPolicy:
    """A trained policy acting deterministically (the actors' means).

    Build it with :func:`train` or :func:`load_policy`.
    """

    market: MarketConfig
    config: TrainConfig
    agents: _Agents
    result: TrainResult | None = field(default=None)

    def _split(
        self, observations: Mapping[str, NDArray[np.float32]]
    ) -> tuple[torch.Tensor, torch.Tensor]:
        names = self.market.channel_names
        p = torch.as_tensor(np.asarray(observations[PORTFOLIO])[None, :], dtype=torch.float32)
        b = torch.as_tensor(
            np.stack([observations[bidder(n)] for n in names])[None], dtype=torch.float32
        )
        return p, b

    def act(self, observations: Mapping[str, NDArray[np.float32]]) -> dict[str, FloatArray]:
        """Mean actions of every agent."""
        p, b = self._split(observations)
        with torch.no_grad():
            logits, _ = self.agents.means(p, _augment(self.agents, b, None))
            shares = torch.softmax(logits, dim=1)
            if self.agents.hierarchical:
                b = torch.cat([b, shares[:, :, None]], dim=2)
            _, log_mult = self.agents.means(p, b)
        return _to_actions(self.market, shares.numpy()[0], log_mult.numpy()[0])

    def save(self, out: Path) -> list[Path]:
        """Write ``policy.pt`` (state_dict) and ``policy.json`` (configs, curve)."""
        out.mkdir(parents=True, exist_ok=True)
        weights = out / "policy.pt"
        tmp = out / ".policy.pt.tmp"
        torch.save(self.agents.state_dict(), tmp)
        tmp.replace(weights)
        meta = {
            "market": self.market.to_dict(),
            "train": asdict(self.config),
            "curve": self.result.curve if self.result else [],
            "seconds": self.result.seconds if self.result else None,
        }
        return [weights, write_json(meta, out / "policy.json")]


def _augment(agents: _Agents, b: torch.Tensor, shares: torch.Tensor | None) -> torch.Tensor:
    """Hierarchical bidders see their share; before the portfolio acts, a zero stands in."""
    if not agents.hierarchical:
        return b
    extra = torch.zeros(b.shape[0], b.shape[1], 1) if shares is None else shares[:, :, None]
    return torch.cat([b, extra], dim=2)


def _to_actions(
    market: MarketConfig, shares: FloatArray, log_mult: FloatArray
) -> dict[str, FloatArray]:
    bids = np.clip(np.asarray(market.static_bids) * np.exp(log_mult.ravel()), 0, market.max_bids)
    out: dict[str, FloatArray] = {PORTFOLIO: np.asarray(shares, dtype=np.float64)}
    for j, name in enumerate(market.channel_names):
        out[bidder(name)] = np.array([bids[j]])
    return out


def load_policy(folder: Path) -> LearnedPolicy:
    """Load a policy saved by :meth:`LearnedPolicy.save`.

    Raises
    ------
    DataError
        If ``policy.json`` or ``policy.pt`` is missing or does not match.
    """
    meta_path, weights = folder / "policy.json", folder / "policy.pt"
    for path in (meta_path, weights):
        if not path.exists():
            raise DataError(f"{path}: missing (write it with `mixlens market train`)")
    meta = json.loads(meta_path.read_text())
    market = MarketConfig.from_dict(meta["market"])
    config = TrainConfig(**meta["train"])
    agents = _Agents(market, config)
    try:
        agents.load_state_dict(torch.load(weights, weights_only=True))
    except RuntimeError as err:
        raise DataError(f"{weights}: does not match {meta_path}: {err}") from None
    curve = [dict(row) for row in meta.get("curve", [])]
    result = TrainResult(curve=curve, seconds=float(meta.get("seconds") or 0.0))
    return LearnedPolicy(market=market, config=config, agents=agents, result=result)


def _returns(rewards: FloatArray, gamma: float) -> FloatArray:
    """Discounted reward-to-go along the last axis."""
    out = np.zeros_like(rewards)
    running = np.zeros(rewards.shape[:-1])
    for t in range(rewards.shape[-1] - 1, -1, -1):
        running = rewards[..., t] + gamma * running
        out[..., t] = running
    return out


def train(
    market: MarketConfig,
    config: TrainConfig | None = None,
    *,
    progress: Callable[[int, float], None] | None = None,
) -> LearnedPolicy:
    """Train the agents of ``market``; see the module docstring for the arrangements.

    Parameters
    ----------
    market
        The market (reward ``"profit"`` or ``"ltv"``: learners add agents' rewards up).
    config
        Training settings.
    progress
        Called after each update with the update number and the mean training profit.

    Returns
    -------
    LearnedPolicy
    """
    config = config or TrainConfig()
    torch.manual_seed(config.seed)
    rng = np.random.default_rng(np.random.SeedSequence([config.seed, 31]))
    agents = _Agents(market, config)
    actor_params = [
        *agents.portfolio.parameters(),
        *agents.bidders.parameters(),
        agents.log_std,
    ]
    critic_params = [*agents.central.parameters(), *agents.local.parameters()]
    opt = torch.optim.Adam(actor_params + critic_params, lr=config.lr)
    envs = [MarketEnv(market) for _ in range(config.batch)]
    names = market.channel_names
    c, T, B = len(names), market.periods, config.batch
    scale = 1.0 / market.budget
    curve: list[dict[str, float]] = []
    start = time.perf_counter()
    for update in range(config.updates):
        seeds = rng.integers(2**31, size=B)
        obs = [env.reset(seed=int(s))[0] for env, s in zip(envs, seeds, strict=True)]
        p_list, b_list, a_list, r_list = [], [], [], []
        for _ in range(T):
            p = torch.as_tensor(np.stack([o[PORTFOLIO] for o in obs]), dtype=torch.float32)
            b = torch.as_tensor(
                np.stack([np.stack([o[bidder(n)] for n in names]) for o in obs]),
                dtype=torch.float32,
            )
            with torch.no_grad():
                std = agents.log_std.exp()
                logits_mean, _ = agents.means(p, _augment(agents, b, None))
                logits = logits_mean + std[:c] * torch.randn(B, c)
                shares = torch.softmax(logits, dim=1)
                b_in = _augment(agents, b, shares)
                _, bid_mean = agents.means(p, b_in)
                log_mult = bid_mean + std[c:] * torch.randn(B, c)
            rewards = np.zeros((B, c + 1))
            next_obs = []
            for k, env in enumerate(envs):
                acts = _to_actions(market, shares[k].numpy(), log_mult[k].numpy())
                o, r, _, _, _ = env.step(acts)
                next_obs.append(o)
                rewards[k] = [r[PORTFOLIO], *(r[bidder(n)] for n in names)]
            p_list.append(p)
            b_list.append(b_in)
            a_list.append(torch.cat([logits, log_mult], dim=1))
            r_list.append(rewards * scale)
            obs = next_obs
        batch = _Batch.build(agents, config, p_list, b_list, a_list, np.stack(r_list, axis=2))
        for _ in range(config.epochs):
            loss = batch.loss(agents, config)
            opt.zero_grad()
            loss.backward()  # type: ignore[no-untyped-call]
            nn.utils.clip_grad_norm_(actor_params, 1.0)
            nn.utils.clip_grad_norm_(critic_params, 10.0)
            opt.step()
        with torch.no_grad():
            agents.log_std.clamp_(-3.0, 0.0)
        profit = float(np.stack(r_list, axis=2).sum(axis=(1, 2)).mean() / scale)
        curve.append(
            {
                "update": float(update + 1),
                "episodes": float((update + 1) * B),
                "profit": profit,
                "seconds": time.perf_counter() - start,
            }
        )
        if progress is not None:
            progress(update + 1, profit)
    result = TrainResult(curve=curve, seconds=time.perf_counter() - start)
    return LearnedPolicy(market=market, config=config, agents=agents, result=result)


def _forward(
    agents: _Agents, config: TrainConfig, p: torch.Tensor, b: torch.Tensor, a: torch.Tensor
) -> tuple[torch.Tensor, torch.Tensor]:
    """Per-agent log-probabilities of ``a`` and critic values, each ``(B, T, C + 1)``.

    ``p`` is ``(B, T, P)``, ``b`` is ``(B, T, C, Bo)`` and ``a`` is ``(B, T, 2C)``.
    """
    c = agents.n_channels
    bsz, steps = p.shape[0], p.shape[1]
    flat_p, flat_b = p.reshape(bsz * steps, -1), b.reshape(bsz * steps, c, -1)
    logits_mean, bid_mean = agents.means(flat_p, flat_b)
    mean = torch.cat([logits_mean, bid_mean], dim=1).reshape(bsz, steps, 2 * c)
    std = agents.log_std.exp()
    logp = -((a - mean) ** 2) / (2 * std**2) - torch.log(std)  # Gaussian, up to a constant
    # per agent: portfolio owns the C logits, bidder j owns bid j
    logp_agent = torch.cat([logp[..., :c].sum(-1, keepdim=True), logp[..., c:]], dim=-1)
    if config.mode == "ctde":
        state = torch.cat([p, b[..., :BIDDER_OBS].reshape(bsz, steps, -1)], dim=-1)
        values = []
        for agent in range(c + 1):
            mask = torch.ones(2 * c)
            if agent == 0:
                mask[:c] = 0.0
            else:
                mask[c + agent - 1] = 0.0
            one_hot = torch.zeros(bsz, steps, c + 1)
            one_hot[..., agent] = 1.0
            values.append(agents.central(torch.cat([state, a * mask, one_hot], dim=-1)))
        value = torch.cat(values, dim=-1)
    else:
        nets = agents.local
        value = torch.cat([nets[0](p)] + [nets[j + 1](b[:, :, j]) for j in range(c)], dim=-1)
    return logp_agent, value


def agent_returns(rewards: FloatArray, mode: Mode, gamma: float) -> FloatArray:
    """Discounted return each agent learns from, ``(B, C + 1, T)`` from rewards of that shape.

    Independent bidders learn from their own reward; everyone else from the team's (the sum
    over agents: the market's profit with ``reward="profit"``).

    Examples
    --------
    >>> r = np.array([[[1.0, 1.0], [2.0, 0.0]]])  # 1 episode, portfolio + 1 bidder, 2 steps
    >>> agent_returns(r, "independent", 1.0)[0].tolist()
    [[4.0, 1.0], [2.0, 0.0]]
    >>> agent_returns(r, "ctde", 1.0)[0].tolist()
    [[4.0, 1.0], [4.0, 1.0]]
    """
    team = rewards.sum(axis=1, keepdims=True)
    if mode == "independent":
        own = np.concatenate([team, rewards[:, 1:]], axis=1)
    else:
        own = np.repeat(team, rewards.shape[1], axis=1)
    return _returns(own, gamma)


@dataclass(frozen=True)
class _Batch:
    """One batch of episodes with the sampling policy's log-probabilities and advantages."""

    p: torch.Tensor
    b: torch.Tensor
    a: torch.Tensor
    ret: torch.Tensor
    adv: torch.Tensor
    old_logp: torch.Tensor

    @classmethod
    def build(
        cls,
        agents: _Agents,
        config: TrainConfig,
        p_list: list[torch.Tensor],
        b_list: list[torch.Tensor],
        a_list: list[torch.Tensor],
        rewards: FloatArray,
    ) -> _Batch:
        """Stack a batch (``rewards`` is ``(B, agents, T)``) and score it once."""
        p, b, a = torch.stack(p_list, dim=1), torch.stack(b_list, dim=1), torch.stack(a_list, 1)
        ret = agent_returns(rewards, config.mode, config.gamma)
        ret_t = torch.as_tensor(ret, dtype=torch.float32).permute(0, 2, 1)
        with torch.no_grad():
            old_logp, value = _forward(agents, config, p, b, a)
        adv = ret_t - value
        adv = (adv - adv.mean(dim=(0, 1))) / (adv.std(dim=(0, 1)) + 1e-6)
        return cls(p=p, b=b, a=a, ret=ret_t, adv=adv, old_logp=old_logp)

    def loss(self, agents: _Agents, config: TrainConfig) -> torch.Tensor:
        """PPO's clipped surrogate plus half the critic's squared error."""
        logp, value = _forward(agents, config, self.p, self.b, self.a)
        ratio = torch.exp(logp - self.old_logp)
        surrogate = ratio * self.adv
        if config.clip > 0:
            clipped = torch.clamp(ratio, 1.0 - config.clip, 1.0 + config.clip) * self.adv
            surrogate = torch.minimum(surrogate, clipped)
        policy_loss = -surrogate.mean()
        value_loss = ((self.ret - value) ** 2).mean()
        return policy_loss + 0.5 * value_loss
