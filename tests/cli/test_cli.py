"""The command line as a user runs it: help, simulate, validate, exit codes, demo."""

from __future__ import annotations

import filecmp
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from tests.data.bad_inputs import BAD_INPUTS, BadInput
from typer.testing import CliRunner

from mixlens.cli import STAGE_MODULES, app

runner = CliRunner()


def test_help_lists_one_command_per_stage() -> None:
    result = runner.invoke(app, ["--help"])
    assert result.exit_code == 0
    stages = ("demo", "validate", "simulate", "mmm", "ima", "mta", "agents", "allocate")
    for stage in (*stages, "experiment", "serve", "keys", "market"):
        assert stage in result.output
    assert len(STAGE_MODULES) == len(set(STAGE_MODULES))


def test_market_stage_is_available() -> None:
    result = runner.invoke(app, ["market", "--help"])
    assert result.exit_code == 0
    assert "train" in result.output and "evaluate" in result.output


def _files(root: Path) -> list[Path]:
    return sorted(p.relative_to(root) for p in root.rglob("*") if p.is_file())


def test_simulate_mmm_twice_gives_identical_files(tmp_path: Path) -> None:
    for name in ("a", "b"):
        result = runner.invoke(
            app, ["simulate", "mmm", "--out", str(tmp_path / name), "--seed", "1", "--weeks", "20"]
        )
        assert result.exit_code == 0, result.output
    files = _files(tmp_path / "a")
    assert Path("weekly_channel.csv") in files
    assert Path("daily_campaign.csv") in files
    assert Path("truth/weekly_contributions.csv") in files
    assert files == _files(tmp_path / "b")
    for rel in files:
        assert filecmp.cmp(tmp_path / "a" / rel, tmp_path / "b" / rel, shallow=False)


def test_simulate_journeys_and_validate_outputs(tmp_path: Path) -> None:
    out = tmp_path / "j"
    result = runner.invoke(
        app, ["simulate", "journeys", "--out", str(out), "--seed", "2", "--users", "3000"]
    )
    assert result.exit_code == 0, result.output
    for name in ("touchpoints.csv", "conversions.csv", "paths.csv"):
        assert (out / name).exists()
    assert (out / "truth").is_dir()
    for name, kind in (
        ("touchpoints.csv", "touchpoints"),
        ("paths.csv", "paths"),
    ):
        checked = runner.invoke(app, ["validate", str(out / name), "--kind", kind])
        assert checked.exit_code == 0, checked.output
        assert "rows" in checked.output
    conversions = runner.invoke(
        app,
        [
            "validate",
            str(out / "conversions.csv"),
            "--kind",
            "conversions",
            "--touchpoints",
            str(out / "touchpoints.csv"),
        ],
    )
    assert conversions.exit_code == 0, conversions.output


def test_simulate_regions_adds_geo(tmp_path: Path) -> None:
    result = runner.invoke(
        app, ["simulate", "mmm", "--out", str(tmp_path), "--weeks", "12", "--regions", "3"]
    )
    assert result.exit_code == 0, result.output
    header = (tmp_path / "weekly_channel.csv").read_text().splitlines()[0]
    assert header.startswith("date,geo,sales,")
    checked = runner.invoke(
        app,
        [
            "validate",
            str(tmp_path / "weekly_channel.csv"),
            "--kind",
            "weekly",
            "--controls",
            "price,promotion",
        ],
    )
    assert checked.exit_code == 0, checked.output


def test_validate_profile_of_simulated_panel(tmp_path: Path) -> None:
    runner.invoke(app, ["simulate", "mmm", "--out", str(tmp_path), "--weeks", "20"])
    result = runner.invoke(
        app,
        [
            "validate",
            str(tmp_path / "weekly_channel.csv"),
            "--kind",
            "weekly",
            "--controls",
            "price,promotion",
        ],
    )
    assert result.exit_code == 0, result.output
    assert "20" in result.output
    assert "tv" in result.output


CLI_CASES = [case for case in BAD_INPUTS if case.name != "unknown_kind"]


@pytest.mark.parametrize("case", CLI_CASES, ids=[c.name for c in CLI_CASES])
def test_bad_input_exits_2_with_its_message(case: BadInput, tmp_path: Path) -> None:
    case.write(tmp_path)
    result = runner.invoke(app, case.cli_args(tmp_path))
    assert result.exit_code == 2, result.output
    message = " ".join(result.stderr.split())
    assert message == " ".join(f"error: {case.message(tmp_path)}".split())


def test_unknown_kind_exits_2(tmp_path: Path) -> None:
    path = tmp_path / "x.csv"
    path.write_text("date,sales,tv_spend\n2024-01-01,1,1\n")
    result = runner.invoke(app, ["validate", str(path), "--kind", "weekley"])
    assert result.exit_code == 2
    assert "unknown kind 'weekley' (did you mean 'weekly'?)" in result.stderr


def test_real_process_exit_status_and_stderr(tmp_path: Path) -> None:
    bad = tmp_path / "w.csv"
    bad.write_text("date,sales,tv_spend\n2024-01-01,10,5\n2024-01-08,11,-3\n")
    proc = subprocess.run(
        [sys.executable, "-m", "mixlens.cli", "validate", str(bad), "--kind", "weekly"],
        capture_output=True,
        text=True,
        check=False,
    )
    assert proc.returncode == 2
    assert proc.stdout == ""
    assert f"{bad}: column 'tv_spend', row 2: negative value -3; must be >= 0" in " ".join(
        proc.stderr.split()
    )


def test_failed_run_leaves_no_half_written_files(tmp_path: Path) -> None:
    result = runner.invoke(app, ["simulate", "mmm", "--out", str(tmp_path), "--weeks", "3"])
    assert result.exit_code == 2
    assert list(tmp_path.iterdir()) == []


def test_demo_writes_self_contained_report(tmp_path: Path) -> None:
    result = runner.invoke(
        app,
        ["demo", "--out", str(tmp_path), "--weeks", "30", "--users", "3000", "--mmm-draws", "40"],
    )
    assert result.exit_code == 0, result.output
    html = (tmp_path / "report.html").read_text()
    assert html.count("<svg") >= 8
    for section in (
        "mmm-world",
        "mmm",
        "allocation",
        "ima",
        "journey-world",
        "mta",
        "agents",
        "experiment",
    ):
        assert f'id="{section}"' in html
    assert (tmp_path / "mmm" / "posterior.nc").exists()
    assert (tmp_path / "mta" / "attribution.csv").exists()
    assert "<script" not in html and "<link" not in html
    assert (tmp_path / "summary.json").exists()
    assert not [p for p in tmp_path.rglob("*.tmp")]


def test_mta_fit_from_logs_and_paths(tmp_path: Path) -> None:
    import pandas as pd

    sim = tmp_path / "sim"
    runner.invoke(app, ["simulate", "journeys", "--out", str(sim), "--users", "4000"])
    logs = runner.invoke(
        app,
        [
            "mta",
            "fit",
            "--touchpoints",
            str(sim / "touchpoints.csv"),
            "--conversions",
            str(sim / "conversions.csv"),
            "--out",
            str(tmp_path / "a"),
        ],
    )
    assert logs.exit_code == 0, logs.output
    credit = pd.read_csv(tmp_path / "a" / "attribution.csv")
    assert list(credit.columns) == ["model", "channel", "conversions", "value", "share"]
    conversions = len(pd.read_csv(sim / "conversions.csv"))
    per_model = credit.groupby("model")["conversions"].sum()
    assert set(per_model.index) >= {"first", "last", "markov", "shapley", "time_decay"}
    assert per_model.to_numpy() == pytest.approx(conversions, rel=1e-9)
    paths = runner.invoke(
        app,
        [
            "mta",
            "fit",
            "--paths",
            str(sim / "paths.csv"),
            "--models",
            "markov",
            "--order",
            "2",
            "--out",
            str(tmp_path / "b"),
        ],
    )
    assert paths.exit_code == 0, paths.output
    assert (tmp_path / "b" / "summary.json").exists()


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--models", "bogus"], "unknown model 'bogus'"),
        (["--order", "5"], "order"),
    ],
)
def test_mta_fit_bad_arguments_exit_2(tmp_path: Path, args: list[str], message: str) -> None:
    paths = tmp_path / "paths.csv"
    paths.write_text("path,total_conversions,total_conversion_value,total_null\na > b,1,2,3\n")
    result = runner.invoke(
        app, ["mta", "fit", "--paths", str(paths), "--out", str(tmp_path / "o"), *args]
    )
    assert result.exit_code == 2
    assert message in result.stderr
    assert not (tmp_path / "o" / "attribution.csv").exists()


def test_mmm_fit_advi_writes_contract_files(tmp_path: Path) -> None:
    import pandas as pd

    runner.invoke(app, ["simulate", "mmm", "--out", str(tmp_path / "sim"), "--weeks", "30"])
    result = runner.invoke(
        app,
        [
            "mmm",
            "fit",
            str(tmp_path / "sim" / "weekly_channel.csv"),
            "--controls",
            "price,promotion",
            "--method",
            "advi",
            "--draws",
            "50",
            "--out",
            str(tmp_path / "fit"),
        ],
    )
    assert result.exit_code == 0, result.output
    for name in (
        "roi.csv",
        "contributions.csv",
        "params.csv",
        "response_curves.csv",
        "posterior.nc",
        "summary.json",
    ):
        assert (tmp_path / "fit" / name).exists(), name
    roi = pd.read_csv(tmp_path / "fit" / "roi.csv")
    assert list(roi.columns) == [
        "channel", "spend", "contribution_mean", "contribution_lo", "contribution_hi",
        "roi_mean", "roi_lo", "roi_hi", "mroi_mean", "mroi_lo", "mroi_hi",
        "log_roi_prior_sd", "log_roi_sd", "contraction", "prior_shift", "identification",
    ]  # fmt: skip
    assert (roi["roi_lo"] <= roi["roi_mean"]).all() and (roi["roi_mean"] <= roi["roi_hi"]).all()


def test_mmm_fit_bad_control_exits_2(tmp_path: Path) -> None:
    runner.invoke(app, ["simulate", "mmm", "--out", str(tmp_path / "sim"), "--weeks", "12"])
    result = runner.invoke(
        app,
        ["mmm", "fit", str(tmp_path / "sim" / "weekly_channel.csv"), "--controls", "prize",
         "--out", str(tmp_path / "fit")],
    )  # fmt: skip
    assert result.exit_code == 2
    assert "missing column 'prize'" in result.stderr
    assert not (tmp_path / "fit" / "roi.csv").exists()


def _design(path: Path) -> dict[str, object]:
    import json

    return dict(json.loads(path.read_text()))


def test_geo_experiment_simulate_and_analyze(tmp_path: Path) -> None:
    import pandas as pd

    sim = tmp_path / "geo"
    result = runner.invoke(
        app, ["simulate", "geo-experiment", "--out", str(sim), "--geos", "20", "--treated", "5"]
    )
    assert result.exit_code == 0, result.output
    design = _design(sim / "design.json")
    treated = ",".join(str(g) for g in design["treated"])  # type: ignore[attr-defined]
    analyzed = runner.invoke(
        app,
        [
            "experiment",
            "analyze",
            str(sim / "panel.csv"),
            "--treated",
            treated,
            "--start",
            str(design["start"]),
            "--end",
            str(design["end"]),
            "--out",
            str(tmp_path / "out"),
        ],
    )
    assert analyzed.exit_code == 0, analyzed.output
    lift = pd.read_csv(tmp_path / "out" / "lift_tests.csv")
    assert list(lift.columns) == [
        "channel", "start", "end", "incremental_outcome", "se", "method", "geo", "spend_share"
    ]  # fmt: skip
    assert lift["method"].iloc[0].startswith("recommended:")
    assert {"did", "synthetic_control", "bayesian_ts"} <= set(lift["method"])
    assert (lift["se"] > 0).all()


def test_experiment_design_file(tmp_path: Path) -> None:
    sim = tmp_path / "geo"
    runner.invoke(app, ["simulate", "geo-experiment", "--out", str(sim), "--geos", "12",
                        "--treated", "3"])  # fmt: skip
    result = runner.invoke(
        app,
        ["experiment", "analyze", str(sim / "panel.csv"), "--design", str(sim / "design.json"),
         "--out", str(tmp_path / "out")],
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    assert (tmp_path / "out" / "lift_tests.csv").exists()


def test_experiment_unknown_geo_exits_2(tmp_path: Path) -> None:
    sim = tmp_path / "geo"
    runner.invoke(app, ["simulate", "geo-experiment", "--out", str(sim), "--geos", "12",
                        "--treated", "3"])  # fmt: skip
    design = _design(sim / "design.json")
    result = runner.invoke(
        app,
        ["experiment", "analyze", str(sim / "panel.csv"), "--treated", "NOWHERE",
         "--start", str(design["start"]), "--end", str(design["end"]),
         "--out", str(tmp_path / "out")],
    )  # fmt: skip
    assert result.exit_code == 2
    assert "NOWHERE" in result.stderr
    assert not (tmp_path / "out" / "lift_tests.csv").exists()


def test_experiment_ab(tmp_path: Path) -> None:
    import pandas as pd

    rows = ["user_id,group,converted,value,cost"]
    for i in range(400):
        group = "treatment" if i % 2 else "control"
        converted = int(i % 7 == 0 or (group == "treatment" and i % 11 == 0))
        rows.append(
            f"u{i},{group},{converted},{20.0 * converted},{1.0 if group == 'treatment' else 0}"
        )
    ab = tmp_path / "ab.csv"
    ab.write_text("\n".join(rows) + "\n")
    result = runner.invoke(
        app, ["experiment", "analyze", "--ab", str(ab), "--out", str(tmp_path / "out")]
    )
    assert result.exit_code == 0, result.output
    lift = pd.read_csv(tmp_path / "out" / "lift_tests.csv")
    assert "incremental_conversions" in lift.columns
    assert (lift["incremental_conversions"] > 0).all()


def test_ima_fit_bring_your_own_mmm(tmp_path: Path) -> None:
    import pandas as pd

    sim = tmp_path / "sim"
    runner.invoke(app, ["simulate", "mmm", "--out", str(sim), "--weeks", "20", "--channels", "5"])
    truth = pd.read_csv(sim / "truth" / "weekly_contributions.csv")
    channels = pd.read_csv(sim / "truth" / "channels.csv")
    own = truth[truth["component"].isin(channels["channel"])].rename(
        columns={"component": "channel"}
    )
    own.to_csv(tmp_path / "contributions.csv", index=False)
    channels.rename(
        columns={"theta_weekly": "theta", "peak_weekly": "peak", "l_max_weekly": "l_max"}
    )[["channel", "theta", "peak", "l_max"]].to_csv(tmp_path / "adstock.csv", index=False)
    result = runner.invoke(
        app,
        [
            "ima",
            "fit",
            "--campaigns",
            str(sim / "daily_campaign.csv"),
            "--contributions",
            str(tmp_path / "contributions.csv"),
            "--adstock",
            str(tmp_path / "adstock.csv"),
            "--draws",
            "50",
            "--out",
            str(tmp_path / "ima"),
        ],
    )
    assert result.exit_code == 0, result.output
    daily = pd.read_csv(tmp_path / "ima" / "campaign_daily.csv")
    assert list(daily.columns) == ["date", "channel", "campaign", "contribution"]
    # Conservation: campaigns plus 'unattributed' add up to each channel's MMM total.
    totals = daily.groupby("channel")["contribution"].sum()
    expected = own.groupby("channel")["contribution"].sum().loc[totals.index]
    np.testing.assert_allclose(totals, expected, rtol=1e-9)
    fit = pd.read_csv(tmp_path / "ima" / "fit.csv")
    assert list(fit.columns) == ["channel", "weekly_mape", "r2"]


def test_ima_fit_needs_an_mmm(tmp_path: Path) -> None:
    result = runner.invoke(
        app, ["ima", "fit", "--campaigns", str(tmp_path / "c.csv"), "--out", str(tmp_path / "o")]
    )
    assert result.exit_code == 2
    assert "--mmm" in result.stderr


def test_allocate_from_mmm_fit(tmp_path: Path) -> None:
    import json

    import pandas as pd

    runner.invoke(app, ["simulate", "mmm", "--out", str(tmp_path / "sim"), "--weeks", "30",
                        "--channels", "5"])  # fmt: skip
    fitted = runner.invoke(
        app,
        ["mmm", "fit", str(tmp_path / "sim" / "weekly_channel.csv"), "--method", "advi",
         "--draws", "50", "--out", str(tmp_path / "fit")],
    )  # fmt: skip
    assert fitted.exit_code == 0, fitted.output
    result = runner.invoke(
        app,
        ["allocate", "--mmm", str(tmp_path / "fit"), "--budget", "1000000", "--weeks", "8",
         "--out", str(tmp_path / "alloc")],
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    plan = pd.read_csv(tmp_path / "alloc" / "allocation.csv")
    assert list(plan.columns) == [
        "channel", "current_spend", "recommended_spend", "expected_contribution_mean",
        "expected_contribution_lo", "expected_contribution_hi",
    ]  # fmt: skip
    assert plan["recommended_spend"].sum() == pytest.approx(1_000_000, rel=1e-6)
    summary = json.loads((tmp_path / "alloc" / "summary.json").read_text())
    assert 0.0 <= summary["prob_better_than_current"] <= 1.0
    bad = runner.invoke(
        app,
        ["allocate", "--mmm", str(tmp_path / "fit"), "--budget", "1", "--objective", "cvar",
         "--out", str(tmp_path / "bad")],
    )  # fmt: skip
    assert bad.exit_code == 2


def test_agents_run_regions(tmp_path: Path) -> None:
    import json

    import pandas as pd

    result = runner.invoke(app, ["agents", "run", "--scenario", "regions", "--out", str(tmp_path)])
    assert result.exit_code == 0, result.output
    credit = pd.read_csv(tmp_path / "attribution.csv")
    assert list(credit.columns) == ["agent", "channel", "credit"]
    agents = credit[credit["agent"] != "all"].groupby("channel")["credit"].sum()
    total = credit[credit["agent"] == "all"].set_index("channel")["credit"]
    np.testing.assert_allclose(agents.loc[total.index], total, rtol=1e-9)
    summary = json.loads((tmp_path / "summary.json").read_text())
    assert summary["rel_diff_vs_centralized"] < 1e-9
    lines = (tmp_path / "audit.jsonl").read_text().splitlines()
    assert lines and {"round", "sender", "receiver", "kind", "bytes"} <= set(json.loads(lines[0]))
    assert (tmp_path / "rounds.csv").exists()
