from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from mixlens.data.simulate.geo_experiment import GeoExperimentConfig, simulate_geo_experiment


def test_truth_is_the_difference_with_the_same_noise() -> None:
    sim = simulate_geo_experiment(GeoExperimentConfig(geos=12, treated=3, weeks=40), seed=2)
    win = sim.truth[sim.truth["treated"]]
    assert np.isclose(win["incremental"].sum(), sim.incremental_outcome)
    assert np.isclose((win["sales_bau"] - win["sales"]).sum(), sim.incremental_outcome)
    assert sim.incremental_outcome > 0 and np.isclose(sim.effect, -sim.incremental_outcome)
    # Control geos are untouched without spillover.
    ctrl = sim.truth[~sim.truth["treated"]]
    assert np.allclose(ctrl["sales"], ctrl["sales_bau"])
    # Treated spend of the tested channel is off over the window.
    panel = sim.panel
    in_window = panel["date"].between(sim.start, sim.end) & panel["geo"].isin(sim.treated)
    assert (panel.loc[in_window, "tv_spend"] == 0).all()
    assert (panel.loc[~in_window, "tv_spend"] > 0).any()


def test_spillover_and_scale_up() -> None:
    cfg = GeoExperimentConfig(geos=12, treated=3, weeks=40, spillover=0.3)
    sim = simulate_geo_experiment(cfg, seed=2)
    assert sim.summary["spillover_outcome"] == pytest.approx(0.3 * sim.incremental_outcome)
    up = simulate_geo_experiment(GeoExperimentConfig(geos=12, treated=3, weeks=40, spend_scale=2.0))
    assert up.incremental_outcome > 0 and np.isclose(up.effect, up.incremental_outcome)


def test_aa_world_has_no_lift() -> None:
    sim = simulate_geo_experiment(GeoExperimentConfig(geos=12, treated=3, effect=0.0), seed=4)
    assert sim.incremental_outcome == 0.0


def test_daily_panel_shape() -> None:
    cfg = GeoExperimentConfig(geos=5, treated=1, weeks=20, daily=True, test_weeks=2)
    sim = simulate_geo_experiment(cfg, seed=0)
    assert len(sim.panel) == 5 * 140 and len(sim.truth) == 5 * 14


def test_write_is_byte_identical(tmp_path: Path) -> None:
    cfg = GeoExperimentConfig(geos=8, treated=2, weeks=30)
    a = simulate_geo_experiment(cfg, seed=7).write(tmp_path / "a")
    b = simulate_geo_experiment(cfg, seed=7).write(tmp_path / "b")
    for x, y in zip(a, b, strict=True):
        assert x.name == y.name and x.read_bytes() == y.read_bytes()
    design = json.loads((tmp_path / "a" / "design.json").read_text())
    assert set(design) >= {"treated", "start", "end", "channel"}
    assert (tmp_path / "a" / "truth" / "summary.json").exists()
    c = simulate_geo_experiment(cfg, seed=8).write(tmp_path / "c")
    assert c[0].read_bytes() != a[0].read_bytes()


def test_config_is_checked() -> None:
    with pytest.raises(ValueError, match="treated"):
        GeoExperimentConfig(geos=5, treated=4)
