from __future__ import annotations

import math
from collections.abc import Callable

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from numpy.testing import assert_allclose

from mixlens.transforms import (
    hill,
    hill_derivative,
    logistic_saturation,
    logistic_saturation_derivative,
    michaelis_menten,
    michaelis_menten_derivative,
)

FAST = settings(max_examples=60, deadline=None)

Curve = Callable[[np.ndarray], np.ndarray]

# --------------------------------------------------------------------------- reference values


@pytest.mark.parametrize("half_saturation", [1e-3, 0.5, 2.0, 1e4])
@pytest.mark.parametrize("slope", [0.3, 1.0, 2.5, 8.0])
def test_hill_half_saturation_gives_half(half_saturation: float, slope: float) -> None:
    assert hill(half_saturation, half_saturation=half_saturation, slope=slope) == 0.5


def test_hill_known_values() -> None:
    assert hill(0.0, half_saturation=1.0, slope=2.0) == 0.0
    assert math.isclose(float(hill(2.0, half_saturation=1.0, slope=2.0)), 0.8, abs_tol=1e-12)
    assert math.isclose(float(hill(1.0, half_saturation=2.0, slope=2.0)), 0.2, abs_tol=1e-12)
    assert math.isclose(
        float(hill(3.0, half_saturation=2.0, slope=1.5)),
        3.0**1.5 / (3.0**1.5 + 2.0**1.5),
        abs_tol=1e-12,
    )
    # derivative: s K^s x^(s-1) / (x^s + K^s)^2
    assert math.isclose(
        float(hill_derivative(1.0, half_saturation=1.0, slope=2.0)), 0.5, abs_tol=1e-12
    )
    assert math.isclose(
        float(hill_derivative(3.0, half_saturation=2.0, slope=1.5)),
        1.5 * 2.0**1.5 * 3.0**0.5 / (3.0**1.5 + 2.0**1.5) ** 2,
        abs_tol=1e-12,
    )
    assert hill_derivative(0.0, half_saturation=2.0, slope=[0.5, 1.0, 2.0]).tolist() == [
        math.inf,
        0.5,
        0.0,
    ]


def test_hill_extremes_are_stable() -> None:
    # no overflow warnings (pytest turns warnings into errors) and sane limits
    x = np.array([0.0, 1e-300, 1e-10, 1e10, 1e300])
    h = hill(x, half_saturation=1.0, slope=10.0)
    assert h[0] == 0.0 and h[-1] == 1.0
    assert np.all(np.diff(h) >= 0)
    d = hill_derivative(x, half_saturation=1.0, slope=10.0)
    assert np.all(np.isfinite(d)) and np.all(d >= 0)


def test_logistic_known_values() -> None:
    assert logistic_saturation(0.0, lam=3.0) == 0.0
    assert math.isclose(
        float(logistic_saturation(1.0, lam=2.0)),
        (1 - math.exp(-2.0)) / (1 + math.exp(-2.0)),
        abs_tol=1e-12,
    )
    assert math.isclose(float(logistic_saturation(1.0, lam=2.0)), math.tanh(1.0), abs_tol=1e-12)
    assert logistic_saturation(1e6, lam=1.0) <= 1.0
    assert logistic_saturation_derivative(0.0, lam=3.0) == 1.5
    e = math.exp(-2.0)
    assert math.isclose(
        float(logistic_saturation_derivative(1.0, lam=2.0)),
        2 * 2.0 * e / (1 + e) ** 2,
        abs_tol=1e-12,
    )


def test_michaelis_menten_known_values() -> None:
    assert michaelis_menten([0.0, 1.0, 3.0], vmax=10.0, k=1.0).tolist() == [0.0, 5.0, 7.5]
    assert michaelis_menten(2.0, vmax=4.0, k=2.0) == 2.0
    assert michaelis_menten_derivative([0.0, 1.0], vmax=10.0, k=1.0).tolist() == [10.0, 2.5]
    assert math.isclose(
        float(michaelis_menten_derivative(3.0, vmax=6.0, k=2.0)), 12.0 / 25.0, abs_tol=1e-12
    )


def test_per_channel_parameters_broadcast() -> None:
    rng = np.random.default_rng(4)
    x = rng.gamma(2.0, 1.0, size=(30, 3))
    ks, ss = np.array([0.5, 1.0, 2.0]), np.array([0.7, 1.0, 3.0])
    h = hill(x, half_saturation=ks, slope=ss)
    d = hill_derivative(x, half_saturation=ks, slope=ss)
    assert h.shape == d.shape == x.shape
    for c in range(3):
        assert_allclose(h[:, c], hill(x[:, c], half_saturation=ks[c], slope=ss[c]), rtol=1e-15)
        assert_allclose(
            d[:, c], hill_derivative(x[:, c], half_saturation=ks[c], slope=ss[c]), rtol=1e-15
        )
    lams = np.array([0.1, 1.0, 10.0])
    assert logistic_saturation(x, lam=lams).shape == x.shape
    assert michaelis_menten(x, vmax=ks, k=ss).shape == x.shape


# --------------------------------------------------------------------------- validation


@pytest.mark.parametrize(
    ("call", "match"),
    [
        (lambda: hill(-1.0, half_saturation=1.0, slope=1.0), "x"),
        (lambda: hill([1.0, np.nan], half_saturation=1.0, slope=1.0), "x"),
        (lambda: hill(1.0, half_saturation=-1.0, slope=1.0), "half_saturation"),
        (lambda: hill(1.0, half_saturation=0.0, slope=1.0), "half_saturation"),
        (lambda: hill(1.0, half_saturation=1.0, slope=0.0), "slope"),
        (lambda: hill_derivative(-1.0, half_saturation=1.0, slope=1.0), "x"),
        (lambda: logistic_saturation(-1.0, lam=1.0), "x"),
        (lambda: logistic_saturation(1.0, lam=0.0), "lam"),
        (lambda: logistic_saturation_derivative(1.0, lam=-2.0), "lam"),
        (lambda: michaelis_menten(-1.0, vmax=1.0, k=1.0), "x"),
        (lambda: michaelis_menten(1.0, vmax=-1.0, k=1.0), "vmax"),
        (lambda: michaelis_menten(1.0, vmax=1.0, k=0.0), "k"),
        (lambda: michaelis_menten_derivative(np.inf, vmax=1.0, k=1.0), "x"),
    ],
)
def test_invalid_arguments_raise(call: Callable[[], object], match: str) -> None:
    with pytest.raises(ValueError, match=match):
        call()


# --------------------------------------------------------------------------- properties

media = st.lists(
    st.floats(min_value=0.0, max_value=1e8, allow_nan=False, allow_infinity=False),
    min_size=1,
    max_size=30,
)
positive = st.floats(min_value=1e-3, max_value=1e3)
slopes = st.floats(min_value=0.1, max_value=10.0)


@FAST
@given(x=media, half_saturation=positive, slope=slopes)
def test_hill_monotone_and_bounded(x: list[float], half_saturation: float, slope: float) -> None:
    xs = np.sort(np.asarray(x))
    h = hill(xs, half_saturation=half_saturation, slope=slope)
    assert np.all((h >= 0.0) & (h <= 1.0))
    assert np.all(np.diff(h) >= 0.0)
    assert np.all(hill_derivative(xs, half_saturation=half_saturation, slope=slope) >= 0.0)


@FAST
@given(x=media, lam=positive)
def test_logistic_monotone_and_bounded(x: list[float], lam: float) -> None:
    xs = np.sort(np.asarray(x))
    y = logistic_saturation(xs, lam=lam)
    # mathematically in [0, 1); in floating point tanh rounds to 1.0 for large arguments
    assert np.all((y >= 0.0) & (y <= 1.0))
    assert np.all(y[xs * lam < 1.0] < 1.0)
    assert np.all(np.diff(y) >= 0.0)
    assert np.all(logistic_saturation_derivative(xs, lam=lam) >= 0.0)


@FAST
@given(x=media, vmax=positive, k=positive)
def test_michaelis_menten_monotone_and_bounded(x: list[float], vmax: float, k: float) -> None:
    xs = np.sort(np.asarray(x))
    y = michaelis_menten(xs, vmax=vmax, k=k)
    assert np.all((y >= 0.0) & (y <= vmax))
    assert np.all(np.diff(y) >= 0.0)
    assert np.all(michaelis_menten_derivative(xs, vmax=vmax, k=k) >= 0.0)


def assert_derivative_matches(f: Curve, df: Curve, x: float) -> None:
    """Central finite difference with a step relative to x, tolerance covering rounding."""
    h = 1e-5 * x
    xs = np.array([x - h, x + h])
    fm, fp = f(xs)
    fd = (fp - fm) / (2 * h)
    exact = float(df(np.array(x)))
    fx = abs(float(f(np.array(x))))
    # truncation error O(h^2) relative + rounding error ~ eps * |f| / h
    assert abs(fd - exact) <= 1e-6 * abs(exact) + 1e-12 * fx / h, (x, fd, exact)


xs_positive = st.floats(min_value=1e-3, max_value=1e3)


@FAST
@given(x=xs_positive, half_saturation=st.floats(0.05, 50.0), slope=st.floats(0.3, 6.0))
def test_hill_derivative_matches_finite_differences(
    x: float, half_saturation: float, slope: float
) -> None:
    assert_derivative_matches(
        lambda v: hill(v, half_saturation=half_saturation, slope=slope),
        lambda v: hill_derivative(v, half_saturation=half_saturation, slope=slope),
        x,
    )


@FAST
@given(x=xs_positive, lam=st.floats(1e-3, 50.0))
def test_logistic_derivative_matches_finite_differences(x: float, lam: float) -> None:
    assert_derivative_matches(
        lambda v: logistic_saturation(v, lam=lam),
        lambda v: logistic_saturation_derivative(v, lam=lam),
        x,
    )


@FAST
@given(x=xs_positive, vmax=st.floats(1e-3, 1e3), k=st.floats(1e-3, 1e3))
def test_michaelis_menten_derivative_matches_finite_differences(
    x: float, vmax: float, k: float
) -> None:
    assert_derivative_matches(
        lambda v: michaelis_menten(v, vmax=vmax, k=k),
        lambda v: michaelis_menten_derivative(v, vmax=vmax, k=k),
        x,
    )
