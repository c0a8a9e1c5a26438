"""The MMM world: determinism, exact reconciliation, sensible truth."""

from __future__ import annotations

import filecmp
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from mixlens.data.simulate.mmm import (
    DEFAULT_CHANNELS,
    MMMWorldConfig,
    SimulatedMMM,
    simulate_mmm,
)

SMALL = MMMWorldConfig(weeks=30, n_channels=6)


@pytest.fixture(scope="module")
def world() -> SimulatedMMM:
    return simulate_mmm(SMALL, seed=3)


@pytest.fixture(scope="module")
def written(world: SimulatedMMM, tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("mmm")
    world.write(out)
    return out


def test_same_seed_gives_byte_identical_files(written: Path, tmp_path: Path) -> None:
    simulate_mmm(SMALL, seed=3).write(tmp_path)
    files = sorted(p.relative_to(written) for p in written.rglob("*") if p.is_file())
    assert len(files) == 9
    for rel in files:
        assert filecmp.cmp(written / rel, tmp_path / rel, shallow=False), rel


def test_different_seed_differs() -> None:
    a = simulate_mmm(SMALL, seed=3).weekly_channel
    b = simulate_mmm(SMALL, seed=4).weekly_channel
    assert not a.equals(b)


def test_components_reconcile_to_sales_from_files(written: Path) -> None:
    weekly = pd.read_csv(written / "weekly_channel.csv")
    truth = pd.read_csv(written / "truth" / "weekly_contributions.csv")
    summed = truth.groupby("date", sort=True)["contribution"].sum()
    np.testing.assert_allclose(summed.to_numpy(), weekly.set_index("date")["sales"], rtol=1e-12)
    daily = pd.read_csv(written / "truth" / "daily_contributions.csv")
    parts = daily.drop(columns=["date", "sales"]).sum(axis=1)
    np.testing.assert_allclose(parts, daily["sales"], rtol=1e-12)


def test_campaigns_sum_to_channel_contributions(written: Path) -> None:
    daily = pd.read_csv(written / "truth" / "daily_contributions.csv")
    campaigns = pd.read_csv(written / "truth" / "daily_campaign_contributions.csv")
    by_channel = campaigns.pivot_table(
        index="date", columns="channel", values="contribution", aggfunc="sum", fill_value=0.0
    )
    for channel in by_channel.columns:
        expected = daily.set_index("date")[channel].reindex(by_channel.index)
        np.testing.assert_allclose(by_channel[channel], expected, rtol=1e-10, atol=1e-9)
    weekly = pd.read_csv(written / "truth" / "weekly_contributions.csv")
    channel_totals = (
        weekly[weekly["component"].isin(by_channel.columns)]
        .groupby("component")["contribution"]
        .sum()
    )
    np.testing.assert_allclose(
        campaigns.groupby("channel")["contribution"].sum().loc[channel_totals.index],
        channel_totals,
        rtol=1e-10,
    )


def test_campaign_media_sums_to_weekly_panel(written: Path) -> None:
    weekly = pd.read_csv(written / "weekly_channel.csv", parse_dates=["date"])
    media = pd.read_csv(written / "daily_campaign.csv", parse_dates=["date"])
    media["week"] = weekly["date"].searchsorted(media["date"], side="right") - 1
    sums = media.groupby(["week", "channel"])["spend"].sum().unstack(fill_value=0.0)
    for channel in sums.columns:
        np.testing.assert_allclose(
            sums[channel].reindex(range(len(weekly)), fill_value=0.0),
            weekly[f"{channel}_spend"],
            rtol=1e-9,
            atol=1e-6,
        )


def test_truth_roi_matches_contributions_and_targets(world: SimulatedMMM) -> None:
    roi = world.roi.set_index("channel")
    assert list(roi.index) == [c.name for c in DEFAULT_CHANNELS[:6]]
    np.testing.assert_allclose(roi["roi"], roi["contribution"] / roi["spend"])
    targets = pd.Series({c.name: c.roi for c in DEFAULT_CHANNELS[:6]})
    # Delivery noise moves realised ROI a little off the calibration target.
    np.testing.assert_allclose(roi["roi"], targets.loc[roi.index], rtol=0.1)
    # Hill saturation: the next unit of spend returns less than the average unit.
    assert (roi["mroi"] > 0).all()
    assert (roi["mroi"] < roi["roi"]).all()


def test_mroi_matches_finite_difference() -> None:
    """mROI is d contribution / d spend: check it against a re-simulation with more spend."""
    from mixlens.data.simulate import mmm as sim

    cfg = MMMWorldConfig(weeks=20, n_channels=5, noise_cv=0.0)
    world = simulate_mmm(cfg, seed=5)
    streams = np.random.SeedSequence(5).spawn(4)
    rng = np.random.default_rng(streams[0])
    n_days = cfg.weeks * 7
    channels = [sim._draw_channel(s, n_days, rng, 0) for s in cfg.channel_specs]
    ch = channels[0]
    cal = sim._calibrate(ch)
    impressions = world.daily_campaign[world.daily_campaign["channel"] == ch.spec.name]
    assert not impressions.empty

    def contribution(scale: float) -> float:
        pressure = sim._pressure(ch, sim._impressions(ch, ch.spend * scale)).sum(axis=1)
        return float(
            (
                cal.beta
                * sim.hill(pressure, half_saturation=cal.half_saturation, slope=ch.spec.slope)
            ).sum()
        )

    eps = 1e-6
    numeric = (contribution(1 + eps) - contribution(1 - eps)) / (2 * eps * ch.spend.sum())
    pressure = sim._pressure(ch, sim._impressions(ch, ch.spend)).sum(axis=1)
    h = sim.hill(pressure, half_saturation=cal.half_saturation, slope=ch.spec.slope)
    analytic = float((cal.beta * ch.spec.slope * h * (1 - h)).sum() / ch.spend.sum())
    assert analytic == pytest.approx(numeric, rel=1e-5)


def test_campaign_structure_is_realistic(world: SimulatedMMM) -> None:
    params = world.campaign_params
    counts = params.groupby("channel").size()
    assert (counts >= 15).sum() >= 3
    assert ((counts[counts >= 15] >= 15) & (counts[counts >= 15] <= 40)).all()
    assert (params["spend"] > 0).all()
    media = world.daily_campaign
    wide = media.pivot_table(index="date", columns="campaign", values="spend", fill_value=0.0)
    family = params.set_index("campaign")["family"]
    # Campaigns of one family move together more than campaigns of different families.
    social = [c for c in wide.columns if c.startswith("social_")]
    corr = wide[social].corr().to_numpy()
    fam = family.loc[social].to_numpy()
    same = fam[:, None] == fam[None, :]
    off_diagonal = ~np.eye(len(social), dtype=bool)
    within = np.nanmean(corr[same & off_diagonal])
    between = np.nanmean(corr[~same])
    assert within > between + 0.2


def test_media_share_and_components_are_plausible(world: SimulatedMMM) -> None:
    summary = world.summary
    assert 0.15 < summary["media_share"] < 0.45
    weekly = world.weekly_channel
    assert (weekly["sales"] > 0).all()
    assert set(summary["holidays"]) >= {"black_friday", "christmas"}
    for column in ("price", "promotion"):
        assert weekly[column].std() > 0


def test_regions_partition_and_reconcile(tmp_path: Path) -> None:
    world = simulate_mmm(MMMWorldConfig(weeks=20, n_channels=5, regions=3), seed=2)
    weekly = world.weekly_channel
    assert list(weekly.columns[:2]) == ["date", "geo"]
    assert sorted(weekly["geo"].unique()) == ["region_1", "region_2", "region_3"]
    assert len(weekly) == 3 * 20
    truth = world.weekly_contributions.groupby(["geo", "date"])["contribution"].sum()
    sales = weekly.set_index(["geo", "date"])["sales"].loc[truth.index]
    np.testing.assert_allclose(truth.to_numpy(), sales.to_numpy(), rtol=1e-12)
    by_geo = pd.DataFrame(world.summary["roi_by_geo"])
    totals = by_geo.groupby("channel")[["spend", "contribution"]].sum()
    roi = world.roi.set_index("channel")
    np.testing.assert_allclose(totals.loc[roi.index, "contribution"], roi["contribution"])
    # Regions differ in their media, so a decentralized fit has signal to share.
    spend = weekly.pivot(index="date", columns="geo", values="social_spend")
    shares = spend.div(spend.sum(axis=1), axis=0)
    assert shares.std().min() > 0.01


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"weeks": 3}, "weeks must be >= 8"),
        ({"n_channels": 4}, "n_channels must be between 5 and 8"),
        ({"regions": 0}, "regions must be >= 1"),
        (
            {"start": "2023-13-45"},
            "month must be in 1..12|out of range|could not convert|Unknown datetime",
        ),
    ],
)
def test_config_rejects_bad_values(kwargs: dict[str, object], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        MMMWorldConfig(**kwargs)  # type: ignore[arg-type]
