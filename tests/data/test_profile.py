from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest

from mixlens.data.loaders import validate_file
from mixlens.data.profile import Profile, profile_frame
from mixlens.data.schemas import validate_paths
from mixlens.errors import DataError


def _write(tmp_path: Path, name: str, *lines: str) -> Path:
    path = tmp_path / name
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def test_weekly_profile(tmp_path: Path) -> None:
    path = _write(
        tmp_path,
        "weekly.csv",
        "date,sales,tv_spend,search_spend,price",
        "2024-01-01,100,10,5,2",
        "2024-01-08,110,20,0,2",
        "2024-01-15,90.5,0,5.25,3",
    )
    profile = validate_file(path, "weekly", controls=["price"])
    assert profile == Profile(
        kind="weekly",
        file=str(path),
        rows=3,
        columns=("date", "sales", "tv_spend", "search_spend", "price"),
        start="2024-01-01",
        end="2024-01-15",
        period="week",
        periods=3,
        gaps=0,
        channels=("tv", "search"),
        spend_total=40.25,
        outcome="sales",
        outcome_total=300.5,
        controls=("price",),
    )
    assert profile.lines() == [
        f"weekly {path}: 3 rows, 5 columns",
        "dates: 2024-01-01 to 2024-01-15 (3 weeks, no gaps)",
        "channels (2): tv, search",
        "controls: price",
        "spend total: 40.25",
        "sales total: 300.50",
    ]


def test_weekly_geo_profile_counts_geos(tmp_path: Path) -> None:
    path = _write(
        tmp_path,
        "geo.csv",
        "geo,date,revenue,tv_spend",
        "a,2024-01-01,1,1",
        "a,2024-01-08,2,1",
        "b,2024-01-01,3,1",
        "b,2024-01-08,4,1",
    )
    profile = validate_file(path, "weekly", target="revenue")
    assert (profile.geos, profile.periods, profile.gaps) == (2, 2, 0)
    assert (profile.outcome, profile.outcome_total, profile.spend_total) == ("revenue", 10.0, 4.0)
    assert "geos: 2" in profile.lines()


def test_campaigns_profile_counts_missing_days(tmp_path: Path) -> None:
    path = _write(
        tmp_path,
        "campaigns.csv",
        "date,channel,campaign,spend,impressions",
        "2024-01-01,tv,brand,10,100",
        "2024-01-01,search,brand,2.5,50",
        "2024-01-04,tv,brand,4,40",
        "2024-01-04,tv,promo,1,10",
    )
    profile = validate_file(path, "campaigns")
    assert (profile.start, profile.end, profile.periods, profile.gaps) == (
        "2024-01-01",
        "2024-01-04",
        2,
        2,
    )
    assert profile.channels == ("search", "tv")
    assert profile.campaigns == 3
    assert profile.spend_total == 17.5
    assert profile.outcome is None
    assert "dates: 2024-01-01 to 2024-01-04 (2 days, 2 days missing)" in profile.lines()


def test_touchpoints_and_conversions_profile(tmp_path: Path) -> None:
    touchpoints = _write(
        tmp_path,
        "touchpoints.csv",
        "user_id,timestamp,channel,campaign,cost",
        "u1,2024-01-01T10:00:00,tv,brand,0.5",
        "u1,2024-01-02T10:00:00,search,,",
        "u2,2024-01-02T23:00:00,tv,brand,1.5",
    )
    profile = validate_file(touchpoints, "touchpoints")
    assert (profile.rows, profile.users, profile.campaigns) == (3, 2, 1)
    assert profile.channels == ("search", "tv")
    assert profile.spend_total == 2.0
    assert (profile.start, profile.end, profile.gaps) == ("2024-01-01", "2024-01-02", 0)

    conversions = _write(
        tmp_path,
        "conversions.csv",
        "user_id,timestamp,value,conversion_id",
        "u1,2024-01-03T10:00:00,20,c1",
        "u2,2024-01-03T11:00:00,,c2",
        "u2,2024-01-05T11:00:00,5.5,c3",
    )
    profile = validate_file(conversions, "conversions", touchpoints=touchpoints)
    assert (profile.outcome, profile.outcome_total, profile.value_total) == (
        "conversions",
        3.0,
        25.5,
    )
    assert (profile.users, profile.periods, profile.gaps) == (2, 2, 1)
    assert profile.lines()[-2:] == ["conversions: 3", "conversion value total: 25.50"]


def test_paths_profile_mean_length_is_weighted_by_journeys(tmp_path: Path) -> None:
    path = _write(
        tmp_path,
        "paths.csv",
        "path,total_conversions,total_conversion_value,total_null",
        "tv > search,3,30,10",
        "search,1,12.5,4",
        "tv > social > search,0,0,7",
    )
    profile = validate_file(path, "paths")
    # journeys: 13 of length 2, 5 of length 1, 7 of length 3
    assert profile.mean_path_length == pytest.approx((13 * 2 + 5 * 1 + 7 * 3) / 25)
    assert profile.channels == ("search", "social", "tv")
    assert (profile.outcome_total, profile.value_total, profile.null_total) == (4.0, 42.5, 21.0)
    assert profile.start is None and profile.gaps is None
    assert profile.lines() == [
        f"paths {path}: 3 rows, 4 columns",
        "channels (3): search, social, tv",
        "conversions: 4",
        "conversion value total: 42.50",
        "journeys without conversion: 21",
        "mean path length: 2.08",
    ]


def test_to_dict_is_json_safe(tmp_path: Path) -> None:
    frame = validate_paths(
        pd.DataFrame(
            {
                "path": ["a > b"],
                "total_conversions": [0],
                "total_conversion_value": [0.0],
                "total_null": [0],
            }
        )
    )
    profile = profile_frame(frame, "paths", file="mem")
    data = json.loads(json.dumps(profile.to_dict()))
    assert data["channels"] == ["a", "b"]
    assert data["mean_path_length"] == 2.0  # unweighted when no journey is counted
    assert data["file"] == "mem"


def test_profile_frame_rejects_unknown_kind() -> None:
    with pytest.raises(DataError, match="unknown kind 'path'"):
        profile_frame(pd.DataFrame(), "path")
