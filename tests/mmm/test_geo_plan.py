"""The geo lift-test plan: geo-holdout candidates, their error model and the greedy ranking.

The ranking's invariants run on synthetic draws (hypothesis) and on a geo model whose
posterior is prior draws (no sampler), as in test_geo.py.
"""

from __future__ import annotations

import warnings
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from numpy.testing import assert_allclose

from mixlens.data.geo_panel import GeoPanel
from mixlens.data.simulate.mmm import MMMWorldConfig, SimulatedMMM, simulate_mmm
from mixlens.mmm.calibration import prepare_geo_lift_tests
from mixlens.mmm.geo import ALL_GEOS, GeoMMM, GeoMMMResult
from mixlens.mmm.geo_data import GeoMMMData
from mixlens.mmm.geo_model import build_geo_model
from mixlens.mmm.identification import (
    TEST_SE_SHARE,
    geo_holdout_noise,
    holdout_geo_sets,
    plan_lift_tests,
)
from mixlens.mmm.results import Diagnostics
from mixlens.mmm.spec import MMMSpec

from .conftest import prior_idata

CONTROLS = ("price", "promotion")
WINDOW = ("2024-01-01", "2024-02-25", 1.0)

# ------------------------------------------------------------------ candidates and noise


@settings(max_examples=60, deadline=None)
@given(st.lists(st.floats(0, 1e6, allow_nan=False), min_size=1, max_size=12))
def test_holdout_sets_are_nested_top_spenders_leaving_two_controls(spend: list[float]) -> None:
    sets = holdout_geo_sets(spend)
    values = np.array(spend)
    spenders = int(np.sum(values > 0))
    assert len(sets) == max(0, min(len(spend) - 2, spenders))
    for k, treated in enumerate(sets, start=1):
        assert len(treated) == k and len(set(treated)) == k
        assert treated[: k - 1] == (sets[k - 2] if k > 1 else ())  # nested
        assert np.all(values[list(treated)] > 0)
        others = np.delete(values, list(treated))
        assert values[list(treated)].min() >= others.max()  # the top spenders
        assert len(spend) - k >= 2


def _panel_arrays(weeks: int, geos: int, noise: float, seed: int) -> tuple[np.ndarray, Any]:
    rng = np.random.default_rng(seed)
    season = 1.0 + 0.2 * np.sin(np.arange(weeks) / 8.0)
    y = 100.0 * season[:, None] * (1.0 + noise * rng.standard_normal((weeks, geos)))
    return y, pd.date_range("2023-01-02", periods=weeks, freq="7D")


def test_geo_holdout_noise_measures_the_panel_and_falls_back_when_too_short() -> None:
    geos = [f"g{i}" for i in range(6)]
    quiet = geo_holdout_noise(*_panel_arrays(80, 6, 0.005, 1), geos, ["g0", "g1"])
    loud = geo_holdout_noise(*_panel_arrays(80, 6, 0.05, 1), geos, ["g0", "g1"])
    # weekly noise sd s per geo: an 8-week sum of 2 geos is off by about s / 4 relative
    assert 0.0005 < quiet < 0.005 < loud < 0.05
    short = geo_holdout_noise(*_panel_arrays(12, 6, 0.05, 1), geos, ["g0"])
    assert short == TEST_SE_SHARE


# ------------------------------------------------------------------ the ranking, several candidates


def _draws(seed: int, sds: list[float], n: int = 2000) -> np.ndarray:
    return np.exp(np.random.default_rng(seed).normal(0.0, sds, size=(n, len(sds))))


def test_plan_picks_one_candidate_per_channel_the_one_that_teaches_most() -> None:
    roi = _draws(0, [0.8, 0.8, 0.05])
    # channel 0: a loud small test and a clear big one; channel 1: one clear test;
    # channel 2 (known): one test; channel 1's second candidate has no window
    lift = roi[:, [0, 0, 1, 2, 1]] * [100.0, 1000.0, 800.0, 1000.0, 5.0]
    owner = [0, 0, 1, 2, 1]
    windows = [WINDOW, WINDOW, WINDOW, WINDOW, None]
    cells = ["a", "a,b", "b", "a", "c"]
    plan = plan_lift_tests(
        ["x", "y", "z"], roi, lift, [100.0] * 5, [1.0, 1.0, 1.0], windows,
        test_channel=owner, columns={"geo": cells},
    )  # fmt: skip
    frame = plan.to_frame()
    assert list(frame.columns[:3]) == ["rank", "channel", "geo"]
    assert list(frame["channel"]) == ["x", "y", "z"]  # one row per channel
    assert list(frame["geo"]) == ["a,b", "b", "a"]  # x's clear test beats its loud one
    assert frame["lift_to_se"].iloc[0] == pytest.approx(lift[:, 1].mean() / 100.0)
    assert plan.untestable == ()
    with pytest.raises(ValueError, match="index the 3 channels"):
        plan_lift_tests(["x", "y", "z"], roi, lift, [1.0] * 5, [1.0] * 3, windows,
                        test_channel=[0, 0, 1, 2, 3])  # fmt: skip
    with pytest.raises(ValueError, match="one value per test"):
        plan_lift_tests(["x", "y", "z"], roi, lift, [1.0] * 5, [1.0] * 3, windows,
                        test_channel=owner, columns={"geo": ["a"]})  # fmt: skip
    with pytest.raises(ValueError, match="lift_draws"):
        plan_lift_tests(["x", "y", "z"], roi, lift[:, :4], [1.0] * 5, [1.0] * 3, windows,
                        test_channel=owner)  # fmt: skip


def test_default_candidates_are_one_per_channel() -> None:
    roi = _draws(1, [0.1, 0.7, 0.4])
    lift = roi * [300.0, 200.0, 100.0]
    windows = [WINDOW] * 3
    default = plan_lift_tests(["a", "b", "c"], roi, lift, [20.0] * 3, [3.0, 2.0, 1.0], windows)
    explicit = plan_lift_tests(
        ["a", "b", "c"], roi, lift, [20.0] * 3, [3.0, 2.0, 1.0], windows, test_channel=[0, 1, 2]
    )
    pd.testing.assert_frame_equal(default.to_frame(), explicit.to_frame())


@settings(max_examples=25, deadline=None)
@given(
    st.integers(0, 10_000),
    st.lists(st.floats(0.02, 1.5), min_size=2, max_size=5),
    st.integers(1, 3),
)
def test_plan_invariants(seed: int, sds: list[float], per_channel: int) -> None:
    rng = np.random.default_rng(seed)
    c = len(sds)
    roi = _draws(seed, sds, n=600)
    owner = np.repeat(np.arange(c), per_channel)
    size = rng.uniform(10.0, 1000.0, len(owner))
    # a test's lift: its channel's ROI times its spend, times some geo-level wobble
    lift = roi[:, owner] * size * np.exp(0.3 * rng.standard_normal((600, len(owner))))
    se = rng.uniform(5.0, 200.0, len(owner))
    windows = [WINDOW if rng.random() < 0.85 else None for _ in owner]
    spend = rng.uniform(0.5, 2.0, c)
    plan = plan_lift_tests(
        [f"c{i}" for i in range(c)], roi, lift, se, spend, windows, test_channel=owner
    )
    frame = plan.to_frame()
    testable = {f"c{i}" for i, w in zip(owner, windows, strict=True) if w is not None}
    assert set(frame["channel"]) == testable and frame["channel"].is_unique
    assert set(plan.untestable) == {f"c{i}" for i in range(c)} - testable
    assert list(frame["rank"]) == list(range(1, len(frame) + 1))
    assert (frame["gain"] >= -1e-12).all()
    after = np.r_[plan.weighted_log_roi_sd, frame["weighted_log_roi_sd_after"]]
    assert np.all(np.diff(after) <= 1e-12)
    assert (frame["log_roi_sd_after"] <= frame["log_roi_sd"] + 1e-12).all()
    if len(frame):
        # greedy: no single candidate alone beats the first pick
        alone = [
            plan_lift_tests(
                [f"c{i}" for i in range(c)], roi, lift[:, [k]], se[[k]], spend, [windows[k]],
                test_channel=owner[[k]],
            ).to_frame()["weighted_log_roi_sd_after"]
            for k in range(len(owner))
            if windows[k] is not None
        ]  # fmt: skip
        best = min(float(a.iloc[0]) for a in alone)
        assert frame["weighted_log_roi_sd_after"].iloc[0] <= best + 1e-12


# ------------------------------------------------------------------ on a geo model


@pytest.fixture(scope="module")
def world() -> SimulatedMMM:
    return simulate_mmm(MMMWorldConfig(weeks=60, n_channels=5, regions=4), seed=4)


def _mock(world: SimulatedMMM, geos: int | None = None) -> GeoMMMResult:
    frame = world.weekly_channel
    if geos is not None:
        frame = frame[frame["geo"].isin([f"region_{g + 1}" for g in range(geos)])]
    panel = GeoPanel.from_frame(frame, controls=CONTROLS)
    spec = MMMSpec(channels=panel.channels, controls=CONTROLS)
    data = GeoMMMData.from_panel(panel, spec)
    idata = prior_idata(build_geo_model(data, spec), draws=30, seed=5)
    diagnostics = Diagnostics(method="prior", sampler="prior", chains=2, draws=30, tune=0)
    return GeoMMMResult(idata=idata, spec=spec, data=data, diagnostics=diagnostics)


@pytest.fixture(scope="module")
def mock(world: SimulatedMMM) -> GeoMMMResult:
    return _mock(world)


def test_roi_draws_are_the_total_rows(mock: GeoMMMResult) -> None:
    roi = mock.roi()
    total = roi[roi["geo"] == ALL_GEOS]
    assert_allclose(mock.roi_draws().mean(axis=0), total["roi_mean"], rtol=1e-12)


def test_geo_plan_rows_are_runnable_geo_holdouts(mock: GeoMMMResult) -> None:
    plan = mock.lift_test_plan()
    frame = plan.to_frame()
    data = mock.data
    assert list(frame.columns[:3]) == ["rank", "channel", "geo"]
    assert frame["channel"].is_unique and len(frame) + len(plan.untestable) == 5
    weeks = data.weeks
    for _, row in frame.iterrows():
        treated = row["geo"].split(",")
        assert set(treated) <= set(mock.geos) and len(mock.geos) - len(treated) >= 2
        start, end = pd.Timestamp(row["start"]), pd.Timestamp(row["end"])
        assert end - start == pd.Timedelta(days=55)  # 8 weeks, last day included
        assert start >= weeks[-52] and end <= weeks[-4] + pd.Timedelta(days=6)
        # se: the treated geos' outcome in the window times their set's relative se
        span = (weeks >= start) & (weeks <= end)
        index = [mock.geos.index(g) for g in treated]
        outcome = data.y[span][:, index].sum()
        assert row["test_se"] == pytest.approx(plan.notes["relative_se"][row["geo"]] * outcome)
        c = mock.spec.channels.index(row["channel"])
        assert row["window_spend"] == pytest.approx(data.spend[span][:, index, c].sum())
    # the expected lift is the model's own implied lift of that test, read as lift_tests.csv
    tests = frame.assign(incremental_outcome=1.0, se=1.0, method="planned")
    implied = mock.implied_lifts(prepare_geo_lift_tests(tests, data))
    assert_allclose(implied.mean(axis=0), frame["expected_lift"], rtol=1e-10)
    assert plan.notes["error_model"] == "synthetic_control"
    assert all(0.0 < v < 0.1 for v in plan.notes["relative_se"].values())
    # deterministic; a fixed se share replaces the placebo noise
    pd.testing.assert_frame_equal(frame, mock.lift_test_plan().to_frame())
    fixed = mock.lift_test_plan(se_share=0.02).to_frame().set_index("channel")
    for channel, row in fixed.iterrows():
        span = (weeks >= pd.Timestamp(row["start"])) & (weeks <= pd.Timestamp(row["end"]))
        index = [mock.geos.index(g) for g in row["geo"].split(",")]
        assert row["test_se"] == pytest.approx(0.02 * data.y[span][:, index].sum()), channel
    with pytest.raises(ValueError, match="se_share"):
        mock.lift_test_plan(se_share=0.0)


def test_a_channel_the_posterior_pins_is_tested_last(mock: GeoMMMResult) -> None:
    """Every draw given the first draw's parameters for channel 0: nothing left to learn."""
    post = mock.idata["posterior"].copy()
    for name, da in post.data_vars.items():
        if "channel" in da.dims:
            pinned = da.isel(chain=0, draw=0).sel(channel=mock.spec.channels[0])
            post[name] = da.where(da["channel"] != mock.spec.channels[0], pinned)
    idata = mock.idata.copy()
    idata.posterior = post
    pinned_result = GeoMMMResult(
        idata=idata, spec=mock.spec, data=mock.data, diagnostics=mock.diagnostics
    )
    assert pinned_result.roi_draws()[:, 0].std() < 1e-9
    frame = pinned_result.lift_test_plan().to_frame()
    assert frame["channel"].iloc[-1] == mock.spec.channels[0]
    assert frame["gain"].iloc[-1] == pytest.approx(0.0, abs=1e-9)


def test_two_geos_leave_no_holdout(world: SimulatedMMM) -> None:
    plan = _mock(world, geos=2).lift_test_plan()
    assert plan.frame.empty and "geo" in plan.frame.columns
    assert len(plan.untestable) == 5


def test_fit_to_dir_writes_the_geo_plan(
    mock: GeoMMMResult, world: SimulatedMMM, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from mixlens.cli.mmm import identification_warnings
    from mixlens.mmm import run

    monkeypatch.setattr(GeoMMM, "fit", lambda self, *args, **kwargs: mock)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)
        summary = run.fit_to_dir(world.weekly_channel, controls=CONTROLS, out_dir=tmp_path)
    plan = pd.read_csv(tmp_path / "lift_test_plan.csv")
    expected = mock.lift_test_plan().to_frame()
    assert list(plan.columns) == list(expected.columns)
    assert list(plan["channel"]) == list(expected["channel"])
    assert "lift_test_plan.csv" in summary["files"]
    record = summary["lift_test_plan"]
    assert record["error_model"] == "synthetic_control" and set(record["relative_se"])
    assert [t["geo"] for t in record["tests"]] == list(plan["geo"])
    # prior draws as posterior: every channel mostly prior, and the warning names a test
    lines = identification_warnings(summary)
    assert len(lines) == 1 and f"teaches most on {plan['channel'].iloc[0]}" in lines[0]
