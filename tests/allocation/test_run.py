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
