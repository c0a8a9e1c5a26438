"""``mixlens mta fit`` with the hazard, calibration and bootstrap options; the report section."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest
from typer.testing import CliRunner

from mixlens.cli import app
from mixlens.data.simulate.journeys import SimulatedJourneys
from mixlens.mta.evaluate import accuracy_against_truth
from mixlens.report.html import Table
from mixlens.report.mta import credit_with_intervals, mta_section

runner = CliRunner()


def test_cli_lift_tests_and_bootstrap(world_dir: Path, tmp_path: Path) -> None:
    tests = tmp_path / "lift.csv"
    tests.write_text("channel,incremental_conversions,se\ndisplay,40,8\nemail,25,6\n")
    out = tmp_path / "out"
    result = runner.invoke(
        app,
        [
            "mta", "fit",
            "--touchpoints", str(world_dir / "touchpoints.csv"),
            "--conversions", str(world_dir / "conversions.csv"),
            "--models", "logistic,incremental,shapley",
            "--lift-tests", str(tests),
            "--bootstrap", "4",
            "--out", str(out),
        ],
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    frame = pd.read_csv(out / "attribution.csv")
    assert list(frame["model"].unique()) == ["logistic", "incremental", "shapley"]
    assert {"conversions_lo", "conversions_hi", "value_lo", "value_hi"} <= set(frame.columns)
    summary = json.loads((out / "summary.json").read_text())
    assert summary["inputs"]["lift_tests"] == str(tests)
    assert set(summary["models"]["incremental"]["meta"]["tested"]) <= {"display", "email"}
    assert "transitions.csv" in result.output and (out / "time_to_conversion.csv").exists()


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--lift-tests", "missing.csv"], "lift-test file not found"),
        (["--bootstrap", "-1"], "bootstrap=-1"),
        (["--mmm", "nowhere"], "not found"),
        (["--models", "logistic", "--paths-only"], ""),
    ],
)
def test_cli_bad_options_exit_2(
    world_dir: Path, tmp_path: Path, args: list[str], message: str
) -> None:
    if "--paths-only" in args:
        cmd = ["mta", "fit", "--paths", str(world_dir / "paths.csv"), "--models", "logistic"]
        message = "'logistic' needs touch timestamps"
    else:
        cmd = [
            "mta", "fit",
            "--touchpoints", str(world_dir / "touchpoints.csv"),
            "--conversions", str(world_dir / "conversions.csv"),
            "--models", "last", *args,
        ]  # fmt: skip
    result = runner.invoke(app, [*cmd, "--out", str(tmp_path / "o")])
    assert result.exit_code == 2, result.output
    assert message in result.stderr
    assert not (tmp_path / "o" / "attribution.csv").exists()


def test_report_section_shows_intervals(world: SimulatedJourneys) -> None:
    base = pd.DataFrame(
        {
            "model": ["logistic"] * 3 + ["last"] * 2,
            "channel": ["display", "email", "baseline", "display", "email"],
            "conversions": [30.0, 20.0, 50.0, 60.0, 40.0],
            "value": [1.0] * 5,
            "share": [0.3, 0.2, 0.5, 0.6, 0.4],
        }
    )
    accuracy = accuracy_against_truth(base, world.channel_truth)
    plain = mta_section(base, accuracy, world.channel_truth)
    assert credit_with_intervals(base) is None
    with_ci = base.assign(
        conversions_lo=base["conversions"] - 5, conversions_hi=base["conversions"] + 5
    )
    section = mta_section(with_ci, accuracy, world.channel_truth)
    tables = [b for b in section.blocks if isinstance(b, Table)]
    assert len(tables) == len([b for b in plain.blocks if isinstance(b, Table)]) + 1
    assert list(tables[-1].frame.columns) == [
        "model",
        "channel",
        "conversions",
        "conversions_lo",
        "conversions_hi",
    ]
