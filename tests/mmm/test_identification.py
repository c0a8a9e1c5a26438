"""Identification of channel ROI (contraction from the prior) and the lift-test plan."""

from __future__ import annotations

import warnings
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pandas as pd
import pytest
import xarray as xr
from hypothesis import given, settings
from hypothesis import strategies as st
from numpy.testing import assert_allclose

from mixlens.mmm import MMM, MMMResult, MMMSpec
from mixlens.mmm.data import MMMData
from mixlens.mmm.fit import ConvergenceWarning
from mixlens.mmm.identification import (
    CLASSES,
    Identification,
    classify,
    identify,
    lift_test_window,
    log_moments,
    plan_lift_tests,
    relative_width_ranking,
)
from mixlens.mmm.results import _prior_roi_draws
from mixlens.report.mmm import identification_text

# ------------------------------------------------------------------ classification


def test_classify_thresholds() -> None:
    assert classify(0.0) == "mostly prior"
    assert classify(0.4999) == "mostly prior"
    assert classify(0.5) == "weakly identified"
    assert classify(0.8999) == "weakly identified"
    assert classify(0.9) == "data-driven"
    assert classify(1.0) == "data-driven"
    assert classify(-0.3) == "mostly prior"  # posterior wider than the prior
    assert classify(float("nan")) == "mostly prior"
    assert classify(0.6, data_driven=0.6, mostly_prior=0.2) == "data-driven"
    with pytest.raises(ValueError, match="mostly_prior <= data_driven"):
        classify(0.5, data_driven=0.3, mostly_prior=0.6)


@settings(max_examples=50, deadline=None)
@given(st.floats(-2, 1), st.floats(-2, 1))
def test_classes_are_monotone_in_contraction(a: float, b: float) -> None:
    low, high = sorted((a, b))
    assert CLASSES.index(classify(low)) >= CLASSES.index(classify(high))


def _lognormal_draws(sds: list[float], means: list[float], n: int = 4000) -> np.ndarray:
    rng = np.random.default_rng(0)
    return np.exp(rng.normal(means, sds, size=(n, len(sds))))


def test_identify_recovers_contraction_and_shift() -> None:
    # posterior log-ROI sd 0.2, 0.6, 0.9 against a prior sd of 1: contraction 1 - sd**2
    draws = _lognormal_draws([0.2, 0.6, 0.9], [0.5, -1.0, 0.1])
    ident = identify(["a", "b", "c"], draws, [0.0, 0.0, 0.0], [1.0, 1.0, 1.0])
    assert_allclose(ident.contraction, [0.96, 0.64, 0.19], atol=0.03)
    assert_allclose(ident.prior_shift, [0.5, -1.0, 0.1], atol=0.03)
    assert ident.classes == ("data-driven", "weakly identified", "mostly prior")
    assert ident.channels_in("mostly prior") == ("c",)
    frame = ident.to_frame()
    assert list(frame.columns) == [
        "channel", "log_roi_prior_sd", "log_roi_sd", "contraction", "prior_shift",
        "identification",
    ]  # fmt: skip
    summary = ident.to_dict()
    assert summary["mostly_prior"] == ["c"] and summary["data_driven"] == ["a"]
    assert summary["thresholds"] == {"data_driven": 0.9, "mostly_prior": 0.5}
    assert [r["channel"] for r in summary["channels"]] == ["a", "b", "c"]
    # the same draws give the same answer (deterministic)
    again = identify(["a", "b", "c"], draws, [0.0, 0.0, 0.0], [1.0, 1.0, 1.0])
    pd.testing.assert_frame_equal(frame, again.to_frame())


def test_identify_rejects_bad_shapes() -> None:
    with pytest.raises(ValueError, match="roi_draws"):
        identify(["a", "b"], np.ones((10, 3)), [0, 0], [1, 1])
    with pytest.raises(ValueError, match="prior_sd"):
        identify(["a"], np.ones((10, 1)), [0], [-1])
    with pytest.raises(ValueError, match="unknown class"):
        Identification(("a",), np.zeros(1), np.ones(1), np.zeros(1), np.ones(1)).channels_in("x")


@settings(max_examples=30, deadline=None)
@given(st.floats(0.05, 3.0), st.floats(0.05, 3.0), st.integers(0, 10_000))
def test_contraction_is_at_most_one_and_matches_variances(
    prior_sd: float, post_sd: float, seed: int
) -> None:
    rng = np.random.default_rng(seed)
    draws = np.exp(rng.normal(0.0, post_sd, size=(500, 1)))
    ident = identify(["x"], draws, [0.0], [prior_sd])
    _, sd = log_moments(draws)
    assert ident.contraction[0] <= 1.0
    assert ident.contraction[0] == pytest.approx(1 - (sd[0] / prior_sd) ** 2)


# ------------------------------------------------------------------ windows and ranking


@settings(max_examples=50, deadline=None)
@given(
    st.lists(st.floats(0, 100, allow_nan=False), min_size=1, max_size=80),
    st.integers(1, 10),
    st.integers(1, 60),
    st.integers(0, 8),
)
def test_lift_test_window_is_the_best_window_in_bounds(
    spend: list[float], weeks: int, lookback: int, cooldown: int
) -> None:
    n = len(spend)
    first = lift_test_window(spend, weeks=weeks, lookback=lookback, cooldown=cooldown)
    starts = range(max(0, n - lookback), n - cooldown - weeks + 1)
    totals = {i: sum(spend[i : i + weeks]) for i in starts}
    if first is None:
        assert not totals or max(totals.values()) <= 0
        return
    assert first in totals
    assert totals[first] == pytest.approx(max(totals.values()))
    # earliest of equals
    assert all(totals[i] < totals[first] for i in totals if i < first)


def test_relative_width_ranking() -> None:
    frame = pd.DataFrame(
        {
            "channel": ["tv", "search", "radio"],
            "roi_mean": [1.0, 2.0, 1.0],
            "roi_lo": [0.9, 0.5, 0.5],
            "roi_hi": [1.1, 4.0, 1.6],
        }
    )
    assert relative_width_ranking(frame) == ["search", "radio", "tv"]


# ------------------------------------------------------------------ plan


def _plan_inputs() -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(3)
    roi = np.exp(rng.normal(0.0, [0.05, 0.8, 0.8, 0.5], size=(3000, 4)))
    lift = roi * np.array([1000.0, 1000.0, 50.0, 400.0])  # lift ~ ROI x window spend
    return roi, lift


WINDOWS = [("2024-01-01", "2024-02-25", 1.0)] * 4


def test_plan_ranks_the_informative_uncertain_test_first() -> None:
    roi, lift = _plan_inputs()
    channels = ["tv", "search", "display", "video"]
    windows = [*WINDOWS[:3], None]  # video cannot be tested
    plan = plan_lift_tests(channels, roi, lift, [100.0] * 4, [4.0, 3.0, 1.0, 2.0], windows)
    frame = plan.to_frame()
    # search: wide and its test clearly detectable (lift / se ~ 10); display as wide but
    # its test is noise (lift / se ~ 0.5); tv already known
    assert list(frame["channel"]) == ["search", "display", "tv"]
    assert list(frame["rank"]) == [1, 2, 3]
    assert plan.untestable == ("video",)
    assert frame["lift_to_se"].iloc[0] == pytest.approx(lift[:, 1].mean() / 100.0)
    assert (frame["gain"] >= 0).all()
    assert np.all(np.diff(frame["weighted_log_roi_sd_after"]) <= 0)
    assert frame["weighted_log_roi_sd_after"].iloc[0] < plan.weighted_log_roi_sd
    row = frame.iloc[0]
    assert row["log_roi_sd_after"] < 0.35 * row["log_roi_sd"]  # a precise test pins it down
    # deterministic
    again = plan_lift_tests(channels, roi, lift, [100.0] * 4, [4.0, 3.0, 1.0, 2.0], windows)
    pd.testing.assert_frame_equal(frame, again.to_frame())
    record = plan.to_dict()
    assert record["untestable"] == ["video"] and len(record["tests"]) == 3


def test_plan_rejects_bad_shapes() -> None:
    roi, lift = _plan_inputs()
    with pytest.raises(ValueError, match="lift_draws"):
        plan_lift_tests(["a", "b", "c", "d"], roi, lift[:, :3], [1.0] * 4, [1.0] * 4, WINDOWS)
    with pytest.raises(ValueError, match="each of the 4"):
        plan_lift_tests(["a", "b", "c", "d"], roi, lift, [1.0] * 3, [1.0] * 4, WINDOWS)


# ------------------------------------------------------------------ on a model


def test_prior_dressed_as_posterior_is_mostly_prior(mock_result: MMMResult) -> None:
    # the mock posterior is 80 draws of the prior itself: the data removed nothing
    ident = mock_result.identification()
    assert set(ident.classes) == {"mostly prior"}
    assert np.all(np.abs(ident.contraction) < 0.45)  # 80 draws: sd estimate +- ~8%
    assert np.all(np.abs(ident.prior_shift) < 0.45)
    assert_allclose(ident.prior_sd, 1.0)  # the default ROI prior, exact


def test_sampled_prior_matches_the_analytic_one(data: MMMData, spec: MMMSpec) -> None:
    """The ROI computed from prior draws (any parameterisation's path) is the ROI prior."""
    mean, sd = log_moments(_prior_roi_draws(spec, data, draws=600, seed=2))
    prior = spec.channel_prior("roi", spec.channels[0])
    assert_allclose(sd, prior.params["sigma"], atol=0.1)
    assert_allclose(mean, prior.params["mu"] + np.log(data.reference_roi), atol=0.15)


def _designed_panel(weeks: int = 104, seed: int = 0) -> pd.DataFrame:
    """Two channels of true ROI 2: one always on at a nearly constant level, one flighted.

    The always-on channel has run long before the panel (its carryover starts in steady
    state), so nothing but its 1% weekly wobble tells its level from the baseline's.
    """
    rng = np.random.default_rng(seed)
    always = 100.0 * (1.0 + 0.01 * rng.standard_normal(weeks))
    flighted = np.where(rng.random(weeks) < 0.4, rng.uniform(50.0, 300.0, weeks), 0.0)

    def carry(x: np.ndarray, start: float) -> np.ndarray:  # geometric adstock, mass-preserving
        out, previous = np.zeros_like(x), start
        for t in range(len(x)):
            out[t] = previous = 0.7 * x[t] + 0.3 * previous
        return out

    sales = 2000.0 + 2.0 * carry(always, 100.0) + 2.0 * carry(flighted, 0.0)
    sales = sales + 80.0 * rng.standard_normal(weeks)
    return pd.DataFrame(
        {
            "date": pd.date_range("2022-01-03", periods=weeks, freq="7D").strftime("%Y-%m-%d"),
            "sales": sales,
            "always_on_spend": always,
            "flighted_spend": flighted,
        }
    )


@pytest.fixture(scope="module")
def designed_fit() -> MMMResult:
    spec = MMMSpec(
        channels=("always_on", "flighted"), yearly_fourier=0, trend=False, holidays=False
    )
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)  # short chains
        return MMM(spec).fit(_designed_panel(), draws=300, tune=300, chains=2, seed=1)


def test_constant_channel_is_prior_flighted_channel_is_data(designed_fit: MMMResult) -> None:
    ident = designed_fit.identification()
    by_channel = dict(zip(ident.channels, ident.classes, strict=True))
    contraction = dict(zip(ident.channels, ident.contraction, strict=True))
    assert by_channel["flighted"] == "data-driven", contraction
    assert by_channel["always_on"] in ("weakly identified", "mostly prior"), contraction
    assert contraction["always_on"] < contraction["flighted"] - 0.3
    text = identification_text(
        designed_fit.roi().merge(ident.to_frame(), on="channel", validate="1:1")
    )
    assert "always_on" in text and "flighted" not in text
    # the plan: the always-on channel's test teaches most; deterministic
    plan = designed_fit.lift_test_plan().to_frame()
    assert plan["channel"].iloc[0] == "always_on"
    pd.testing.assert_frame_equal(plan, designed_fit.lift_test_plan().to_frame())
    window = pd.to_datetime(plan["end"]) - pd.to_datetime(plan["start"])
    assert (window == pd.Timedelta(days=55)).all()  # 8 weeks, last day included


def test_fit_to_dir_writes_identification_and_plan(
    designed_fit: MMMResult, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from mixlens.mmm import run

    monkeypatch.setattr(run.MMM, "fit", lambda self, *args, **kwargs: designed_fit)
    summary = run.fit_to_dir(_designed_panel(), out_dir=tmp_path, seed=1)
    roi = pd.read_csv(tmp_path / "roi.csv")
    assert list(roi.columns[-5:]) == [
        "log_roi_prior_sd", "log_roi_sd", "contraction", "prior_shift", "identification",
    ]  # fmt: skip
    plan = pd.read_csv(tmp_path / "lift_test_plan.csv")
    assert plan["channel"].iloc[0] == "always_on"
    assert "lift_test_plan.csv" in summary["files"]
    assert summary["lift_test_plan"]["tests"][0]["channel"] == "always_on"
    ident = summary["identification"]
    assert "flighted" in ident["data_driven"] and "note" not in ident
    assert {r["channel"]: r["identification"] for r in summary["roi"]}["flighted"] == (
        "data-driven"
    )


def test_geo_identification_judges_the_hierarchy_roi() -> None:
    """A geo fit is judged on its channel ROI ``roi`` (the hierarchy's), in data units."""
    from mixlens.mmm.run import geo_identification, with_identification

    spec = MMMSpec(channels=("tv", "search"))
    reference = 4.0
    rng = np.random.default_rng(5)
    # tv's posterior is tight around 0.3 x reference; search's is its prior
    roi = np.stack(
        [np.exp(rng.normal(np.log(0.3), 0.05, 400)), rng.lognormal(np.log(0.2), 1.0, 400)], 1
    )
    posterior = xr.Dataset(
        {"roi": (("chain", "draw", "channel"), roi.reshape(2, 200, 2))},
        coords={"channel": ["tv", "search"]},
    )
    fake = SimpleNamespace(
        spec=spec, data=SimpleNamespace(reference_roi=reference), idata={"posterior": posterior}
    )
    ident = geo_identification(fake)  # type: ignore[arg-type]
    assert ident is not None
    assert ident.classes[0] == "data-driven" and ident.classes[1] == "mostly prior"
    assert_allclose(np.exp(ident.posterior_mean[0]), 0.3 * reference, rtol=0.02)
    assert_allclose(ident.prior_mean, np.log(0.2 * reference))
    table = pd.DataFrame(
        {"geo": ["north", "north", "all", "all"], "channel": ["tv", "search"] * 2, "roi_mean": 1.0}
    )
    merged = with_identification(table, ident)
    assert list(merged["identification"].iloc[2:]) == ["data-driven", "mostly prior"]
    assert merged["identification"].iloc[:2].isna().all()
    beta = SimpleNamespace(spec=MMMSpec(channels=("tv",), parameterization="beta"), data=None)
    assert geo_identification(beta) is None  # type: ignore[arg-type]
