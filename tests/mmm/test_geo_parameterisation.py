"""The geo model's faster form has the log density and gradient of the committed one.

The committed geo model (until 2026-11-24) sampled the knots' random walk through its
steps (``knot_steps``), the geo intercepts non-centred (``intercept_geo_z``) around
``intercept_mean``, and computed adstock as a product and a sum over a
``(l_max, T, G, C)`` lag stack. The current model samples centred knot values shifted by
the geos' mean media and control effect (``knot_free``), each geo's intercept
standardised given everything else (its own ``intercept_geo_z``, see
``_conditional_intercepts``) and the intercepts' mean plus the geos' mean media effect
(``level_mean``), and computes adstock as a batched matrix-vector product. These are
changes of variables of the same posterior: ``_reference_model`` below rebuilds the
committed form, and the tests evaluate its log density at the image of the current
model's point (plus the Jacobian terms that are not constant) and compare log densities
and gradients (rel 1e-8).
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
import pymc as pm
import pytensor
import pytensor.tensor as pt
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from numpy.testing import assert_allclose

from mixlens.data.geo_panel import GeoPanel
from mixlens.data.simulate.mmm import MMMWorldConfig, simulate_mmm
from mixlens.mmm import pt_transforms
from mixlens.mmm.calibration import LiftTests, prepare_geo_lift_tests
from mixlens.mmm.geo_data import GeoMMMData, identified_spec, redundant_time_terms
from mixlens.mmm.geo_model import (
    GEO_INTERCEPT_SD,
    GEO_ROI_SD,
    _add_geo_lift_tests,
    build_geo_model,
    channel_first_lags,
)
from mixlens.mmm.knots import centred_knots, free_coordinates, knot_reflector
from mixlens.mmm.model import (
    _channel_variable,
    _distribution,
    _model_variable,
    add_time_effect,
    pm_data,
    time_coords,
)
from mixlens.mmm.spec import MMMSpec, Prior, TimeKnots

pytestmark = pytest.mark.filterwarnings("ignore::UserWarning")

CONTROLS = ("price", "promotion")


def _reference_model(data: GeoMMMData, spec: MMMSpec, lift_tests: LiftTests | None) -> pm.Model:
    """The committed geo model (steps, non-centred intercepts, product-and-sum adstock)."""
    base = data.base
    coords = {
        "date": base.dates,
        "geo": list(data.geos),
        "channel": list(spec.channels),
        "control": list(spec.controls),
        "fourier": list(base.fourier_terms),
        "holiday": list(base.holidays),
        **time_coords(base),
    }
    if lift_tests is not None:
        coords["lift_test"] = lift_tests.labels
    spend_total = data.spend.sum(axis=0)
    reference = data.reference_roi
    with pm.Model(coords=coords) as model:
        y_scaled = pm_data("y_scaled", data.y / data.y_scale[None, :], dims=("date", "geo"))
        lags = pm_data("media_lags", pt_transforms.lagged(data.media, spec.adstock.l_max))
        adstock_params = {p: _channel_variable(spec, p) for p in spec.adstock.parameters}
        saturation_params = {p: _channel_variable(spec, p) for p in spec.saturation.parameters}
        weights = spec.adstock.pt_weights(adstock_params)
        response = spec.saturation.pt_apply(
            pt_transforms.adstock_lagged(lags, weights), saturation_params
        )
        roi = _channel_variable(spec, "roi")
        sd = _distribution(GEO_ROI_SD)("roi_geo_sd", **dict(GEO_ROI_SD.params), dims="channel")
        z = pm.Normal("roi_geo_z", 0.0, 1.0, dims=("geo", "channel"))
        roi_geo = roi[None, :] * pt.exp(sd[None, :] * z - 0.5 * sd[None, :] ** 2)
        totals = pt.sum(response, axis=0)
        spends = spend_total > 0
        scale = reference * spend_total / data.y_scale[:, None]
        beta = pt.switch(spends, roi_geo * scale / pt.switch(spends, totals, 1.0), 0.0)
        prior = spec.model_prior("intercept")
        level = _distribution(prior)("intercept_mean", **dict(prior.params))
        spread = _distribution(GEO_INTERCEPT_SD)(
            "intercept_geo_sd", **dict(GEO_INTERCEPT_SD.params)
        )
        offset = pm.Normal("intercept_geo_z", 0.0, 1.0, dims="geo")
        mu = (level + spread * offset)[None, :] + pt.sum(response * beta[None, :, :], axis=2)
        if lift_tests is not None:
            _add_geo_lift_tests(
                spec, data, lift_tests, (weights, saturation_params, response), beta, False
            )
        if spec.trend:
            mu = mu + (_model_variable(spec, "trend") * base.trend)[:, None]
        time_effect = add_time_effect(spec, base, centred=True)
        if time_effect is not None:
            mu = mu + time_effect[:, None]
        if base.fourier_terms:
            gamma = _model_variable(spec, "fourier", "fourier")
            mu = mu + pt.dot(base.fourier, gamma)[:, None]
        if base.holidays:
            mu = mu + pt.dot(base.holiday, _model_variable(spec, "holiday", "holiday"))[:, None]
        kappa = _model_variable(spec, "control", "control")
        mu = mu + pt.tensordot(data.control_z, kappa, 1)
        sigma = _model_variable(spec, "sigma", "geo")
        pm.Normal("y", mu=mu, sigma=sigma[None, :], observed=y_scaled, dims=("date", "geo"))
    return model


def _world(
    knots: TimeKnots, lift: bool, intercept: Prior | None = None
) -> tuple[GeoMMMData, MMMSpec, LiftTests | None]:
    world = simulate_mmm(MMMWorldConfig(weeks=26, n_channels=5, regions=3), seed=5)
    panel = GeoPanel.from_frame(world.weekly_channel, controls=CONTROLS)
    priors = {} if intercept is None else {"intercept": intercept}
    requested = MMMSpec(channels=panel.channels, controls=CONTROLS, time_knots=knots, priors=priors)
    data = GeoMMMData.from_panel(panel, requested)
    spec = identified_spec(requested, redundant_time_terms(data.base, requested))
    data = GeoMMMData.from_panel(panel, spec)
    tests = None
    if lift:
        first = data.weeks[0]
        start = (first + pd.Timedelta(days=28)).date()
        end = (first + pd.Timedelta(days=80)).date()
        lifts = pd.DataFrame(
            {
                "channel": [spec.channels[1], spec.channels[0]],
                "start": [start] * 2,
                "end": [end] * 2,
                "incremental_outcome": [9.0e3, 3.0e3],
                "se": [2.0e3, 9.0e2],
                "geo": [None, data.geos[1]],
            }
        )
        tests = prepare_geo_lift_tests(lifts, data)
    return data, spec, tests


def _committed_log_density(model: pm.Model, reference: pm.Model, n_weeks: int) -> Any:
    """The committed model's log density at the point of ``model``'s value variables.

    Its ``intercept_geo_z``, ``knot_steps`` and ``intercept_mean`` are functions of
    ``model``'s values (through ``model``'s deterministics ``intercept``,
    ``baseline_knots`` and ``intercept_mean``); the other value variables are shared by
    name. Plus the Jacobians that are not constant: ``-sum_g log(intercept_geo_sd)``, of
    ``intercept = intercept_mean + intercept_geo_sd * intercept_geo_z`` in the committed
    model, and ``sum_g log(P[g] ** -0.5)`` with ``P = T / sigma**2 + 1 / intercept_geo_sd**2``,
    of the current model's ``intercept = conditional mean + P**-0.5 * intercept_geo_z``.
    """
    values = {v.name: v for v in model.value_vars}
    intercept, centre, spread, sigma = model.replace_rvs_by_values(
        [model["intercept"], model["intercept_mean"], model["intercept_geo_sd"], model["sigma"]]
    )
    replacements: dict[Any, Any] = {}
    for var in reference.value_vars:
        if var.name == "intercept_geo_z":  # the same name, another variable
            replacements[var] = (intercept - centre) / spread
        elif var.name in values:
            replacements[var] = values[var.name]
        elif var.name == "knot_steps":
            (knots,) = model.replace_rvs_by_values([model["baseline_knots"]])
            replacements[var] = knots[1:] - knots[:-1]
        else:  # a deterministic of the current model (intercept_mean)
            (replacements[var],) = model.replace_rvs_by_values([model[var.name]])
    logp = pytensor.clone_replace(reference.logp(), replacements)
    precision = n_weeks / sigma**2 + 1.0 / spread**2
    return logp - pt.sum(pt.log(spread) + 0.5 * pt.log(precision))


@pytest.mark.parametrize(
    ("knots", "lift", "intercept"),
    [("auto", True, None), (6, False, Prior("HalfNormal", {"sigma": 1.0}))],
)
def test_log_density_and_gradient_equal_the_committed_model(
    knots: TimeKnots, lift: bool, intercept: Prior | None
) -> None:
    data, spec, tests = _world(knots, lift, intercept)
    model = build_geo_model(data, spec, lift_tests=tests)
    assert ("knot_free" in model.named_vars) == bool(data.base.n_knots)
    # a bounded intercept prior keeps intercept_mean (and its log transform) as it is
    assert ("level_mean" in model.named_vars) == (intercept is None)
    reference = _reference_model(data, spec, tests)
    inputs = model.value_vars
    logp = model.logp()
    committed = _committed_log_density(model, reference, data.base.n_weeks)
    outputs = [logp, committed, *pt.grad(logp, inputs), *pt.grad(committed, inputs)]
    # a handful of evaluations: skip the C compilation (slower to build than to run here)
    function = pytensor.function(inputs, outputs, mode="FAST_COMPILE", on_unused_input="ignore")
    start = model.initial_point()
    rng = np.random.default_rng(0)
    for _ in range(4):
        point = [rng.normal(0.0, 0.3, np.shape(start[v.name])) for v in inputs]
        got = function(*point)
        assert_allclose(got[0], got[1], rtol=1e-8)
        n = len(inputs)
        for var, new, old in zip(inputs, got[2 : 2 + n], got[2 + n :], strict=True):
            assert_allclose(new, old, rtol=1e-8, atol=1e-10, err_msg=var.name)


def test_weekly_knots_skip_the_identity_design() -> None:
    data, spec, _ = _world("auto", False)
    assert data.base.n_knots == data.base.n_weeks
    model = build_geo_model(data, spec)
    assert "knot_weights" not in model.named_vars  # one knot per week: W is the identity
    coarse, coarse_spec, _ = _world(6, False)
    assert "knot_weights" in build_geo_model(coarse, coarse_spec).named_vars


def test_prior_draws_of_the_knots_are_centred_random_walks() -> None:
    data, spec, _ = _world(6, False)
    model = build_geo_model(data, spec)
    prior = pm.sample_prior_predictive(
        draws=400, model=model, random_seed=3, var_names=["knot_drift", "baseline_knots"]
    ).prior
    knots = prior["baseline_knots"].values[0]  # (draws, K)
    centre = data.base.knot_weights.mean(axis=0)
    assert_allclose(knots @ centre, 0.0, atol=1e-12)
    drift = prior["knot_drift"].values[0]
    gaps = np.diff(data.base.knot_weeks)
    # standardized steps of the walk are standard normal (prior predictive of the CustomDist)
    z = np.diff(knots, axis=1) / (drift[:, None] * np.sqrt(gaps / 52.0))
    assert abs(z.mean()) < 0.1
    assert abs(z.std() - 1.0) < 0.08


@settings(max_examples=60, deadline=None)
@given(
    k=st.integers(2, 40),
    seed=st.integers(0, 2**16),
    uniform=st.booleans(),
)
def test_reflection_is_an_orthogonal_map_onto_centred_knots(
    k: int, seed: int, uniform: bool
) -> None:
    rng = np.random.default_rng(seed)
    centre = np.full(k, 1.0 / k) if uniform else rng.uniform(0.05, 1.0, k)
    reflector = knot_reflector(centre)
    free = rng.normal(0.0, 2.0, (3, k - 1))
    knots = centred_knots(free, reflector)
    assert_allclose(knots @ centre, 0.0, atol=1e-10)
    assert_allclose(np.linalg.norm(knots, axis=1), np.linalg.norm(free, axis=1), rtol=1e-10)
    assert_allclose(free_coordinates(knots, reflector), free, atol=1e-10)


def test_channel_first_lags_give_the_adstock() -> None:
    rng = np.random.default_rng(4)
    media = rng.gamma(1.0, 1.0, (12, 3, 2)) * (rng.random((12, 3, 2)) > 0.3)
    w = rng.random((4, 2))
    lags = channel_first_lags(media, 4)
    assert lags.shape == (2, 36, 4) and lags.flags.c_contiguous
    want = (pt_transforms.lagged(media, 4) * w[:, None, None, :]).sum(axis=0)  # (T, G, C)
    got = np.einsum("cnl,lc->cn", lags, w).reshape(2, 12, 3).transpose(1, 2, 0)
    assert_allclose(got, want, rtol=1e-12)


def test_reflector_rejects_bad_centres() -> None:
    with pytest.raises(ValueError, match="positive"):
        knot_reflector(np.array([0.5, 0.0, 0.5]))


def test_conditional_intercepts_are_standard_normal_given_the_rest() -> None:
    """In the sampled coordinates the intercepts are integrated out: ``d logp / dz = -z``."""
    data, spec, _ = _world(6, False)
    model = build_geo_model(data, spec)
    inputs = model.value_vars
    z = model.rvs_to_values[model["intercept_geo_z"]]
    gradient = pt.grad(model.logp(), z)
    function = pytensor.function(inputs, gradient, mode="FAST_COMPILE", on_unused_input="ignore")
    start = model.initial_point()
    rng = np.random.default_rng(1)
    for _ in range(4):
        point = {v.name: rng.normal(0.0, 0.5, np.shape(start[v.name])) for v in inputs}
        got = function(*(point[v.name] for v in inputs))
        assert_allclose(got, -point[z.name], rtol=1e-9, atol=1e-9)
