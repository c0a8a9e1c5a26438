"""The market's users are the journey world's, and follow its conversion process."""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy import stats

from mixlens.allocation.market import PORTFOLIO, FixedPolicy, MarketConfig, MarketEnv, bidder
from mixlens.allocation.market.config import ChannelSpec, market_world
from mixlens.allocation.market.population import draw_population
from mixlens.data.simulate.journeys import simulate_journeys
from mixlens.data.simulate.journeys_engine import generate_world
from mixlens.errors import DataError

SMALL = MarketConfig(users=300, periods=6, population_seed=4)


def test_users_are_the_journey_worlds_users() -> None:
    pop = draw_population(SMALL)
    world = generate_world(SMALL.journey_world, SMALL.population_seed)
    np.testing.assert_array_equal(pop.z, world.z)
    np.testing.assert_allclose(pop.values, world.value_cents / 100.0)
    # the base intensity integrated over the horizon is the world's, in-market episodes included
    users = np.arange(SMALL.users, dtype=np.int64)
    horizon = np.full(SMALL.users, SMALL.periods * SMALL.period_days * 86_400)
    np.testing.assert_allclose(pop.base.sum(axis=0), world.base_integral(users, horizon))
    # and those users are the ones simulate_journeys writes for the same world and seed
    journeys = simulate_journeys(SMALL.journey_world, seed=SMALL.population_seed)
    converted = journeys.conversions.groupby("user_id")["value"].first()
    first_value = world.value_cents[converted.index.to_numpy(), 0] / 100.0
    np.testing.assert_allclose(converted.to_numpy(), first_value)


def test_channel_effects_come_from_the_world() -> None:
    pop = draw_population(SMALL)
    specs = {c.name: c for c in SMALL.journey_world.channels}
    assert pop.effect.tolist() == [specs[c].effect for c in SMALL.channel_names]
    assert pop.half_life.tolist() == [specs[c].half_life_days for c in SMALL.channel_names]
    # the world's synergy: generic search works 1.5x after display
    (syn,) = pop.synergies
    assert syn.targets == (0,) and syn.sources == (2,) and syn.gamma == 0.5
    # search reaches high-propensity users (selection 0.6), display does not (0.0)
    exposure = pop.exposure.mean(axis=0)
    high = pop.z > 1.0
    assert exposure[0, high].sum() > 2 * exposure[2, high].sum()


def _play(env: MarketEnv, policy: FixedPolicy, seed: int) -> tuple[float, list[dict]]:
    obs, _ = env.reset(seed=seed)
    infos_all = []
    while env.agents:
        obs, _, _, _, infos = env.step(policy.act(obs))
        infos_all.append(infos)
    return float(env.integrated_intensity.sum()), infos_all


def test_each_touch_adds_its_whole_effect_mass() -> None:
    """A touch adds ``effect * h / ln 2`` conversions of intensity: within the horizon or
    carried past its end (social and display only: no synergy boosts the effect)."""
    world = market_world(300, 42, ("social", "display"))
    spec = {c.name: c for c in MarketConfig().channels}
    config = MarketConfig(
        channels=(spec["social"], spec["display"]),
        users=300,
        periods=6,
        static_shares=(0.4, 0.6),
        static_bids=(0.1, 0.2),
        world=world,
    )
    env = MarketEnv(config)
    names = config.channel_names
    ads = FixedPolicy(names, config.static_shares, config.static_bids)
    none = FixedPolicy(names, config.static_shares, (0.0, 0.0))
    with_ads, infos = _play(env, ads, 3)
    carried = env.carried_intensity.sum(axis=0)
    without, _ = _play(env, none, 3)
    pop = env.population
    mean_life = pop.half_life / math.log(2.0)
    wins = np.array([sum(i[bidder(c)]["wins"] for i in infos) for c in names])
    assert wins.min() > 0
    expected = float((wins * pop.effect * mean_life).sum())
    assert with_ads - without + float((carried * mean_life).sum()) == pytest.approx(expected)


def test_conversions_without_ads_follow_the_worlds_poisson_process() -> None:
    config = MarketConfig(users=400, periods=8)
    env = MarketEnv(config)
    zero = FixedPolicy(config.channel_names, config.static_shares, (0.0, 0.0, 0.0))
    counts = []
    for seed in range(30):
        env.reset(seed=seed)
        total = 0
        while env.agents:
            _, _, _, _, infos = env.step(zero.act({}))
            total += infos[PORTFOLIO]["conversions"]
        counts.append(total)
    lam = env.population.base.sum(axis=0)
    k = env.population.values.shape[1]
    # E[min(K, Poisson(lambda))] per user
    expected = float(sum(stats.poisson.sf(np.arange(k), mu).sum() for mu in lam))
    se = np.std(counts, ddof=1) / np.sqrt(len(counts))
    assert abs(np.mean(counts) - expected) < 4 * se + 0.5


def test_world_round_trips_and_is_checked() -> None:
    assert MarketConfig.from_dict(SMALL.to_dict()) == SMALL
    with pytest.raises(DataError, match="users"):
        MarketConfig(users=100, world=market_world(50, 364, ("paid_search_generic",)))
    with pytest.raises(DataError, match="shorter"):
        MarketConfig(
            users=100, periods=10, world=market_world(100, 30, MarketConfig().channel_names)
        )
    with pytest.raises(DataError, match="not journey-world channels"):
        market_world(10, 7, ("tv",))
    display = MarketConfig().channels[2]
    retarget = ChannelSpec("retargeting", 10, 1, 0.0, 0.1, 0.0, 1.0)
    with pytest.raises(DataError, match="retargeting"):
        MarketConfig(
            channels=(display, retarget),
            static_shares=(0.5, 0.5),
            static_bids=(0.1, 0.1),
            users=10,
            periods=2,
            world=market_world(10, 14, ("display", "retargeting")),
        )
