"""The experiment commands as a user runs them: spillover and daily worlds, A/B into MTA."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
from typer.testing import CliRunner

from mixlens.cli import app
from mixlens.data.simulate.journeys import JourneyWorldConfig, simulate_journeys

runner = CliRunner()


def test_simulate_with_spillover_then_analyze_daily(tmp_path: Path) -> None:
    sim = tmp_path / "geo"
    args = ["--geos", "12", "--treated", "3", "--weeks", "30", "--test-weeks", "4"]
    result = runner.invoke(
        app,
        ["simulate", "geo-experiment", "--out", str(sim), *args, "--daily", "--spillover", "0.3"],
    )
    assert result.exit_code == 0, result.output
    truth = json.loads((sim / "truth" / "summary.json").read_text())
    assert np.isclose(truth["spillover_outcome"], 0.3 * truth["incremental_outcome"])
    window = pd.read_csv(sim / "truth" / "window.csv")
    controls = window[~window["treated"]]
    assert (controls["sales"] < controls["sales_bau"]).any()  # contaminated controls
    out = tmp_path / "out"
    analyzed = runner.invoke(
        app,
        ["experiment", "analyze", str(sim / "panel.csv"), "--design", str(sim / "design.json"),
         "--out", str(out)],
    )  # fmt: skip
    assert analyzed.exit_code == 0, analyzed.output
    summary = json.loads((out / "summary.json").read_text())
    assert summary["frequency"] == "D" and summary["window_periods"] == 28
    lift = pd.read_csv(out / "lift_tests.csv")
    assert (lift["start"] == truth["start"]).all() and (lift["end"] == truth["end"]).all()


def test_ab_lift_tests_calibrate_mta(tmp_path: Path) -> None:
    rng = np.random.default_rng(3)
    n = 6000
    group = np.repeat(["treatment", "control"], n // 2)
    converted = rng.uniform(size=n) < np.where(group == "treatment", 0.07, 0.05)
    pd.DataFrame(
        {
            "user_id": [f"u{i}" for i in range(n)],
            "group": group,
            "converted": converted.astype(int),
            "value": converted * rng.gamma(2.0, 20.0, n),
            "cost": np.where(group == "treatment", 0.4, 0.0),
        }
    ).to_csv(tmp_path / "ab.csv", index=False)
    journeys = simulate_journeys(JourneyWorldConfig(users=2000), seed=1)
    journeys.write(tmp_path / "j")
    channel = str(pd.read_csv(tmp_path / "j" / "touchpoints.csv")["channel"].iloc[0])
    analyzed = runner.invoke(
        app,
        ["experiment", "analyze", "--ab", str(tmp_path / "ab.csv"), "--channel", channel,
         "--start", "2024-01-01", "--end", "2024-01-31", "--out", str(tmp_path / "ab")],
    )  # fmt: skip
    assert analyzed.exit_code == 0, analyzed.output
    lift = pd.read_csv(tmp_path / "ab" / "lift_tests.csv")
    assert list(lift.columns) == [
        "channel", "start", "end", "incremental_conversions", "se", "method"
    ]  # fmt: skip
    fitted = runner.invoke(
        app,
        ["mta", "fit", "--touchpoints", str(tmp_path / "j" / "touchpoints.csv"),
         "--conversions", str(tmp_path / "j" / "conversions.csv"), "--models", "incremental",
         "--lift-tests", str(tmp_path / "ab" / "lift_tests.csv"), "--out", str(tmp_path / "m")],
    )  # fmt: skip
    assert fitted.exit_code == 0, fitted.output
    credit = pd.read_csv(tmp_path / "m" / "attribution.csv")
    assert channel in set(credit["channel"])
