"""The Ray backend drives the same protocol code as in process and gets the same numbers."""

from __future__ import annotations

import copy
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
from tests.agents.helpers import synthetic_agents

from mixlens.agents import (
    AdmmConfig,
    Agent,
    AgentLike,
    Bus,
    RayBackend,
    RemoteAgent,
    admm_protocol,
    attribute,
    exact_protocol,
    hierarchical_protocol,
    pairwise_seeds,
    run_to_dir,
    setup_protocol,
)
from mixlens.agents.agent import LiftTest
from mixlens.agents.scenarios import channel_owners
from mixlens.agents.vertical import SharingConfig, attribute_vertical, sharing_admm

ray = pytest.importorskip("ray")

TOL = 1e-12


@pytest.fixture(scope="module")
def backend() -> Iterator[RayBackend]:
    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False)
    with RayBackend(max_actors=2) as b:
        yield b
    ray.shutdown()


def _agents() -> list[Agent]:
    lift = LiftTest("tv", "2023-03-06", "2023-04-24", lift=2.0e4, se=500.0)
    return synthetic_agents(4, 30, seed=11, lift=lift)


def _pipeline(agents: list[AgentLike] | list[Agent]) -> dict[str, Any]:
    seeds = pairwise_seeds([a.name for a in agents], 3)
    bus = Bus()
    model = setup_protocol(agents, bus, seeds=seeds)
    exact = exact_protocol(agents, bus, seeds=seeds)
    # identical numbers need identical rounds, not convergence: cap the rounds
    admm = admm_protocol(agents, bus, config=AdmmConfig(max_rounds=60))
    masked = admm_protocol(agents, bus, config=AdmmConfig(max_rounds=30), seeds=seeds)
    credit = attribute(agents, exact.coef, bus, seeds=seeds, round=9)
    hier = hierarchical_protocol(agents, bus, shrinkage=0.1, seeds=seeds)
    local = attribute(agents, hier.coef, bus, seeds=seeds, round=10, local=True)
    return {
        "scale": model.target_scale,
        "exact": exact.coef,
        "admm": admm.coef,
        "admm_rounds": len(admm.rounds),
        "masked": masked.coef,
        "masked_rounds": len(masked.rounds),
        "credit": credit["credit"].to_numpy(),
        "hier": np.concatenate([hier.coef, [hier.local_fit, hier.disagreement]]),
        "local_credit": local["credit"].to_numpy(),
        "audit": pd.DataFrame(bus.audit.rows),
    }


def test_ray_actors_give_the_in_process_numbers(backend: RayBackend) -> None:
    here = _agents()
    there = backend.place(copy.deepcopy(here))
    assert all(isinstance(a, RemoteAgent) for a in there)
    assert [a.name for a in there] == [a.name for a in here]
    mine, theirs = _pipeline(here), _pipeline(there)
    assert mine["admm_rounds"] == theirs["admm_rounds"] == 60
    assert mine["masked_rounds"] == theirs["masked_rounds"] == 30
    for key in ("scale", "exact", "admm", "masked", "credit", "hier", "local_credit"):
        np.testing.assert_allclose(theirs[key], mine[key], rtol=TOL, atol=0, err_msg=key)
    # the same messages, in the same order and of the same sizes, crossed the wire
    pd.testing.assert_frame_equal(theirs["audit"], mine["audit"])
    # the agents' state lives in the actors: local coefficients are read from there
    local = there[0].local_coef
    assert local is not None and local.shape == (here[0].model.n_features,)


def test_run_to_dir_on_ray_matches_in_process(tmp_path: Path, backend: RayBackend) -> None:
    del backend  # the module's Ray instance is reused and left running
    kw: dict[str, Any] = {"scenario": "regions", "protocol": "exact", "seed": 2}
    here = run_to_dir(out_dir=tmp_path / "here", **kw)
    there = run_to_dir(out_dir=tmp_path / "ray", backend="ray", ray_actors=2, **kw)
    assert there["backend"] == "ray" and here["backend"] == "inprocess"
    assert there["bytes_total"] == here["bytes_total"]
    a = pd.read_csv(tmp_path / "here" / "attribution.csv")
    b = pd.read_csv(tmp_path / "ray" / "attribution.csv")
    pd.testing.assert_frame_equal(a[["agent", "channel"]], b[["agent", "channel"]])
    np.testing.assert_allclose(b["credit"], a["credit"], rtol=TOL, atol=0)
    assert ray.is_initialized()  # the run did not shut down a Ray instance it did not start


def test_channel_owners_on_ray_give_the_in_process_numbers(backend: RayBackend) -> None:
    sales, owners = channel_owners(1, seed=4)
    remote = backend.place(copy.deepcopy(owners))
    seeds = pairwise_seeds([o.name for o in owners], 0)
    cfg = SharingConfig(max_rounds=40)  # identical rounds, not convergence, are the point
    out = []
    for parties in (owners, remote):
        bus, fitted = Bus(), copy.deepcopy(sales)
        res = sharing_admm(fitted, parties, bus, seeds=seeds, config=cfg)
        credit = attribute_vertical(fitted, parties, bus, round=41)
        out.append((res.vector([o.name for o in owners]), credit, pd.DataFrame(bus.audit.rows)))
    np.testing.assert_allclose(out[1][0], out[0][0], rtol=TOL, atol=0)
    np.testing.assert_allclose(out[1][1]["credit"], out[0][1]["credit"], rtol=TOL, atol=0)
    pd.testing.assert_frame_equal(out[1][2], out[0][2])
    assert [o.channels for o in remote] == [o.channels for o in owners]
