from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from tests.agents.helpers import synthetic_agents

from mixlens.agents import (
    Agent,
    Bus,
    Message,
    admm_protocol,
    centralized_fit,
    pairwise_seeds,
    run_to_dir,
    setup_protocol,
)
from mixlens.agents.protocols import rel_diff
from mixlens.errors import DataError


class SpyBus(Bus):
    """Records what the coordinator receives and each agent's true iterate at that time."""

    def __init__(self, agents: list[Agent]) -> None:
        super().__init__()
        self.by_name = {a.name: a for a in agents}
        self.seen: list[tuple[np.ndarray, np.ndarray]] = []

    def send(self, message: Message) -> Message:
        got = super().send(message)
        if message.kind == "admm_masked":
            truth = self.by_name[message.sender].current_iterate()
            assert truth is not None
            self.seen.append((got.payload["masked"], truth))
        return got


def _agents(weeks: int) -> tuple[list[Agent], dict[str, dict[str, int]]]:
    agents = synthetic_agents(4, weeks, seed=2)
    seeds = pairwise_seeds([a.name for a in agents], 0)
    setup_protocol(agents, Bus(), seeds=seeds)
    return agents, seeds


def test_masked_admm_matches_and_hides_every_iterate() -> None:
    agents, seeds = _agents(40)
    bus = SpyBus(agents)
    res = admm_protocol(agents, bus, seeds=seeds)
    assert res.converged
    assert rel_diff(res.coef, centralized_fit(agents, nonnegative=True)) < 1e-4
    p = agents[0].model.n_features
    for masked, truth in bus.seen:
        assert masked.shape == (p + 1,)
        assert np.abs(masked[:p] - truth).min() > 1e-3  # no coordinate sent in the clear
    assert {r["kind"] for r in bus.audit.rows} == {"admm_global", "admm_masked"}


def test_masked_admm_message_sizes_do_not_grow_with_rows() -> None:
    sizes = []
    for weeks in (20, 80):
        agents, seeds = _agents(weeks)
        bus = Bus()
        admm_protocol(agents, bus, seeds=seeds)
        sizes.append({r["bytes"] for r in bus.audit.rows if r["kind"] == "admm_masked"})
    # sizes differ only by the digits of the round number in the header
    assert sizes[0] == sizes[1] and max(sizes[0]) - min(sizes[0]) <= 2


def test_run_mask_admm(tmp_path: Path) -> None:
    summary = run_to_dir("regions", out_dir=tmp_path, protocol="admm", mask_admm=True)
    assert summary["admm_masked"] and summary["rel_diff_vs_centralized"] < 1e-4
    with pytest.raises(DataError, match="mask-admm"):
        run_to_dir("regions", out_dir=tmp_path / "x", protocol="exact", mask_admm=True)
