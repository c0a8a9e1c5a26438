"""The geo model drops the shared time terms its baseline knots span.

With one knot per week (the geo default) the linear trend, the Fourier seasonality and
the holidays are free directions of the knots: the fit leaves them out, records them
(``dropped_terms``, summary ``time_knots.dropped``), and the decomposition still sums to
the model's expected outcome. Checked on prior draws of a small simulated geo panel.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from numpy.testing import assert_allclose

from mixlens.data.geo_panel import GeoPanel
from mixlens.data.simulate.mmm import MMMWorldConfig, simulate_mmm
from mixlens.mmm.geo import ALL_GEOS, GeoMMM, GeoMMMResult
from mixlens.mmm.geo_data import GeoMMMData, identified_spec, redundant_time_terms
from mixlens.mmm.geo_model import build_geo_model
from mixlens.mmm.knots import TimeKnots, knot_positions, knot_weights, spans
from mixlens.mmm.results import Diagnostics
from mixlens.mmm.spec import MMMSpec

from .conftest import prior_idata

CONTROLS = ("price", "promotion")


@pytest.fixture(scope="module")
def geo_panel() -> GeoPanel:
    world = simulate_mmm(MMMWorldConfig(weeks=52, n_channels=5, regions=3), seed=4)
    return GeoPanel.from_frame(world.weekly_channel, controls=CONTROLS)


def _spec(panel: GeoPanel, knots: TimeKnots) -> MMMSpec:
    return MMMSpec(channels=panel.channels, controls=CONTROLS, time_knots=knots)


# ---------------------------------------------------------------------- span rule


@settings(max_examples=40, deadline=None)
@given(
    n_weeks=st.integers(3, 80),
    fraction=st.floats(0.0, 1.0),
    a=st.floats(-5, 5),
    b=st.floats(-5, 5),
)
def test_any_knots_span_a_linear_trend(n_weeks: int, fraction: float, a: float, b: float) -> None:
    n_knots = 2 + int(fraction * (n_weeks - 2))
    weights = knot_weights(np.arange(n_weeks, dtype=float), knot_positions(n_weeks, n_knots))
    assert spans(weights, a + b * np.arange(n_weeks))


def test_weekly_knots_span_everything_coarse_knots_not_seasonality() -> None:
    weeks = np.arange(104, dtype=float)
    season = np.column_stack([np.sin(2 * np.pi * weeks / 52), np.cos(2 * np.pi * weeks / 52)])
    holiday = (weeks % 52 == 50).astype(float)
    weekly = knot_weights(weeks, knot_positions(104, 104))
    coarse = knot_weights(weeks, knot_positions(104, 26))
    assert spans(weekly, season) and spans(weekly, holiday)
    assert not spans(coarse, season) and not spans(coarse, holiday)
    assert not spans(np.zeros((104, 0)), weeks) and spans(np.zeros((104, 0)), 0 * weeks)


@pytest.mark.parametrize(
    ("knots", "dropped"),
    [("auto", ("trend", "fourier", "holiday")), (6, ("trend",)), (0, ())],
)
def test_redundant_terms_by_knots(geo_panel: GeoPanel, knots: TimeKnots, dropped: Any) -> None:
    spec = _spec(geo_panel, knots)
    data = GeoMMMData.from_panel(geo_panel, spec)
    assert data.base.fourier_terms and data.base.holidays  # the panel has both
    assert redundant_time_terms(data.base, spec) == dropped
    fitted = identified_spec(spec, dropped)
    again = GeoMMMData.from_panel(geo_panel, fitted)
    assert fitted.trend == ("trend" not in dropped)
    assert bool(again.base.fourier_terms) == ("fourier" not in dropped)
    assert bool(again.base.holidays) == ("holiday" not in dropped)
    assert again.base.n_knots == data.base.n_knots and fitted.controls == CONTROLS
    with pytest.raises(ValueError, match="unknown time terms"):
        identified_spec(spec, ("weather",))


# ---------------------------------------------------------------------- fit, summary, sums


@pytest.mark.filterwarnings("ignore::mixlens.mmm.fit.ConvergenceWarning")
@pytest.mark.filterwarnings("ignore::mixlens.mmm.checks.PredictiveCheckWarning")
def test_fit_reports_dropped_terms_and_reloads(
    geo_panel: GeoPanel, tmp_path: Path, mock_sample: Any
) -> None:
    result = GeoMMM(_spec(geo_panel, "auto")).fit(geo_panel, draws=10, chains=2)
    assert result.dropped_terms == ("trend", "fourier", "holiday")
    post = result.idata["posterior"]
    assert "baseline_knots" in post and "kappa" in post
    assert not {"trend", "gamma", "delta"} & set(post.data_vars)
    summary = result.summary()
    assert summary["time_knots"] == {
        "requested": "auto",
        "knots": 52,
        "dropped": ["trend", "fourier", "holiday"],
    }
    assert summary["spec"]["trend"] is False and summary["spec"]["yearly_fourier"] == 0
    json.dumps(summary)  # JSON-safe
    result.save(tmp_path / "fit")
    back = GeoMMMResult.load(tmp_path / "fit")
    assert back.dropped_terms == result.dropped_terms and back.spec == result.spec
    # no knots: nothing dropped, the shared terms are fitted
    plain = GeoMMM(_spec(geo_panel, 0)).fit(geo_panel, draws=10, chains=2)
    assert plain.dropped_terms == () and plain.summary()["time_knots"]["dropped"] == []
    assert {"trend", "gamma", "delta"} <= set(plain.idata["posterior"].data_vars)


@pytest.mark.parametrize("knots", ["auto", 6])
def test_decomposition_sums_to_the_fit(geo_panel: GeoPanel, knots: TimeKnots) -> None:
    requested = _spec(geo_panel, knots)
    data = GeoMMMData.from_panel(geo_panel, requested)
    dropped = redundant_time_terms(data.base, requested)
    spec = identified_spec(requested, dropped)
    data = GeoMMMData.from_panel(geo_panel, spec)
    model = build_geo_model(data, spec, keep_mu=True)
    idata = prior_idata(model, draws=15, seed=11)
    diagnostics = Diagnostics(method="prior", sampler="prior", chains=2, draws=15, tune=0)
    result = GeoMMMResult(
        idata=idata, spec=spec, data=data, diagnostics=diagnostics, dropped_terms=dropped
    )
    # the geo model samples free coordinates of centred knot values (their exact relation
    # to the knots is checked in test_geo_parameterisation.py)
    post = idata["posterior"]
    knots = post["baseline_knots"].stack(s=("chain", "draw")).transpose("s", "knot").values
    assert post["knot_free"].sizes["knot_coordinate"] == knots.shape[1] - 1
    assert_allclose(knots @ data.base.knot_weights.mean(axis=0), 0.0, atol=1e-9)
    contributions = result.contributions()
    assert set(contributions["component"]) == {*spec.channels, "baseline", *CONTROLS}
    fitted = contributions.groupby(["geo", "date"], sort=False)["mean"].sum()
    mu = idata["posterior"]["mu"].stack(sample=("chain", "draw")).mean("sample")
    expected = np.asarray(mu.transpose("date", "geo").values) * data.y_scale[None, :]
    for g, geo in enumerate(data.geos):
        # relative to the geo's mean outcome (prior draws reach large values)
        got = fitted.loc[geo].to_numpy()
        assert_allclose(got, expected[:, g], rtol=1e-6, atol=1e-6 * data.y_scale[g])
    assert_allclose(fitted.loc[ALL_GEOS].to_numpy(), expected.sum(axis=1), rtol=1e-6)
