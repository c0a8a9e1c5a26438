from __future__ import annotations

import itertools
import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from tests.agents.helpers import synthetic_agents

from mixlens.agents import (
    Bus,
    attribute,
    coalition_values,
    exact_protocol,
    exact_shapley,
    pairwise_seeds,
    setup_protocol,
)
from mixlens.errors import DataError


def _brute_force(v: np.ndarray, n: int) -> np.ndarray:
    out = np.zeros(n)
    for perm in itertools.permutations(range(n)):
        mask = 0
        for i in perm:
            out[i] += v[mask | (1 << i)] - v[mask]
            mask |= 1 << i
    return out / math.factorial(n)


def test_glove_game_reference() -> None:
    # player 0 holds a left glove, players 1 and 2 right gloves; a pair is worth 1
    v = np.array([0.0, 0, 0, 1, 0, 1, 0, 1])
    np.testing.assert_allclose(exact_shapley(v), [2 / 3, 1 / 6, 1 / 6])


@settings(max_examples=40, deadline=None)
@given(
    st.integers(1, 5).flatmap(
        lambda n: st.lists(st.floats(-1e6, 1e6, allow_nan=False), min_size=2**n, max_size=2**n)
    )
)
def test_efficiency_and_brute_force(values: list[float]) -> None:
    v = np.array(values)
    n = int(math.log2(v.size))
    phi = exact_shapley(v)
    assert phi.sum() == pytest.approx(v[-1] - v[0], rel=1e-9, abs=1e-6)
    np.testing.assert_allclose(phi, _brute_force(v, n), rtol=1e-9, atol=1e-6)


@settings(max_examples=40, deadline=None)
@given(
    st.lists(st.floats(-1e5, 1e5, allow_nan=False), min_size=1, max_size=8),
    st.integers(2, 5),
    st.integers(0, 2**32 - 1),
)
def test_agent_credits_sum_to_global(media: list[float], n_agents: int, seed: int) -> None:
    rng = np.random.default_rng(seed)
    per_agent = [rng.normal(size=len(media)) * np.array(media) for _ in range(n_agents)]
    local = [exact_shapley(coalition_values(float(rng.normal()), m)) for m in per_agent]
    total = exact_shapley(sum(coalition_values(0.0, m) for m in per_agent))
    np.testing.assert_allclose(np.sum(local, axis=0), total, rtol=1e-9, atol=1e-6)
    np.testing.assert_allclose(total, np.sum(per_agent, axis=0), rtol=1e-9, atol=1e-6)


def test_fifteen_players_is_the_exact_limit() -> None:
    phi = exact_shapley(coalition_values(0.0, np.arange(15.0)))
    np.testing.assert_allclose(phi, np.arange(15.0), atol=1e-6)
    with pytest.raises(DataError, match="up to 15"):
        exact_shapley(np.zeros(2**16))
    with pytest.raises(DataError, match="2\\*\\*n"):
        exact_shapley(np.zeros(3))


def test_attribute_conserves_credit_on_fitted_model() -> None:
    agents = synthetic_agents(3, 30, seed=2)
    seeds = pairwise_seeds([a.name for a in agents], 0)
    bus = Bus()
    setup_protocol(agents, bus, seeds=seeds)
    coef = exact_protocol(agents, bus, seeds=seeds).coef
    frame = attribute(agents, coef, bus, seeds=seeds, round=2)
    wide = frame.pivot(index="channel", columns="agent", values="credit")
    agent_cols = [a.name for a in agents]
    np.testing.assert_allclose(wide[agent_cols].sum(axis=1), wide["all"], rtol=1e-9)
    # channel credits sum to prediction with all media minus with none
    incremental = 0.0
    for a in agents:
        x, _ = a.pooled_design_for_check()
        sl = a.model.media_slice
        incremental += float((x[:, sl] @ coef[sl]).sum()) * a.model.target_scale
    assert wide["all"].sum() == pytest.approx(incremental, rel=1e-9)
    assert {"coef", "values", "credit"} <= {r["kind"] for r in bus.audit.rows}
