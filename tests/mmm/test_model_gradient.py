"""The fast national graph has the same log density and gradient as the original one.

``build_model`` computes the adstock as a batched matrix-vector product on a channel-first
lag stack and the linear baseline as one design-matrix product (a cheaper gradient);
:func:`_reference_model` is the graph it replaced (broadcast product and sum over the lag
stack, one dot product per baseline term), kept here as the reference. Both must give
the same ``logp`` and gradient (relative 1e-9) at random points of the unconstrained
space, so the posterior is unchanged.
"""

# pytensor's functions are only partly annotated.
# mypy: disable-error-code="no-untyped-call"

from __future__ import annotations

from dataclasses import replace
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

from mixlens.mmm import pt_transforms
from mixlens.mmm.calibration import LiftTests, prepare_lift_tests
from mixlens.mmm.data import MMMData
from mixlens.mmm.model import (
    _add_lift_tests,
    _channel_variable,
    _model_variable,
    add_time_effect,
    baseline_design,
    build_model,
    pm_data,
    roi_scale,
    time_coords,
)
from mixlens.mmm.spec import (
    GeometricAdstock,
    LogisticSaturation,
    MMMSpec,
    WeibullAdstock,
)
from mixlens.transforms import adstock

RTOL = 1e-9
N_POINTS = 4


def _reference_model(data: MMMData, spec: MMMSpec, lift_tests: LiftTests | None = None) -> Any:
    """The national graph before the speed-up (git b495784), term by term."""
    coords = {
        "date": data.dates,
        "channel": list(data.channels),
        "control": list(data.controls),
        "fourier": list(data.fourier_terms),
        "holiday": list(data.holidays),
        **time_coords(data),
    }
    if lift_tests is not None:
        coords["lift_test"] = lift_tests.labels
    with pm.Model(coords=coords) as model:
        y_scaled = pm_data("y_scaled", data.y / data.y_scale, dims="date")
        lags = pm_data("media_lags", pt_transforms.lagged(data.media, spec.adstock.l_max))
        adstock_params = {p: _channel_variable(spec, p, pool=True) for p in spec.adstock.parameters}
        saturation_params = {
            p: _channel_variable(spec, p, pool=True) for p in spec.saturation.parameters
        }
        weights = spec.adstock.pt_weights(adstock_params)
        adstocked = pt_transforms.adstock_lagged(lags, weights)
        response = spec.saturation.pt_apply(adstocked, saturation_params)
        if spec.parameterization == "roi":
            roi = _channel_variable(spec, "roi")
            scale = pm_data("roi_scale", roi_scale(data, spec), dims="channel")
            beta = roi * scale / pt.sum(response, axis=0)
        else:
            beta = _channel_variable(spec, "beta")
        mu = _model_variable(spec, "intercept") + pt.sum(response * beta, axis=1)
        if lift_tests is not None:
            _add_lift_tests(
                spec, data, lift_tests, weights, saturation_params, response, beta, keep=False
            )
        if spec.trend:
            mu = mu + _model_variable(spec, "trend") * data.trend
        time_effect = add_time_effect(spec, data)
        if time_effect is not None:
            mu = mu + time_effect
        if data.fourier_terms:
            mu = mu + pt.dot(data.fourier, _model_variable(spec, "fourier", "fourier"))
        if data.holidays:
            mu = mu + pt.dot(data.holiday, _model_variable(spec, "holiday", "holiday"))
        if data.controls:
            mu = mu + pt.dot(data.control_z, _model_variable(spec, "control", "control"))
        pm.Normal("y", mu=mu, sigma=_model_variable(spec, "sigma"), observed=y_scaled, dims="date")
    return model


def _logp_and_grad(model: Any) -> Any:
    values = model.value_vars
    logp = model.logp()
    return model.compile_fn(
        [logp, *pt.grad(logp, values)], inputs=values, point_fn=False, mode="FAST_COMPILE"
    )


def _assert_same_density(
    data: MMMData, spec: MMMSpec, lift_tests: LiftTests | None = None, seed: int = 0
) -> None:
    new = build_model(data, spec, lift_tests=lift_tests)
    old = _reference_model(data, spec, lift_tests)
    names = [v.name for v in new.value_vars]
    assert names == [v.name for v in old.value_vars]  # same parameters, same order
    f_new, f_old = _logp_and_grad(new), _logp_and_grad(old)
    start = new.initial_point()
    rng = np.random.default_rng(seed)
    for _ in range(N_POINTS):
        point = [start[n] + rng.normal(0.0, 0.7, size=np.shape(start[n])) for n in names]
        got, want = f_new(*point), f_old(*point)
        assert np.isfinite(want[0])
        assert_allclose(got[0], want[0], rtol=RTOL)
        for name, g, w in zip(names, got[1:], want[1:], strict=True):
            # relative to the gradient's size (a component can pass near zero)
            atol = RTOL * max(1.0, float(np.max(np.abs(w))))
            assert_allclose(g, w, rtol=RTOL, atol=atol, err_msg=name)


def test_default_spec_keeps_logp_and_gradient(data: MMMData, spec: MMMSpec) -> None:
    _assert_same_density(data, spec)


def test_other_transforms_keep_logp_and_gradient(panel: pd.DataFrame, spec: MMMSpec) -> None:
    other = MMMSpec(
        channels=spec.channels,
        controls=spec.controls,
        adstock=GeometricAdstock(l_max=5),
        saturation=LogisticSaturation(),
        parameterization="beta",
        yearly_fourier=1,
    )
    _assert_same_density(MMMData.from_panel(panel, other), other, seed=1)


def test_weibull_knots_and_no_controls_keep_logp_and_gradient(
    panel: pd.DataFrame, spec: MMMSpec
) -> None:
    other = MMMSpec(
        channels=spec.channels,
        adstock=WeibullAdstock(l_max=6, kind="cdf"),
        trend=False,
        time_knots=4,
    )
    _assert_same_density(MMMData.from_panel(panel, other), other, seed=2)


def test_lift_tests_keep_logp_and_gradient(data: MMMData, spec: MMMSpec) -> None:
    first = data.dates[0]
    spending = [i for i in range(len(data.channels)) if (data.spend[2:8, i] > 0).all()]
    frame = pd.DataFrame(
        {
            "channel": [data.channels[spending[0]], data.channels[spending[1]]],
            "start": [(first + pd.Timedelta(days=14)).date()] * 2,
            "end": [(first + pd.Timedelta(days=41)).date()] * 2,
            "incremental_outcome": [5.0e4, 2.0e4],
            "se": [1.0e4, 5.0e3],
            "method": ["did", "did"],
        }
    )
    _assert_same_density(data, spec, prepare_lift_tests(frame, data), seed=3)


def test_no_baseline_terms_gives_an_empty_design(panel: pd.DataFrame, spec: MMMSpec) -> None:
    bare = MMMSpec(channels=spec.channels, trend=False, yearly_fourier=0)
    data = MMMData.from_panel(panel, bare)
    assert baseline_design(data, bare).shape == (data.n_weeks, len(data.holidays))
    empty = replace(data, holidays=(), holiday=np.zeros((data.n_weeks, 0)))
    assert baseline_design(empty, bare).shape == (data.n_weeks, 0)
    _assert_same_density(empty, bare, seed=4)


def test_channel_first_adstock_matches_the_lag_stack() -> None:
    rng = np.random.default_rng(5)
    x = rng.gamma(1.0, 2.0, size=(20, 3)) * (rng.random((20, 3)) > 0.3)
    w = rng.random((4, 3))
    fast = pt_transforms.adstock_lagged_channel_first(pt_transforms.lagged_channel_first(x, 4), w)
    slow = pt_transforms.adstock_lagged(pt_transforms.lagged(x, 4), w)
    got, want = pytensor.function([], [fast, slow], mode="FAST_COMPILE")()
    assert_allclose(got, want.T, rtol=1e-12)
    with pytest.raises(ValueError, match="n_time, n_channel"):
        pt_transforms.lagged_channel_first(x[:, 0], 4)


_LAGS = pt.tensor3("lags")
_WEIGHTS = pt.matrix("weights")
_CHANNEL_FIRST = pytensor.function(
    [_LAGS, _WEIGHTS],
    pt_transforms.adstock_lagged_channel_first(_LAGS, _WEIGHTS),
    mode="FAST_COMPILE",
)


@settings(max_examples=40, deadline=None)
@given(
    n_time=st.integers(1, 12),
    l_max=st.integers(1, 6),
    n_channel=st.integers(1, 4),
    seed=st.integers(0, 2**16),
)
def test_channel_first_adstock_is_the_adstock(
    n_time: int, l_max: int, n_channel: int, seed: int
) -> None:
    rng = np.random.default_rng(seed)
    x = rng.gamma(1.0, 2.0, size=(n_time, n_channel)) * (rng.random((n_time, n_channel)) > 0.3)
    w = rng.random((l_max, n_channel))
    lags = pt_transforms.lagged_channel_first(x, l_max)
    assert lags.shape == (n_channel, n_time, l_max)
    assert lags.flags.c_contiguous
    want = adstock(x, w, axis=0)
    assert_allclose(_CHANNEL_FIRST(lags, w), want.T, rtol=1e-12, atol=1e-12)
