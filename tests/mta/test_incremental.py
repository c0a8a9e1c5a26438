"""Incrementality-aware credit: lift-test reading, partial pooling, calibration, MMM."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from mixlens.data.simulate.journeys import SimulatedJourneys
from mixlens.errors import DataError
from mixlens.mta import fit_to_dir
from mixlens.mta.hazard import HazardFit, hazard_attribution
from mixlens.mta.incremental import (
    incremental_attribution,
    pooled_ratios,
    read_lift_tests,
    read_mmm_share,
)

THIRDS = (
    ("display", "paid_search_generic", "email"),
    ("online_video", "paid_search_brand", "affiliate"),
    ("social", "retargeting", "display"),
)


def lift_tests(world: SimulatedJourneys, channels: tuple[str, ...], seed: int) -> pd.DataFrame:
    """Experiments measuring the truth with noise of a stated se (15 % + 5 conversions)."""
    truth = world.channel_truth.set_index("channel")["incremental_conversions"]
    true = truth[list(channels)].to_numpy(dtype=np.float64)
    se = 0.15 * true + 5.0
    noise = np.random.default_rng(seed).normal(size=len(channels)) * se
    return pd.DataFrame(
        {"channel": list(channels), "incremental_conversions": true + noise, "se": se}
    )


def test_untested_channels_improve_too(mid_world: SimulatedJourneys, mid_fit: HazardFit) -> None:
    truth = mid_world.channel_truth.set_index("channel")["incremental_conversions"]
    before = hazard_attribution(mid_fit).credit.set_index("channel")["conversions"]
    gains = []
    for k, tested in enumerate(THIRDS):
        result = incremental_attribution(mid_fit, lift_tests=lift_tests(mid_world, tested, k))
        after = result.credit.set_index("channel")["conversions"]
        untested = [c for c in truth.index if c not in tested and c != "direct"]
        err_before = float((before[untested] - truth[untested]).abs().sum())
        err_after = float((after[untested] - truth[untested]).abs().sum())
        gains.append(err_before - err_after)
        assert set(result.meta["tested"]) <= set(tested)
        # Not an overwrite: untested channels moved with the pooled ratio.
        assert not np.allclose(after[untested], before[untested])
    assert sum(g > 0 for g in gains) >= 2 and sum(gains) > 0, gains


def test_no_calibration_is_the_hazard_credit(mid_fit: HazardFit) -> None:
    a = incremental_attribution(mid_fit).to_frame().drop(columns="model")
    b = hazard_attribution(mid_fit).to_frame().drop(columns="model")
    pd.testing.assert_frame_equal(a, b)


def test_pooling_shrinks_tests_and_moves_everyone() -> None:
    obs = np.array([100.0, 100.0, 50.0, 0.0])
    tests = pd.DataFrame(
        {
            "channel": ["a", "b", "d"],
            "incremental_conversions": [150.0, 250.0, 30.0],
            "se": [5.0, 5.0, 5.0],
        }
    )
    ratios, info = pooled_ratios(("a", "b", "c", "d"), obs, read_lift_tests(tests))
    assert info["tested"] == ["a", "b"]  # d has no observational credit to scale
    pooled = np.exp(info["mu"])
    assert info["raw_ratio"]["a"] == pytest.approx(1.5) and info["raw_ratio"]["b"] == 2.5
    # Each test is shrunk toward the common ratio, not past it.
    for k, raw in enumerate((1.5, 2.5)):
        assert min(raw, pooled) <= ratios[k] <= max(raw, pooled)
    assert 2.0 < ratios[1] < 2.5  # a precise test moves little
    assert ratios[2] == pytest.approx(pooled) and ratios[2] > 1.3  # untested channel moves
    wide = tests.assign(se=[500.0, 500.0, 500.0])
    loose, _ = pooled_ratios(("a", "b", "c", "d"), obs, read_lift_tests(wide))
    assert abs(np.log(loose[0]) - np.log(loose[2])) < abs(np.log(ratios[0]) - np.log(ratios[2]))


def test_zero_credit_channel_takes_its_test(mid_fit: HazardFit) -> None:
    tests = pd.DataFrame({"channel": ["direct"], "incremental_conversions": [7.0], "se": [1.0]})
    result = incremental_attribution(mid_fit, lift_tests=tests)
    assert result.credit.set_index("channel").loc["direct", "conversions"] == pytest.approx(7.0)
    assert result.meta["set_from_test"] == ["direct"]


def test_read_lift_tests_formats(tmp_path: Path) -> None:
    analyze = tmp_path / "lift_tests.csv"
    analyze.write_text(
        "channel,start,end,incremental_outcome,se,method\n"
        "search,2025-01-01,2025-02-01,120,10,recommended:did\n"
        "search,2025-01-01,2025-02-01,90,12,synthetic\n"
        "tv,2025-01-01,2025-02-01,40,8,synthetic\n"
        "tv,2025-01-01,2025-02-01,44,6,recommended:synthetic\n"
    )
    frame = read_lift_tests(analyze)
    assert frame[["channel", "incremental_conversions", "se"]].to_numpy().tolist() == [
        ["search", 120.0, 10.0],
        ["tv", 44.0, 6.0],
    ]
    assert frame["incremental_value"].isna().all()
    bad = tmp_path / "bad.csv"
    bad.write_text("channel,incremental_conversions,se\nsearch,10,0\n")
    with pytest.raises(DataError, match=r"bad.csv: column 'se', row 1: se must be positive"):
        read_lift_tests(bad)
    with pytest.raises(DataError, match="missing lift-test columns se"):
        read_lift_tests(pd.DataFrame({"channel": ["a"], "incremental_conversions": [1.0]}))
    with pytest.raises(DataError, match="not found"):
        read_lift_tests(tmp_path / "nope.csv")


def write_mmm(folder: Path, channel_total: float, baseline: float) -> Path:
    folder.mkdir()
    pd.DataFrame(
        {
            "channel": ["a", "b"],
            "spend": [1.0, 1.0],
            "contribution_mean": [channel_total / 2] * 2,
            "contribution_lo": [channel_total / 2 * 0.9] * 2,
            "contribution_hi": [channel_total / 2 * 1.1] * 2,
        }
    ).to_csv(folder / "roi.csv", index=False)
    pd.DataFrame(
        {
            "date": ["2025-01-06"] * 3,
            "component": ["a", "b", "baseline"],
            "mean": [channel_total / 2, channel_total / 2, baseline],
        }
    ).to_csv(folder / "contributions.csv", index=False)
    return folder


def test_mmm_moves_the_total_share(mid_fit: HazardFit, tmp_path: Path) -> None:
    mmm = read_mmm_share(write_mmm(tmp_path / "mmm", 600.0, 400.0))
    assert mmm.share == pytest.approx(0.6)
    base = incremental_attribution(mid_fit).to_frame().set_index("channel")["share"]
    cal = incremental_attribution(mid_fit, mmm=mmm).to_frame().set_index("channel")["share"]
    assert abs((1 - cal["baseline"]) - 0.6) < abs((1 - base["baseline"]) - 0.6)
    with pytest.raises(DataError, match="not found"):
        read_mmm_share(tmp_path / "missing")


def test_fit_to_dir_with_lift_tests_and_bootstrap(
    mid_world: SimulatedJourneys, tmp_path: Path
) -> None:
    world_dir = tmp_path / "world"
    mid_world.write(world_dir)
    tests = tmp_path / "tests.csv"
    lift_tests(mid_world, THIRDS[0], 0).to_csv(tests, index=False)
    summary = fit_to_dir(
        touchpoints=world_dir / "touchpoints.csv",
        conversions=world_dir / "conversions.csv",
        models=["logistic", "incremental", "markov"],
        lift_tests=tests,
        bootstrap=5,
        out_dir=tmp_path / "out",
        seed=2,
    )
    frame = pd.read_csv(tmp_path / "out" / "attribution.csv")
    assert list(frame.columns) == [
        "model",
        "channel",
        "conversions",
        "value",
        "share",
        "conversions_lo",
        "conversions_hi",
        "value_lo",
        "value_hi",
    ]
    assert frame[["conversions_lo", "conversions_hi"]].notna().all().all()
    sums = frame.groupby("model")["conversions"].sum()
    assert (sums - len(mid_world.conversions)).abs().max() < 1e-6
    written = json.loads((tmp_path / "out" / "summary.json").read_text())
    assert 0.5 < written["models"]["logistic"]["auc"] <= 1
    assert written["models"]["incremental"]["log_loss"] > 0
    assert written["models"]["incremental"]["meta"]["tested"]
    assert summary["bootstrap"] == 5
