"""RLlib trains the market through its PettingZoo wrapper (skipped without ``ray[rllib]``)."""

from __future__ import annotations

import numpy as np
import pytest

from mixlens.allocation.market import MarketConfig, MarketEnv, evaluate_policies
from mixlens.allocation.market.rllib import rllib_available

pytestmark = pytest.mark.skipif(not rllib_available(), reason="needs mixlens[ray]")

TINY = MarketConfig(users=100, periods=4)


@pytest.mark.filterwarnings("ignore")  # ray's own deprecation notices
def test_ppo_trains_one_iteration_and_plays_in_the_spaces() -> None:
    import ray

    from mixlens.allocation.market.rllib import train_rllib

    try:
        policy, curve = train_rllib(TINY, iterations=1, episodes_per_iteration=1, seed=0)
    finally:
        ray.shutdown()
    assert len(curve) == 1 and curve[0]["episodes"] >= 1
    assert np.isfinite(curve[0]["profit"])
    env = MarketEnv(TINY)
    obs, _ = env.reset(seed=5)
    actions = policy.act(obs)
    assert set(actions) == set(env.possible_agents)
    for agent, action in actions.items():
        assert env.action_space(agent).contains(action.astype(np.float32))
    assert policy.act(obs)[agent].tolist() == action.tolist()  # deterministic
    table = evaluate_policies(TINY, {"rllib": policy}, seeds=[1, 2]).to_frame()
    assert table["spend_mean"].iloc[0] <= TINY.budget * TINY.periods
