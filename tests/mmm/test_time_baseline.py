"""The time-varying baseline (knots): interpolation, spec, data, model, fit and CLI."""

from __future__ import annotations

import json
import warnings
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pymc as pm
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from numpy.testing import assert_allclose

from mixlens.data.geo_panel import GeoPanel
from mixlens.data.simulate.mmm import MMMWorldConfig, simulate_mmm
from mixlens.mmm.data import MMMData
from mixlens.mmm.geo_data import GeoMMMData
from mixlens.mmm.geo_model import build_geo_model
from mixlens.mmm.knots import knot_positions, knot_weights, resolve_time_knots
from mixlens.mmm.model import build_model
from mixlens.mmm.results import Diagnostics, MMMResult
from mixlens.mmm.spec import MMMSpec

from .conftest import prior_idata

CONTROLS = ("price", "promotion")

# ---------------------------------------------------------------------- interpolation


@settings(max_examples=40, deadline=None)
@given(
    n_weeks=st.integers(2, 200),
    n_knots=st.integers(2, 30),
    slope=st.floats(-3, 3),
    level=st.floats(-5, 5),
)
def test_knot_weights_interpolate_linearly(
    n_weeks: int, n_knots: int, slope: float, level: float
) -> None:
    positions = knot_positions(n_weeks, n_knots)
    weeks = np.linspace(-3.0, n_weeks + 3.0, 57)
    weights = knot_weights(weeks, positions)
    assert weights.shape == (57, n_knots)
    assert (weights >= 0).all()
    assert_allclose(weights.sum(axis=1), 1.0, atol=1e-12)
    # a straight line through the knots is reproduced inside the window, flat outside
    line = level + slope * positions
    inside = np.clip(weeks, 0, n_weeks - 1)
    assert_allclose(weights @ line, level + slope * inside, atol=1e-9)
    # at a knot, its own weight is 1
    assert_allclose(knot_weights(positions, positions), np.eye(n_knots), atol=1e-12)


def test_resolve_time_knots() -> None:
    assert resolve_time_knots("auto", 156, geo=True) == 156
    assert resolve_time_knots("auto", 156, geo=False) == 0
    assert resolve_time_knots(0, 156, geo=True) == 0
    assert resolve_time_knots(12, 156, geo=False) == 12
    assert resolve_time_knots(500, 52, geo=False) == 52  # capped at one per week


# ---------------------------------------------------------------------- spec and data


@pytest.mark.parametrize("bad", [1, -2, "weekly", 2.5, True])
def test_spec_rejects_bad_time_knots(bad: Any) -> None:
    with pytest.raises(ValueError, match="time_knots"):
        MMMSpec(channels=("tv",), time_knots=bad)


def test_spec_round_trip_and_old_specs() -> None:
    spec = MMMSpec(channels=("tv",), time_knots=8)
    assert MMMSpec.from_dict(json.loads(json.dumps(spec.to_dict()))) == spec
    assert MMMSpec(channels=("tv",)).time_knots == "auto"
    old = spec.to_dict()
    del old["time_knots"]
    assert MMMSpec.from_dict(old).time_knots == 0  # saved before knots existed: none


def test_data_knots_holdout_and_dataset(panel: pd.DataFrame, spec: MMMSpec) -> None:
    knotted = MMMSpec(channels=spec.channels, controls=spec.controls, time_knots=5)
    train = MMMData.from_panel(panel.iloc[:48], knotted)
    assert train.n_knots == 5 and train.knot_weights.shape == (48, 5)
    assert_allclose(train.knot_weeks, [0, 11.75, 23.5, 35.25, 47])
    # later weeks on the fitted data's scales: knots kept, held flat after the last one
    full = MMMData.from_panel(panel, knotted, reference=train)
    assert_allclose(full.knot_weeks, train.knot_weeks)
    assert_allclose(full.knot_weights[:48], train.knot_weights)
    assert_allclose(full.knot_weights[48:], np.tile([0, 0, 0, 0, 1.0], (12, 1)))
    back = MMMData.from_dataset(train.to_dataset())
    assert_allclose(back.knot_weights, train.knot_weights)
    assert_allclose(back.knot_weeks, train.knot_weeks)
    # a posterior saved before knots existed has none
    old = MMMData.from_dataset(train.to_dataset().drop_vars(["knot_weights", "knot_weeks"]))
    assert old.n_knots == 0 and old.knot_weights.shape == (48, 0)
    assert MMMData.from_panel(panel, spec).n_knots == 0  # national "auto": none


# ---------------------------------------------------------------------- model structure


def test_model_knots_are_a_centred_random_walk(panel: pd.DataFrame, spec: MMMSpec) -> None:
    knotted = MMMSpec(channels=spec.channels, controls=spec.controls, time_knots=6)
    data = MMMData.from_panel(panel, knotted)
    model = build_model(data, knotted, keep_mu=True)
    assert model["knot_z"].eval().shape == (5,)
    idata = prior_idata(model, draws=50, seed=4)
    post = idata.posterior
    knots = post["baseline_knots"].stack(s=("chain", "draw")).transpose("s", "knot").values
    assert knots.shape == (100, 6)
    # centred over the fitted weeks, so the level stays with the intercept
    assert_allclose((knots @ data.knot_weights.T).mean(axis=1), 0.0, atol=1e-9)
    # the knots are the cumulated, scaled steps
    drift = post["knot_drift"].stack(s=("chain", "draw")).values
    z = post["knot_z"].stack(s=("chain", "draw")).transpose("s", "knot_step").values
    gap = np.diff(data.knot_weeks)[0]
    assert_allclose(np.diff(knots, axis=1), drift[:, None] * np.sqrt(gap / 52) * z, rtol=1e-6)
    # the engine's baseline (all weeks) is the model's mu minus media and controls
    diagnostics = Diagnostics(method="prior", sampler="prior", chains=2, draws=50, tune=0)
    result = MMMResult(idata=idata, spec=knotted, data=data, diagnostics=diagnostics)
    engine = result._engine
    every, weeks = slice(0, 100), slice(0, data.n_weeks)
    total = engine.components(every, weeks).sum(axis=2) / data.y_scale
    mu = post["mu"].stack(s=("chain", "draw")).transpose("s", "date").values
    assert_allclose(total, mu, rtol=1e-6, atol=1e-9)


def test_geo_model_shares_one_time_effect() -> None:
    world = simulate_mmm(MMMWorldConfig(weeks=30, n_channels=5, regions=2), seed=2)
    panel = GeoPanel.from_frame(world.weekly_channel, controls=CONTROLS)
    spec = MMMSpec(channels=panel.channels, controls=CONTROLS)
    data = GeoMMMData.from_panel(panel, spec)
    assert data.base.n_knots == data.base.n_weeks == 30  # geo "auto": one knot per week
    assert data.geo(1).n_knots == 30
    model = build_geo_model(data, spec)
    names = set(model.named_vars)
    assert {"knot_drift", "knot_free", "baseline_knots", "intercept_geo_z", "intercept"} <= names
    # centred knot values: the data pin weekly knots down
    assert "knot_z" not in model.named_vars and "knot_steps" not in model.named_vars
    assert model["baseline_knots"].eval().shape == (30,)  # one curve, shared by the geos
    none_spec = MMMSpec(channels=panel.channels, controls=CONTROLS, time_knots=0)
    none = GeoMMMData.from_panel(panel, none_spec)
    assert none.base.n_knots == 0
    assert "baseline_knots" not in build_geo_model(none, none_spec).named_vars


# ---------------------------------------------------------------------- fit


def _step_panel(n: int = 104, seed: int = 0) -> tuple[pd.DataFrame, np.ndarray, np.ndarray]:
    """Two channels on a baseline that steps up 30% at week 60 and bends."""
    rng = np.random.default_rng(seed)
    t = np.arange(n)
    baseline = 100.0 + 30.0 * (t >= 60) + 10.0 * np.sin(t / 15.0)
    tv = rng.gamma(2.0, 10.0, n) * (rng.random(n) < 0.6)
    search = rng.gamma(4.0, 5.0, n)
    media = 40 * tv / (tv + 20) + 30 * search / (search + 20)
    sales = baseline + media + rng.normal(0, 2.0, n)
    frame = pd.DataFrame(
        {
            "date": pd.date_range("2022-01-03", periods=n, freq="7D"),
            "sales": sales,
            "tv_spend": tv,
            "search_spend": search,
        }
    )
    return frame, baseline, media


def test_knots_follow_a_step_the_linear_trend_cannot() -> None:
    """Posterior mode on a baseline with a step: knots fit it, a straight line cannot.

    The linear trend's best case is least squares of sales on (1, time, the true media
    response); the knot model, which must also learn the media, beats it by a wide margin
    and puts the step (30 on a mean near 130) between the knots either side of week 60.
    """
    frame, _, media = _step_panel()
    y = frame["sales"].to_numpy()
    t = np.arange(len(y), dtype=float)
    design = np.column_stack([np.ones_like(t), t, media])
    fitted = design @ np.linalg.lstsq(design, y, rcond=None)[0]
    r2_linear = 1 - ((y - fitted) ** 2).sum() / ((y - y.mean()) ** 2).sum()

    spec = MMMSpec(channels=("tv", "search"), yearly_fourier=0, holidays=False, time_knots=9)
    data = MMMData.from_panel(frame, spec)
    model = build_model(data, spec, keep_mu=True)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        point = pm.find_MAP(model=model, progressbar=False, seed=1)
    mu = point["mu"] * data.y_scale
    r2_knots = 1 - ((y - mu) ** 2).sum() / ((y - y.mean()) ** 2).sum()
    assert r2_linear < 0.85 and r2_knots > 0.93, (r2_linear, r2_knots)
    level = point["baseline_knots"] @ data.knot_weights.T * data.y_scale
    jump = level[70:80].mean() - level[45:55].mean()
    assert 15 < jump < 45, jump  # the true step, with the bend, is about 30


# ---------------------------------------------------------------------- files and CLI


@pytest.mark.filterwarnings("ignore::mixlens.mmm.fit.ConvergenceWarning")
@pytest.mark.filterwarnings("ignore::mixlens.mmm.checks.PredictiveCheckWarning")
def test_cli_time_knots_flag_and_summary(
    panel: pd.DataFrame, tmp_path: Path, mock_sample: Any
) -> None:
    from typer.testing import CliRunner

    from mixlens.cli import app

    csv = tmp_path / "weekly.csv"
    panel.to_csv(csv, index=False)
    args = ["mmm", "fit", str(csv), "--controls", "price,promotion", "--draws", "10"]
    out = tmp_path / "knots"
    done = CliRunner().invoke(app, [*args, "--chains", "2", "--time-knots", "4", "--out", str(out)])
    assert done.exit_code == 0, done.output
    summary = json.loads((out / "summary.json").read_text())
    assert summary["time_knots"] == {"requested": 4, "knots": 4}
    assert summary["spec"]["time_knots"] == 4
    back = MMMResult.load(out)
    assert back.data.n_knots == 4 and back.spec.time_knots == 4
    contributions = pd.read_csv(out / "contributions.csv")
    assert "baseline" in set(contributions["component"])
    # default on a national panel: no knots, recorded as such
    out = tmp_path / "auto"
    done = CliRunner().invoke(app, [*args, "--chains", "2", "--out", str(out)])
    assert done.exit_code == 0, done.output
    summary = json.loads((out / "summary.json").read_text())
    assert summary["time_knots"] == {"requested": "auto", "knots": 0}
    for bad in ("1", "x", "-3"):
        done = CliRunner().invoke(app, [*args, "--time-knots", bad, "--out", str(tmp_path / "b")])
        assert done.exit_code == 2 and "--time-knots" in " ".join(done.output.split())
