"""Campaign split: conservation per channel, weights by IMA credit."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from mixlens.allocation.campaigns import (
    merge_campaign_bounds,
    read_campaign_bounds,
    read_campaigns,
    split_campaigns,
)
from mixlens.errors import DataError


@settings(max_examples=20, deadline=None)
@given(
    totals=st.lists(st.floats(0.0, 1e6), min_size=3, max_size=3),
    spend=st.lists(st.floats(0.0, 1e4), min_size=6, max_size=6),
    credit=st.lists(st.floats(-1e3, 1e5), min_size=6, max_size=6),
)
def test_campaign_spend_sums_to_channel(
    totals: list[float], spend: list[float], credit: list[float]
) -> None:
    plan = pd.DataFrame(
        {"channel": ["a", "b", "c"], "current_spend": [1.0, 2.0, 3.0], "recommended_spend": totals}
    )
    camp = pd.DataFrame(
        {
            "channel": ["a", "a", "a", "b", "b", "b"],
            "campaign": ["x", "y", "unattributed", "x", "y", "z"],
            "spend": spend,
            "contribution_mean": credit,
        }
    )
    out = split_campaigns(plan, camp)
    sums = out.groupby("channel")["recommended_spend"].sum()
    np.testing.assert_allclose(sums.loc[["a", "b", "c"]], totals, rtol=1e-12, atol=1e-9)
    assert (out["recommended_spend"] >= 0).all()
    assert out.set_index("campaign").loc["c", "recommended_spend"] == pytest.approx(totals[2])


def test_weights_follow_credit_and_skip_zero_spend() -> None:
    plan = pd.DataFrame({"channel": ["tv"], "current_spend": [90.0], "recommended_spend": [120.0]})
    camp = pd.DataFrame(
        {
            "channel": ["tv"] * 3,
            "campaign": ["a", "b", "c"],
            "spend": [10.0, 20.0, 0.0],
            "contribution_mean": [30.0, 10.0, 5.0],
            "roi_mean": [3.0, 0.5, np.nan],
        }
    )
    out = split_campaigns(plan, camp).set_index("campaign")
    assert out["recommended_spend"].tolist() == pytest.approx([90.0, 30.0, 0.0])
    assert out["current_spend"].tolist() == pytest.approx([30.0, 60.0, 0.0])


def test_read_campaigns_names_the_problem(tmp_path: Path) -> None:
    with pytest.raises(DataError, match=r"campaigns\.csv is missing"):
        read_campaigns(tmp_path)
    (tmp_path / "campaigns.csv").write_text("channel,campaign\nTV,a\n")
    with pytest.raises(DataError, match="spend"):
        read_campaigns(tmp_path)


CAMP = pd.DataFrame(
    {
        "channel": ["tv", "tv", "tv", "search"],
        "campaign": ["a", "b", "c", "s"],
        "spend": [100.0, 100.0, 100.0, 50.0],
        "contribution_mean": [300.0, 100.0, 0.0, 80.0],
    }
)


@settings(max_examples=40, deadline=None)
@given(
    total=st.floats(0.0, 1000.0),
    lower=st.lists(st.floats(0.0, 100.0), min_size=3, max_size=3),
    room=st.lists(st.floats(0.0, 500.0), min_size=3, max_size=3),
)
def test_bounded_split_respects_campaign_bounds(
    total: float, lower: list[float], room: list[float]
) -> None:
    bounds = {("tv", k): (lo, lo + r) for k, lo, r in zip("abc", lower, room, strict=True)}
    plan = pd.DataFrame({"channel": ["tv"], "current_spend": [300.0], "recommended_spend": [total]})
    lo, hi = sum(lower), sum(lower) + sum(room)
    if total < lo - 1e-3 or total > hi + 1e-3:
        with pytest.raises(DataError, match="outside its campaigns' bounds"):
            split_campaigns(plan, CAMP, bounds=bounds)
        return
    if not lo <= total <= hi:
        return  # within rounding of a bound
    out = split_campaigns(plan, CAMP, bounds=bounds).set_index("campaign")
    assert out["recommended_spend"].sum() == pytest.approx(total, rel=1e-9, abs=1e-6)
    for k in "abc":
        low, high = bounds[("tv", k)]
        assert low - 1e-6 <= out.loc[k, "recommended_spend"] <= high + 1e-6


def test_bounded_split_is_the_weighted_split_when_bounds_are_slack() -> None:
    plan = pd.DataFrame({"channel": ["tv"], "current_spend": [300.0], "recommended_spend": [400.0]})
    free = split_campaigns(plan, CAMP).set_index("campaign")["recommended_spend"]
    slack = {("tv", "a"): (10.0, 1000.0)}
    bounded = split_campaigns(plan, CAMP, bounds=slack).set_index("campaign")["recommended_spend"]
    np.testing.assert_allclose(bounded.loc[["a", "b", "c"]], free.loc[["a", "b", "c"]], rtol=1e-6)
    # Capping campaign a moves the rest to b in proportion to credit (c has none).
    capped = split_campaigns(plan, CAMP, bounds={("tv", "a"): (None, 250.0)}).set_index("campaign")
    assert capped.loc["a", "recommended_spend"] == pytest.approx(250.0)
    assert capped.loc["b", "recommended_spend"] == pytest.approx(150.0, rel=1e-6)


def test_campaign_bounds_merge_into_channel_bounds_and_conflicts_are_named(
    tmp_path: Path,
) -> None:
    path = tmp_path / "bounds.csv"
    path.write_text("channel,campaign,lower,upper\ntv,,,500\ntv,a,300,\ntv,b,250,\nsearch,s,,40\n")
    bounds = read_campaign_bounds(path, CAMP)
    assert bounds == {
        ("tv", "a"): (300.0, None),
        ("tv", "b"): (250.0, None),
        ("search", "s"): (None, 40.0),
    }
    with pytest.raises(DataError, match=r"campaigns' lower bounds \(a 300, b 250\) sum to 550"):
        merge_campaign_bounds({"tv": (None, 500.0)}, bounds, CAMP)
    merged = merge_campaign_bounds({"tv": (None, 600.0)}, bounds, CAMP)
    # search has one campaign, bounded above: the channel is too.
    assert merged == {"tv": (550.0, 600.0), "search": (None, 40.0)}
    path.write_text("channel,campaign,lower,upper\ntv,zz,1,\n")
    with pytest.raises(DataError, match="unknown campaign 'zz'") as info:
        read_campaign_bounds(path, CAMP)
    assert info.value.row == 1
    path.write_text("channel,campaign,lower,upper\ntv,a,5,1\n")
    with pytest.raises(DataError, match="lower bound 5 exceeds its upper bound 1"):
        read_campaign_bounds(path, CAMP)
