from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
from typer.testing import CliRunner

from mixlens.cli import app

runner = CliRunner()


def test_cli_mixed_with_shrinkage_and_tradeoff(tmp_path: Path) -> None:
    out = tmp_path / "mixed"
    result = runner.invoke(
        app,
        [
            "agents",
            "run",
            "--scenario",
            "mixed",
            "--shrinkage",
            "0.1",
            "--tradeoff",
            "--out",
            str(out),
        ],
    )
    assert result.exit_code == 0, result.output
    summary = json.loads((out / "summary.json").read_text())
    assert summary["scenario"] == "mixed" and summary["shrinkage"] == 0.1
    assert summary["rel_diff_vs_centralized"] < 1e-9
    assert len(pd.read_csv(out / "tradeoff.csv")) == 7


def test_cli_bad_combination_exits_2(tmp_path: Path) -> None:
    result = runner.invoke(
        app, ["agents", "run", "--scenario", "channels", "--out", str(tmp_path / "c")]
    )
    assert result.exit_code == 2
    assert "--protocol admm" in result.output


def test_cli_unknown_backend_exits_2(tmp_path: Path) -> None:
    result = runner.invoke(
        app, ["agents", "run", "--backend", "dask", "--out", str(tmp_path / "d")]
    )
    assert result.exit_code == 2
    assert "unknown backend" in result.output
