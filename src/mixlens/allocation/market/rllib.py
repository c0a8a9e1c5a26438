"""Train the market with RLlib: PPO through RLlib's PettingZoo wrapper (``ray`` extra).

The environment is the plain :class:`~mixlens.allocation.market.env.MarketEnv`, wrapped by
``ray.rllib.env.wrappers.pettingzoo_env.ParallelPettingZooEnv``; every agent gets its own
RLlib module (independent PPO learners), all on the local process (no remote workers,
fit for 2 cores). :class:`RLlibPolicy` plays the trained modules deterministically (the
mean of each Gaussian, mapped to the action space as RLlib does), so they are evaluated
like any other :class:`~mixlens.allocation.market.episode.MarketPolicy`.

Needs ``pip install "mixlens[market,neural,ray]"``; ``benchmarks/market_rllib.py`` is the
documented example.
"""

from __future__ import annotations

import importlib
import importlib.util
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, replace
from typing import Any

import numpy as np
from numpy.typing import NDArray

from mixlens.allocation.market.config import MarketConfig
from mixlens.allocation.market.env import MarketEnv

__all__ = ["ENV_NAME", "RLlibPolicy", "ppo_config", "rllib_available", "train_rllib"]

FloatArray = NDArray[np.float64]
#: Name the environment is registered under with ``ray.tune``.
ENV_NAME = "mixlens_market"


def rllib_available() -> bool:
    """Whether ``ray[rllib]`` can be imported."""
    return importlib.util.find_spec("ray") is not None and (
        importlib.util.find_spec("ray.rllib") is not None
    )


def _ray(module: str) -> Any:
    """Import a ``ray`` module (untyped here: mypy checks mixlens with or without ray)."""
    return importlib.import_module(module)


def _make_env(env_config: Mapping[str, Any]) -> Any:
    wrappers = _ray("ray.rllib.env.wrappers.pettingzoo_env")
    return wrappers.ParallelPettingZooEnv(
        MarketEnv(MarketConfig.from_dict(dict(env_config["market"])))
    )


def ppo_config(
    market: MarketConfig,
    *,
    episodes_per_iteration: int = 4,
    seed: int = 0,
    lr: float = 3e-4,
) -> Any:
    """PPO on the market, one module per agent, sampling and learning in this process.

    Parameters
    ----------
    market
        The market.
    episodes_per_iteration
        Episodes sampled per training iteration (``periods`` environment steps each).
    seed
        Seed of RLlib (weights, exploration and the environment's resets).
    lr
        Learning rate.

    The environment's rewards are scaled by ``1 / budget`` (``MarketConfig.reward_scale``)
    so that PPO's value function sees rewards near 1.

    Returns
    -------
    ray.rllib.algorithms.ppo.PPOConfig
    """
    _ray("ray.tune.registry").register_env(ENV_NAME, _make_env)
    agents = [a for a in MarketEnv(market).possible_agents]
    batch = episodes_per_iteration * market.periods
    return (
        _ray("ray.rllib.algorithms.ppo")
        .PPOConfig()
        .environment(ENV_NAME, env_config={"market": _scaled(market).to_dict()})
        .env_runners(num_env_runners=0, rollout_fragment_length=market.periods)
        .learners(num_learners=0)
        .training(
            train_batch_size_per_learner=batch,
            minibatch_size=min(128, batch),
            num_epochs=5,
            lr=lr,
            gamma=0.99,
        )
        .multi_agent(
            policies=set(agents),
            policy_mapping_fn=lambda agent_id, *args, **kwargs: agent_id,
        )
        .debugging(seed=seed, log_level="ERROR")
    )


def _scaled(market: MarketConfig) -> MarketConfig:
    return replace(market, reward_scale=1.0 / market.budget)


@dataclass
class RLlibPolicy:
    """Trained RLlib modules acting deterministically in the market.

    Parameters
    ----------
    market
        The market the modules were trained on.
    modules
        RLlib ``RLModule`` per agent id.
    """

    market: MarketConfig
    modules: Mapping[str, Any]

    def __post_init__(self) -> None:
        env = MarketEnv(self.market)
        self._spaces = {a: env.action_space(a) for a in env.possible_agents}

    def act(self, observations: Mapping[str, NDArray[np.float32]]) -> dict[str, FloatArray]:
        """Mean action of every agent, mapped from RLlib's normalised space."""
        import torch

        unsquash_action = _ray("ray.rllib.utils.spaces.space_utils").unsquash_action

        out: dict[str, FloatArray] = {}
        for agent, obs in observations.items():
            module = self.modules[agent]
            with torch.no_grad():
                batch = {"obs": torch.as_tensor(np.asarray(obs)[None], dtype=torch.float32)}
                inputs = module.forward_inference(batch)["action_dist_inputs"][0].numpy()
            size = inputs.shape[0] // 2  # diagonal Gaussian: means, then log stds
            action = unsquash_action(inputs[:size], self._spaces[agent])
            out[agent] = np.asarray(action, dtype=np.float64)
        return out


def train_rllib(
    market: MarketConfig,
    *,
    iterations: int,
    episodes_per_iteration: int = 4,
    seed: int = 0,
    progress: Callable[[int, float], None] | None = None,
) -> tuple[RLlibPolicy, list[dict[str, float]]]:
    """Train PPO for ``iterations`` and return the policy and its learning curve.

    The curve has, per iteration, ``iteration, episodes`` (sampled so far), ``profit``
    (RLlib's mean episode return over the agents' rewards: the training episodes' mean
    profit with ``reward="profit"``) and ``seconds``.
    """
    ray = _ray("ray")
    if not ray.is_initialized():
        ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False)
    algo = ppo_config(market, episodes_per_iteration=episodes_per_iteration, seed=seed).build_algo()
    curve: list[dict[str, float]] = []
    start = time.perf_counter()
    try:
        for it in range(iterations):
            result = algo.train()
            runners = result.get("env_runners", {})
            scale = _scaled(market).reward_scale
            profit = float(runners.get("episode_return_mean", float("nan"))) / scale
            seen = runners.get("num_episodes_lifetime", (it + 1) * episodes_per_iteration)
            episodes = float(seen)
            curve.append(
                {
                    "iteration": float(it + 1),
                    "episodes": episodes,
                    "profit": profit,
                    "seconds": time.perf_counter() - start,
                }
            )
            if progress is not None:
                progress(it + 1, profit)
        agents = MarketEnv(market).possible_agents
        modules = {a: algo.get_module(a) for a in agents}
    finally:
        algo.stop()
    return RLlibPolicy(market=market, modules=modules), curve
