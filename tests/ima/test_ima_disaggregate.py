from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from mixlens.ima.disaggregate import daily_adstock, disaggregate, disaggregate_channel
from mixlens.transforms.timescale import DelayedParams, GeometricParams


@settings(max_examples=60, deadline=None)
@given(
    n_weeks=st.integers(1, 12),
    theta=st.floats(0.05, 0.95),
    peak=st.floats(0.0, 3.0),
    l_max=st.integers(1, 6),
    seed=st.integers(0, 2**16),
    sparsity=st.floats(0.0, 1.0),
)
def test_daily_sums_to_weekly_exactly(
    n_weeks: int, theta: float, peak: float, l_max: int, seed: int, sparsity: float
) -> None:
    rng = np.random.default_rng(seed)
    weekly = rng.normal(100.0, 80.0, n_weeks)  # negative weeks too
    media = rng.lognormal(3.0, 2.0, 7 * n_weeks) * (rng.random(7 * n_weeks) > sparsity)
    daily = disaggregate_channel(weekly, media, DelayedParams(theta, peak, l_max))
    assert daily.shape == (7 * n_weeks,)
    np.testing.assert_allclose(daily.reshape(n_weeks, 7).sum(axis=1), weekly, rtol=1e-12, atol=1e-9)


def test_week_without_media_is_split_uniformly() -> None:
    media = np.r_[np.zeros(7), [7.0], np.zeros(6)]
    daily = disaggregate_channel([14.0, 7.0], media, GeometricParams(alpha=0.0, l_max=1))
    assert daily[:7].tolist() == [2.0] * 7
    assert daily[7:].tolist() == [7.0, 0, 0, 0, 0, 0, 0]


def test_split_follows_adstocked_media() -> None:
    params = DelayedParams(theta=0.5, peak=0.0, l_max=2)
    media = np.r_[[10.0], np.zeros(13)]
    daily = disaggregate_channel([1.0, 1.0], media, params)
    pressure = daily_adstock(media, params)
    np.testing.assert_allclose(daily[:7], pressure[:7] / pressure[:7].sum())
    assert np.all(np.diff(daily[:7]) <= 0)  # carryover decays through the week


def test_shape_and_value_errors() -> None:
    with pytest.raises(ValueError, match="shape"):
        disaggregate_channel([1.0], np.ones(6), None)
    with pytest.raises(ValueError, match="non-negative"):
        disaggregate_channel([1.0], -np.ones(7), None)


def test_frame_version_matches_weekly_totals() -> None:
    weekly = pd.DataFrame(
        {
            "date": ["2024-01-01", "2024-01-08"] * 2,
            "channel": ["a", "a", "b", "b"],
            "contribution": [7.0, 14.0, 3.0, 0.0],
        }
    )
    media = pd.DataFrame(
        {"date": ["2024-01-02", "2024-01-10"], "channel": ["a", "a"], "media": [1.0, 2.0]}
    )
    params = {"a": DelayedParams(0.4, 0.5, 2), "b": None}
    out = disaggregate(weekly, media, params)
    assert len(out) == 28
    week = (out["date"] - pd.Timestamp("2024-01-01")).dt.days // 7
    sums = out.groupby(["channel", week])["contribution"].sum().to_numpy()
    np.testing.assert_allclose(sums, [7.0, 14.0, 3.0, 0.0])
