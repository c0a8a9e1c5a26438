"""Media input of the MMM (spend, impressions or clicks): spec, data, results, CLI.

Whatever the input, ROI, marginal ROI and response curves are in spend units: the units
are converted to spend at the channel's cost per unit over the fitted weeks.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from numpy.testing import assert_allclose
from typer.testing import CliRunner

from mixlens.allocation.response import MMMResponse
from mixlens.cli import app
from mixlens.data.geo_panel import GeoPanel
from mixlens.data.simulate.mmm import MMMWorldConfig, SimulatedMMM, simulate_mmm
from mixlens.errors import DataError
from mixlens.mmm.data import MMMData, resolve_media_input
from mixlens.mmm.geo_data import GeoMMMData
from mixlens.mmm.model import build_model
from mixlens.mmm.results import Diagnostics, MMMResult
from mixlens.mmm.spec import MMMSpec

from .conftest import prior_idata

CONTROLS = ("price", "promotion")


@pytest.fixture(scope="module")
def imp_spec(world: SimulatedMMM) -> MMMSpec:
    return MMMSpec(
        channels=tuple(world.roi["channel"]), controls=CONTROLS, media_input="impressions"
    )


@pytest.fixture(scope="module")
def imp_result(panel: pd.DataFrame, imp_spec: MMMSpec) -> MMMResult:
    data = MMMData.from_panel(panel, imp_spec)
    idata = prior_idata(build_model(data, imp_spec), draws=30, seed=11)
    diagnostics = Diagnostics(method="prior", sampler="prior", chains=2, draws=30, tune=0)
    return MMMResult(idata=idata, spec=imp_spec, data=data, diagnostics=diagnostics)


# ---------------------------------------------------------------------------------- spec


def test_spec_media_input_round_trips_and_checks() -> None:
    mixed = MMMSpec(channels=("tv", "search"), media_input={"search": "clicks"})
    assert mixed.channel_media_input("search") == "clicks"
    assert mixed.channel_media_input("tv") == "spend"  # channels left out stay on spend
    back = MMMSpec.from_dict(json.loads(json.dumps(mixed.to_dict())))
    assert back == mixed and hash(back) == hash(mixed)
    assert MMMSpec.from_dict(MMMSpec(channels=("tv",), media_input="auto").to_dict()).media_input
    old = MMMSpec(channels=("tv",)).to_dict()
    del old["media_input"]
    assert MMMSpec.from_dict(old).media_input == "spend"  # saved before the option: spend
    with pytest.raises(ValueError, match="media_input must be one of"):
        MMMSpec(channels=("tv",), media_input="views")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="unknown channels radio"):
        MMMSpec(channels=("tv",), media_input={"radio": "impressions"})
    with pytest.raises(KeyError):
        mixed.channel_media_input("radio")


# ---------------------------------------------------------------------------------- data


def test_spend_input_is_unchanged(panel: pd.DataFrame, spec: MMMSpec, data: MMMData) -> None:
    assert data.media_inputs == ("spend",) * len(spec.channels)
    assert_allclose(data.media, data.spend / data.media_scale, rtol=0, atol=0)


def test_impressions_keep_spend_totals(panel: pd.DataFrame, imp_spec: MMMSpec) -> None:
    data = MMMData.from_panel(panel, imp_spec)
    assert data.media_inputs == ("impressions",) * len(imp_spec.channels)
    impressions = panel[[f"{c}_impressions" for c in imp_spec.channels]].to_numpy(float)
    assert_allclose(data.media_units, impressions)
    # spend-equivalent media: shape of the impressions, totals of the spend
    assert_allclose(data.spend_equivalent.sum(axis=0), data.spend.sum(axis=0), rtol=1e-12)
    media = data.media
    assert_allclose([media[media[:, c] > 0, c].mean() for c in range(media.shape[1])], 1.0)
    assert not np.allclose(media, data.spend / data.spend[data.spend > 0].mean())


@settings(max_examples=25, deadline=None)
@given(
    weeks=st.integers(8, 30),
    cost=st.floats(1e-4, 1e3),
    seed=st.integers(0, 2**16),
)
def test_constant_cost_per_unit_gives_the_spend_model(weeks: int, cost: float, seed: int) -> None:
    """With one price per unit, impressions and spend are the same model input."""
    rng = np.random.default_rng(seed)
    spend = rng.gamma(2.0, 50.0, weeks) * (rng.random(weeks) > 0.3)
    spend[0] = 10.0
    frame = pd.DataFrame(
        {
            "date": pd.date_range("2024-01-01", periods=weeks, freq="7D"),
            "sales": rng.gamma(5.0, 100.0, weeks),
            "tv_spend": spend,
            "tv_impressions": spend / cost,
        }
    )
    on_spend = MMMData.from_panel(frame, MMMSpec(channels=("tv",)))
    on_units = MMMData.from_panel(frame, MMMSpec(channels=("tv",), media_input="impressions"))
    assert on_units.cost_per_unit is not None
    assert on_units.cost_per_unit[0] == pytest.approx(cost, rel=1e-9)
    assert_allclose(on_units.media, on_spend.media, rtol=1e-9, atol=1e-12)
    assert_allclose(on_units.media_scale, on_spend.media_scale, rtol=1e-9)


def test_auto_takes_impressions_where_usable(panel: pd.DataFrame, spec: MMMSpec) -> None:
    first, second = spec.channels[:2]
    frame = panel.drop(columns=[f"{first}_impressions"])
    frame[f"{second}_impressions"] = frame[f"{second}_impressions"].astype(float)
    frame.loc[3, f"{second}_impressions"] = np.nan  # incomplete: not usable
    auto = replace(spec, media_input="auto")
    inputs = resolve_media_input(auto, frame)
    assert inputs[:2] == ("spend", "spend")
    assert set(inputs[2:]) == {"impressions"}
    assert MMMData.from_panel(frame, auto).media_inputs == inputs


def test_bad_units_raise_data_errors(panel: pd.DataFrame, spec: MMMSpec) -> None:
    channel = spec.channels[0]
    on_clicks = replace(spec, media_input={channel: "clicks"})
    with pytest.raises(DataError, match=f"no '{channel}_clicks' column") as missing:
        MMMData.from_panel(panel.drop(columns=[f"{channel}_clicks"]), on_clicks)
    assert missing.value.column == f"{channel}_clicks"
    frame = panel.copy()
    frame[f"{channel}_clicks"] = frame[f"{channel}_clicks"].astype(float)
    frame.loc[4, f"{channel}_clicks"] = np.nan
    with pytest.raises(DataError, match="present and non-negative") as gap:
        MMMData.from_panel(frame, on_clicks)
    assert gap.value.row == 5
    frame[f"{channel}_clicks"] = 0.0
    with pytest.raises(DataError, match="has no clicks"):
        MMMData.from_panel(frame, on_clicks)


def test_dataset_round_trip_keeps_the_media(panel: pd.DataFrame, imp_spec: MMMSpec) -> None:
    data = MMMData.from_panel(panel, replace(imp_spec, media_input={"tv": "clicks"}))
    back = MMMData.from_dataset(data.to_dataset())
    assert back.media_inputs == data.media_inputs
    assert back.media_inputs[list(data.channels).index("tv")] == "clicks"
    assert_allclose(back.media, data.media)
    legacy = data.to_dataset().drop_vars(["media_input", "media_units", "cost_per_unit"])
    old = MMMData.from_dataset(legacy)  # saved before the option: spend
    assert old.media_inputs == ("spend",) * len(data.channels)
    assert_allclose(old.media, data.spend / data.media_scale)


def test_holdout_uses_the_fitted_cost_per_unit(panel: pd.DataFrame, imp_spec: MMMSpec) -> None:
    fitted = MMMData.from_panel(panel.iloc[:40], imp_spec)
    whole = MMMData.from_panel(panel, imp_spec, reference=fitted)
    assert_allclose(whole.cost_per_unit, fitted.cost_per_unit)
    assert_allclose(whole.media[:40], fitted.media)
    with pytest.raises(DataError, match="media inputs"):
        MMMData.from_panel(panel, replace(imp_spec, media_input="spend"), reference=fitted)


# ------------------------------------------------------------------------------- results


def test_roi_and_curves_stay_in_spend_units(imp_result: MMMResult) -> None:
    roi = imp_result.roi()
    assert_allclose(roi["spend"], imp_result.data.spend.sum(axis=0))
    # the roi parameter (on spend) is the contributions' ROI, draw by draw
    params = imp_result.params()
    roi_param = params[params["parameter"] == "roi"].set_index("channel")["mean"]
    assert_allclose(roi_param.loc[roi["channel"]].to_numpy(), roi["roi_mean"], rtol=1e-9)
    # a response curve at weekly spend s is the steady state of s / cost_per_unit units
    data = imp_result.data
    assert data.cost_per_unit is not None and data.media_units is not None
    c, spend_level = 1, 2.0 * float(data.spend[:, 1].mean())
    curve = imp_result.response_curve(data.channels[c], [spend_level])
    units = data.media_units.copy()
    units[:, c] = spend_level / data.cost_per_unit[c]
    steady = replace(imp_result, data=replace(data, media_units=units)).contributions()
    weekly = steady[steady["component"] == data.channels[c]]["mean"].to_numpy()
    l_max = imp_result.spec.adstock.l_max
    assert_allclose(weekly[l_max:], curve["mean"].iloc[0], rtol=1e-9)


def test_mroi_matches_finite_difference_on_units(imp_result: MMMResult) -> None:
    """Marginal ROI: spend up by a factor, units up by the same factor (fixed cost)."""
    eps = 1e-6
    data = imp_result.data
    assert data.media_units is not None
    bumped = replace(
        imp_result,
        data=replace(data, spend=data.spend * (1 + eps), media_units=data.media_units * (1 + eps)),
    )
    base, up = imp_result.roi(), bumped.roi()
    fd = (up["contribution_mean"] - base["contribution_mean"]) / (eps * base["spend"])
    assert_allclose(fd, base["mroi_mean"], rtol=1e-4)


def test_save_load_and_allocation_keep_the_choice(imp_result: MMMResult, tmp_path: Path) -> None:
    imp_result.save(tmp_path)
    back = MMMResult.load(tmp_path)
    assert back.spec == imp_result.spec
    assert back.data.media_inputs == imp_result.data.media_inputs
    pd.testing.assert_frame_equal(back.roi(), imp_result.roi())
    grid = [0.0, 1e3, 1e4]
    channel = imp_result.spec.channels[0]
    pd.testing.assert_frame_equal(
        back.response_curve(channel, grid), imp_result.response_curve(channel, grid)
    )
    # allocation's response model plans in spend: finite, and more spend buys more
    response = MMMResponse.from_result(back, weeks=26)
    assert_allclose(response.current, back.data.spend[-26:].sum(axis=0))
    at_current = response.contributions(response.current)
    more = response.contributions(response.current * 1.2)
    assert np.isfinite(at_current).all() and (more >= at_current).all()


@pytest.mark.filterwarnings("ignore::mixlens.mmm.fit.ConvergenceWarning")
@pytest.mark.filterwarnings("ignore::mixlens.mmm.checks.PredictiveCheckWarning")
def test_cli_fit_records_the_input(
    panel: pd.DataFrame, spec: MMMSpec, mock_sample: Callable[..., Any], tmp_path: Path
) -> None:
    csv, out = tmp_path / "weekly.csv", tmp_path / "mmm"
    panel.to_csv(csv, index=False)
    first = spec.channels[0]
    args = ["mmm", "fit", str(csv), "--controls", "price,promotion", "--out", str(out)]
    args += ["--draws", "10", "--chains", "2", "--media", f"{first}=auto"]
    result = CliRunner().invoke(app, args)
    assert result.exit_code == 0, result.output
    summary = json.loads((out / "summary.json").read_text())
    inputs = summary["media_input"]
    assert inputs[first]["input"] == "impressions" and inputs[first]["cost_per_unit"] > 0
    assert {inputs[c]["input"] for c in spec.channels[1:]} == {"spend"}
    assert {inputs[c]["cost_per_unit"] for c in spec.channels[1:]} == {1.0}
    assert summary["spec"]["media_input"] == {first: "auto"}
    back = MMMResult.load(out)
    assert back.data.media_inputs == ("impressions",) + ("spend",) * (len(spec.channels) - 1)
    curves = pd.read_csv(out / "response_curves.csv")
    assert (curves.groupby("channel")["spend"].max() > 0).all()  # grids in spend


# ----------------------------------------------------------------------------------- geo


@pytest.fixture(scope="module")
def geo_panel() -> GeoPanel:
    world = simulate_mmm(MMMWorldConfig(weeks=30, n_channels=5, regions=3), seed=4)
    return GeoPanel.from_frame(world.weekly_channel, controls=CONTROLS)


def test_geo_data_on_impressions(geo_panel: GeoPanel) -> None:
    spec = MMMSpec(channels=geo_panel.channels, controls=CONTROLS, media_input="impressions")
    data = GeoMMMData.from_panel(geo_panel, spec)
    assert data.base.media_inputs == ("impressions",) * len(spec.channels)
    # per geo: spend-equivalent totals are the geo's spend totals
    assert_allclose(data.spend_equivalent.sum(axis=0), data.spend.sum(axis=0), rtol=1e-12)
    assert_allclose(data.geo(2).media, data.media[:, 2])
    back = GeoMMMData.from_dataset(data.to_dataset())
    assert_allclose(back.media, data.media)
    again = GeoMMMData.from_panel(geo_panel, spec, reference=data)
    assert_allclose(again.media, data.media)


def test_geo_without_units_in_a_spending_geo(geo_panel: GeoPanel) -> None:
    frame = geo_panel.panel.frame.copy()
    channel = geo_panel.channels[0]
    frame.loc[frame["geo"] == geo_panel.geos[1], f"{channel}_impressions"] = 0.0
    panel = GeoPanel.from_frame(frame, controls=CONTROLS)
    explicit = MMMSpec(channels=panel.channels, controls=CONTROLS, media_input="impressions")
    with pytest.raises(DataError, match=f"geo '{geo_panel.geos[1]}' spends on '{channel}'"):
        GeoMMMData.from_panel(panel, explicit)
    auto = GeoMMMData.from_panel(panel, replace(explicit, media_input="auto"))
    assert auto.base.media_inputs[0] == "spend"
    assert set(auto.base.media_inputs[1:]) == {"impressions"}


# ----------------------------------------------------------------------------------- CLI


def test_cli_media_option_is_checked(panel: pd.DataFrame, tmp_path: Path) -> None:
    csv = tmp_path / "weekly.csv"
    panel.to_csv(csv, index=False)
    runner = CliRunner()
    for value, message in (
        ("views", "--media must be one of"),
        ("tv=views", "--media for 'tv' must be one of"),
        ("=clicks", "--media pairs must look like"),
        ("radio=clicks", "unknown channels radio"),
    ):
        args = ["mmm", "fit", str(csv), "--out", str(tmp_path / "o"), "--media", value]
        result = runner.invoke(app, args)
        assert result.exit_code == 2, (value, result.output)
        assert message in result.output, (value, result.output)
