"""IMA at the geo level in memory: disaggregation per geo, conservation, what pooling buys."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from mixlens.data.schemas import validate_campaigns
from mixlens.data.simulate.mmm import DEFAULT_CHANNELS, MMMWorldConfig, simulate_mmm
from mixlens.ima.geo import GeoIMAResult, fit_geo_ima, prepare_geo_inputs
from mixlens.ima.geo_regression import GeoChannelDesign, fit_geo_regression
from mixlens.ima.regression import ChannelDesign
from mixlens.ima.results import UNATTRIBUTED
from mixlens.mmm.geo import ALL_GEOS
from mixlens.transforms.timescale import AdstockParams, DelayedParams

CHANNELS = ("social", "online_video")
# Measured before writing the test (6 geos x 2 channels x 5 campaigns, the last 13 of 14
# weeks, ADVI 3000 steps, world seeds 0-3; `ima_geo` in benchmarks/RESULTS.md): campaign
# total error pooled / independent 0.071/0.187, 0.043/0.089, 0.042/0.091, 0.060/0.134
# (ratio 0.38 to 0.48).
GEOS, CAMPAIGNS, WEEKS, FITTED_WEEKS, SEED = 6, 5, 14, 13, 1
World = tuple[pd.DataFrame, dict[str, AdstockParams | None], pd.DataFrame, pd.DataFrame]


@pytest.fixture(scope="module")
def short_world() -> tuple[
    pd.DataFrame, dict[str, AdstockParams | None], pd.DataFrame, pd.DataFrame
]:
    specs = tuple(
        replace(c, n_campaigns=CAMPAIGNS, n_families=2)
        for c in DEFAULT_CHANNELS
        if c.name in CHANNELS
    )
    world = simulate_mmm(MMMWorldConfig(weeks=WEEKS, channels=specs, regions=GEOS), seed=SEED)
    wc = world.weekly_contributions
    weekly = wc[wc["component"].isin(CHANNELS)].rename(columns={"component": "channel"})
    first = sorted(weekly["date"].unique())[-FITTED_WEEKS]
    weekly = weekly[weekly["date"] >= first].reset_index(drop=True)
    params: dict[str, AdstockParams | None] = {
        str(r.channel): DelayedParams(
            theta=float(r.theta_weekly), peak=float(r.peak_weekly), l_max=int(r.l_max_weekly)
        )
        for r in world.channel_params.itertuples()
    }
    truth = world.daily_campaign_contributions
    truth = truth[truth["date"] >= first]
    return weekly, params, validate_campaigns(world.daily_campaign), truth


@pytest.fixture(scope="module")
def fits(
    short_world: World,
) -> dict[str, GeoIMAResult]:
    weekly, params, camp, _ = short_world
    return {
        pooling: fit_geo_ima(
            weekly,
            params,
            camp,
            model="saturating",
            grain="daily",
            pooling=pooling,
            draws=50,
            advi_steps=3000,
            seed=0,
        )
        for pooling in ("partial", "none")
    }


def _error(result: GeoIMAResult, truth: pd.DataFrame) -> float:
    """Sum over geos and campaigns of |est - true|, relative to the true total."""
    camps = result.campaigns()
    camps = camps[(camps["geo"] != ALL_GEOS) & (camps["campaign"] != UNATTRIBUTED)]
    est = camps.set_index(["geo", "channel", "campaign"])["contribution_mean"]
    true = truth.groupby(["geo", "channel", "campaign"])["contribution"].sum()
    both = pd.concat([est.rename("est"), true.rename("true")], axis=1).fillna(0.0)
    return float((both["est"] - both["true"]).abs().sum() / both["true"].sum())


def test_pooling_beats_independent_geos_on_a_short_window(
    fits: dict[str, GeoIMAResult],
    short_world: World,
) -> None:
    truth = short_world[3]
    pooled, independent = _error(fits["partial"], truth), _error(fits["none"], truth)
    assert pooled < 0.7 * independent, (pooled, independent)
    # The learnt spread of campaign effects across geos is small: the truth shares them.
    assert all(v < 0.2 for v in fits["partial"].meta["geo_sd_mean"].values())


def test_every_geo_conserves_its_mmm_contribution(
    fits: dict[str, GeoIMAResult],
    short_world: World,
) -> None:
    weekly = short_world[0].assign(date=lambda f: pd.to_datetime(f["date"]))
    result = fits["partial"]
    daily = result.campaign_daily().assign(date=lambda f: pd.to_datetime(f["date"]))
    per_geo = daily[daily["geo"] != ALL_GEOS]
    week = per_geo["date"] - pd.to_timedelta(per_geo["date"].dt.day_of_week, unit="D")
    sums = per_geo.groupby(["geo", "channel", week.rename("date")])["contribution"].sum()
    merged = weekly.set_index(["geo", "channel", "date"])["contribution"]
    np.testing.assert_allclose(sums.loc[merged.index], merged, rtol=1e-9)
    # National rows: sums over geos, day by day; draws summed draw by draw.
    keys = ["date", "channel", "campaign"]
    national = daily[daily["geo"] == ALL_GEOS].set_index(keys)["contribution"]
    summed = per_geo.groupby(keys)["contribution"].sum()
    np.testing.assert_allclose(national.loc[summed.index], summed, rtol=1e-9, atol=1e-9)
    geo_draws = sum(r.total_draws.sum(axis=1) for r in result.by_geo.values())
    np.testing.assert_allclose(result.national.total_draws.sum(axis=1), geo_draws, rtol=1e-9)
    fit = result.fit()
    assert set(fit["geo"]) == {*result.by_geo, ALL_GEOS}
    assert (fit["r2"] > 0.8).all(), fit


days_per_geo = st.lists(
    st.floats(-50.0, 500.0, allow_nan=False), min_size=2 * 2 * 2, max_size=2 * 2 * 2
)


@settings(max_examples=30, deadline=None)
@given(
    contributions=days_per_geo,
    media=st.lists(st.floats(0.0, 1e4, allow_nan=False), min_size=3 * 14, max_size=3 * 14),
    absent=st.integers(0, 2),
)
def test_disaggregation_conserves_every_geo_and_aligns_campaigns(
    contributions: list[float], media: list[float], absent: int
) -> None:
    """Each geo's days sum to its weeks; a campaign absent from a geo has a zero column."""
    weeks = pd.date_range("2024-01-01", periods=2, freq="7D")
    days = pd.date_range("2024-01-01", periods=14, freq="D")
    weekly = pd.DataFrame(
        [(w, g, c) for g in ("north", "south") for c in ("tv", "search") for w in weeks],
        columns=["date", "geo", "channel"],
    ).assign(contribution=contributions)
    rows = []
    for k, name in enumerate(("a", "b", "c")):
        for g in ("north", "south"):
            if g == "south" and k == absent:
                continue
            for t, day in enumerate(days):
                rows.append((day, g, "tv", name, 1.0, media[k * 14 + t]))
        rows.append((days[0], "north", "search", "s", 1.0, 10.0))
        rows.append((days[0], "south", "search", "s", 1.0, 10.0))
    camp = pd.DataFrame(
        rows, columns=["date", "geo", "channel", "campaign", "spend", "impressions"]
    ).drop_duplicates(["date", "geo", "channel", "campaign"])
    params: dict[str, AdstockParams | None] = {
        "tv": DelayedParams(theta=0.4, peak=0.5, l_max=2),
        "search": None,
    }
    inputs = prepare_geo_inputs(weekly, params, camp, adstock="daily")
    tv = next(gd for gd in inputs.designs if gd.channel == "tv")
    assert tv.campaigns == ("a", "b", "c")
    for gd in inputs.designs:
        for geo, d in zip(gd.geos, gd.designs, strict=True):
            want = weekly[(weekly["geo"] == geo) & (weekly["channel"] == gd.channel)]
            got = d.y.reshape(-1, 7).sum(axis=1)
            np.testing.assert_allclose(got, want["contribution"], rtol=1e-9, atol=1e-9)
    south = tv.designs[tv.geos.index("south")]
    assert not south.x[:, absent].any()


def test_geo_designs_must_share_campaigns() -> None:
    a = ChannelDesign("tv", ("x",), np.ones(7), np.ones((7, 1)))
    b = ChannelDesign("tv", ("y",), np.ones(7), np.ones((7, 1)))
    with pytest.raises(ValueError, match="share campaigns"):
        GeoChannelDesign("tv", ("n", "s"), (a, b))
    with pytest.raises(ValueError, match="pooling"):
        fit_geo_regression([GeoChannelDesign("tv", ("n",), (a,))], pooling="full")  # type: ignore[arg-type]
