from __future__ import annotations

import numpy as np
import pytensor
import pytensor.tensor as pt
import pytest
from numpy.testing import assert_allclose

from mixlens.mmm import pt_transforms as ptt
from mixlens.transforms import (
    adstock,
    delayed_weights,
    geometric_weights,
    hill,
    logistic_saturation,
    weibull_weights,
)

RNG = np.random.default_rng(0)
THETA = np.array([0.2, 0.5, 0.85])
PEAK = np.array([0.0, 1.3, 2.0])


@pytest.mark.parametrize("normalize", [True, False])
def test_delayed_weights_match_numpy(normalize: bool) -> None:
    got = ptt.delayed_weights(THETA, peak=PEAK, l_max=6, normalize=normalize).eval()
    want = delayed_weights(THETA, peak=PEAK, l_max=6, normalize=normalize)
    assert_allclose(got, want, rtol=0, atol=1e-10)
    scalar = ptt.delayed_weights(0.5, peak=1.0, l_max=3).eval()
    assert_allclose(scalar, delayed_weights(0.5, peak=1.0, l_max=3), rtol=0, atol=1e-10)


@pytest.mark.parametrize("normalize", [True, False])
def test_geometric_weights_match_numpy(normalize: bool) -> None:
    alpha = np.array([0.0, 0.3, 0.9])
    got = ptt.geometric_weights(alpha, l_max=5, normalize=normalize).eval()
    assert_allclose(got, geometric_weights(alpha, l_max=5, normalize=normalize), atol=1e-10)


@pytest.mark.parametrize("kind", ["pdf", "cdf"])
@pytest.mark.parametrize("normalize", [True, False])
def test_weibull_weights_match_numpy(kind: str, normalize: bool) -> None:
    shape, scale = np.array([0.7, 1.0, 2.5]), np.array([1.5, 3.0, 2.0])
    got = ptt.weibull_weights(shape, scale, l_max=8, kind=kind, normalize=normalize).eval()  # type: ignore[arg-type]
    want = weibull_weights(shape, scale, l_max=8, kind=kind, normalize=normalize)  # type: ignore[arg-type]
    assert_allclose(got, want, rtol=0, atol=1e-10)


def test_adstock_matches_numpy() -> None:
    x = RNG.gamma(1.0, 2.0, size=(20, 3)) * (RNG.random((20, 3)) > 0.3)
    w = delayed_weights(THETA, peak=PEAK, l_max=6)
    assert_allclose(ptt.adstock(x, w, l_max=6).eval(), adstock(x, w, axis=0), atol=1e-10)
    w1 = geometric_weights(0.5, l_max=4)
    assert_allclose(ptt.adstock(x, w1, l_max=4).eval(), adstock(x, w1, axis=0), atol=1e-10)


def test_adstock_longer_kernel_than_series() -> None:
    x = np.array([[1.0], [2.0]])
    w = np.array([[0.5], [0.3], [0.2]])
    assert_allclose(ptt.adstock(x, w, l_max=3).eval(), adstock(x, w, axis=0), atol=1e-12)


def test_saturation_matches_numpy() -> None:
    x = np.concatenate([[0.0, 1e-12], RNG.gamma(1.0, 2.0, size=30), [1e6]])[:, None]
    k, s = np.array([0.5, 1.0, 3.0]), np.array([0.6, 1.0, 2.5])
    assert_allclose(
        ptt.hill(x, half_saturation=k, slope=s).eval(),
        hill(x, half_saturation=k, slope=s),
        rtol=0,
        atol=1e-10,
    )
    lam = np.array([0.1, 1.0, 4.0])
    assert_allclose(
        ptt.logistic_saturation(x, lam=lam).eval(), logistic_saturation(x, lam=lam), atol=1e-10
    )


def test_hill_gradient_is_finite_at_zero_media() -> None:
    k, s = pt.dscalar("k"), pt.dscalar("s")
    x = np.array([0.0, 0.0, 1.0, 2.0])
    total = ptt.hill(x, half_saturation=k, slope=s).sum()
    grad = pytensor.function([k, s], pt.grad(total, [k, s]))(1.5, 0.8)
    assert np.all(np.isfinite(grad))


@pytest.mark.parametrize("kind", ["pdf", "cdf"])
def test_weibull_value_and_gradient_finite_far_from_shape_one(kind: str) -> None:
    """Shapes and scales ADVI's first steps reach: (0/lam)**k for k < 1 had a NaN gradient
    in lam, and (l/lam)**k overflowed for large k; where numpy is finite, values agree."""
    shape, scale = pt.dvector("shape"), pt.dvector("scale")
    weights = ptt.weibull_weights(shape, scale, l_max=8, kind=kind)
    loss = (weights * np.arange(1.0, 9.0)[:, None]).sum()
    function = pytensor.function([shape, scale], [weights, *pt.grad(loss, [shape, scale])])
    cases = [(0.05, 50.0), (0.3, 2.0), (1.5, 2.0), (30.0, 2.0), (800.0, 3.0), (1e3, 1e-2)]
    for k, lam in cases:
        w, d_shape, d_scale = function(np.array([k]), np.array([lam]))
        assert np.isfinite(w).all() and np.isfinite(d_shape).all() and np.isfinite(d_scale).all()
        assert w.sum() == pytest.approx(1.0)
        if k < 100:  # numpy's direct formula overflows beyond
            assert_allclose(w[:, 0], weibull_weights(k, lam, l_max=8, kind=kind), atol=1e-12)
