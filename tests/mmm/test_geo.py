"""The geo MMM: panel validation, model structure on prior draws, files, and recovery.

Structure and files are checked on prior draws (no sampler); recovery runs one short
nutpie fit on a small simulated 3-region world, whose regions share the national
response curves per capita, so every region's true ROI is close to the national one.
"""

from __future__ import annotations

import warnings
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
from numpy.testing import assert_allclose

from mixlens.data.geo_panel import GeoPanel, load_geo_panel
from mixlens.data.simulate.mmm import MMMWorldConfig, SimulatedMMM, simulate_mmm
from mixlens.errors import DataError
from mixlens.mmm.fit import ConvergenceWarning
from mixlens.mmm.geo import ALL_GEOS, GeoMMM, GeoMMMResult
from mixlens.mmm.geo_data import GeoMMMData
from mixlens.mmm.geo_model import build_geo_model
from mixlens.mmm.results import Diagnostics
from mixlens.mmm.run import fit_to_dir
from mixlens.mmm.spec import MMMSpec

from .conftest import prior_idata

CONTROLS = ("price", "promotion")


@pytest.fixture(scope="module")
def geo_world() -> SimulatedMMM:
    return simulate_mmm(MMMWorldConfig(weeks=52, n_channels=5, regions=3), seed=2)


@pytest.fixture(scope="module")
def geo_panel(geo_world: SimulatedMMM) -> GeoPanel:
    return GeoPanel.from_frame(geo_world.weekly_channel, controls=CONTROLS)


@pytest.fixture(scope="module")
def geo_spec(geo_panel: GeoPanel) -> MMMSpec:
    return MMMSpec(channels=geo_panel.channels, controls=CONTROLS)


@pytest.fixture(scope="module")
def geo_mock(geo_panel: GeoPanel, geo_spec: MMMSpec) -> GeoMMMResult:
    data = GeoMMMData.from_panel(geo_panel, geo_spec)
    model = build_geo_model(data, geo_spec)
    idata = prior_idata(model, draws=30, seed=5)
    diagnostics = Diagnostics(method="prior", sampler="prior", chains=2, draws=30, tune=0)
    return GeoMMMResult(idata=idata, spec=geo_spec, data=data, diagnostics=diagnostics)


# ---------------------------------------------------------------------- panel validation


def test_geo_panel_arrays(geo_world: SimulatedMMM, geo_panel: GeoPanel) -> None:
    frame = geo_world.weekly_channel
    assert geo_panel.geos == ("region_1", "region_2", "region_3")
    assert geo_panel.spend.shape == (52, 3, 5)
    assert_allclose(geo_panel.y.sum(), frame["sales"].sum())
    national = geo_panel.national()
    assert_allclose(national["tv_spend"].sum(), frame["tv_spend"].sum())
    # rows point back at the source: geo 2's first week
    row = int(geo_panel.rows[0, 1])
    assert frame["geo"].iloc[row - 1] == "region_2"


def test_geo_panel_errors_name_file_column_row(geo_world: SimulatedMMM, tmp_path: Path) -> None:
    frame = geo_world.weekly_channel
    with pytest.raises(DataError, match="at least 2 geos"):
        GeoPanel.from_frame(frame[frame["geo"] == "region_1"], controls=CONTROLS)
    bad = frame.copy()
    bad.loc[bad["geo"] == "region_3", "sales"] = 0.0
    first = int(np.flatnonzero(bad["geo"] == "region_3")[0]) + 1
    csv = tmp_path / "geo.csv"
    bad.to_csv(csv, index=False)
    with pytest.raises(DataError) as info:
        load_geo_panel(csv, controls=CONTROLS)
    assert (info.value.file, info.value.column, info.value.row) == (str(csv), "sales", first)
    bad = frame.copy()
    bad.loc[7, "tv_spend"] = -1.0
    with pytest.raises(DataError) as info:
        GeoPanel.from_frame(bad, controls=CONTROLS)
    assert (info.value.column, info.value.row) == ("tv_spend", 8)
    with pytest.raises(DataError, match="needs a 'geo' column"):
        GeoPanel.from_frame(frame.drop(columns="geo"))


# ---------------------------------------------------------------------- structure


def test_geo_totals_are_sums_over_geos(geo_mock: GeoMMMResult) -> None:
    roi = geo_mock.roi()
    assert set(roi["geo"]) == {*geo_mock.geos, ALL_GEOS}
    per_geo = roi[roi["geo"] != ALL_GEOS].groupby("channel")[["spend", "contribution_mean"]].sum()
    total = roi[roi["geo"] == ALL_GEOS].set_index("channel")
    assert_allclose(per_geo["spend"], total["spend"].loc[per_geo.index])
    assert_allclose(
        per_geo["contribution_mean"], total["contribution_mean"].loc[per_geo.index], rtol=1e-9
    )
    assert (total["roi_lo"] <= total["roi_hi"]).all()
    contributions = geo_mock.contributions()
    assert list(contributions.columns) == ["geo", "date", "component", "mean", "lo", "hi"]
    means = contributions.groupby(["geo", "component", "date"])["mean"].sum()
    summed = means.drop(ALL_GEOS, level="geo").groupby(level=["component", "date"]).sum()
    assert_allclose(summed.to_numpy(), means.loc[ALL_GEOS].loc[summed.index].to_numpy())
    # contributions add up to the channel totals of roi
    tv = contributions[(contributions["geo"] == ALL_GEOS) & (contributions["component"] == "tv")]
    assert_allclose(tv["mean"].sum(), total.loc["tv", "contribution_mean"], rtol=1e-9)


def test_geo_response_curve_and_params(geo_mock: GeoMMMResult) -> None:
    grid = np.array([0.0, 1e3, 1e4, 1e5])
    total = geo_mock.response_curve("tv", grid)
    assert total["mean"].iloc[0] == 0.0
    assert np.all(np.diff(total["mean"]) > 0)
    one = geo_mock.response_curve("tv", grid, geo="region_1")
    assert one["mean"].iloc[-1] > 0
    with pytest.raises(KeyError, match="unknown geo"):
        geo_mock.response_curve("tv", grid, geo="mars")
    params = geo_mock.params()
    assert list(params.columns) == ["geo", "channel", "parameter", "mean", "lo", "hi"]
    assert {"roi", "roi_geo_sd", "theta"} <= set(params.loc[params["geo"] == ALL_GEOS, "parameter"])
    assert {"roi", "beta", "half_saturation"} <= set(
        params.loc[params["geo"] == "region_1", "parameter"]
    )


@pytest.mark.filterwarnings("ignore::mixlens.mmm.fit.ConvergenceWarning")
@pytest.mark.filterwarnings("ignore::mixlens.mmm.checks.PredictiveCheckWarning")
def test_geo_fit_to_dir_writes_files_and_reloads(
    geo_world: SimulatedMMM, tmp_path: Path, mock_sample: Any
) -> None:
    csv = tmp_path / "weekly.csv"
    geo_world.weekly_channel.to_csv(csv, index=False)
    out = tmp_path / "fit"
    summary = fit_to_dir(csv, controls=CONTROLS, out_dir=out, draws=15, chains=2)
    names = {p.name for p in out.iterdir()}
    assert {"roi.csv", "contributions.csv", "params.csv", "response_curves.csv"} <= names
    assert {"posterior.nc", "spec.json", "summary.json"} <= names
    assert summary["model"] == "geo" and summary["geos"] == ["region_1", "region_2", "region_3"]
    roi = pd.read_csv(out / "roi.csv")
    assert list(roi.columns[:2]) == ["geo", "channel"] and len(roi) == 4 * 5
    curves = pd.read_csv(out / "response_curves.csv")
    assert set(curves["geo"]) == {"region_1", "region_2", "region_3", ALL_GEOS}
    loaded = GeoMMMResult.load(out)
    assert loaded.geos == ("region_1", "region_2", "region_3")
    assert_allclose(loaded.roi()["roi_mean"], roi["roi_mean"], rtol=1e-6)
    assert summary["holdout"] is None and summary["lift_tests"] == []


@pytest.mark.filterwarnings("ignore::mixlens.mmm.fit.ConvergenceWarning")
@pytest.mark.filterwarnings("ignore::mixlens.mmm.checks.PredictiveCheckWarning")
def test_cli_detects_geo_column(geo_world: SimulatedMMM, tmp_path: Path, mock_sample: Any) -> None:
    from typer.testing import CliRunner

    from mixlens.cli import app

    csv = tmp_path / "weekly.csv"
    geo_world.weekly_channel.to_csv(csv, index=False)
    out = tmp_path / "fit"
    args = ["mmm", "fit", str(csv), "--controls", "price,promotion", "--out", str(out)]
    result = CliRunner().invoke(app, [*args, "--draws", "10", "--chains", "2"])
    assert result.exit_code == 0, result.output
    assert "geo" in pd.read_csv(out / "roi.csv").columns
    bad = geo_world.weekly_channel.copy()
    bad.loc[bad["geo"] == "region_2", "sales"] = 0.0
    bad.to_csv(csv, index=False)
    result = CliRunner().invoke(app, [*args, "--draws", "10", "--chains", "2"])
    assert result.exit_code == 2
    assert "column 'sales', row 53" in " ".join(result.output.split())


# ---------------------------------------------------------------------- recovery


@pytest.mark.slow
def test_geo_recovers_total_media_and_roi() -> None:
    world = simulate_mmm(MMMWorldConfig(weeks=52, n_channels=5, regions=2), seed=2)
    panel = GeoPanel.from_frame(world.weekly_channel, controls=CONTROLS)
    spec = MMMSpec(channels=panel.channels, controls=CONTROLS)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)  # short chains: ESS is low
        result = GeoMMM(spec).fit(panel, draws=100, tune=150, chains=2, seed=1)
    truth = world.roi.set_index("channel")
    roi = result.roi()
    total = roi[roi["geo"] == ALL_GEOS].set_index("channel").loc[truth.index]
    true_media = float(truth["contribution"].sum())
    # Tolerance: a year of 2 regions, 200 draws; total media within 30% of the truth,
    # and the true ROI inside the 90% interval for at least 4 of 5 channels.
    assert abs(total["contribution_mean"].sum() - true_media) / true_media < 0.3
    covered = (total["roi_lo"] <= truth["roi"]) & (truth["roi"] <= total["roi_hi"])
    assert covered.sum() >= 4
