"""End to end: a small ADVI MMM folder to allocation.csv and summary.json."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from mixlens.allocation import MMMResponse, allocate_to_dir
from mixlens.data.simulate.mmm import MMMWorldConfig, simulate_mmm
from mixlens.errors import DataError
from mixlens.mmm.results import MMMResult
from mixlens.mmm.run import fit_to_dir

BLAS = "ignore:.*could not link to a BLAS:UserWarning"


@pytest.fixture(scope="module")
def mmm_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    world = simulate_mmm(MMMWorldConfig(weeks=30, n_channels=5), seed=1)
    out = tmp_path_factory.mktemp("mmm")
    fit_to_dir(
        world.weekly_channel,
        out_dir=out,
        controls=("price", "promotion"),
        method="advi",
        draws=100,
        tune=3000,
        seed=0,
    )
    return out


@pytest.mark.filterwarnings(BLAS)
def test_allocate_to_dir_writes_the_contract(mmm_dir: Path, tmp_path: Path) -> None:
    result = MMMResult.load(mmm_dir)
    model = MMMResponse.from_result(result, weeks=12)
    budget = float(model.current.sum())
    bounds = tmp_path / "bounds.csv"
    bounds.write_text("channel,lower,upper,locked\ntv,,,1\nsocial,1000,,0\n")
    summary = allocate_to_dir(
        mmm_dir, budget=budget, weeks=12, out_dir=tmp_path / "out", bounds_file=bounds
    )
    table = pd.read_csv(tmp_path / "out" / "allocation.csv")
    assert list(table.columns) == [
        "channel",
        "current_spend",
        "recommended_spend",
        "expected_contribution_mean",
        "expected_contribution_lo",
        "expected_contribution_hi",
    ]
    assert table["recommended_spend"].sum() == pytest.approx(budget)
    assert table.set_index("channel").loc["tv", "recommended_spend"] == pytest.approx(
        model.current[0]
    )
    assert (table["expected_contribution_lo"] <= table["expected_contribution_mean"]).all()
    written = json.loads((tmp_path / "out" / "summary.json").read_text())
    assert written["prob_better_than_current"] == summary["prob_better_than_current"]
    assert written["recommended_expected"]["mean"] >= written["current_expected"]["mean"] - 1e-6
    for key in ("mean", "lo", "hi"):
        assert np.isfinite(written["current_expected"][key])
    # Replaying the fitted window gives the fitted contributions plus the carryover into it
    # from the window's last weeks (the plan starts after the data), so a little more.
    full = MMMResponse.from_result(result, weeks=result.data.n_weeks)
    fitted = result.roi()["contribution_mean"].to_numpy()
    replay = full.contributions(full.current).mean(axis=0)
    assert np.all(replay >= fitted - 1e-6)
    assert np.all(replay <= fitted * 1.1)
    with pytest.raises(DataError, match="upper bounds"):
        allocate_to_dir(
            mmm_dir,
            budget=budget * 10,
            weeks=12,
            out_dir=tmp_path / "x",
            bounds_file=_all_capped(tmp_path, model.channels),
        )


def _all_capped(tmp_path: Path, channels: tuple[str, ...]) -> Path:
    path = tmp_path / "capped.csv"
    path.write_text("channel,upper\n" + "".join(f"{c},1\n" for c in channels))
    return path


@pytest.mark.filterwarnings(BLAS)
@pytest.mark.parametrize("scenario", ["profit", "mroi", "roi", "target"])
def test_allocate_to_dir_scenarios(mmm_dir: Path, tmp_path: Path, scenario: str) -> None:
    model = MMMResponse.from_result(MMMResult.load(mmm_dir), weeks=12)
    budget = float(model.current.sum())
    current_outcome = float(model.expected(model.current).mean())
    target = {
        "profit": None,
        "mroi": 0.5,
        "roi": 0.5 * current_outcome / budget,
        "target": 0.9 * current_outcome,
    }[scenario]
    summary = allocate_to_dir(
        mmm_dir, budget=budget * 3, weeks=12, out_dir=tmp_path, scenario=scenario,
        target=target, margin=2.0, ramp=1.0, pareto=3 if scenario == "profit" else 0,
    )  # fmt: skip
    plan = pd.read_csv(tmp_path / "allocation.csv")
    spend = plan["recommended_spend"].to_numpy()
    assert spend.sum() <= budget * 3 * (1 + 1e-9)
    assert np.all(spend <= 2 * plan["current_spend"] + 1e-6)  # ramp 1.0
    assert summary["scenario"]["name"] == scenario
    assert set(summary["marginal_roi"]) == set(model.channels)
    if scenario == "profit":
        front = pd.read_csv(tmp_path / "pareto.csv")
        assert np.all(np.diff(front["outcome"]) > 0)
        np.testing.assert_allclose(front["profit"], 2 * front["outcome"] - front["spend"])
    curves = pd.read_csv(tmp_path / "curves.csv")
    assert set(curves["channel"]) == set(model.channels)
    if scenario == "profit":
        sc = summary["scenario"]
        assert sc["recommended_profit"] >= sc["current_profit"] - 1e-6
    if scenario == "target":
        assert summary["recommended_expected"]["mean"] >= target * (1 - 1e-9)


@pytest.mark.filterwarnings(BLAS)
def test_allocate_to_dir_splits_campaigns(mmm_dir: Path, tmp_path: Path) -> None:
    model = MMMResponse.from_result(MMMResult.load(mmm_dir), weeks=12)
    ima = tmp_path / "ima"
    ima.mkdir()
    rows = ["channel,campaign,spend,contribution_mean,roi_mean"]
    for c in model.channels[:-1]:
        rows += [f"{c},{c}_a,100,300,3", f"{c},{c}_b,100,100,1", f"{c},unattributed,0,50,"]
    (ima / "campaigns.csv").write_text("\n".join(rows) + "\n")
    allocate_to_dir(
        mmm_dir, budget=float(model.current.sum()), weeks=12, out_dir=tmp_path / "o", ima_dir=ima
    )
    plan = pd.read_csv(tmp_path / "o" / "allocation.csv").set_index("channel")
    split = pd.read_csv(tmp_path / "o" / "campaigns.csv")
    assert "unattributed" not in set(split["campaign"])
    sums = split.groupby("channel")["recommended_spend"].sum()
    np.testing.assert_allclose(sums.loc[plan.index], plan["recommended_spend"], rtol=1e-12)
    first = split[split["channel"] == model.channels[0]].set_index("campaign")
    assert first.loc[f"{model.channels[0]}_a", "weight"] == pytest.approx(0.75)


@pytest.mark.filterwarnings(BLAS)
def test_cli_scenarios_and_pareto(mmm_dir: Path, tmp_path: Path) -> None:
    from typer.testing import CliRunner

    from mixlens.cli import app

    runner = CliRunner()
    model = MMMResponse.from_result(MMMResult.load(mmm_dir), weeks=12)
    cap = str(2 * float(model.current.sum()))
    base = ["allocate", "--mmm", str(mmm_dir), "--weeks", "12"]
    result = runner.invoke(
        app, [*base, "--scenario", "mroi", "--target", "0.8", "--cap", cap, "--ramp", "0.5",
              "--pareto", "3", "--out", str(tmp_path / "a")],
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    summary = json.loads((tmp_path / "a" / "summary.json").read_text())
    assert summary["scenario"]["name"] == "mroi"
    assert "pareto.csv" in summary["files"]
    assert len(pd.read_csv(tmp_path / "a" / "pareto.csv")) >= 2
    missing = runner.invoke(app, [*base, "--scenario", "roi", "--out", str(tmp_path / "b")])
    assert missing.exit_code == 2
    assert "needs a target" in missing.stderr
    no_budget = runner.invoke(app, [*base, "--out", str(tmp_path / "c")])
    assert no_budget.exit_code == 2
    assert "--budget is required" in no_budget.stderr


def _ima_dir(tmp_path: Path, channels: tuple[str, ...]) -> Path:
    ima = tmp_path / "ima"
    ima.mkdir(exist_ok=True)
    rows = ["channel,campaign,spend,contribution_mean,roi_mean"]
    for c in channels:
        rows += [f"{c},{c}_a,100,300,3", f"{c},{c}_b,100,100,1"]
    (ima / "campaigns.csv").write_text("\n".join(rows) + "\n")
    return ima


@pytest.mark.filterwarnings(BLAS)
def test_campaign_bounds_hold_and_infeasible_ones_are_named(mmm_dir: Path, tmp_path: Path) -> None:
    from typer.testing import CliRunner

    from mixlens.cli import app

    model = MMMResponse.from_result(MMMResult.load(mmm_dir), weeks=12)
    first = model.channels[0]
    ima = _ima_dir(tmp_path, model.channels)
    budget = float(model.current.sum())
    # Campaign b of the first channel must get at least 40% of the budget (it has the
    # lower credit, so the unconstrained split would give it a quarter of the channel).
    floor = 0.4 * budget
    bounds = tmp_path / "bounds.csv"
    bounds.write_text(f"channel,campaign,lower,upper\n{first},{first}_b,{floor},\n")
    allocate_to_dir(
        mmm_dir, budget=budget, weeks=12, out_dir=tmp_path / "o", ima_dir=ima, bounds_file=bounds
    )
    plan = pd.read_csv(tmp_path / "o" / "allocation.csv").set_index("channel")
    split = pd.read_csv(tmp_path / "o" / "campaigns.csv").set_index("campaign")
    assert plan.loc[first, "recommended_spend"] >= floor * (1 - 1e-9)
    assert split.loc[f"{first}_b", "recommended_spend"] >= floor * (1 - 1e-9)
    sums = split.groupby("channel")["recommended_spend"].sum()
    np.testing.assert_allclose(sums.loc[plan.index], plan["recommended_spend"], rtol=1e-9)

    # Campaign floors above the channel's own cap: exit 2, the constraint named.
    cap, floor = 0.1 * budget, 0.2 * budget
    bounds.write_text(
        f"channel,campaign,lower,upper\n{first},,,{cap}\n{first},{first}_a,{floor},\n"
    )
    result = CliRunner().invoke(
        app, ["allocate", "--mmm", str(mmm_dir), "--weeks", "12", "--budget", str(budget),
              "--bounds", str(bounds), "--ima", str(ima), "--out", str(tmp_path / "x")],
    )  # fmt: skip
    assert result.exit_code == 2
    assert f"channel '{first}'" in result.stderr and "campaigns' lower bounds" in result.stderr
    assert "upper bound" in result.stderr
    # Campaign rows without --ima are refused.
    with pytest.raises(DataError, match="--ima"):
        allocate_to_dir(
            mmm_dir, budget=budget, weeks=12, out_dir=tmp_path / "y", bounds_file=bounds
        )


@pytest.mark.filterwarnings(BLAS)
def test_pareto_over_revenue_acquisitions_and_reach(mmm_dir: Path, tmp_path: Path) -> None:
    from mixlens.allocation.pareto import non_dominated

    model = MMMResponse.from_result(MMMResult.load(mmm_dir), weeks=12)
    objectives = tmp_path / "objectives.csv"
    rows = ["channel,value_per_unit,cpm,audience"]
    for i, c in enumerate(model.channels):
        rows.append(f"{c},{20 + 30 * i},{5 + 10 * (i % 3)},{2e5 * (1 + i % 2)}")
    objectives.write_text("\n".join(rows) + "\n")
    budget = float(model.current.sum())
    summary = allocate_to_dir(
        mmm_dir, budget=budget, weeks=12, out_dir=tmp_path / "o", pareto=2,
        objectives_file=objectives,
    )  # fmt: skip
    assert "pareto_objectives.csv" in summary["files"]
    front = pd.read_csv(tmp_path / "o" / "pareto_objectives.csv")
    assert list(front.columns[:5]) == ["point", "spend", "revenue", "acquisitions", "reach"]
    assert len(front) >= 2
    np.testing.assert_allclose(front["spend"], budget, rtol=1e-6)
    assert non_dominated(front[["revenue", "acquisitions", "reach"]].to_numpy()).all()
    with pytest.raises(DataError, match="--pareto"):
        allocate_to_dir(
            mmm_dir, budget=budget, weeks=12, out_dir=tmp_path / "p", objectives_file=objectives
        )
    from typer.testing import CliRunner

    from mixlens.cli import app

    result = CliRunner().invoke(
        app, ["allocate", "--mmm", str(mmm_dir), "--weeks", "12", "--budget", str(budget),
              "--pareto", "2", "--objectives", str(objectives), "--out", str(tmp_path / "c")],
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    assert (tmp_path / "c" / "pareto_objectives.csv").exists()
    objectives.write_text("channel,value_per_unit,cpm,audience\nnope,1,1,1\n")
    with pytest.raises(DataError, match="unknown channel 'nope'"):
        allocate_to_dir(
            mmm_dir, budget=budget, weeks=12, out_dir=tmp_path / "q", pareto=2,
            objectives_file=objectives,
        )  # fmt: skip
