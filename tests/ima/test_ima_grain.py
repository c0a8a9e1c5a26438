"""IMA at the MMM's grain: period-consistent adstock, period saturation, MMM draws."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from mixlens.ima.disaggregate import daily_adstock, period_consistent_adstock
from mixlens.ima.fit import mmm_deviation
from mixlens.ima.regression import ChannelDesign, RegressionDraws
from mixlens.transforms.adstock import adstock
from mixlens.transforms.timescale import DelayedParams


@settings(max_examples=40, deadline=None)
@given(
    seed=st.integers(0, 10_000),
    theta=st.floats(0.05, 0.9),
    peak=st.floats(0.0, 2.0),
    l_max=st.integers(1, 6),
    offset=st.integers(0, 13),
)
def test_period_sums_are_the_mmm_adstock(
    seed: int, theta: float, peak: float, l_max: int, offset: int
) -> None:
    rng = np.random.default_rng(seed)
    weeks = 12
    x = rng.gamma(0.5, 10.0, (offset + 7 * weeks, 3)) * (rng.random((offset + 7 * weeks, 3)) < 0.4)
    p = DelayedParams(theta=theta, peak=peak, l_max=l_max)
    out = period_consistent_adstock(x, p, offset=offset)
    assert out.shape == x.shape and np.all(out >= 0)
    # Weekly sums of the window's days equal the weekly kernel on weekly media sums
    # (warm-up days before `offset` belong to earlier, partial weeks).
    head = offset % 7
    sums = np.add.reduceat(x, np.r_[0, np.arange(head, x.shape[0], 7)][int(head == 0) :], axis=0)
    expected = adstock(sums, p.weights(normalize=True), axis=0)[-weeks:]
    got = out[offset:].reshape(weeks, 7, 3).sum(axis=1)
    np.testing.assert_allclose(got, expected, rtol=1e-10, atol=1e-10)


def test_within_week_shape_follows_the_daily_kernel() -> None:
    x = np.r_[np.zeros(10), 70.0, np.zeros(17)]
    p = DelayedParams(theta=0.5, peak=0.5, l_max=2)
    out = period_consistent_adstock(x, p)
    daily = daily_adstock(x, p)
    for w in range(4):
        days = slice(7 * w, 7 * w + 7)
        if daily[days].sum() > 0 and out[days].sum() > 0:
            np.testing.assert_allclose(
                out[days] / out[days].sum(), daily[days] / daily[days].sum(), rtol=1e-12
            )


def test_custom_weekly_kernel_is_used() -> None:
    x = np.r_[np.full(7, 1.0), np.zeros(14)]
    p = DelayedParams(theta=0.5, peak=0.0, l_max=3)
    out = period_consistent_adstock(x, p, weekly_weights=[0.5, 0.25, 0.25])
    np.testing.assert_allclose(out.reshape(3, 7).sum(axis=1), [3.5, 1.75, 1.75], rtol=1e-12)


def test_period_saturation_parts_follow_the_weekly_curve() -> None:
    rng = np.random.default_rng(0)
    x = rng.gamma(1.0, 1.0, (14, 2))
    design = ChannelDesign("tv", ("a", "b"), np.ones(14), x)
    curve = {"B": np.array([10.0]), "K": np.array([1.5]), "s": np.array([2.0])}
    draws = RegressionDraws(
        beta={"tv": np.array([[1.0, 0.5]])},
        alpha={"tv": np.zeros(1)},
        method="advi",
        model="saturating",
        curve={"tv": curve},
        saturation_days=7,
    )
    parts = draws.campaign_parts(design)[0]
    pressure = (x * [1.0, 0.5]).sum(axis=1).reshape(2, 7)
    level = pressure.mean(axis=1)
    hill = level**2 / (1.5**2 + level**2)
    # Each week's mean daily response is B * hill(mean pressure) (the MMM's form).
    np.testing.assert_allclose(parts.sum(axis=1).reshape(2, 7).mean(axis=1), 10 * hill)
    # Within a week, parts are proportional to each campaign's weighted media.
    ratio = parts / (x * [1.0, 0.5])
    np.testing.assert_allclose(ratio[:7], ratio[0, 0], rtol=1e-12)


def _parts(seed: int = 0) -> tuple[ChannelDesign, np.ndarray]:
    rng = np.random.default_rng(seed)
    x = rng.gamma(1.0, 10.0, (28, 3))
    y = x @ [1.0, 2.0, 0.5] + 5.0
    parts = rng.uniform(0.7, 1.1, (40, 1, 3)) * (x * [1.0, 2.0, 0.5])[None]
    return ChannelDesign("tv", ("a", "b", "c"), y, x), parts


def test_mmm_deviation_is_centred_and_tracks_the_draws() -> None:
    design, parts = _parts()
    weekly = design.y.reshape(4, 7).sum(axis=1)
    rng = np.random.default_rng(1)
    mmm = weekly[None, :] * rng.lognormal(0.0, 0.2, (25, 1))
    dev = mmm_deviation(design, parts, design.y, mmm, seed=3)
    assert dev.shape == (40, 4)
    np.testing.assert_allclose(dev.mean(axis=0), 0.0, atol=1e-9)
    # Rows sum to the paired draw's total minus the point estimate's, up to centring.
    pick = np.random.default_rng(3).permutation(np.resize(np.arange(25), 40))
    row = mmm[pick].sum(axis=1) - weekly.sum()
    np.testing.assert_allclose(dev.sum(axis=1), row - row.mean(), rtol=1e-9, atol=1e-6)
    # The MMM's spread shows in the campaigns' intervals.
    assert np.all(dev[:, :3].std(axis=0) > 0)


def test_mmm_deviation_is_zero_without_mmm_uncertainty() -> None:
    design, parts = _parts()
    weekly = design.y.reshape(4, 7).sum(axis=1)
    dev = mmm_deviation(design, parts, design.y, np.repeat(weekly[None], 5, axis=0))
    np.testing.assert_allclose(dev, 0.0, atol=1e-9)


@pytest.mark.parametrize("grain", ["bad"])
def test_grain_is_checked(grain: str) -> None:
    import pandas as pd

    from mixlens.ima.fit import fit_ima

    with pytest.raises(ValueError, match="grain"):
        fit_ima(pd.DataFrame(), {}, pd.DataFrame(), grain=grain)  # type: ignore[arg-type]
