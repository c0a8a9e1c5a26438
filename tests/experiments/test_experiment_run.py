from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from mixlens.data.simulate.geo_experiment import GeoExperimentConfig, simulate_geo_experiment
from mixlens.errors import DataError
from mixlens.experiments import analyze_to_dir, choose_treated, minimum_detectable_effect


def test_geo_end_to_end(tmp_path: Path) -> None:
    sim = simulate_geo_experiment(GeoExperimentConfig(geos=30, treated=8), seed=21)
    sim.write(tmp_path / "world")
    seen: list[str] = []
    summary = analyze_to_dir(
        tmp_path / "world" / "panel.csv",
        treated=sim.treated,
        start=sim.start,
        end=sim.end,
        out_dir=tmp_path / "out",
        progress=lambda stage, frac: seen.append(stage),
    )
    lift = pd.read_csv(tmp_path / "out" / "lift_tests.csv")
    assert list(lift.columns) == [
        "channel", "start", "end", "incremental_outcome", "se", "method", "geo", "spend_share"
    ]  # fmt: skip
    # The treated geos and their share of the channel's spend, so the MMM scales the test.
    assert (lift["geo"] == ",".join(sim.treated)).all()
    assert lift["spend_share"].between(0, 1, inclusive="neither").all()
    assert lift["method"].tolist()[0].startswith("recommended:")
    assert lift["method"].tolist()[1:] == ["did", "synthetic_control", "bayesian_ts"]
    assert (lift["channel"] == "tv").all() and (lift["start"] == sim.start).all()
    # Holdout: incremental outcome is positive and near the truth.
    rec = lift.iloc[0]
    assert rec["incremental_outcome"] > 0
    assert abs(rec["incremental_outcome"] - sim.incremental_outcome) < 3 * rec["se"]
    on_disk = json.loads((tmp_path / "out" / "summary.json").read_text())
    assert on_disk["recommendation"]["method"] == summary["recommendation"]["method"]
    assert on_disk["direction"] == "holdout" and seen[-1] == "done"
    panel = sim.panel[sim.panel["date"] < sim.start]
    share = panel.loc[panel["geo"].isin(sim.treated), "tv_spend"].sum() / panel["tv_spend"].sum()
    assert on_disk["treated_spend_share"] == pytest.approx(share)
    cf = pd.read_csv(tmp_path / "out" / "counterfactual.csv")
    assert set(cf["method"]) == {"did", "synthetic_control", "bayesian_ts"}
    placebos = pd.read_csv(tmp_path / "out" / "placebos.csv")
    assert list(placebos.columns) == ["method", "placebo", "relative_error"]
    counts = placebos.groupby("method").size()
    assert counts["synthetic_control"] == 100 and counts["did"] >= 2
    # No effect in placebos: centred near zero, and smaller than this holdout's effect.
    sc = placebos.loc[placebos["method"] == "synthetic_control", "relative_error"]
    assert abs(sc.median()) < 0.05
    assert abs(summary["methods"]["synthetic_control"]["relative"]) > sc.abs().median()
    # Same inputs, same seed: byte-identical outputs.
    analyze_to_dir(
        tmp_path / "world" / "panel.csv",
        treated=sim.treated,
        start=sim.start,
        end=sim.end,
        out_dir=tmp_path / "again",
    )
    for name in ("lift_tests.csv", "summary.json", "counterfactual.csv", "placebos.csv"):
        assert (tmp_path / "out" / name).read_bytes() == (tmp_path / "again" / name).read_bytes()


def test_geo_errors_name_the_file(tmp_path: Path) -> None:
    sim = simulate_geo_experiment(GeoExperimentConfig(geos=8, treated=2, weeks=30), seed=1)
    sim.write(tmp_path)
    panel = tmp_path / "panel.csv"
    with pytest.raises(DataError, match=rf"^{panel}: column 'geo': treated: unknown geo 'nowhere'"):
        analyze_to_dir(panel, treated=["nowhere"], start=sim.start, end=sim.end, out_dir=tmp_path)
    with pytest.raises(DataError, match="needs --treated, --start and --end"):
        analyze_to_dir(panel, treated=sim.treated, out_dir=tmp_path)
    with pytest.raises(DataError, match="not both or neither"):
        analyze_to_dir(None, out_dir=tmp_path)


def test_ab_end_to_end(tmp_path: Path) -> None:
    rng = np.random.default_rng(0)
    n = 4000
    group = np.where(np.arange(n) < n // 2, "treatment", "control")
    converted = rng.uniform(size=n) < np.where(group == "treatment", 0.06, 0.05)
    frame = pd.DataFrame(
        {
            "user_id": [f"u{i}" for i in range(n)],
            "group": group,
            "converted": converted.astype(int),
            "value": converted * rng.gamma(2.0, 20.0, n),
            "cost": np.where(group == "treatment", 0.5, 0.0),
        }
    )
    frame.to_csv(tmp_path / "ab.csv", index=False)
    summary = analyze_to_dir(
        None, ab=tmp_path / "ab.csv", start="2024-01-01", end="2024-01-31", out_dir=tmp_path / "o"
    )
    lift = pd.read_csv(tmp_path / "o" / "lift_tests.csv")
    assert list(lift.columns) == [
        "channel",
        "start",
        "end",
        "incremental_conversions",
        "se",
        "method",
    ]
    assert lift["incremental_conversions"].iloc[0] == pytest.approx(
        summary["incremental_conversions"]
    )
    metrics = pd.read_csv(tmp_path / "o" / "ab_metrics.csv")
    assert "incremental_roas" in set(metrics["metric"])


def test_ab_bad_group(tmp_path: Path) -> None:
    frame = pd.DataFrame(
        {
            "user_id": ["a", "b", "c"],
            "group": ["treatment", "control", "B"],
            "converted": [0, 1, 0],
            "value": [0.0, 1.0, 0.0],
        }
    )
    frame.to_csv(tmp_path / "ab.csv", index=False)
    with pytest.raises(DataError, match=r"ab.csv: column 'group', row 3: unknown group 'B'"):
        analyze_to_dir(None, ab=tmp_path / "ab.csv", out_dir=tmp_path / "o")


def test_design_mde_and_choice() -> None:
    sim = simulate_geo_experiment(GeoExperimentConfig(effect=0.0), seed=5)
    history = sim.panel
    choice = choose_treated(history, 10, draws=100, seed=1)
    assert len(choice.treated) == 10 and choice.imbalance > 0
    assert choice == choose_treated(history, 10, draws=100, seed=1)
    mde = minimum_detectable_effect(history, treated=choice.treated, length=8)
    sc = minimum_detectable_effect(
        history, treated=choice.treated, length=8, method="synthetic_control", max_windows=20
    )
    assert 0 < sc.relative < 0.2 and 0 < mde.relative < 0.3
    assert mde.absolute > 0 and "placebo windows" in mde.approach
    with pytest.raises(DataError, match="unknown geo"):
        minimum_detectable_effect(history, treated=["nope"], length=8)
    with pytest.raises(DataError, match="n_treated=39"):
        choose_treated(history, 39)


def test_report_section_from_an_analysis(tmp_path: Path) -> None:
    from mixlens.report.experiments import experiment_section
    from mixlens.report.html import render_report

    sim = simulate_geo_experiment(GeoExperimentConfig(geos=20, treated=5), seed=4)
    summary = analyze_to_dir(
        sim.panel, treated=sim.treated, start=sim.start, end=sim.end, out_dir=tmp_path
    )
    section = experiment_section(
        summary,
        pd.read_csv(tmp_path / "counterfactual.csv"),
        true_incremental=sim.incremental_outcome,
        placebos=pd.read_csv(tmp_path / "placebos.csv"),
    )
    page = render_report([section])
    # Treated vs counterfactual, estimate with interval per method, placebo distribution.
    assert page.count("<svg") >= 3
    for method in ("did", "synthetic_control", "bayesian_ts"):
        assert method in page
    assert summary["recommendation"]["method"] in page
