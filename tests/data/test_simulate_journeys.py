"""Tests of the journey world: determinism, exact truth, reconciliation, selection bias."""

from __future__ import annotations

import math
import re
from dataclasses import replace
from datetime import date
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from mixlens.data.simulate.journeys import (
    ChannelSpec,
    InteractionSpec,
    JourneyWorldConfig,
    SimulatedJourneys,
    default_channels,
    simulate_journeys,
)
from mixlens.data.simulate.journeys_engine import (
    World,
    conversion_counts,
    conversion_seconds,
    generate_world,
)
from mixlens.data.simulate.journeys_paths import build_journeys
from mixlens.errors import DataError

DAY = 86_400
SMALL = JourneyWorldConfig(users=5_000)
ADDITIVE = ["incremental_conversions", "incremental_value", "touches", "cost"]


@pytest.fixture(scope="module")
def small() -> SimulatedJourneys:
    return simulate_journeys(SMALL, seed=11)


@pytest.fixture(scope="module")
def small_world() -> World:
    return generate_world(SMALL, 11)


@pytest.fixture(scope="module")
def regional() -> SimulatedJourneys:
    return simulate_journeys(JourneyWorldConfig(users=8_000, regions=4), seed=5)


# ----------------------------------------------------------------------------- reference model


def reference_total(world: World, user: int, removed: set[str], t: int) -> float:
    """Lambda_u(t) computed touch by touch in plain Python, from the documented process."""
    cfg = world.config
    names = cfg.channel_names
    idx = np.flatnonzero(world.user == user)
    start, end = int(world.episode_start[user]), int(world.episode_end[user])
    overlap = max(0, min(t, end) - start)
    total = float(world.base[user]) * (t + (cfg.population.in_market_lift - 1) * overlap) / DAY
    for e in idx:
        name = names[world.channel[e]]
        te = int(world.time[e])
        if name in removed or te >= t:
            continue
        spec = cfg.channels[world.channel[e]]
        alpha = spec.effect
        for inter in cfg.interactions or ():
            if name not in inter.targets:
                continue
            window = round(inter.window_days * DAY)
            if any(
                names[world.channel[s]] in inter.sources
                and names[world.channel[s]] not in removed
                and te - window <= world.time[s] < te
                for s in idx
            ):
                alpha *= 1 + inter.gamma
        h = spec.half_life_days
        total += alpha * h / math.log(2) * (1 - 2 ** (-(t - te) / DAY / h))
    return total


def reference_counts(world: World, removed: set[str]) -> np.ndarray:
    seconds = world.config.days * DAY
    out = np.zeros(world.config.users, dtype=np.int64)
    for u in range(world.config.users):
        lam = reference_total(world, u, removed, seconds)
        out[u] = int(np.sum(world.thresholds[u] <= lam))
    return out


# ----------------------------------------------------------------------------- determinism


def read_all(folder: Path) -> dict[str, bytes]:
    return {str(p.relative_to(folder)): p.read_bytes() for p in sorted(folder.rglob("*.*"))}


def test_same_seed_gives_byte_identical_files(tmp_path: Path) -> None:
    config = JourneyWorldConfig(users=3_000, regions=3)
    first = simulate_journeys(config, seed=4).write(tmp_path / "a")
    simulate_journeys(config, seed=4).write(tmp_path / "b")
    simulate_journeys(config, seed=5).write(tmp_path / "c")
    a, b, c = (read_all(tmp_path / x) for x in "abc")
    assert set(a) == {
        "touchpoints.csv",
        "conversions.csv",
        "paths.csv",
        "truth/channel_truth.csv",
        "truth/channel_truth_by_region.csv",
        "truth/summary.json",
    }
    assert len(first) == len(a)
    assert a == b
    assert a["touchpoints.csv"] != c["touchpoints.csv"]
    assert a["truth/channel_truth.csv"] != c["truth/channel_truth.csv"]
    assert not list((tmp_path / "a").rglob(".*.tmp"))


def test_csv_format(tmp_path: Path, small: SimulatedJourneys) -> None:
    small.write(tmp_path)
    lines = (tmp_path / "touchpoints.csv").read_text().splitlines()
    assert lines[0] == "user_id,timestamp,channel,campaign,cost"
    assert re.fullmatch(r"\d+,\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d,[a-z_]+,[a-z_]+,[0-9.e-]+", lines[1])
    conv = (tmp_path / "conversions.csv").read_text().splitlines()
    assert conv[0] == "user_id,timestamp,value,conversion_id"
    paths = pd.read_csv(tmp_path / "paths.csv")
    assert list(paths.columns) == [
        "path",
        "total_conversions",
        "total_conversion_value",
        "total_null",
    ]
    touch = pd.read_csv(tmp_path / "touchpoints.csv", parse_dates=["timestamp"])
    assert len(touch) == len(small.touchpoints)
    assert (touch["timestamp"] == small.touchpoints["timestamp"]).all()
    np.testing.assert_allclose(touch["cost"], small.touchpoints["cost"])
    order = touch.sort_values(["user_id", "timestamp"], kind="stable").index
    assert (order == touch.index).all()
    assert "region" not in touch.columns
    assert not (tmp_path / "truth" / "channel_truth_by_region.csv").exists()


# ----------------------------------------------------------------------------- exact truth


def test_truth_matches_reference_counterfactuals(
    small: SimulatedJourneys, small_world: World
) -> None:
    world = small_world
    actual = reference_counts(world, set())
    observed = small.conversions.groupby("user_id").size()
    assert (observed == pd.Series(actual).loc[observed.index]).all()
    assert actual.sum() == len(small.conversions)
    np.testing.assert_array_equal(conversion_counts(world), actual)
    truth = small.channel_truth.set_index("channel")
    for name in SMALL.channel_names:
        removed = reference_counts(world, {name})
        np.testing.assert_array_equal(conversion_counts(world, (name,)), removed)
        assert (removed <= actual).all()
        assert truth.loc[name, "incremental_conversions"] == actual.sum() - removed.sum()
        value = sum(
            int(world.value_cents[u, removed[u] : actual[u]].sum()) for u in range(len(actual))
        )
        assert truth.loc[name, "incremental_value"] == pytest.approx(value / 100, abs=1e-9)
    baseline = reference_counts(world, set(SMALL.channel_names))
    assert (baseline <= actual).all()
    assert small.summary["baseline_conversions"] == baseline.sum()
    assert small.summary["total_incremental"] == actual.sum() - baseline.sum()
    assert (truth["incremental_conversions"] >= 0).all()


def test_conversion_seconds_bracket_the_crossing(small_world: World) -> None:
    world = small_world
    counts = conversion_counts(world)
    users = np.repeat(np.arange(world.config.users), counts)
    k = np.concatenate([np.arange(c) for c in counts if c])
    seconds = conversion_seconds(world, users, world.thresholds[users, k])
    assert ((seconds >= 0) & (seconds < world.config.days * DAY)).all()
    for i in range(0, len(users), max(1, len(users) // 60)):
        u, s, theta = int(users[i]), int(seconds[i]), world.thresholds[users[i], k[i]]
        assert reference_total(world, u, set(), s) < theta
        assert reference_total(world, u, set(), s + 1) >= theta or s == world.config.days * DAY - 1


def test_base_rate_follows_the_documented_formula(small_world: World) -> None:
    pop = SMALL.population
    expected = pop.base_rate * np.exp(pop.propensity_sigma * small_world.z)
    np.testing.assert_allclose(small_world.base, expected, rtol=1e-12)


def test_unknown_channel_removal_is_refused(small_world: World) -> None:
    with pytest.raises(DataError, match="unknown channels"):
        conversion_counts(small_world, ("tv",))


# ----------------------------------------------------------------------------- reconciliation


def rebuild_paths(result: SimulatedJourneys) -> tuple[pd.DataFrame, int]:
    """Journeys from the observable tables with pandas, independently of the simulator."""
    cfg = result.config
    touch = result.touchpoints[["user_id", "timestamp", "channel"]].copy()
    touch["channel"] = touch["channel"].astype(str)
    conv = result.conversions[["user_id", "timestamp", "value", "conversion_id"]].rename(
        columns={"timestamp": "conv_time"}
    )
    merged = pd.merge_asof(
        touch.sort_values("timestamp"),
        conv.sort_values("conv_time"),
        left_on="timestamp",
        right_on="conv_time",
        by="user_id",
        direction="forward",
    )
    lookback = pd.Timedelta(days=cfg.lookback_days)
    end = pd.Timestamp(cfg.end)
    converting = merged["conversion_id"].notna() & (
        merged["conv_time"] - merged["timestamp"] <= lookback
    )
    null = merged["conversion_id"].isna() & (merged["timestamp"] >= end - lookback)
    merged = merged[converting | null].sort_values(["user_id", "timestamp", "channel"])
    merged["journey"] = np.where(
        merged["conversion_id"].notna(), merged["conversion_id"], -merged["user_id"] - 1
    )
    journeys = merged.groupby("journey", sort=False).agg(
        path=("channel", " > ".join), value=("value", "first")
    )
    journeys["conv"] = (journeys.index >= 0).astype(int)
    journeys["value"] = journeys["value"].fillna(0.0)
    table = journeys.groupby("path").agg(
        total_conversions=("conv", "sum"),
        total_conversion_value=("value", "sum"),
        total_null=("conv", lambda c: int((c == 0).sum())),
    )
    touchless = len(conv) - int(journeys["conv"].sum())
    return table, touchless


def test_paths_reconcile_with_conversions(small: SimulatedJourneys) -> None:
    paths, summary = small.paths, small.summary
    assert paths["path"].is_unique
    assert paths["total_conversions"].sum() + summary["touchless_conversions"] == len(
        small.conversions
    )
    assert paths["total_null"].sum() == summary["null_journeys"]
    rebuilt, touchless = rebuild_paths(small)
    assert touchless == summary["touchless_conversions"]
    mine = paths.set_index("path").sort_index()
    rebuilt = rebuilt.sort_index()
    assert list(mine.index) == list(rebuilt.index)
    np.testing.assert_array_equal(mine["total_conversions"], rebuilt["total_conversions"])
    np.testing.assert_array_equal(mine["total_null"], rebuilt["total_null"])
    np.testing.assert_allclose(
        mine["total_conversion_value"], rebuilt["total_conversion_value"], atol=1e-6
    )
    assert small.channel_truth["last_touch_conversions"].sum() == paths["total_conversions"].sum()


def test_build_journeys_by_hand() -> None:
    # user 0: touches at 5, 10 (same second as the conversion at 10: precedes it) and 20;
    # user 1: touches at 1 and 95, no conversion. Window end 100, lookback 7 s.
    journeys = build_journeys(
        np.array([0, 0, 0, 1, 1]),
        np.array([5, 10, 20, 1, 95]),
        np.array([0]),
        np.array([10]),
        window_end=100,
        lookback=7,
    )
    bounds = zip(journeys.offsets[:-1], journeys.offsets[1:], strict=True)
    assert [journeys.touch_index[a:b].tolist() for a, b in bounds] == [[0, 1], [4]]
    assert journeys.conversion.tolist() == [0, -1]
    assert journeys.user.tolist() == [0, 1]
    assert journeys.n_null == 1
    assert journeys.last_touch().tolist() == [1, 4]
    # lookback 4 s: the touch at 5 is too early; window end 23: the touch at 20 is a null journey
    journeys = build_journeys(
        np.array([0, 0, 0]),
        np.array([5, 10, 20]),
        np.array([0]),
        np.array([10]),
        window_end=23,
        lookback=4,
    )
    assert journeys.touch_index.tolist() == [1, 2]
    assert journeys.conversion.tolist() == [0, -1]


# ----------------------------------------------------------------------------- realism


def test_selection_bias_makes_last_click_wrong() -> None:
    # seed 2, 20k users: last-click over-credits brand search and retargeting and
    # under-credits display and online video (held for seeds 0..7 when written)
    result = simulate_journeys(JourneyWorldConfig(users=20_000), seed=2)
    truth = result.channel_truth.set_index("channel")
    last_share = truth["last_touch_conversions"] / truth["last_touch_conversions"].sum()
    for name in ("paid_search_brand", "retargeting"):
        assert last_share[name] > truth.loc[name, "share"] + 0.02
    for name in ("display", "online_video"):
        assert last_share[name] < truth.loc[name, "share"] - 0.02


def test_world_levels_are_realistic() -> None:
    result = simulate_journeys(JourneyWorldConfig(users=20_000), seed=3)
    s = result.summary
    assert 0.03 <= s["baseline_conversions"] / s["users"] <= 0.06
    assert 0.3 <= s["baseline_conversions"] / s["conversions"] <= 0.7
    assert result.conversions.groupby("user_id").size().max() <= 3
    assert s["touchless_conversions"] > 0


def test_events_lie_in_the_window_and_campaigns_in_their_channel(
    small: SimulatedJourneys,
) -> None:
    start, end = pd.Timestamp(SMALL.start), pd.Timestamp(SMALL.end)
    for frame in (small.touchpoints, small.conversions):
        assert (frame["timestamp"] >= start).all()
        assert (frame["timestamp"] < end).all()
    owner = {k: c.name for c in SMALL.channels for k in c.campaigns}
    pairs = small.touchpoints[["campaign", "channel"]].drop_duplicates().astype(str)
    assert all(owner[k] == c for k, c in pairs.itertuples(index=False))
    assert (small.touchpoints["cost"] > 0).all()
    assert small.conversions["conversion_id"].is_unique


def test_retargeting_only_after_another_touch(small: SimulatedJourneys) -> None:
    touch = small.touchpoints
    other = touch[touch["channel"] != "retargeting"].groupby("user_id")["timestamp"].min()
    retarget = touch[touch["channel"] == "retargeting"]
    first_other = retarget["user_id"].map(other)
    assert first_other.notna().all()
    assert (retarget["timestamp"] > first_other).all()


def test_regions_partition_users_and_truth(regional: SimulatedJourneys) -> None:
    touch, conv = regional.touchpoints, regional.conversions
    for frame in (touch, conv):
        assert frame.groupby("user_id")["region"].nunique().max() == 1
        assert frame.groupby("user_id")["business_unit"].nunique().max() == 1
        assert set(frame["business_unit"].astype(str)) <= {"bu_retail", "bu_online", "bu_b2b"}
    users = pd.concat([touch[["user_id", "region"]], conv[["user_id", "region"]]])
    assert users.drop_duplicates().groupby("user_id").size().max() == 1
    sizes = [r["users"] for r in regional.summary["regions"]]
    assert sum(sizes) == regional.config.users
    assert len(set(sizes)) == len(sizes)
    by_region = regional.truth_by_region
    assert by_region is not None
    sums = by_region.groupby("channel", sort=False)[[*ADDITIVE, "last_touch_conversions"]].sum()
    total = regional.channel_truth.set_index("channel")
    np.testing.assert_array_equal(sums["incremental_conversions"], total["incremental_conversions"])
    np.testing.assert_allclose(sums["incremental_value"], total["incremental_value"], atol=1e-6)
    np.testing.assert_array_equal(sums["touches"], total["touches"])
    np.testing.assert_allclose(sums["cost"], total["cost"], atol=1e-4)
    np.testing.assert_array_equal(sums["last_touch_conversions"], total["last_touch_conversions"])
    assert sum(r["conversions"] for r in regional.summary["regions"]) == len(conv)


@settings(max_examples=8, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    users=st.integers(200, 3_000),
    regions=st.integers(2, 5),
    seed=st.integers(0, 10_000),
    cap=st.integers(1, 4),
)
def test_credit_truth_is_conserved(users: int, regions: int, seed: int, cap: int) -> None:
    config = JourneyWorldConfig(users=users, regions=regions, max_conversions_per_user=cap)
    result = simulate_journeys(config, seed=seed)
    s = result.summary
    assert result.paths["total_conversions"].sum() + s["touchless_conversions"] == len(
        result.conversions
    )
    assert s["conversions"] == len(result.conversions)
    assert s["total_incremental"] == s["conversions"] - s["baseline_conversions"] >= 0
    assert result.truth_by_region is not None
    sums = result.truth_by_region.groupby("channel", sort=False)[ADDITIVE].sum()
    total = result.channel_truth.set_index("channel")
    np.testing.assert_array_equal(sums["incremental_conversions"], total["incremental_conversions"])
    np.testing.assert_allclose(sums["incremental_value"], total["incremental_value"], atol=1e-6)
    np.testing.assert_array_equal(sums["touches"], total["touches"])
    assert result.paths["total_conversion_value"].sum() <= result.conversions["value"].sum() + 1e-6
    if total["incremental_conversions"].sum() > 0:
        assert total["share"].sum() == pytest.approx(1.0)


# ----------------------------------------------------------------------------- API


def test_progress_reports_monotone_fractions() -> None:
    seen: list[tuple[str, float]] = []
    simulate_journeys(
        JourneyWorldConfig(users=500), seed=1, progress=lambda s, f: seen.append((s, f))
    )
    fractions = [f for _, f in seen]
    assert fractions == sorted(fractions)
    assert fractions[0] == 0.0 and fractions[-1] == 1.0


def test_result_api_and_summary(small: SimulatedJourneys) -> None:
    assert small.to_frame() is small.channel_truth
    assert list(small.channel_truth.columns) == [
        "channel",
        "incremental_conversions",
        "incremental_value",
        "touches",
        "cost",
        "share",
        "last_touch_conversions",
    ]
    s = small.summary
    assert s["seed"] == 11 and s["users"] == 5_000
    assert s["window"] == {"start": "2025-01-06", "end": "2025-04-06", "days": 90}
    assert {c["name"] for c in s["channels"]} == set(SMALL.channel_names)
    assert {"effect", "half_life_days", "reach", "selection", "cost_per_touch"} <= set(
        s["channels"][0]
    )
    assert s["interactions"][0]["gamma"] == 0.5
    assert s["touches"] == len(small.touchpoints)


def test_custom_channels_and_options() -> None:
    channels = (
        ChannelSpec("tv_like", 1e-3, 5.0, 0.5, 0.02, 0.0, 0.1, ("tv_like_a", "tv_like_b")),
        ChannelSpec("search", 1e-2, 1.0, 0.3, 0.01, 1.0, 0.5, ("search_a",), "click"),
    )
    inter = (InteractionSpec(targets=("search",), sources=("tv_like",), gamma=1.0),)
    config = JourneyWorldConfig(
        users=2_000,
        n_channels=2,
        channels=channels,
        interactions=inter,
        days=30,
        start=date(2024, 2, 26),
        lookback_days=7,
    )
    result = simulate_journeys(config, seed=0)
    assert set(result.touchpoints["channel"].astype(str)) <= {"tv_like", "search"}
    assert result.touchpoints["timestamp"].max() < pd.Timestamp("2024-03-27")
    assert len(default_channels(10)) == 10
    assert result.summary["interactions"] == [
        {"targets": ["search"], "sources": ["tv_like"], "gamma": 1.0, "window_days": 30.0}
    ]
    assert replace(config, regions=2).regions == 2


@pytest.mark.parametrize(
    "kwargs",
    [
        {"users": 0},
        {"days": 0},
        {"regions": 0},
        {"lookback_days": -1.0},
        {"max_conversions_per_user": 0},
        {"n_channels": 5},
        {"n_channels": 3, "channels": default_channels(6)},
        {"interactions": (InteractionSpec(targets=("tv",), sources=("display",)),)},
    ],
)
def test_bad_config_is_refused(kwargs: dict[str, object]) -> None:
    with pytest.raises(DataError):
        JourneyWorldConfig(**kwargs)  # type: ignore[arg-type]


def test_bad_specs_are_refused() -> None:
    with pytest.raises(DataError, match="reach"):
        ChannelSpec("x", 1e-3, 1.0, 1.5, 0.1, 0.0, 0.1, ("x_a",))
    with pytest.raises(DataError, match="channel name"):
        ChannelSpec("a,b", 1e-3, 1.0, 0.5, 0.1, 0.0, 0.1, ("x_a",))
    with pytest.raises(DataError, match="gamma"):
        InteractionSpec(targets=("a",), sources=("b",), gamma=-0.1)
