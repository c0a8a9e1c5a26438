from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from tests.agents.helpers import synthetic_agents

from mixlens.agents import (
    AdmmConfig,
    Agent,
    Bus,
    admm_protocol,
    centralized_fit,
    exact_protocol,
    pairwise_seeds,
    setup_protocol,
)
from mixlens.agents.agent import LocalObjective
from mixlens.agents.protocols import rel_diff
from mixlens.errors import DataError

OBJECTIVES = (
    LocalObjective(),
    LocalObjective("profit", 0.3),
    LocalObjective("ltv", 2.5),
    LocalObjective("profit", 0.6),
)


@pytest.fixture(scope="module")
def agents() -> list[Agent]:
    plain = synthetic_agents(4, 30, seed=4)
    out = [
        Agent(a.name, a._data, a.model, objective=obj)
        for a, obj in zip(plain, OBJECTIVES, strict=True)
    ]
    setup_protocol(out, Bus(), seeds=pairwise_seeds([a.name for a in out], 0))
    return out


def test_weighted_objectives_change_the_equilibrium_and_exact_matches(
    agents: list[Agent],
) -> None:
    seeds = pairwise_seeds([a.name for a in agents], 0)
    ex = exact_protocol(agents, Bus(), seeds=seeds)
    assert rel_diff(ex.coef, centralized_fit(agents)) < 1e-9
    plain = synthetic_agents(4, 30, seed=4)
    setup_protocol(plain, Bus(), seeds=seeds)
    assert rel_diff(ex.coef, centralized_fit(plain)) > 1e-3


@settings(max_examples=2, deadline=None)
@given(st.integers(0, 10_000))
def test_admm_reaches_the_same_equilibrium_from_any_start(
    agents: list[Agent], start_seed: int
) -> None:
    rng = np.random.default_rng(start_seed)
    p = agents[0].model.n_features
    starts = {a.name: rng.normal(0.0, 10.0, p) for a in agents}
    res = admm_protocol(
        agents, Bus(), config=AdmmConfig(tol=1e-9), z0=rng.normal(0.0, 10.0, p), starts=starts
    )
    assert res.converged
    assert rel_diff(res.coef, centralized_fit(agents, nonnegative=True)) < 1e-6


def test_objective_validates() -> None:
    with pytest.raises(DataError, match="one of"):
        LocalObjective("margin", 0.5)
    with pytest.raises(DataError, match="margin"):
        LocalObjective("profit", 1.5)
    with pytest.raises(DataError, match="factor 1"):
        LocalObjective("revenue", 2.0)
    with pytest.raises(DataError, match="> 0"):
        LocalObjective("ltv", 0.0)
