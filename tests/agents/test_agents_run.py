from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from mixlens.agents import run_to_dir
from mixlens.errors import DataError


@pytest.mark.parametrize("protocol", ["exact", "admm"])
def test_run_regions_writes_the_contract(tmp_path: Path, protocol: str) -> None:
    summary = run_to_dir("regions", out_dir=tmp_path, protocol=protocol, seed=1)
    assert {p.name for p in tmp_path.iterdir()} == {
        "rounds.csv",
        "attribution.csv",
        "audit.jsonl",
        "summary.json",
    }
    written = json.loads((tmp_path / "summary.json").read_text())
    assert written["bytes_total"] == summary["bytes_total"] and written["rounds"] >= 1
    tol = 1e-9 if protocol == "exact" else 1e-4
    assert summary["rel_diff_vs_centralized"] < tol
    assert summary["epsilon_spent"] == 0.0
    attribution = pd.read_csv(tmp_path / "attribution.csv")
    assert list(attribution.columns) == ["agent", "channel", "credit"]
    wide = attribution.pivot(index="channel", columns="agent", values="credit")
    regions = [c for c in wide.columns if c != "all"]
    assert len(regions) == 5
    np.testing.assert_allclose(wide[regions].sum(axis=1), wide["all"], rtol=1e-9)
    audit = [json.loads(line) for line in (tmp_path / "audit.jsonl").read_text().splitlines()]
    assert sum(r["bytes"] for r in audit) == summary["bytes_total"]
    rounds = pd.read_csv(tmp_path / "rounds.csv")
    assert rounds["bytes_sent"].sum() == summary["bytes_total"]
    assert {"primal_residual", "dual_residual", "messages"} <= set(rounds.columns)


def test_bytes_do_not_grow_with_scale(tmp_path: Path) -> None:
    one = run_to_dir("regions", out_dir=tmp_path / "1", scale=1)
    two = run_to_dir("regions", out_dir=tmp_path / "2", scale=2)
    assert two["rows_per_agent"][0] == 2 * one["rows_per_agent"][0]
    assert one["bytes_total"] == two["bytes_total"]


def test_dp_run_reports_epsilon(tmp_path: Path) -> None:
    summary = run_to_dir("regions", out_dir=tmp_path, dp_epsilon=1.0)
    assert summary["epsilon_spent"] == 1.0 and summary["delta_spent"] > 0


def test_unavailable_or_unknown_choices_raise(tmp_path: Path) -> None:
    with pytest.raises(DataError, match="--protocol admm"):
        run_to_dir("channels", out_dir=tmp_path)
    with pytest.raises(DataError, match="unknown scenario"):
        run_to_dir("mixed-up", out_dir=tmp_path)
    with pytest.raises(DataError, match="unknown protocol"):
        run_to_dir("regions", out_dir=tmp_path, protocol="gossip")
    with pytest.raises(DataError, match="exact"):
        run_to_dir("regions", out_dir=tmp_path, protocol="admm", dp_epsilon=1.0)
    assert not list(tmp_path.iterdir())
