"""Allocation on a geo MMM folder: geo x channel variables and per-geo bounds."""

from __future__ import annotations

import warnings
from pathlib import Path

import arviz as az
import numpy as np
import pandas as pd
import pymc as pm
import pytest

from mixlens.allocation.geo import GeoResponse, split_names
from mixlens.allocation.run import allocate_to_dir
from mixlens.data.geo_panel import GeoPanel
from mixlens.data.simulate.mmm import MMMWorldConfig, simulate_mmm
from mixlens.errors import DataError
from mixlens.mmm.geo import GeoMMMResult
from mixlens.mmm.geo_data import GeoMMMData
from mixlens.mmm.geo_model import build_geo_model
from mixlens.mmm.results import Diagnostics
from mixlens.mmm.spec import MMMSpec

CONTROLS = ("price", "promotion")


def _prior_as_posterior(model: pm.Model, draws: int, seed: int) -> az.InferenceData:
    """Prior draws dressed as a 2-chain posterior (no sampler: the test checks plumbing)."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)
        prior = pm.sample_prior_predictive(draws=2 * draws, model=model, random_seed=seed)
    post = prior.prior.isel(chain=0, drop=True).rename({"draw": "_d"})
    post = post.assign_coords(_d=range(2 * draws)).coarsen(_d=draws)
    post = post.construct(_d=("chain", "draw")).assign_coords(chain=[0, 1], draw=range(draws))
    stats = az.from_dict(sample_stats={"diverging": [[False] * draws] * 2}).sample_stats
    return az.InferenceData(posterior=post, sample_stats=stats)


@pytest.fixture(scope="module")
def geo_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    world = simulate_mmm(MMMWorldConfig(weeks=40, n_channels=5, regions=3), seed=2)
    panel = GeoPanel.from_frame(world.weekly_channel, controls=CONTROLS)
    spec = MMMSpec(channels=panel.channels, controls=CONTROLS)
    data = GeoMMMData.from_panel(panel, spec)
    idata = _prior_as_posterior(build_geo_model(data, spec), draws=20, seed=4)
    diagnostics = Diagnostics(method="prior", sampler="prior", chains=2, draws=20, tune=0)
    result = GeoMMMResult(idata=idata, spec=spec, data=data, diagnostics=diagnostics)
    out = tmp_path_factory.mktemp("geo_mmm")
    result.save(out)
    return out


def test_geo_response_is_the_sum_of_its_geos(geo_dir: Path) -> None:
    model = GeoResponse.from_result(GeoMMMResult.load(geo_dir), weeks=8)
    assert model.geos == ("region_1", "region_2", "region_3")
    assert model.channels[0] == "region_1:tv" and len(model.channels) == 15
    base = model.contributions(model.current)
    assert base.shape == (40, 15)
    np.testing.assert_allclose(model.expected(model.current), base.sum(axis=1))
    # Spend in one geo moves only that geo's contributions.
    plan = model.current.copy()
    plan[5] *= 2.0  # region_2:tv
    moved = np.abs(model.contributions(plan) - base).max(axis=0) > 0
    assert moved.tolist() == [i == 5 for i in range(15)]


def test_allocate_geo_with_per_geo_bounds(geo_dir: Path, tmp_path: Path) -> None:
    model = GeoResponse.from_result(GeoMMMResult.load(geo_dir), weeks=8)
    budget = float(model.current.sum())
    current = dict(zip(model.channels, model.current, strict=True))
    floor = 1.5 * current["region_1:social"]
    cap = 0.5 * current["region_3:tv"]
    bounds = tmp_path / "bounds.csv"
    bounds.write_text(
        "geo,channel,lower,upper,locked\n"
        f"region_1,social,{floor},,0\nregion_3,tv,,{cap},0\nregion_2,search,,,1\n".replace(
            "search", "paid_search"
        )
    )
    summary = allocate_to_dir(
        geo_dir, budget=budget, weeks=8, out_dir=tmp_path / "out", bounds_file=bounds
    )
    table = pd.read_csv(tmp_path / "out" / "allocation.csv")
    assert list(table.columns[:3]) == ["geo", "channel", "current_spend"]
    assert len(table) == 15 and summary["geos"] == ["region_1", "region_2", "region_3"]
    assert table["recommended_spend"].sum() == pytest.approx(budget, rel=1e-6)
    plan = table.set_index(["geo", "channel"])["recommended_spend"]
    assert plan["region_1", "social"] >= floor * (1 - 1e-9)
    assert plan["region_3", "tv"] <= cap * (1 + 1e-9)
    assert plan["region_2", "paid_search"] == pytest.approx(current["region_2:paid_search"])
    assert summary["recommended_expected"]["mean"] >= summary["current_expected"]["mean"] * (
        1 - 1e-9
    )
    curves = pd.read_csv(tmp_path / "out" / "curves.csv")
    assert set(curves["geo"]) == {"region_1", "region_2", "region_3"}


def test_geo_bounds_must_name_their_geo(geo_dir: Path, tmp_path: Path) -> None:
    bounds = tmp_path / "bounds.csv"
    bounds.write_text("channel,lower\ntv,10\n")
    with pytest.raises(DataError, match="'geo' column"):
        allocate_to_dir(geo_dir, budget=1e5, weeks=8, out_dir=tmp_path, bounds_file=bounds)
    bounds.write_text("geo,channel,lower\nmars,tv,10\n")
    with pytest.raises(DataError, match="unknown geo:channel 'mars:tv'"):
        allocate_to_dir(geo_dir, budget=1e5, weeks=8, out_dir=tmp_path, bounds_file=bounds)
    model = GeoResponse.from_result(GeoMMMResult.load(geo_dir), weeks=8)
    bounds.write_text(f"geo,channel,lower\nregion_1,tv,{2 * model.current.sum()}\n")
    with pytest.raises(DataError, match="region_1:tv"):
        allocate_to_dir(
            geo_dir, budget=float(model.current.sum()), weeks=8, out_dir=tmp_path,
            bounds_file=bounds,
        )  # fmt: skip


def test_split_names_round_trip() -> None:
    frame = pd.DataFrame({"channel": ["a:tv", "b:radio"], "x": [1, 2]})
    out = split_names(frame)
    assert out["geo"].tolist() == ["a", "b"] and out["channel"].tolist() == ["tv", "radio"]
