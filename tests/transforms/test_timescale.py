from __future__ import annotations

import dataclasses
import math
from collections.abc import Callable
from fractions import Fraction

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from numpy.testing import assert_allclose

from mixlens.transforms import (
    AdstockParams,
    DelayedParams,
    GeometricParams,
    WeibullParams,
    delayed_weights,
    geometric_weights,
    rescale,
    to_daily,
    to_weekly,
    weibull_weights,
)

FAST = settings(max_examples=60, deadline=None)


# --------------------------------------------------------------------------- rules


def test_geometric_to_daily_rule() -> None:
    daily = to_daily(GeometricParams(alpha=0.5, l_max=4))
    assert isinstance(daily, GeometricParams)
    assert math.isclose(daily.alpha, 0.5 ** (1 / 7), rel_tol=1e-15)
    assert daily.l_max == 28


def test_delayed_to_daily_rule() -> None:
    daily = to_daily(DelayedParams(theta=0.3, peak=1.5, l_max=6))
    assert isinstance(daily, DelayedParams)
    assert math.isclose(daily.theta, 0.3 ** (1 / 49), rel_tol=1e-15)
    assert daily.peak == 10.5
    assert daily.l_max == 42


@pytest.mark.parametrize("kind", ["pdf", "cdf"])
def test_weibull_to_daily_rule(kind: str) -> None:
    daily = to_daily(WeibullParams(shape=2.0, scale=3.0, l_max=8, kind=kind))  # type: ignore[arg-type]
    assert daily == WeibullParams(shape=2.0, scale=21.0, l_max=56, kind=kind)  # type: ignore[arg-type]


def test_to_weekly_l_max_is_ceiling() -> None:
    for l_max_daily, expected in [(1, 1), (7, 1), (8, 2), (49, 7), (50, 8)]:
        weekly = to_weekly(GeometricParams(alpha=0.9, l_max=l_max_daily))
        assert weekly.l_max == expected


def test_custom_days_per_week_and_fraction_factor() -> None:
    params = DelayedParams(theta=0.4, peak=2.0, l_max=3)
    business = to_daily(params, days_per_week=5)
    assert business.l_max == 15 and business.peak == 10.0
    assert math.isclose(business.theta, 0.4 ** (1 / 25), rel_tol=1e-15)
    assert rescale(params, 5) == business
    back = rescale(business, Fraction(1, 5))
    assert back.l_max == 3 and back.peak == 2.0
    assert math.isclose(back.theta, 0.4, rel_tol=1e-12)


def test_rescale_identity() -> None:
    params = WeibullParams(shape=0.7, scale=2.5, l_max=9, kind="cdf")
    assert rescale(params, 1) == params


# --------------------------------------------------------------------------- kernel shape


def test_daily_kernel_sampled_weekly_equals_weekly_kernel() -> None:
    """The conversion keeps the kernel as a function of calendar time.

    So the unnormalized daily kernel at lags 0, 7, 14, ... equals the weekly kernel.
    """
    cases: list[AdstockParams] = [
        GeometricParams(alpha=0.6, l_max=6),
        DelayedParams(theta=0.4, peak=2.0, l_max=6),
        DelayedParams(theta=0.8, peak=0.5, l_max=6),
        WeibullParams(shape=1.7, scale=2.0, l_max=6, kind="cdf"),
        WeibullParams(shape=0.6, scale=2.0, l_max=6, kind="cdf"),
    ]
    for weekly in cases:
        daily = to_daily(weekly)
        w_weekly = weekly.weights(normalize=False)
        w_daily = daily.weights(normalize=False)
        assert w_daily.shape == (7 * len(w_weekly),)
        assert_allclose(w_daily[::7], w_weekly, rtol=1e-12, atol=1e-300)


@pytest.mark.parametrize(
    "weekly",
    [
        DelayedParams(theta=0.4, peak=2.0, l_max=6),
        WeibullParams(shape=1.7, scale=2.0, l_max=6, kind="cdf"),
    ],
)
def test_daily_kernel_summed_per_week_only_approximates_weekly(
    weekly: DelayedParams | WeibullParams,
) -> None:
    summed = to_daily(weekly).weights(normalize=True).reshape(6, 7).sum(axis=1)
    target = weekly.weights(normalize=True)
    assert np.max(np.abs(summed - target)) < 0.2  # close ...
    assert not np.allclose(summed, target, rtol=1e-3)  # ... but not equal


def test_geometric_daily_weights_aggregate_exactly_after_normalization() -> None:
    weekly = GeometricParams(alpha=0.6, l_max=6)
    summed = to_daily(weekly).weights(normalize=True).reshape(6, 7).sum(axis=1)
    assert_allclose(summed, weekly.weights(normalize=True), rtol=1e-12)


def test_weibull_pdf_daily_weights_aggregate_exactly_to_weekly() -> None:
    weekly = WeibullParams(shape=1.8, scale=2.5, l_max=8, kind="pdf")
    daily = to_daily(weekly)
    for normalize in (False, True):
        summed = daily.weights(normalize=normalize).reshape(8, 7).sum(axis=1)
        assert_allclose(summed, weekly.weights(normalize=normalize), rtol=1e-12, atol=1e-15)


def test_dataclass_weights_match_functions() -> None:
    assert_allclose(GeometricParams(alpha=0.3, l_max=5).weights(), geometric_weights(0.3, l_max=5))
    assert_allclose(
        GeometricParams(alpha=0.3, l_max=5).weights(normalize=True),
        geometric_weights(0.3, l_max=5, normalize=True),
    )
    assert_allclose(
        DelayedParams(theta=0.3, peak=1.0, l_max=5).weights(),
        delayed_weights(0.3, peak=1.0, l_max=5),
    )
    assert_allclose(
        WeibullParams(shape=2.0, scale=2.0, l_max=5, kind="cdf").weights(normalize=False),
        weibull_weights(2.0, 2.0, l_max=5, kind="cdf", normalize=False),
    )


def test_params_are_frozen_and_hashable() -> None:
    params = GeometricParams(alpha=0.5, l_max=3)
    with pytest.raises(dataclasses.FrozenInstanceError):
        params.alpha = 0.1  # type: ignore[misc]
    assert len({params, GeometricParams(alpha=0.5, l_max=3)}) == 1


# --------------------------------------------------------------------------- validation


@pytest.mark.parametrize(
    ("call", "match"),
    [
        (lambda: GeometricParams(alpha=1.0, l_max=3), "alpha"),
        (lambda: GeometricParams(alpha=0.5, l_max=0), "l_max"),
        (lambda: DelayedParams(theta=0.0, peak=0.0, l_max=3), "theta"),
        (lambda: DelayedParams(theta=0.5, peak=-1.0, l_max=3), "peak"),
        (lambda: WeibullParams(shape=-1.0, scale=1.0, l_max=3), "shape"),
        (lambda: WeibullParams(shape=1.0, scale=0.0, l_max=3), "scale"),
        (lambda: WeibullParams(shape=1.0, scale=1.0, l_max=3, kind="x"), "kind"),  # type: ignore[arg-type]
        (lambda: to_daily(GeometricParams(alpha=0.5, l_max=3), days_per_week=0), "days_per_week"),
        (lambda: to_weekly(GeometricParams(alpha=0.5, l_max=3), days_per_week=-7), "days_per_week"),
        (lambda: rescale(GeometricParams(alpha=0.5, l_max=3), 0), "factor"),
        (lambda: rescale(GeometricParams(alpha=0.5, l_max=3), 0.5), "factor"),  # type: ignore[arg-type]
    ],
)
def test_invalid_arguments_raise(call: Callable[[], object], match: str) -> None:
    with pytest.raises(ValueError, match=match):
        call()


def test_rescale_rejects_unknown_params() -> None:
    with pytest.raises(TypeError, match="adstock parameters"):
        rescale(object(), 7)  # type: ignore[type-var]


# --------------------------------------------------------------------------- round trips

l_maxes = st.integers(min_value=1, max_value=60)
days = st.integers(min_value=1, max_value=7)


@FAST
@given(alpha=st.floats(min_value=0.0, max_value=0.999), l_max=l_maxes, d=days)
def test_geometric_round_trip(alpha: float, l_max: int, d: int) -> None:
    weekly = GeometricParams(alpha=alpha, l_max=l_max)
    back = to_weekly(to_daily(weekly, days_per_week=d), days_per_week=d)
    assert back.l_max == l_max
    assert math.isclose(back.alpha, alpha, rel_tol=1e-12, abs_tol=1e-300)


@FAST
@given(
    theta=st.floats(min_value=1e-6, max_value=1 - 1e-9),
    peak=st.floats(min_value=0.0, max_value=50.0),
    l_max=l_maxes,
    d=days,
)
def test_delayed_round_trip(theta: float, peak: float, l_max: int, d: int) -> None:
    weekly = DelayedParams(theta=theta, peak=peak, l_max=l_max)
    back = to_weekly(to_daily(weekly, days_per_week=d), days_per_week=d)
    assert back.l_max == l_max
    assert math.isclose(back.theta, theta, rel_tol=1e-12)
    assert math.isclose(back.peak, peak, rel_tol=1e-12, abs_tol=1e-300)


@FAST
@given(
    shape=st.floats(min_value=1e-3, max_value=1e3),
    scale=st.floats(min_value=1e-3, max_value=1e6),
    l_max=l_maxes,
    kind=st.sampled_from(["pdf", "cdf"]),
    d=days,
)
def test_weibull_round_trip(shape: float, scale: float, l_max: int, kind: str, d: int) -> None:
    weekly = WeibullParams(shape=shape, scale=scale, l_max=l_max, kind=kind)  # type: ignore[arg-type]
    back = to_weekly(to_daily(weekly, days_per_week=d), days_per_week=d)
    assert back.l_max == l_max and back.kind == kind and back.shape == shape
    assert math.isclose(back.scale, scale, rel_tol=1e-12)


@FAST
@given(alpha=st.floats(min_value=0.01, max_value=0.9999), l_max_daily=st.integers(1, 400))
def test_daily_weekly_daily_keeps_parameters_and_covers_window(
    alpha: float, l_max_daily: int
) -> None:
    daily = GeometricParams(alpha=alpha, l_max=l_max_daily)
    again = to_daily(to_weekly(daily))
    assert math.isclose(again.alpha, alpha, rel_tol=1e-12, abs_tol=1e-300)
    assert l_max_daily <= again.l_max < l_max_daily + 7
