"""Lift-test calibration: input checks, the likelihood term, and its agreement with results."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
from numpy.testing import assert_allclose
from tests.mmm.conftest import prior_idata

from mixlens.errors import DataError
from mixlens.mmm.calibration import LIFT_COLUMNS, prepare_lift_tests, read_lift_tests
from mixlens.mmm.data import MMMData
from mixlens.mmm.model import build_model
from mixlens.mmm.results import Diagnostics, MMMResult
from mixlens.mmm.run import fit_to_dir
from mixlens.mmm.spec import MMMSpec


def spending(data: MMMData) -> list[int]:
    """Channels that spend in every one of weeks 2 to 7."""
    return [i for i in range(len(data.channels)) if (data.spend[2:8, i] > 0).all()]


def lift_frame(data: MMMData, **overrides: Any) -> pd.DataFrame:
    """Two tests of two channels that spend in their windows (inside the panel)."""
    first = data.dates[0]
    a, b = spending(data)[:2]
    rows = {
        "channel": [data.channels[a], data.channels[b]],
        "start": [(first + pd.Timedelta(days=14)).date(), (first + pd.Timedelta(days=31)).date()],
        "end": [(first + pd.Timedelta(days=41)).date(), (first + pd.Timedelta(days=50)).date()],
        "incremental_outcome": [5.0e4, 2.0e4],
        "se": [1.0e4, 5.0e3],
        "method": ["synthetic_control", "did"],
    }
    rows.update(overrides)
    return pd.DataFrame(rows)


def test_read_keeps_the_first_row_per_test(data: MMMData) -> None:
    frame = lift_frame(data)
    dup = pd.concat([frame, frame.iloc[[0]].assign(method="did", se=9.0)], ignore_index=True)
    dup = dup.rename(columns={"incremental_outcome": "incremental_conversions"})
    tests = read_lift_tests(dup)
    assert list(tests.columns) == [*LIFT_COLUMNS, "spend_share", "row"]
    assert len(tests) == 2
    assert tests["method"].tolist() == ["synthetic_control", "did"]
    assert tests["se"].tolist() == [1.0e4, 5.0e3]


@pytest.mark.parametrize(
    ("overrides", "column", "row", "match"),
    [
        ({"se": [1.0, 0.0]}, "se", 2, "se must be positive"),
        ({"se": [-1.0, 1.0]}, "se", 1, "se must be positive"),
        ({"start": ["2023-01-16", "not a date"]}, "start", 2, "not a date"),
        ({"end": ["2020-01-01", "2020-02-01"]}, "end", 1, "after end"),
        ({"incremental_outcome": [1.0, float("nan")]}, "incremental_outcome", 2, "finite"),
        ({"geo": [None, "region_1"]}, "geo", 2, "geo model or a spend_share"),
        ({"geo": ["a,b", None], "spend_share": [1.5, None]}, "spend_share", 1, r"\(0, 1\]"),
    ],
)
def test_read_rejects_bad_rows(
    data: MMMData, tmp_path: Path, overrides: dict[str, Any], column: str, row: int, match: str
) -> None:
    path = tmp_path / "lift_tests.csv"
    lift_frame(data, **overrides).to_csv(path, index=False)
    with pytest.raises(DataError, match=match) as info:
        read_lift_tests(path)
    assert (info.value.file, info.value.column, info.value.row) == (str(path), column, row)


def test_spend_share_scales_a_geo_holdout_read_nationally(data: MMMData) -> None:
    """A holdout of geos holding 40% of the market is 40% of the national switch-off's lift."""
    whole = prepare_lift_tests(lift_frame(data), data)
    partial = prepare_lift_tests(
        lift_frame(data, geo=["G1,G2", None], spend_share=[0.4, None]), data
    )
    assert partial.frame["spend_share"].tolist() == [0.4, 1.0]
    assert_allclose(partial.exposure[:, 0], whole.exposure[:, 0])
    assert_allclose(partial.share, [0.4, 1.0])
    assert_allclose(partial.exposure[:, 1], whole.exposure[:, 1])


def test_read_rejects_missing_columns_and_files(data: MMMData, tmp_path: Path) -> None:
    with pytest.raises(DataError, match="missing lift-test columns se"):
        read_lift_tests(lift_frame(data).drop(columns="se"))
    with pytest.raises(DataError, match="not found"):
        read_lift_tests(tmp_path / "nope.csv")


def test_prepare_aligns_windows_with_weeks(data: MMMData) -> None:
    tests = prepare_lift_tests(lift_frame(data), data)
    assert tests.channel_index.tolist() == spending(data)[:2]
    # test 1: days 14..41 = weeks 2..5 exactly; test 2: days 31..50 = 4/7 of week 4 .. 1/7 of week 7
    assert_allclose(tests.exposure[:, 0][:8], [0, 0, 1, 1, 1, 1, 0, 0])
    assert_allclose(tests.exposure[:, 1][:8], [0, 0, 0, 0, 4 / 7, 1, 1, 2 / 7])
    assert tests.exposure[8:].sum() == 0
    assert tests.labels[0].startswith(f"{data.channels[spending(data)[0]]} ")


def test_prepare_rejects_unknown_channels_and_windows(data: MMMData) -> None:
    with pytest.raises(DataError, match="unknown channel 'radio_x'") as info:
        first = data.channels[spending(data)[0]]
        prepare_lift_tests(lift_frame(data, channel=[first, "radio_x"]), data)
    assert (info.value.column, info.value.row) == ("channel", 2)
    late = (data.dates[-1] + pd.Timedelta(days=7)).date()
    with pytest.raises(DataError, match="outside the panel") as info:
        prepare_lift_tests(lift_frame(data, end=[late, late]), data)
    assert (info.value.column, info.value.row) == ("end", 1)
    channel, week = next(
        (c, w) for c in range(data.spend.shape[1]) for w in np.flatnonzero(data.spend[:, c] == 0)
    )
    day = data.dates[week]
    silent = (
        lift_frame(data)
        .iloc[[0]]
        .assign(channel=data.channels[channel], start=day, end=day + pd.Timedelta(days=6))
    )
    with pytest.raises(DataError, match="did not spend in the window"):
        prepare_lift_tests(silent, data)


def test_likelihood_term_matches_the_results(data: MMMData, spec: MMMSpec) -> None:
    tests = prepare_lift_tests(lift_frame(data), data)
    model = build_model(data, spec, lift_tests=tests, keep_mu=True)
    assert "lift" in {v.name for v in model.observed_RVs}
    assert model.named_vars_to_dims["lift"] == ("lift_test",)
    idata = prior_idata(model, draws=10, seed=4)
    result = MMMResult(
        idata=idata,
        spec=spec,
        data=data,
        diagnostics=Diagnostics(method="prior", sampler="prior", chains=2, draws=10, tune=0),
        lift_tests=tests,
    )
    symbolic = idata.posterior["lift_implied"].stack(s=("chain", "draw")).values.T
    engine = result._engine.implied_lifts(tests.channel_index, tests.exposure)
    assert_allclose(engine, symbolic * data.y_scale, rtol=1e-9)
    # ... and equals the contribution lost when the window's spend is removed
    c = int(tests.channel_index[0])
    spend = data.spend.copy()
    spend[:, c] *= 1.0 - tests.exposure[:, 0]
    without = replace(result, data=replace(data, spend=spend))
    lost = result.roi()["contribution_mean"].iloc[c] - without.roi()["contribution_mean"].iloc[c]
    fit = result.lift_fit()
    assert fit["model_mean"].iloc[0] == pytest.approx(lost, rel=1e-9)
    assert list(fit.columns[:6]) == ["channel", "start", "end", "method", "measured", "se"]
    assert (fit["model_lo"] <= fit["model_hi"]).all()


@pytest.mark.filterwarnings("ignore::mixlens.mmm.fit.ConvergenceWarning")
@pytest.mark.filterwarnings("ignore::mixlens.mmm.checks.PredictiveCheckWarning")
def test_fit_to_dir_with_lift_tests_and_holdout(
    panel: pd.DataFrame, data: MMMData, mock_sample: Callable[..., Any], tmp_path: Path
) -> None:
    path = tmp_path / "lift_tests.csv"
    lift_frame(data).to_csv(path, index=False)
    out = tmp_path / "mmm"
    summary = fit_to_dir(
        panel,
        controls=["price", "promotion"],
        out_dir=out,
        draws=20,
        chains=2,
        lift_tests=path,
        holdout_weeks=8,
    )
    assert [t["channel"] for t in summary["lift_tests"]] == lift_frame(data)["channel"].tolist()
    assert {"measured", "se", "model_mean", "model_lo", "model_hi"} <= set(summary["lift_tests"][0])
    holdout = summary["holdout"]
    assert holdout["weeks"] == 8 and 0 <= holdout["coverage"] <= 1
    assert holdout["mape"] > 0 and np.isfinite(holdout["r2"])
    assert summary["weeks"] == data.n_weeks - 8
    predicted = pd.read_csv(out / "holdout.csv")
    assert list(predicted.columns) == ["date", "actual", "mean", "lo", "hi"]
    assert predicted["date"].iloc[-1] == panel["date"].iloc[-1]
    back = MMMResult.load(out)
    assert back.lift_tests is not None and back.lift_tests.n_tests == 2
    with pytest.raises(DataError, match="keep at least 26"):
        fit_to_dir(panel, out_dir=out, draws=5, chains=1, holdout_weeks=len(panel) - 10)


def test_predict_reproduces_fitted_weeks(mock_result: MMMResult, panel: pd.DataFrame) -> None:
    predicted = mock_result.predict(panel)
    mu = mock_result.idata.posterior["mu"].mean(("chain", "draw")).to_numpy()
    assert_allclose(predicted["mean"], mu * mock_result.data.y_scale, rtol=1e-10)
    assert_allclose(predicted["actual"], panel["sales"])
    assert (predicted["lo"] < predicted["hi"]).all()
