"""MMM world channels whose true adstock and saturation kinds differ by channel."""

from __future__ import annotations

import dataclasses
import json
import math
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from numpy.typing import NDArray
from typer.testing import CliRunner

from mixlens.cli import app
from mixlens.data.simulate.mmm import (
    MMMWorldConfig,
    SimulatedMMM,
    channel_lift,
    simulate_mmm,
)
from mixlens.data.simulate.mmm_channels import (
    DEFAULT_CHANNELS,
    MediaChannelSpec,
    daily_kernel,
    mixed_transform_channels,
    preset_channels,
    transform_preset,
)
from mixlens.transforms.adstock import (
    adstock,
    delayed_weights,
    geometric_weights,
    weibull_weights,
)
from mixlens.transforms.saturation import hill, logistic_saturation

FAST = settings(max_examples=60, deadline=None)
MIXED = MMMWorldConfig(weeks=30, channels=mixed_transform_channels())
TABLES = ("weekly_channel", "daily_campaign", "roi", "channel_params", "weekly_contributions")


@pytest.fixture(scope="module")
def mixed() -> SimulatedMMM:
    return simulate_mmm(MIXED, seed=4)


# --------------------------------------------------------------------------- default world


def _explicit_default_specs(n: int) -> tuple[MediaChannelSpec, ...]:
    """The default channels rebuilt field by field, with their kinds written out."""
    specs = []
    for spec in DEFAULT_CHANNELS[:n]:
        fields = {f.name: getattr(spec, f.name) for f in dataclasses.fields(spec)}
        fields.update(adstock="delayed", saturation="hill")
        specs.append(MediaChannelSpec(**fields))
    return tuple(specs)


@pytest.mark.parametrize(("seed", "regions"), [(0, 1), (1, 1), (2, 3)])
def test_default_world_is_the_explicit_delayed_hill_world(seed: int, regions: int) -> None:
    default = simulate_mmm(MMMWorldConfig(regions=regions), seed=seed)
    explicit = simulate_mmm(
        MMMWorldConfig(regions=regions, channels=_explicit_default_specs(6)), seed=seed
    )
    for table in TABLES:
        pd.testing.assert_frame_equal(
            getattr(default, table), getattr(explicit, table), check_exact=True
        )
    assert default.summary["transforms"] == explicit.summary["transforms"] == "delayed-hill"
    assert set(default.channel_params["adstock"]) == {"delayed"}
    assert set(default.channel_params["saturation"]) == {"hill"}


def test_default_world_matches_the_world_before_transform_kinds() -> None:
    """Regression: ROI truth of ``simulate_mmm(MMMWorldConfig(), seed=0)`` recorded before the
    simulator learned other kinds (the new code was bit-identical there on the recording
    machine; 1e-9 leaves room for other platforms' floating point)."""
    roi = simulate_mmm(MMMWorldConfig(), seed=0).roi
    assert list(roi["channel"]) == [c.name for c in DEFAULT_CHANNELS[:6]]
    before_contribution = [
        10819914.492601672,
        14415491.322033446,
        16383353.844106058,
        7365943.152085699,
        2291818.6171948654,
        2459848.5658152043,
    ]
    before_mroi = [
        0.489226230060877,
        1.3663867693133793,
        1.548350153508374,
        0.9850667067316956,
        0.4135808273889354,
        0.4406908467435613,
    ]
    np.testing.assert_allclose(roi["contribution"], before_contribution, rtol=1e-9)
    np.testing.assert_allclose(roi["mroi"], before_mroi, rtol=1e-9)


def test_channel_params_keep_their_columns_and_add_the_kinds() -> None:
    params = simulate_mmm(MMMWorldConfig(weeks=12), seed=0).channel_params
    old = ["theta_weekly", "peak_weekly", "l_max_weekly", "theta_daily", "peak_daily"]
    old += ["l_max_daily", "half_saturation_daily", "slope", "beta_daily", "target_roi"]
    assert set(old) <= set(params.columns)
    assert params[["alpha_weekly", "shape", "scale_weekly", "lam", "lam_daily"]].isna().all().all()
    np.testing.assert_allclose(
        params["half_saturation_daily"] / params["typical_pressure_daily"],
        params["half_saturation"],
        rtol=1e-12,
    )


# --------------------------------------------------------------------------- kernels


KIND_SPECS = {
    "delayed": DEFAULT_CHANNELS[0],
    "geometric": mixed_transform_channels()[1],
    "weibull": mixed_transform_channels()[0],
}


@pytest.mark.parametrize("kind", list(KIND_SPECS))
def test_daily_kernel_is_normalized_and_spans_the_same_weeks(kind: str) -> None:
    spec = KIND_SPECS[kind]
    assert spec.adstock == kind
    w = daily_kernel(spec.daily_adstock())
    assert w.shape == (7 * spec.l_max,)
    assert (w >= 0).all()
    assert float(w.sum()) == pytest.approx(1.0, abs=1e-12)


def test_daily_parameters_are_the_weekly_ones_in_days() -> None:
    tv, social = mixed_transform_channels()[:2]
    weibull, geometric = tv.daily_adstock(), social.daily_adstock()
    assert weibull.shape == tv.shape and weibull.scale == pytest.approx(7 * 3.0, rel=1e-15)
    assert geometric.alpha**7 == pytest.approx(0.4, rel=1e-12)
    delayed = DEFAULT_CHANNELS[0].daily_adstock()
    assert delayed.theta**49 == pytest.approx(0.55, rel=1e-12)
    assert delayed.peak == pytest.approx(7.0)


def _weekly_sums_of_impulse(spec: MediaChannelSpec) -> NDArray[np.float64]:
    """Weekly totals of the response to one unit of media on the first day of week 0."""
    w = daily_kernel(spec.daily_adstock())
    return np.bincount(np.arange(w.size) // 7, weights=w)


@given(
    alpha=st.floats(0.0, 0.97),
    l_max=st.integers(1, 10),
)
@FAST
def test_geometric_daily_kernel_aggregates_to_the_weekly_one(alpha: float, l_max: int) -> None:
    spec = dataclasses.replace(
        mixed_transform_channels()[1], alpha=alpha, l_max=l_max, lam=1.0, saturation="logistic"
    )
    weekly = geometric_weights(alpha, l_max=l_max, normalize=True)
    np.testing.assert_allclose(_weekly_sums_of_impulse(spec), weekly, rtol=0, atol=1e-12)


@given(
    shape=st.floats(0.3, 5.0),
    scale=st.floats(0.2, 6.0),
    l_max=st.integers(1, 12),
)
@FAST
def test_weibull_daily_kernel_aggregates_to_the_weekly_one(
    shape: float, scale: float, l_max: int
) -> None:
    spec = dataclasses.replace(mixed_transform_channels()[0], shape=shape, scale=scale, l_max=l_max)
    weekly = weibull_weights(shape, scale, l_max=l_max, kind="pdf", normalize=True)
    np.testing.assert_allclose(_weekly_sums_of_impulse(spec), weekly, rtol=0, atol=1e-12)


@given(theta=st.floats(0.02, 0.98), peak=st.floats(0.0, 3.0), l_max=st.integers(1, 10))
@FAST
def test_delayed_daily_kernel_sampled_weekly_is_the_weekly_one(
    theta: float, peak: float, l_max: int
) -> None:
    spec = dataclasses.replace(DEFAULT_CHANNELS[0], theta=theta, peak=peak, l_max=l_max)
    sampled = daily_kernel(spec.daily_adstock())[::7]
    weekly = delayed_weights(theta, peak=peak, l_max=l_max, normalize=True)
    np.testing.assert_allclose(sampled / sampled.sum(), weekly, rtol=0, atol=1e-12)


@pytest.mark.parametrize("spec", DEFAULT_CHANNELS, ids=lambda s: s.name)
def test_delayed_daily_kernel_aggregates_close_to_the_weekly_one(spec: MediaChannelSpec) -> None:
    """Delayed kernels sample a shape, so weekly sums only approximate the weekly kernel.

    Measured on the eight default channels: total variation 0.07 to 0.18 and the weekly
    sums' mean lag 0.07 to 0.35 weeks earlier (week ``l`` sums days ``7l..7l+6``, the
    weekly kernel samples day ``7l``). Checked at total variation <= 0.2 and a mean lag
    0 to 0.5 weeks earlier.
    """
    weekly = delayed_weights(spec.theta, peak=spec.peak, l_max=spec.l_max)
    summed = _weekly_sums_of_impulse(spec)
    assert 0.5 * float(np.abs(summed - weekly).sum()) <= 0.2
    lags = np.arange(spec.l_max)
    shift = float(lags @ weekly - lags @ summed)
    assert 0.0 <= shift <= 0.5


# --------------------------------------------------------------------------- mixed world


def test_mixed_preset_mixes_every_kind() -> None:
    channels = mixed_transform_channels()
    assert len(channels) == 7
    pairs = {(c.adstock, c.saturation) for c in channels}
    assert pairs == {
        (a, s) for a in ("delayed", "geometric", "weibull") for s in ("hill", "logistic")
    }
    assert {c.adstock for c in channels[:5]} == {"delayed", "geometric", "weibull"}
    for mixed_spec, default in zip(channels, DEFAULT_CHANNELS, strict=False):
        assert (mixed_spec.name, mixed_spec.daily_budget, mixed_spec.roi) == (
            default.name,
            default.daily_budget,
            default.roi,
        )
    assert transform_preset(channels) == "mixed"
    assert preset_channels("mixed", 5) == channels[:5]


def test_mixed_world_campaigns_add_up_to_channels(mixed: SimulatedMMM) -> None:
    campaigns = mixed.daily_campaign_contributions
    by_channel = campaigns.pivot_table(
        index="date", columns="channel", values="contribution", aggfunc="sum", fill_value=0.0
    )
    daily = mixed.daily_contributions.set_index("date")
    assert set(by_channel.columns) == {c.name for c in MIXED.channel_specs}
    for channel in by_channel.columns:
        expected = daily[channel].reindex(by_channel.index)
        np.testing.assert_allclose(by_channel[channel], expected, rtol=1e-10, atol=1e-9)
        assert daily[channel].sum() == pytest.approx(by_channel[channel].sum(), rel=1e-12)
    parts = daily.drop(columns="sales").sum(axis=1)
    np.testing.assert_allclose(parts, daily["sales"], rtol=1e-12)


def test_mixed_world_meets_every_target_roi(mixed: SimulatedMMM) -> None:
    roi = mixed.roi.set_index("channel")
    targets = pd.Series({c.name: c.roi for c in MIXED.channel_specs})
    # Calibrated on planned spend; delivered impressions carry 5% lognormal noise.
    np.testing.assert_allclose(roi["roi"], targets.loc[roi.index], rtol=0.02)
    assert (roi["mroi"] > 0).all()
    assert mixed.summary["transforms"] == "mixed"
    assert mixed.summary["channel_transforms"]["paid_search"] == {
        "adstock": "geometric",
        "saturation": "logistic",
    }


def test_mixed_geo_world_conserves_and_adds_regions() -> None:
    world = simulate_mmm(dataclasses.replace(MIXED, weeks=12, regions=3), seed=2)
    campaigns = world.daily_campaign_contributions.groupby(["geo", "channel"])["contribution"]
    weekly = world.weekly_contributions
    channel_truth = weekly[weekly["component"].isin(world.roi["channel"])]
    np.testing.assert_allclose(
        campaigns.sum().sort_index(),
        channel_truth.groupby(["geo", "component"])["contribution"].sum().sort_index(),
        rtol=1e-10,
    )
    totals = channel_truth.groupby("component")["contribution"].sum()
    roi = world.roi.set_index("channel")
    np.testing.assert_allclose(totals.loc[roi.index], roi["contribution"], rtol=1e-12)


Response = Callable[[NDArray[np.float64]], NDArray[np.float64]]


def _reconstructed(
    world: SimulatedMMM, channel: str
) -> tuple[pd.DatetimeIndex, NDArray[np.float64], Response]:
    """Rebuild a channel's daily truth from the published tables alone."""
    params = world.channel_params.set_index("channel").loc[channel]
    campaigns = world.campaign_params[world.campaign_params["channel"] == channel]
    days = pd.DatetimeIndex(pd.to_datetime(world.daily_contributions["date"]))
    media = world.daily_campaign[world.daily_campaign["channel"] == channel]
    wide = media.pivot_table(index="date", columns="campaign", values="impressions", aggfunc="sum")
    wide.index = pd.DatetimeIndex(wide.index)
    impressions = wide.reindex(index=days, columns=list(campaigns["campaign"])).fillna(0.0)
    l_max = int(params["l_max_daily"])
    if params["adstock"] == "delayed":
        kernel = delayed_weights(params["theta_daily"], peak=params["peak_daily"], l_max=l_max)
    elif params["adstock"] == "geometric":
        kernel = geometric_weights(params["alpha_daily"], l_max=l_max, normalize=True)
    else:
        kernel = weibull_weights(params["shape"], params["scale_daily"], l_max=l_max)
    effectiveness = campaigns["effectiveness"].to_numpy()

    def contribution(imps: NDArray[np.float64]) -> NDArray[np.float64]:
        pressure = (adstock(imps / 1000.0, kernel, axis=0) * effectiveness).sum(axis=1)
        if params["saturation"] == "hill":
            curve = hill(
                pressure, half_saturation=params["half_saturation_daily"], slope=params["slope"]
            )
        else:
            curve = logistic_saturation(pressure, lam=params["lam_daily"])
        return np.asarray(params["beta_daily"] * curve)

    return days, impressions.to_numpy(dtype=np.float64), contribution


@pytest.mark.parametrize("channel", [c.name for c in MIXED.channel_specs])
def test_channel_lift_is_the_effect_of_removing_the_window(
    mixed: SimulatedMMM, channel: str
) -> None:
    days, impressions, contribution = _reconstructed(mixed, channel)
    truth = mixed.daily_contributions[channel].to_numpy()
    np.testing.assert_allclose(contribution(impressions), truth, rtol=1e-9)
    media = mixed.daily_campaign[mixed.daily_campaign["channel"] == channel]
    start = pd.Timestamp(media["date"].min())  # bursty channels are off some weeks
    end = start + pd.Timedelta(days=27)
    lift = channel_lift(mixed, MIXED, seed=4, channel=channel, start=start, end=end)
    removed = impressions.copy()
    removed[(days >= start) & (days <= end)] = 0.0
    expected = float((contribution(impressions) - contribution(removed)).sum())
    assert lift > 0
    assert lift == pytest.approx(expected, rel=1e-9)
    whole = channel_lift(mixed, MIXED, seed=4, channel=channel, start=days[0], end=days[-1])
    assert whole == pytest.approx(float(truth.sum()), rel=1e-9)
    same = channel_lift(mixed, MIXED, seed=4, channel=channel, start=start, end=end, keep=1.0)
    assert same == 0.0


@pytest.mark.parametrize("channel", ["tv", "social", "display", "ooh"])
def test_mroi_is_the_derivative_for_every_kind(mixed: SimulatedMMM, channel: str) -> None:
    """mROI = d contribution / d spend when the channel's spend (and impressions) scale."""
    _, impressions, contribution = _reconstructed(mixed, channel)
    eps = 1e-6
    row = mixed.roi.set_index("channel").loc[channel]
    up, down = contribution(impressions * (1 + eps)), contribution(impressions * (1 - eps))
    numeric = float((up - down).sum()) / (2 * eps * row["spend"])
    assert row["mroi"] == pytest.approx(numeric, rel=1e-5)


# --------------------------------------------------------------------------- bad input


def test_positional_construction_still_gives_delayed_hill() -> None:
    spec = MediaChannelSpec("tv", 4, 2, ("burst",), 9000.0, 18.0, 5e-4, 0.5, 1.0, 6, 0.9, 2.0, 1.1)
    assert (spec.adstock, spec.saturation) == ("delayed", "hill")
    assert spec.adstock_parameters() == {"theta": 0.5, "peak": 1.0}
    assert spec.saturation_parameters() == {"half_saturation": 0.9, "slope": 2.0}


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"adstock": "exponential"}, "known: delayed, geometric, weibull"),
        ({"saturation": "tanh"}, "known: hill, logistic"),
        ({"adstock": "geometric", "alpha": 0.3}, "does not use theta, peak"),
        ({"adstock": "geometric", "theta": None, "peak": None}, "needs alpha"),
        ({"saturation": "logistic", "half_saturation": None, "slope": None}, "needs lam"),
        ({"alpha": 0.3}, "does not use alpha"),
        ({"theta": 1.0}, "0 < theta < 1"),
        ({"slope": math.inf}, "finite slope"),
        ({"l_max": 0}, "integer l_max >= 1"),
        (
            {"adstock": "weibull", "theta": None, "peak": None, "shape": 1.0, "scale": -2.0},
            "scale > 0",
        ),
        (
            {"adstock": "geometric", "theta": None, "peak": None, "alpha": 1.0},
            "0 <= alpha < 1",
        ),
    ],
)
def test_bad_kinds_and_parameters_raise(changes: dict[str, object], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        dataclasses.replace(DEFAULT_CHANNELS[0], **changes)  # type: ignore[arg-type]


def test_roi_is_required() -> None:
    with pytest.raises(ValueError, match=r"roi >= 0 \(required\)"):
        MediaChannelSpec("x", 1, 1, ("burst",), 1.0, 1.0, 0.01, 0.5, 0.0, 2, 1.0, 1.0)


def test_unknown_preset_lists_the_known_ones() -> None:
    with pytest.raises(ValueError, match="known: delayed-hill, mixed"):
        preset_channels("weibull-everywhere", 6)
    with pytest.raises(ValueError, match="between 5 and 8"):
        mixed_transform_channels(9)


# --------------------------------------------------------------------------- CLI

runner = CliRunner()


def test_cli_mixed_transforms_writes_a_panel(tmp_path: Path) -> None:
    out = tmp_path / "mixed"
    result = runner.invoke(
        app, ["simulate", "mmm", "--out", str(out), "--weeks", "12", "--transforms", "mixed"]
    )
    assert result.exit_code == 0, result.output
    panel = pd.read_csv(out / "weekly_channel.csv")
    spend = [c.removesuffix("_spend") for c in panel.columns if c.endswith("_spend")]
    assert spend == [c.name for c in mixed_transform_channels()]
    assert len(panel) == 12
    truth = pd.read_csv(out / "truth" / "channels.csv")
    assert set(truth["adstock"]) == {"delayed", "geometric", "weibull"}
    assert set(truth["saturation"]) == {"hill", "logistic"}
    assert json.loads((out / "summary.json").read_text())["transforms"] == "mixed"


def test_cli_default_transforms_are_the_default_world(tmp_path: Path) -> None:
    result = runner.invoke(app, ["simulate", "mmm", "--out", str(tmp_path), "--weeks", "12"])
    assert result.exit_code == 0, result.output
    panel = pd.read_csv(tmp_path / "weekly_channel.csv")
    world = simulate_mmm(MMMWorldConfig(weeks=12), seed=0)
    pd.testing.assert_frame_equal(panel, world.weekly_channel, check_exact=False, rtol=1e-12)
    assert json.loads((tmp_path / "summary.json").read_text())["transforms"] == "delayed-hill"


def test_cli_unknown_transforms_exit_2(tmp_path: Path) -> None:
    result = runner.invoke(
        app, ["simulate", "mmm", "--out", str(tmp_path), "--transforms", "weibull"]
    )
    assert result.exit_code == 2
    assert "delayed-hill, mixed" in result.output
