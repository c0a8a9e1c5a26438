from __future__ import annotations

import numpy as np
import pytest
from tests.agents.helpers import shared_model, synthetic_agents

from mixlens.agents import (
    AdmmConfig,
    Agent,
    Bus,
    DPConfig,
    Message,
    admm_protocol,
    centralized_fit,
    exact_protocol,
    gaussian_sigma,
    pairwise_seeds,
    region_agents,
    secure_sum,
    setup_protocol,
)
from mixlens.agents.protocols import rel_diff
from mixlens.errors import DataError


class RecordingBus(Bus):
    def __init__(self) -> None:
        super().__init__()
        self.messages: list[Message] = []

    def send(self, message: Message) -> Message:
        got = super().send(message)
        self.messages.append(got)
        return got


@pytest.fixture(scope="module")
def regions() -> list[Agent]:
    agents = region_agents(1, seed=3)
    setup_protocol(agents, Bus(), seeds=pairwise_seeds([a.name for a in agents], 0))
    return agents


def test_secure_sum_hides_individual_vectors_and_sums_exactly(regions: list[Agent]) -> None:
    seeds = pairwise_seeds([a.name for a in regions], 1)
    vecs = {a.name: a.statistics().to_vector() for a in regions}
    total, seen = secure_sum(vecs, Bus(), seeds=seeds, round=1, kind="stats", scale=1e5)
    truth = sum(vecs.values())
    assert rel_diff(total, truth) < 1e-12
    for name, vec in vecs.items():
        assert np.abs(seen[name] - vec).min() > 1e-3  # every entry is masked
        assert np.abs(seen[name] - vec).max() > 1e3


def test_exact_protocol_matches_centralized_ridge(regions: list[Agent]) -> None:
    bus = Bus()
    seeds = pairwise_seeds([a.name for a in regions], 2)
    result = exact_protocol(regions, bus, seeds=seeds)
    assert rel_diff(result.coef, centralized_fit(regions)) < 1e-9
    # one order-of-magnitude message (the fixed-point range) and one masked vector each
    assert len(result.rounds) == 1 and len(bus.audit.rows) == 2 * len(regions)
    assert {r["kind"] for r in bus.audit.rows} == {"stats_range", "stats"}
    assert result.epsilon_spent == 0.0


def test_setup_round_fixes_shared_scales() -> None:
    agents = synthetic_agents(3, 20)
    bus = Bus()
    model = setup_protocol(agents, bus, seeds=pairwise_seeds([a.name for a in agents], 0))
    pooled = np.concatenate([a.setup_sums()[None, :] for a in agents]).sum(axis=0)
    assert model.target_scale == pytest.approx(pooled[1] / pooled[0], rel=1e-9)
    assert all(a.model == model for a in agents)
    assert {r["kind"] for r in bus.audit.rows} == {"setup_range", "setup", "setup_scales"}


def test_admm_matches_centralized_nonnegative_solution() -> None:
    agents = synthetic_agents(4, 40, seed=5)
    unconstrained = centralized_fit(agents)
    sl = agents[0].model.media_slice
    assert unconstrained[sl].min() < -0.05  # the constraint binds
    reference = centralized_fit(agents, nonnegative=True)
    assert reference[sl].min() == 0.0
    result = admm_protocol(agents, Bus(), config=AdmmConfig(tol=1e-8))
    assert result.converged
    assert rel_diff(result.coef, reference) < 1e-4
    assert result.coef[sl].min() >= 0.0
    last = result.rounds[-1]
    assert last["primal_residual"] < 1e-8 and last["dual_residual"] < 1e-8


def test_admm_converges_from_any_rho() -> None:
    agents = synthetic_agents(3, 30, seed=6)
    reference = centralized_fit(agents, nonnegative=True)
    for rho in (0.01, 1.0, 100.0):
        result = admm_protocol(agents, Bus(), config=AdmmConfig(rho=rho, tol=1e-8))
        assert rel_diff(result.coef, reference) < 1e-4, rho


def test_messages_do_not_grow_with_rows_and_hold_no_row_values() -> None:
    sizes = []
    for weeks in (20, 80):
        agents = synthetic_agents(3, weeks, seed=9)
        bus = RecordingBus()
        seeds = pairwise_seeds([a.name for a in agents], 0)
        setup_protocol(agents, bus, seeds=seeds)
        exact_protocol(agents, bus, seeds=seeds)
        admm_protocol(agents, bus, config=AdmmConfig(max_rounds=3, adaptive=False))
        sizes.append([(r["kind"], r["bytes"]) for r in bus.audit.rows])
        raw = np.concatenate(
            [
                a.pooled_design_for_check()[0][:, 1:].ravel()
                for a in agents  # trend, controls, media per row
            ]
            + [a.pooled_design_for_check()[1] for a in agents]
        )
        raw = raw[(raw != 0.0) & (raw != 1.0)]  # 0 and 1 also occur as protocol constants
        sent = np.concatenate([v.ravel() for m in bus.messages for v in m.payload.values()])
        assert raw.size > 0 and not np.isin(raw, sent).any()
    assert sizes[0] == sizes[1]


def test_dp_noise_shrinks_with_epsilon_and_is_accounted() -> None:
    agents = synthetic_agents(4, 60, seed=4)
    seeds = pairwise_seeds([a.name for a in agents], 0)
    setup_protocol(agents, Bus(), seeds=seeds)  # DP clipping bounds are in scaled units
    reference = centralized_fit(agents)
    errors = {}
    for eps in (0.5, 500.0):
        draws = []
        for r in range(5):
            result = exact_protocol(agents, Bus(), seeds=seeds, dp=DPConfig(epsilon=eps), rng=r)
            assert result.epsilon_spent == eps and result.delta_spent == 1e-6
            draws.append(rel_diff(result.coef, reference))
        errors[eps] = float(np.median(draws))
    assert errors[500.0] < 0.5 * errors[0.5]
    assert gaussian_sigma(2.0, 1e-5, 3.0) == pytest.approx(gaussian_sigma(1.0, 1e-5, 1.5))
    with pytest.raises(DataError):
        DPConfig(epsilon=0.0)


def test_shared_model_validates() -> None:
    with pytest.raises(DataError, match="one value per channel"):
        shared_model(alpha=(0.1,))
    with pytest.raises(DataError, match="missing columns"):
        import pandas as pd

        Agent("x", pd.DataFrame({"date": ["2023-01-02"]}), shared_model())
