"""Geo MMM lift-test calibration and holdout validation.

Structure is checked on prior draws (no sampler): the model's symbolic implied lift
equals the numpy engine's, a national test is the sum of its geos' tests, a geo test is
the contribution lost when the window's spend is removed in that geo. One posterior-mode
fit (L-BFGS on the model's log posterior) checks that a tight lift test pulls the
model onto the measurement.
"""

from __future__ import annotations

import warnings
from dataclasses import replace
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pymc as pm
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from numpy.testing import assert_allclose

from mixlens.data.geo_panel import GeoPanel
from mixlens.data.simulate.mmm import MMMWorldConfig, SimulatedMMM, simulate_mmm
from mixlens.errors import DataError
from mixlens.mmm.calibration import prepare_geo_lift_tests, read_lift_tests
from mixlens.mmm.geo import ALL_GEOS, GeoMMMResult
from mixlens.mmm.geo_data import GeoMMMData
from mixlens.mmm.geo_model import build_geo_model
from mixlens.mmm.results import Diagnostics
from mixlens.mmm.run import fit_to_dir
from mixlens.mmm.spec import MMMSpec

from .conftest import prior_idata

CONTROLS = ("price", "promotion")
GEOS = ("region_1", "region_2", "region_3")


@pytest.fixture(scope="module")
def world() -> SimulatedMMM:
    return simulate_mmm(MMMWorldConfig(weeks=40, n_channels=5, regions=3), seed=4)


@pytest.fixture(scope="module")
def geo_data(world: SimulatedMMM) -> GeoMMMData:
    panel = GeoPanel.from_frame(world.weekly_channel, controls=CONTROLS)
    return GeoMMMData.from_panel(panel, MMMSpec(channels=panel.channels, controls=CONTROLS))


def lift_frame(data: GeoMMMData, **overrides: Any) -> pd.DataFrame:
    """Four tests of tv over weeks 4..11: one geo, two geos, national, each geo's pair."""
    first = data.weeks[0]
    start, end = (first + pd.Timedelta(days=28)).date(), (first + pd.Timedelta(days=80)).date()
    rows: dict[str, Any] = {
        "channel": ["tv"] * 4,
        "start": [start] * 4,
        "end": [end] * 4,
        "incremental_outcome": [4.0e4, 6.0e4, 1.0e5, 3.0e4],
        "se": [5.0e3] * 4,
        "method": ["synthetic_control"] * 4,
        "geo": ["region_2", "region_1, region_3", None, "region_1"],
    }
    rows.update(overrides)
    return pd.DataFrame(rows)


@pytest.fixture(scope="module")
def mock(geo_data: GeoMMMData) -> GeoMMMResult:
    spec = MMMSpec(channels=geo_data.base.channels, controls=CONTROLS)
    tests = prepare_geo_lift_tests(lift_frame(geo_data), geo_data)
    model = build_geo_model(geo_data, spec, lift_tests=tests, keep_lift=True)
    idata = prior_idata(model, draws=20, seed=6)
    diagnostics = Diagnostics(method="prior", sampler="prior", chains=2, draws=20, tune=0)
    return GeoMMMResult(
        idata=idata, spec=spec, data=geo_data, diagnostics=diagnostics, lift_tests=tests
    )


# ---------------------------------------------------------------------- input


def test_prepare_geo_lift_tests_masks_geos(geo_data: GeoMMMData) -> None:
    tests = prepare_geo_lift_tests(lift_frame(geo_data), geo_data)
    assert tests.n_tests == 4  # same channel and window, different geos: four tests
    assert tests.geos == ["region_2", "region_1,region_3", "", "region_1"]
    assert tests.geo_mask is not None
    assert_allclose(tests.geo_mask, [[0, 1, 1, 1], [1, 0, 1, 0], [0, 1, 1, 0]])
    assert len(set(tests.labels)) == 4 and tests.labels[0].endswith("@ region_2")
    # weeks 4..11 (days 28..80 cover 7 whole weeks and 4 days of week 11)
    assert_allclose(tests.exposure[:, 0][3:13], [0, 1, 1, 1, 1, 1, 1, 1, 4 / 7, 0])
    records = tests.to_records()
    assert records[2]["geo"] == "" and records[0]["geo"] == "region_2"
    # the records restore the same tests (as GeoMMMResult.load does)
    again = prepare_geo_lift_tests(pd.DataFrame(records), geo_data)
    assert again.geo_mask is not None
    assert_allclose(again.geo_mask, tests.geo_mask)
    # the national reader still refuses geo rows
    with pytest.raises(DataError, match="need a geo model"):
        read_lift_tests(lift_frame(geo_data))


def test_geo_lift_tests_errors_name_file_column_row(geo_data: GeoMMMData, tmp_path: Path) -> None:
    path = tmp_path / "lift_tests.csv"
    lift_frame(geo_data, geo=["region_2", "region_9", None, "region_1"]).to_csv(path, index=False)
    with pytest.raises(DataError, match="unknown geo 'region_9'") as info:
        prepare_geo_lift_tests(path, geo_data)
    assert (info.value.file, info.value.column, info.value.row) == (str(path), "geo", 2)
    # a geo in which the channel did not spend in the window cannot inform it
    spend = geo_data.spend.copy()
    spend[:, 1, 0] = 0.0
    silent = replace(geo_data, spend=spend)
    with pytest.raises(DataError, match="did not spend in the window in geo region_2") as info:
        prepare_geo_lift_tests(lift_frame(geo_data), silent)
    assert (info.value.column, info.value.row) == ("channel", 1)


def test_cli_rejects_an_unknown_geo_with_exit_2(world: SimulatedMMM, tmp_path: Path) -> None:
    from typer.testing import CliRunner

    from mixlens.cli import app

    panel = tmp_path / "weekly.csv"
    world.weekly_channel.to_csv(panel, index=False)
    data = GeoPanel.from_frame(world.weekly_channel, controls=CONTROLS)
    spec = MMMSpec(channels=data.channels, controls=CONTROLS)
    lifts = tmp_path / "lift_tests.csv"
    frame = lift_frame(GeoMMMData.from_panel(data, spec))
    frame.assign(geo=["region_2", "region_1", None, "atlantis"]).to_csv(lifts, index=False)
    args = ["mmm", "fit", str(panel), "--controls", "price,promotion", "--lift-tests", str(lifts)]
    result = CliRunner().invoke(app, [*args, "--out", str(tmp_path / "out")])
    assert result.exit_code == 2, result.output
    message = " ".join(result.output.split())
    assert "unknown geo 'atlantis'" in message and "column 'geo', row 4" in message


def test_geo_data_without_controls(world: SimulatedMMM) -> None:
    # regression: preparing a geo panel without controls reshaped an empty array and failed
    frame = world.weekly_channel.drop(columns=list(CONTROLS))
    panel = GeoPanel.from_frame(frame)
    data = GeoMMMData.from_panel(panel, MMMSpec(channels=panel.channels))
    assert data.control.shape == (40, 3, 0) and data.base.controls == ()


# ---------------------------------------------------------------------- structure


def test_likelihood_term_matches_the_engine(mock: GeoMMMResult) -> None:
    tests = mock.lift_tests
    assert tests is not None and tests.geo_mask is not None
    symbolic = mock.idata.posterior["lift_implied"].stack(s=("chain", "draw")).values.T
    scale = (tests.geo_mask * mock.data.y_scale[:, None]).sum(axis=0)
    engine = mock.implied_lifts(tests)
    assert_allclose(engine, symbolic * scale, rtol=1e-8)
    # national = sum over geos; two geos = their sum
    assert_allclose(engine[:, 2], engine[:, 0] + engine[:, 1], rtol=1e-10)
    # a geo test is the geo's contribution lost when the window's spend is removed there
    spend = mock.data.spend.copy()
    spend[:, 1, 0] *= 1.0 - tests.exposure[:, 0]
    without = replace(mock, data=replace(mock.data, spend=spend))
    roi, roi_without = mock.roi(), without.roi()
    pick = (roi["geo"] == "region_2") & (roi["channel"] == "tv")
    lost = (
        roi.loc[pick, "contribution_mean"].item()
        - roi_without.loc[pick, "contribution_mean"].item()
    )
    fit = mock.lift_fit()
    assert list(fit.columns[:3]) == ["channel", "geo", "start"]
    assert fit["model_mean"].iloc[0] == pytest.approx(lost, rel=1e-9)
    assert (fit["model_lo"] <= fit["model_hi"]).all()
    assert mock.summary()["lift_tests"][2]["geo"] == ""


@settings(
    max_examples=15, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    channel=st.integers(0, 4),
    first=st.integers(0, 30),
    days=st.integers(1, 60),
)
def test_national_lift_is_the_sum_of_geo_lifts(
    mock: GeoMMMResult, channel: int, first: int, days: int
) -> None:
    data = mock.data
    start = data.weeks[0] + pd.Timedelta(days=first)
    end = min(start + pd.Timedelta(days=days - 1), data.weeks[-1] + pd.Timedelta(days=6))
    exposure_rows = []
    for geo in [*GEOS, None]:
        exposure_rows.append(
            {
                "channel": data.base.channels[channel],
                "start": start,
                "end": end,
                "incremental_outcome": 1.0,
                "se": 1.0,
                "geo": geo,
            }
        )
    try:
        tests = prepare_geo_lift_tests(pd.DataFrame(exposure_rows), data)
    except DataError:
        return  # the channel did not spend in some geo's window: nothing to compare
    lifts = mock.implied_lifts(tests)
    assert_allclose(lifts[:, 3], lifts[:, :3].sum(axis=1), rtol=1e-9, atol=1e-9)
    assert (lifts >= -1e-9).all()  # removing spend never adds outcome (monotone response)


# ---------------------------------------------------------------------- holdout


def test_predict_reproduces_fitted_weeks(mock: GeoMMMResult, world: SimulatedMMM) -> None:
    predicted = mock.predict(world.weekly_channel)
    assert list(predicted.columns) == ["geo", "date", "actual", "mean", "lo", "hi"]
    assert list(predicted["geo"].unique()) == [*GEOS, ALL_GEOS]
    contributions = mock.contributions()
    expected = contributions.groupby(["geo", "date"], sort=False)["mean"].sum()
    got = predicted.set_index(["geo", "date"])["mean"]
    assert_allclose(got.loc[expected.index].to_numpy(), expected.to_numpy(), rtol=1e-9)
    total = predicted[predicted["geo"] == ALL_GEOS]
    assert_allclose(total["actual"].sum(), world.weekly_channel["sales"].sum())
    assert (predicted["lo"] < predicted["hi"]).all()
    # geos in another order are put in the model's order
    shuffled = world.weekly_channel.sort_values(["geo", "date"], ascending=[False, True])
    again = mock.predict(shuffled)
    assert_allclose(again["mean"], predicted["mean"], rtol=1e-12)
    with pytest.raises(DataError, match="differ from the fitted"):
        mock.predict(world.weekly_channel[world.weekly_channel["geo"] != "region_3"])


@pytest.mark.filterwarnings("ignore::mixlens.mmm.fit.ConvergenceWarning")
@pytest.mark.filterwarnings("ignore::mixlens.mmm.checks.PredictiveCheckWarning")
def test_fit_to_dir_geo_lift_tests_and_holdout(
    world: SimulatedMMM, geo_data: GeoMMMData, tmp_path: Path, mock_sample: Any
) -> None:
    lifts = tmp_path / "lift_tests.csv"
    lift_frame(geo_data).to_csv(lifts, index=False)
    frame = world.weekly_channel
    kwargs: dict[str, Any] = {"controls": CONTROLS, "draws": 10, "chains": 2, "holdout_weeks": 8}
    out = tmp_path / "fit"
    summary = fit_to_dir(frame, out_dir=out, lift_tests=lifts, **kwargs)
    assert summary["weeks"] == 32 and summary["model"] == "geo"
    assert [t["geo"] for t in summary["lift_tests"]] == [
        "region_2",
        "region_1,region_3",
        "",
        "region_1",
    ]
    assert {"measured", "se", "model_mean", "model_lo", "model_hi"} <= set(summary["lift_tests"][0])
    holdout = summary["holdout"]
    assert holdout["weeks"] == 8 and holdout["first_week"] == frame["date"].iloc[32]
    assert [m["geo"] for m in holdout["by_geo"]] == [*GEOS, ALL_GEOS]
    for metrics in [holdout, *holdout["by_geo"]]:
        assert np.isfinite(metrics["mape"]) and np.isfinite(metrics["r2"])
        assert 0 <= metrics["coverage"] <= 1
    predicted = pd.read_csv(out / "holdout.csv")
    assert list(predicted.columns) == ["geo", "date", "actual", "mean", "lo", "hi"]
    assert len(predicted) == 4 * 8 and predicted["date"].iloc[-1] == frame["date"].iloc[-1]
    parts = predicted[predicted["geo"] != ALL_GEOS].groupby("date")[["actual", "mean"]].sum()
    total = predicted[predicted["geo"] == ALL_GEOS].set_index("date")[["actual", "mean"]]
    assert_allclose(parts.to_numpy(), total.loc[parts.index].to_numpy(), rtol=1e-9)
    back = GeoMMMResult.load(out)
    assert back.lift_tests is not None and back.lift_tests.n_tests == 4
    assert_allclose(back.lift_fit()["model_mean"], [t["model_mean"] for t in summary["lift_tests"]])
    # changing the held-out weeks changes the holdout metrics, not the fit
    changed = frame.copy()
    late = pd.to_datetime(changed["date"]) >= pd.Timestamp(frame["date"].iloc[32])
    changed.loc[late, "sales"] *= 1.3
    other = fit_to_dir(changed, out_dir=tmp_path / "changed", lift_tests=lifts, **kwargs)
    assert other["roi"] == summary["roi"]
    assert other["holdout"]["mape"] != pytest.approx(holdout["mape"])
    assert other["holdout"]["r2"] != pytest.approx(holdout["r2"])


# ---------------------------------------------------------------------- calibration


@pytest.mark.slow
def test_a_tight_lift_test_pulls_the_model_onto_it() -> None:
    """Posterior mode with a geo lift test whose se is 1% of its measurement.

    The measurement is a third above the contribution the simulated truth has in the
    test's geo and window, so the data alone would not give it (the mode without the
    test implies half the measurement); the calibrated model's mode must meet it within
    5% (the mode balances the data against the test: it is not invariant under the
    model's coordinates, and in the intercepts' conditional coordinates it lies 4% low).
    (National tests reach the likelihood through the same term, the sum over geos
    checked above.) Two channels, two geos, 40 weeks and no controls keep the
    compilation short.
    """
    world = simulate_mmm(MMMWorldConfig(weeks=40, n_channels=5, regions=2), seed=2)
    drop = ("online_video", "display", "paid_search")
    frame = world.weekly_channel
    frame = frame[[c for c in frame.columns if not c.startswith(drop)]]
    panel = GeoPanel.from_frame(frame)
    spec = MMMSpec(channels=panel.channels)
    data = GeoMMMData.from_panel(panel, spec)
    truth = world.weekly_contributions
    window = (pd.Timestamp("2023-03-06"), pd.Timestamp("2023-04-30"))
    in_window = pd.to_datetime(truth["date"]).between(*window)
    tv = truth[in_window & (truth["component"] == "tv") & (truth["geo"] == "region_2")]
    measured = 1.33 * float(tv["contribution"].sum())
    lifts = pd.DataFrame(
        {
            "channel": ["tv"],
            "start": [window[0].date()],
            "end": [window[1].date()],
            "incremental_outcome": [measured],
            "se": [measured / 100],
            "geo": ["region_2"],
        }
    )
    tests = prepare_geo_lift_tests(lifts, data)
    model = build_geo_model(data, spec, lift_tests=tests, keep_lift=True)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        mode = pm.find_MAP(model=model, progressbar=False, seed=1)
    implied = float(np.asarray(mode["lift_implied"])[0]) * data.y_scale[1]
    # Tolerance: se is 1% of the measurement; the mode lies within 5 se of it.
    assert implied == pytest.approx(measured, rel=0.05)
