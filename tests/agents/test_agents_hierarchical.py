from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from tests.agents.helpers import synthetic_agents

from mixlens.agents import Agent, Bus, exact_protocol, pairwise_seeds, run_to_dir, setup_protocol
from mixlens.agents.hierarchical import (
    centralized_hierarchical,
    hierarchical_protocol,
    tradeoff,
)
from mixlens.agents.protocols import rel_diff
from mixlens.errors import DataError


@pytest.fixture(scope="module")
def agents() -> list[Agent]:
    out = synthetic_agents(4, 30, seed=9)
    setup_protocol(out, Bus(), seeds=pairwise_seeds([a.name for a in out], 0))
    return out


def _seeds(agents: list[Agent]) -> dict[str, dict[str, int]]:
    return pairwise_seeds([a.name for a in agents], 1)


def test_one_round_matches_the_joint_pooled_solve(agents: list[Agent]) -> None:
    res = hierarchical_protocol(agents, Bus(), shrinkage=0.5, seeds=_seeds(agents))
    mine = np.concatenate([res.coef, *(a.local_coef for a in agents if a.local_coef is not None)])
    assert mine.size == 5 * agents[0].model.n_features
    assert rel_diff(mine, centralized_hierarchical(agents, res.shrinkage)) < 1e-9


def test_strong_shrinkage_recovers_the_pooled_ridge(agents: list[Agent]) -> None:
    seeds = _seeds(agents)
    pooled = exact_protocol(agents, Bus(), seeds=seeds).coef
    res = hierarchical_protocol(agents, Bus(), shrinkage=1e6, seeds=seeds)
    assert rel_diff(res.coef, pooled) < 1e-4 and res.disagreement < 1e-4


def test_tradeoff_curve_is_monotone_and_bytes_flat(agents: list[Agent]) -> None:
    curve = tradeoff(agents, (1e-3, 1e-2, 1e-1, 1.0, 10.0), seeds=_seeds(agents))
    assert (np.diff(curve["local_fit"]) <= 1e-12).all()
    assert (np.diff(curve["disagreement"]) <= 1e-12).all()
    more = synthetic_agents(4, 60, seed=9)
    setup_protocol(more, Bus(), seeds=_seeds(more))
    curve2 = tradeoff(more, (1e-3, 1e-2, 1e-1, 1.0, 10.0), seeds=_seeds(more))
    assert curve["bytes"].tolist() == curve2["bytes"].tolist()


def test_shrinkage_must_be_positive(agents: list[Agent]) -> None:
    with pytest.raises(DataError, match="> 0"):
        hierarchical_protocol(agents, Bus(), shrinkage=0.0, seeds=_seeds(agents))


def test_run_with_shrinkage_and_tradeoff(tmp_path: Path) -> None:
    summary = run_to_dir("regions", out_dir=tmp_path, shrinkage=1.0, tradeoff=True)
    assert summary["rel_diff_vs_centralized"] < 1e-9
    assert 0 < summary["disagreement"] < 1
    curve = pd.read_csv(tmp_path / "tradeoff.csv")
    assert list(curve.columns) == ["shrinkage", "lam", "local_fit", "disagreement", "bytes"]
    credit = pd.read_csv(tmp_path / "attribution.csv")
    wide = credit.pivot(index="channel", columns="agent", values="credit")
    regions = [c for c in wide.columns if c != "all"]
    np.testing.assert_allclose(wide[regions].sum(axis=1), wide["all"], rtol=1e-9)
    with pytest.raises(DataError, match="shrinkage"):
        run_to_dir("channels", out_dir=tmp_path / "x", protocol="admm", shrinkage=1.0)
