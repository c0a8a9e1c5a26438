"""The callbacks call PyTensor's graph function without its outer wrapper: same bits."""

from __future__ import annotations

from typing import Any

import numba
import numpy as np
import pymc as pm
import pytensor
import pytensor.tensor as pt
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays
from numpy.testing import assert_array_equal
from pytensor.configdefaults import config
from tests.mmm.helpers import call_logp

from mixlens.mmm._nutpie import compile_nutpie, unwrapped

pytestmark = [
    pytest.mark.filterwarnings("ignore::UserWarning"),
    pytest.mark.filterwarnings("ignore::numba.core.errors.NumbaPerformanceWarning"),
]

N_ROWS, N_COLS = 6, 3


@pytest.fixture(scope="module")
def function() -> Any:
    """A small graph with repeated operations and reductions of two ranks, NUMBA mode."""
    a, b = pt.dmatrix("a", shape=(N_ROWS, N_COLS)), pt.dmatrix("b", shape=(N_ROWS, N_COLS))
    v = pt.dvector("v", shape=(N_COLS,))
    out = [
        pt.exp(a).sum(axis=0) * v,
        pt.log1p(b**2).sum(axis=0),
        (pt.tanh(v) ** 2).sum(),
        pt.dot(a.T, b).sum(axis=1) + a.max(axis=0),
    ]
    return pytensor.function([a, b, v], out, mode="NUMBA")


@pytest.fixture(scope="module")
def inner_call(function: Any) -> Any:
    """The unwrapped graph function, called from a numba function (it has no Python entry)."""
    namespace = {"inner": unwrapped(function.vm.jit_fn)}
    exec("def call(a, b, v):\n    return inner(a, b, v)\n", namespace)
    return numba.njit(namespace["call"])


@pytest.mark.skipif(not config.numba__cache, reason="without the cache PyTensor adds no wrapper")
def test_unwrapped_is_the_graph_function_inside_pytensors(function: Any) -> None:
    jit_fn = function.vm.jit_fn
    inner = unwrapped(jit_fn)
    assert inner is not jit_fn
    assert inner is jit_fn.py_func.__globals__["jitable_func"]
    assert unwrapped(inner) is inner  # the graph function is no wrapper


def test_unwrapped_leaves_other_functions_alone() -> None:
    def plain(x: float) -> float:
        return x + 1.0

    jitted = numba.njit(plain)
    assert unwrapped(jitted) is jitted
    assert unwrapped(plain) is plain


@settings(max_examples=25, deadline=None)
@given(
    a=arrays(np.float64, (N_ROWS, N_COLS), elements=st.floats(-3, 3)),
    v=arrays(np.float64, (N_COLS,), elements=st.floats(-3, 3)),
)
def test_unwrapped_computes_the_same_bits(
    function: Any, inner_call: Any, a: np.ndarray[Any, Any], v: np.ndarray[Any, Any]
) -> None:
    b = a[::-1].copy()
    for got, want in zip(inner_call(a, b, v), function.vm.jit_fn(a, b, v), strict=True):
        assert_array_equal(got, want)


def _model(y: np.ndarray[Any, Any], x: np.ndarray[Any, Any]) -> pm.Model:
    with pm.Model() as model:
        xs = pm.Data("x", x, shape=x.shape)
        ys = pm.Data("y_obs", y, shape=y.shape)
        slope = pm.HalfNormal("slope", 1.0, shape=2)
        sigma = pm.HalfNormal("sigma", 1.0)
        pm.Deterministic("total", slope.sum())
        mu = slope[0] * xs + slope[1] * pt.log1p(pt.exp(xs))
        pm.Normal("y", mu, sigma, observed=ys, shape=y.shape)
    return model


def test_callbacks_equal_pytensors_function_to_the_bit() -> None:
    rng = np.random.default_rng(3)
    x = rng.random(23)
    y = 0.5 * x + rng.normal(0.0, 0.1, 23)
    compiled = compile_nutpie(_model(y, x))
    shared = [compiled.shared_data[v.name] for v in compiled.logp_func.get_shared()]
    for seed in range(4):
        point = compiled.initial_point_func(seed) + rng.normal(0.0, 0.3, compiled.n_dim)
        code, logp, grad = call_logp(compiled, point)
        assert code == 0
        want_logp, want_grad = compiled.logp_func.vm.jit_fn(point, *shared)
        assert logp == float(want_logp)
        assert_array_equal(grad, want_grad)
