from __future__ import annotations

import math
from collections.abc import Callable

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from numpy.testing import assert_allclose, assert_array_equal
from scipy.signal import lfilter

from mixlens.transforms import (
    adstock,
    delayed_adstock,
    delayed_weights,
    geometric_adstock,
    geometric_weights,
    weibull_adstock,
    weibull_weights,
)

FAST = settings(max_examples=40, deadline=None)


def impulse(n: int) -> np.ndarray:
    x = np.zeros(n)
    x[0] = 1.0
    return x


# --------------------------------------------------------------------------- reference values


def test_geometric_impulse_response_is_alpha_powers() -> None:
    alpha, l_max = 0.6, 5
    y = geometric_adstock(impulse(10), alpha, l_max=l_max)
    expected = np.array([alpha**k for k in range(l_max)] + [0.0] * 5)
    assert_allclose(y, expected, rtol=0, atol=1e-15)


def test_geometric_normalized_impulse_divides_by_sum() -> None:
    alpha, l_max = 0.6, 5
    raw = np.array([alpha**k for k in range(l_max)])
    y = geometric_adstock(impulse(l_max), alpha, l_max=l_max, normalize=True)
    assert_allclose(y, raw / raw.sum(), rtol=1e-14)
    assert math.isclose(y.sum(), 1.0, rel_tol=1e-14)


def test_geometric_known_values() -> None:
    assert geometric_weights(0.5, l_max=4).tolist() == [1.0, 0.5, 0.25, 0.125]
    w = geometric_weights(0.5, l_max=3, normalize=True)
    assert_allclose(w, [4 / 7, 2 / 7, 1 / 7], rtol=0, atol=1e-12)
    # alpha = 0: no carryover at all (0**0 == 1)
    assert geometric_weights(0.0, l_max=3).tolist() == [1.0, 0.0, 0.0]


def test_delayed_hand_computed_three_lags() -> None:
    # theta**((l - peak)**2) for l = 0, 1, 2
    assert delayed_weights(0.5, peak=1.0, l_max=3, normalize=False).tolist() == [0.5, 1.0, 0.5]
    assert delayed_weights(0.5, peak=1.0, l_max=3).tolist() == [0.25, 0.5, 0.25]
    raw = [1.0, 0.3, 0.3**4]
    assert_allclose(
        delayed_weights(0.3, peak=0.0, l_max=3, normalize=False), raw, rtol=0, atol=1e-12
    )
    assert_allclose(delayed_weights(0.3, l_max=3), np.array(raw) / sum(raw), rtol=0, atol=1e-12)
    # non-integer peak
    w = delayed_weights(0.5, peak=0.5, l_max=3, normalize=False)
    assert_allclose(w, [0.5**0.25, 0.5**0.25, 0.5**2.25], rtol=0, atol=1e-12)


@pytest.mark.parametrize("peak", [0, 1, 2, 3, 5, 7])
def test_delayed_weights_peak_at_peak(peak: int) -> None:
    w = delayed_weights(0.7, peak=float(peak), l_max=8)
    assert int(np.argmax(w)) == peak
    y = delayed_adstock(impulse(12), 0.7, peak=float(peak), l_max=8)
    assert int(np.argmax(y)) == peak


@pytest.mark.parametrize(("peak", "argmax"), [(2.4, 2), (2.6, 3), (20.0, 7)])
def test_delayed_weights_non_integer_and_far_peak(peak: float, argmax: int) -> None:
    w = delayed_weights(0.05, peak=peak, l_max=8)
    assert int(np.argmax(w)) == argmax
    assert math.isclose(w.sum(), 1.0, rel_tol=1e-12)


def test_delayed_normalization_survives_underflow() -> None:
    # raw weights all underflow to zero; normalization is done in log space
    w = delayed_weights(0.01, peak=500.0, l_max=4)
    assert_array_equal(w, [0.0, 0.0, 0.0, 1.0])


def test_weibull_cdf_is_survival() -> None:
    shape, scale = 1.5, 3.0
    lags = np.arange(6)
    expected = np.exp(-((lags / scale) ** shape))
    w = weibull_weights(shape, scale, l_max=6, kind="cdf", normalize=False)
    assert w[0] == 1.0
    assert_allclose(w, expected, rtol=1e-14)
    assert np.all(np.diff(w) < 0)
    wn = weibull_weights(shape, scale, l_max=6, kind="cdf")
    assert_allclose(wn, expected / expected.sum(), rtol=1e-14)


def test_weibull_pdf_is_density_mass_per_lag_bin() -> None:
    shape, scale = 2.0, 3.0
    edges = np.arange(9)
    cdf = 1.0 - np.exp(-((edges / scale) ** shape))
    w = weibull_weights(shape, scale, l_max=8, kind="pdf", normalize=False)
    assert_allclose(w, np.diff(cdf), rtol=1e-13, atol=1e-16)
    assert math.isclose(w.sum(), cdf[-1], rel_tol=1e-13)
    # shape > 1 gives a delayed peak; shape < 1 is finite and decreasing from lag 0
    assert int(np.argmax(w)) == 2
    w_small = weibull_weights(0.5, 2.0, l_max=8, kind="pdf")
    assert np.all(np.isfinite(w_small))
    assert np.all(np.diff(w_small) < 0)


def test_weibull_exponential_special_case() -> None:
    # shape 1: survival exp(-l / scale) is geometric with alpha = exp(-1 / scale)
    scale = 2.5
    assert_allclose(
        weibull_weights(1.0, scale, l_max=10, kind="cdf", normalize=False),
        geometric_weights(math.exp(-1 / scale), l_max=10),
        rtol=1e-13,
    )
    assert_allclose(
        weibull_weights(1.0, scale, l_max=10, kind="pdf"),
        geometric_weights(math.exp(-1 / scale), l_max=10, normalize=True),
        rtol=1e-12,
    )


def test_adstock_known_values() -> None:
    assert adstock([1.0, 0.0, 0.0, 2.0], [1.0, 0.5]).tolist() == [1.0, 0.5, 0.0, 2.0]
    assert adstock([1.0, 2.0, 3.0], [0.5, 0.25, 0.125]).tolist() == [0.5, 1.25, 2.125]


def test_adstock_kernel_longer_than_series_is_truncated() -> None:
    y = geometric_adstock([1.0, 1.0], 0.5, l_max=12)
    assert y.tolist() == [1.0, 1.5]


@pytest.mark.parametrize(
    "transform",
    [
        lambda x: geometric_adstock(x, 0.7),
        lambda x: geometric_adstock(x, 0.7, normalize=True),
        lambda x: delayed_adstock(x, 0.4, peak=2.0),
        lambda x: weibull_adstock(x, 2.0, 3.0, kind="pdf"),
        lambda x: weibull_adstock(x, 0.8, 3.0, kind="cdf"),
    ],
)
def test_zero_input_gives_zero_output(transform: Callable[[np.ndarray], np.ndarray]) -> None:
    assert_array_equal(transform(np.zeros((20, 3))), np.zeros((20, 3)))


def test_adstock_matches_scipy_lfilter() -> None:
    rng = np.random.default_rng(7)
    x = rng.gamma(2.0, 1.0, size=(200, 4))
    w = delayed_weights(0.6, peak=2.0, l_max=10)
    assert_allclose(adstock(x, w), lfilter(w, [1.0], x, axis=0), rtol=1e-12)


def test_integer_input_is_promoted_to_float() -> None:
    y = geometric_adstock([1, 0, 0], 0.5, l_max=3)
    assert y.dtype == np.float64
    assert y.tolist() == [1.0, 0.5, 0.25]


# --------------------------------------------------------------------------- n-D


def test_2d_axis0_equals_column_by_column() -> None:
    rng = np.random.default_rng(1)
    x = rng.gamma(2.0, 1.0, size=(60, 5))
    alphas = np.array([0.0, 0.2, 0.5, 0.8, 0.95])
    y = geometric_adstock(x, alphas, l_max=10)
    assert y.shape == x.shape
    for c in range(5):
        assert_allclose(y[:, c], geometric_adstock(x[:, c], alphas[c], l_max=10), rtol=1e-14)
    # scalar parameter on 2-D input
    y_scalar = delayed_adstock(x, 0.5, peak=1.5, l_max=6)
    for c in range(5):
        assert_allclose(y_scalar[:, c], delayed_adstock(x[:, c], 0.5, peak=1.5, l_max=6))


def test_per_channel_weibull_and_delayed() -> None:
    rng = np.random.default_rng(2)
    x = rng.gamma(2.0, 1.0, size=(40, 3))
    shapes, scales = np.array([0.5, 1.0, 2.0]), np.array([1.0, 2.0, 4.0])
    y = weibull_adstock(x, shapes, scales, l_max=8, kind="pdf")
    thetas, peaks = np.array([0.2, 0.5, 0.9]), np.array([0.0, 1.0, 3.5])
    z = delayed_adstock(x, thetas, peak=peaks, l_max=8)
    for c in range(3):
        assert_allclose(y[:, c], weibull_adstock(x[:, c], shapes[c], scales[c], l_max=8))
        assert_allclose(z[:, c], delayed_adstock(x[:, c], thetas[c], peak=peaks[c], l_max=8))


def test_other_axis_and_3d() -> None:
    rng = np.random.default_rng(3)
    x = rng.normal(size=(4, 30, 3))  # (geo, time, channel)
    alphas = np.array([0.1, 0.5, 0.9])
    y = geometric_adstock(x, alphas, l_max=5, axis=1)
    assert y.shape == x.shape
    for g in range(4):
        assert_allclose(y[g], geometric_adstock(x[g], alphas, l_max=5, axis=0), rtol=1e-14)
    xt = x[0].T  # (channel, time)
    assert_allclose(
        geometric_adstock(xt, 0.5, l_max=5, axis=-1).T, geometric_adstock(x[0], 0.5, l_max=5)
    )
    assert_allclose(
        geometric_adstock(xt, alphas, l_max=5, axis=-1).T,
        geometric_adstock(x[0], alphas, l_max=5),
    )


def test_weights_shapes() -> None:
    assert geometric_weights(0.5, l_max=7).shape == (7,)
    assert geometric_weights([0.1, 0.2], l_max=7).shape == (7, 2)
    assert delayed_weights([0.1, 0.2], peak=[[0.0], [1.0]], l_max=4).shape == (4, 2, 2)
    assert weibull_weights(1.0, [1.0, 2.0, 3.0], l_max=4).shape == (4, 3)
    assert_allclose(geometric_weights([0.3, 0.6], l_max=6, normalize=True).sum(axis=0), 1.0)


# --------------------------------------------------------------------------- validation


@pytest.mark.parametrize(
    ("call", "match"),
    [
        (lambda: geometric_weights(1.0, l_max=3), "alpha"),
        (lambda: geometric_weights(-0.1, l_max=3), "alpha"),
        (lambda: geometric_weights([0.5, 1.2], l_max=3), "alpha"),
        (lambda: geometric_weights(float("nan"), l_max=3), "alpha"),
        (lambda: geometric_weights(0.5, l_max=0), "l_max"),
        (lambda: geometric_weights(0.5, l_max=2.5), "l_max"),  # type: ignore[arg-type]
        (lambda: geometric_weights(0.5, l_max=True), "l_max"),
        (lambda: delayed_weights(0.0, l_max=3), "theta"),
        (lambda: delayed_weights(1.0, l_max=3), "theta"),
        (lambda: delayed_weights(0.5, peak=-1.0, l_max=3), "peak"),
        (lambda: weibull_weights(0.0, 1.0, l_max=3), "shape"),
        (lambda: weibull_weights(1.0, -1.0, l_max=3), "scale"),
        (lambda: weibull_weights(1.0, 1.0, l_max=3, kind="both"), "kind"),  # type: ignore[arg-type]
        (lambda: adstock(1.0, [1.0]), "dimension"),
        (lambda: adstock([1.0], []), "l_max"),
        (lambda: adstock([1.0], [np.inf]), "finite"),
        (lambda: adstock(np.ones((5, 3)), np.ones((2, 4))), "broadcast"),
        (lambda: adstock(np.ones(5), np.ones((2, 3))), "broadcast"),
    ],
)
def test_invalid_arguments_raise(call: Callable[[], object], match: str) -> None:
    with pytest.raises(ValueError, match=match):
        call()


# --------------------------------------------------------------------------- properties

series = st.lists(
    st.floats(min_value=0.0, max_value=1e6, allow_nan=False, allow_infinity=False),
    min_size=1,
    max_size=40,
)
l_maxes = st.integers(min_value=1, max_value=20)
alphas = st.floats(min_value=0.0, max_value=0.99)
thetas = st.floats(min_value=0.01, max_value=0.99)
peaks = st.floats(min_value=0.0, max_value=10.0)
shapes = st.floats(min_value=0.2, max_value=5.0)
scales = st.floats(min_value=0.2, max_value=20.0)


def kernel_strategy() -> st.SearchStrategy[tuple[str, np.ndarray]]:
    return st.one_of(
        st.builds(
            lambda a, n: ("geometric", geometric_weights(a, l_max=n, normalize=True)),
            alphas,
            l_maxes,
        ),
        st.builds(
            lambda t, p, n: ("delayed", delayed_weights(t, peak=p, l_max=n)),
            thetas,
            peaks,
            l_maxes,
        ),
        st.builds(
            lambda k, s, n, kind: ("weibull", weibull_weights(k, s, l_max=n, kind=kind)),
            shapes,
            scales,
            l_maxes,
            st.sampled_from(["pdf", "cdf"]),
        ),
    )


@FAST
@given(kernel=kernel_strategy(), x=series)
def test_normalized_adstock_preserves_total_media(
    kernel: tuple[str, np.ndarray], x: list[float]
) -> None:
    _, w = kernel
    assert math.isclose(w.sum(), 1.0, rel_tol=1e-12)
    padded = np.concatenate([np.asarray(x), np.zeros(len(w) - 1)])
    y = adstock(padded, w)
    assert math.isclose(y.sum(), padded.sum(), rel_tol=1e-9, abs_tol=1e-9)


@FAST
@given(
    alpha=alphas,
    theta=thetas,
    peak=peaks,
    shape=shapes,
    scale=scales,
    l_max=l_maxes,
    x=series,
)
def test_wrappers_preserve_total_media(
    alpha: float, theta: float, peak: float, shape: float, scale: float, l_max: int, x: list[float]
) -> None:
    padded = np.concatenate([np.asarray(x), np.zeros(l_max - 1)])
    total = padded.sum()
    for y in (
        geometric_adstock(padded, alpha, l_max=l_max, normalize=True),
        delayed_adstock(padded, theta, peak=peak, l_max=l_max),
        weibull_adstock(padded, shape, scale, l_max=l_max, kind="pdf"),
        weibull_adstock(padded, shape, scale, l_max=l_max, kind="cdf"),
    ):
        assert math.isclose(y.sum(), total, rel_tol=1e-9, abs_tol=1e-9)


@FAST
@given(
    kernel=kernel_strategy(),
    seed=st.integers(min_value=0, max_value=2**32 - 1),
    n=st.integers(min_value=1, max_value=50),
    a=st.floats(min_value=-10.0, max_value=10.0),
    b=st.floats(min_value=-10.0, max_value=10.0),
)
def test_adstock_is_linear(
    kernel: tuple[str, np.ndarray], seed: int, n: int, a: float, b: float
) -> None:
    _, w = kernel
    rng = np.random.default_rng(seed)
    x, z = rng.normal(size=(2, n, 3))
    lhs = adstock(a * x + b * z, w)
    rhs = a * adstock(x, w) + b * adstock(z, w)
    assert_allclose(lhs, rhs, rtol=1e-10, atol=1e-10)


@FAST
@given(alpha=alphas, l_max=l_maxes, n=st.integers(min_value=1, max_value=30))
def test_geometric_impulse_property(alpha: float, l_max: int, n: int) -> None:
    y = geometric_adstock(impulse(n), alpha, l_max=l_max)
    k = np.arange(n)
    expected = np.where(k < l_max, alpha ** k.astype(float), 0.0)
    assert_allclose(y, expected, rtol=1e-14, atol=0)
