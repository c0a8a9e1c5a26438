"""The simulated lift tests of ``benchmarks/mmm_calibration.py`` (no MMM fit; seconds)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from benchmarks import mmm_calibration as bench
from hypothesis import given, settings
from hypothesis import strategies as st

from mixlens.data.simulate.mmm import SimulatedMMM, simulate_mmm
from mixlens.mmm.calibration import read_lift_tests

SEED = 2


@pytest.fixture(scope="module")
def world() -> SimulatedMMM:
    return simulate_mmm(bench._config(), seed=SEED)


@settings(max_examples=30, deadline=None)
@given(
    widths=st.lists(st.floats(0.01, 10.0, allow_nan=False), min_size=3, max_size=3, unique=True),
    k=st.integers(1, 3),
)
def test_choose_channels_takes_the_widest_relative_intervals(widths: list[float], k: int) -> None:
    means = np.array([1.0, 2.0, 0.5])
    roi = pd.DataFrame(
        {
            "channel": ["a", "b", "c"],
            "roi_mean": means,
            "roi_lo": means,
            "roi_hi": means + np.array(widths) * means,
        }
    )
    chosen = bench.choose_channels(roi, k)
    expected = [roi["channel"][i] for i in np.argsort(widths)[::-1][:k]]
    assert chosen == expected


def test_design_test_window_in_the_last_year_with_spend(world: SimulatedMMM) -> None:
    panel = world.weekly_channel
    dates = pd.DatetimeIndex(panel["date"])
    for channel in world.roi["channel"]:
        start, end = bench.design_test(panel, channel)
        assert (end - start).days + 1 == 7 * bench.TEST_WEEKS
        assert start >= dates[-52]
        assert end <= dates[-1 - bench.COOLDOWN_WEEKS] + pd.Timedelta(days=6)
        window = (dates >= start) & (dates <= end)
        assert panel.loc[window, f"{channel}_spend"].sum() > 0


def test_true_lift_is_zero_without_change_and_concave(world: SimulatedMMM) -> None:
    start, end = bench.design_test(world.weekly_channel, "paid_search")
    full = bench.true_lift(world, SEED, "paid_search", start, end)
    assert full > 0
    assert bench.true_lift(world, SEED, "paid_search", start, end, keep=1.0) == pytest.approx(0.0)
    # removing a quarter of the spend loses less than a quarter of the full removal's lift
    # (diminishing returns): why a geo holdout is not "25% of national spend removed"
    quarter = bench.true_lift(world, SEED, "paid_search", start, end, keep=0.75)
    assert 0 < quarter < 0.25 * full


def test_simulated_tests_are_reproducible_and_read_back(world: SimulatedMMM) -> None:
    tests = [bench.simulate_test(world, SEED, c) for c in ("tv", "display")]
    again = bench.simulate_test(world, SEED, "tv")
    assert again == tests[0]
    for t in tests:
        assert t["true_lift"] > 0
        assert t["se_in_test_geos"] > 0
    national = read_lift_tests(bench.lift_rows(tests, "national"))
    share = read_lift_tests(bench.lift_rows(tests, "share"))
    scale = 1 / bench.MARKET_SHARE
    np.testing.assert_allclose(
        national["incremental_outcome"], scale * share["incremental_outcome"], rtol=1e-12
    )
    np.testing.assert_allclose(national["se"], scale * share["se"], rtol=1e-12)
    assert list(national["spend_share"]) == [1.0, 1.0]
    assert list(share["spend_share"]) == [bench.MARKET_SHARE] * 2
