"""The fast fitting path: precomputed lags, a cacheable graph, cached nutpie callbacks."""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
import pymc as pm
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from numpy.testing import assert_allclose
from pytensor.configdefaults import config
from tests.mmm.helpers import call_logp

from mixlens.data.simulate.mmm import MMMWorldConfig, simulate_mmm
from mixlens.mmm import pt_transforms as ptt
from mixlens.mmm._nutpie import _cache_key, compile_nutpie
from mixlens.mmm.data import MMMData
from mixlens.mmm.fit import roi_beta
from mixlens.mmm.model import build_model
from mixlens.mmm.results import MMMResult
from mixlens.mmm.spec import MMMSpec
from mixlens.transforms import adstock

pytestmark = pytest.mark.filterwarnings("ignore::UserWarning")


@settings(max_examples=50, deadline=None)
@given(
    n_time=st.integers(1, 12),
    l_max=st.integers(1, 6),
    n_batch=st.integers(1, 3),
    seed=st.integers(0, 2**16),
)
def test_weighted_lags_are_the_adstock(n_time: int, l_max: int, n_batch: int, seed: int) -> None:
    rng = np.random.default_rng(seed)
    x = rng.gamma(1.0, 2.0, size=(n_time, n_batch)) * (rng.random((n_time, n_batch)) > 0.3)
    w = rng.random((l_max, n_batch))
    lags = ptt.lagged(x, l_max)
    assert lags.shape == (l_max, n_time, n_batch)
    assert_allclose(lags[0], x)
    assert_allclose((lags * w[:, None, :]).sum(axis=0), adstock(x, w, axis=0), atol=1e-12)


def test_adstock_lagged_matches_adstock() -> None:
    rng = np.random.default_rng(1)
    x = rng.gamma(1.0, 2.0, size=(15, 4, 3)) * (rng.random((15, 4, 3)) > 0.3)
    w = rng.random((5, 3))
    lags = ptt.lagged(x, 5)
    want = adstock(x, np.broadcast_to(w[:, None, :], (5, 4, 3)), axis=0)
    assert_allclose(ptt.adstock_lagged(lags, w).eval(), want, atol=1e-12)
    assert_allclose(ptt.adstock_lagged(lags, w).eval(), ptt.adstock(x, w, l_max=5).eval())


def test_roi_beta_is_the_models_deterministic(mock_result: MMMResult) -> None:
    posterior = mock_result.idata["posterior"]
    got = roi_beta(mock_result.spec, mock_result.data, posterior)
    assert got.dims == posterior["beta"].dims
    assert_allclose(got.values, posterior["beta"].values, rtol=1e-9)


def _logp_key(panel: pd.DataFrame, spec: MMMSpec) -> str | None:
    from nutpie.compile_pymc import _make_functions

    model = build_model(MMMData.from_panel(panel, spec), spec)
    point = pm.initial_point.make_initial_point_fn(model=model, return_transformed=True)
    functions = _make_functions(
        model,
        mode="NUMBA",
        compute_grad=True,
        join_expanded=True,
        pymc_initial_point_fn=point,
    )
    return _cache_key(functions[2].vm.jit_fn)


@pytest.mark.filterwarnings("ignore::DeprecationWarning")
def test_compiled_graph_key_depends_on_shapes_not_values(
    panel: pd.DataFrame, spec: MMMSpec
) -> None:
    # Rebuilding the model (new variable ids) or changing the data values keeps the key of
    # the rewritten log-density graph, so the numba cache is hit across processes and
    # datasets of the same shapes; before, run-time shape checks made it vary.
    small = MMMSpec(channels=spec.channels[:2], controls=("price",))
    other = simulate_mmm(MMMWorldConfig(weeks=60, n_channels=5), seed=8).weekly_channel
    first = _logp_key(panel, small)
    assert first is not None
    assert _logp_key(other, small) == first
    assert _logp_key(panel.iloc[:-1], small) != first  # other shapes, other graph


def _tiny_model(y: np.ndarray[Any, Any], x: np.ndarray[Any, Any]) -> pm.Model:
    with pm.Model() as model:
        xs = pm.Data("x", x, shape=x.shape)
        ys = pm.Data("y_obs", y, shape=y.shape)
        slope = pm.HalfNormal("slope", 1.0)
        sigma = pm.HalfNormal("sigma", 1.0)
        pm.Deterministic("double_slope", 2.0 * slope)
        pm.Normal("y", slope * xs, sigma, observed=ys, shape=y.shape)
    return model


@pytest.mark.skipif(not config.numba__cache, reason="PyTensor's numba cache is off")
def test_compile_nutpie_callbacks_equal_pytensor_and_are_cached() -> None:
    rng = np.random.default_rng(0)
    x = rng.random(17)
    y = 0.5 * x + rng.normal(0.0, 0.1, 17)
    compiled = compile_nutpie(_tiny_model(y, x))
    logp_fn = compiled.logp_func
    for seed in range(3):
        point = compiled.initial_point_func(seed)
        code, logp, grad = call_logp(compiled, point)
        shared = [compiled.shared_data[v.name] for v in logp_fn.get_shared()]
        want_logp, want_grad = logp_fn.vm.jit_fn(point, *shared)
        assert code == 0
        assert logp == pytest.approx(float(want_logp), rel=1e-12)
        assert_allclose(grad, want_grad, rtol=1e-12)
    # other data of the same shapes: the same compiled code, loaded from the disk cache
    again = compile_nutpie(_tiny_model(y + 0.3, x))
    assert again.compiled_logp_func.cache_hits == 1
    assert again.compiled_expand_func.cache_hits == 1
    point = again.initial_point_func(1)
    _, logp, _ = call_logp(again, point)
    shared = [again.shared_data[v.name] for v in again.logp_func.get_shared()]
    assert logp == pytest.approx(float(again.logp_func.vm.jit_fn(point, *shared)[0]), rel=1e-12)
    assert logp != pytest.approx(call_logp(compiled, point)[1], rel=1e-9)  # its own data
