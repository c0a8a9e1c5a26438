from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from tests.mta.helpers import ts

from mixlens.data.simulate.journeys import SimulatedJourneys
from mixlens.errors import DataError
from mixlens.mta import JourneyTable, build_journeys, path_table


def test_reproduces_simulator_paths(
    world: SimulatedJourneys, logs: tuple[pd.DataFrame, pd.DataFrame]
) -> None:
    window_end = pd.Timestamp(world.config.end)
    jt = build_journeys(*logs, lookback_days=world.config.lookback_days, window_end=window_end)
    pd.testing.assert_frame_equal(path_table(jt), world.paths)
    # The default window end (midnight after the last timestamp) is the simulator's too.
    pd.testing.assert_frame_equal(path_table(build_journeys(*logs)), world.paths)
    assert jt.conversions == len(world.conversions)
    assert jt.value == pytest.approx(world.conversions["value"].sum())


def test_path_table_round_trip(world: SimulatedJourneys) -> None:
    pd.testing.assert_frame_equal(path_table(JourneyTable.from_paths(world.paths)), world.paths)


def test_hand_journeys(hand_logs: tuple[pd.DataFrame, pd.DataFrame]) -> None:
    jt = build_journeys(*hand_logs, lookback_days=30)
    j = jt.journeys
    assert j["user_id"].tolist() == ["u1", "u2", "u3", "u4"]
    assert j["converted"].tolist() == [True, True, True, False]
    assert j["value"].tolist() == [10.0, 4.0, 6.0, 0.0]
    assert j["n_touches"].tolist() == [3, 1, 2, 1]
    t = jt.touches
    assert t["channel"].astype(str).tolist() == ["a", "b", "a", "direct", "b", "direct", "c"]
    assert t["position"].tolist() == [0, 1, 2, 0, 0, 1, 0]
    np.testing.assert_array_equal(
        t["seconds_to_conversion"].to_numpy()[:6],
        [7 * 86400, 86400, 0, 43200, 25 * 3600, 3600],
    )
    assert np.isnan(t["seconds_to_conversion"].iloc[6])
    assert jt.channels == ("a", "b", "c", "direct")


def test_lookback_previous_conversion_and_touchless() -> None:
    tp = pd.DataFrame(
        {
            "user_id": ["u", "u", "u", "u", "v"],
            "timestamp": [ts(0), ts(20), ts(25), ts(26), ts(1)],
            "channel": ["old", "x", "y", "z", "x"],
        }
    )
    cv = pd.DataFrame(
        {"user_id": ["u", "u", "u"], "timestamp": [ts(25), ts(31), ts(90)], "value": [1.0, 2, 3]}
    )
    jt = build_journeys(tp, cv, lookback_days=10, window_end=ts(95))
    j = jt.journeys
    # 'old' is out of the first conversion's 10-day lookback; the touch at the conversion's
    # instant ('y') precedes it; the third conversion has no touch in its lookback.
    assert j["n_touches"].tolist() == [2, 1, 0]
    assert jt.touches["channel"].astype(str).tolist() == ["x", "y", "z"]
    # v's touch is older than window_end - lookback: no null journey.
    assert j["converted"].tolist() == [True, True, True]
    table = path_table(jt)
    assert table["path"].tolist() == ["x > y", "z"]
    assert jt.conversions == 3


def test_collapse_repeats(hand_logs: tuple[pd.DataFrame, pd.DataFrame]) -> None:
    tp, cv = hand_logs
    tp = pd.concat([tp, tp.iloc[[0]].assign(timestamp=ts(0, 1))], ignore_index=True)
    full = build_journeys(tp, cv)
    assert path_table(full)["path"].iloc[0] == "a > a > b > a"
    collapsed = build_journeys(tp, cv, collapse_repeats=True)
    assert set(path_table(collapsed)["path"]) == {"a > b > a", "direct", "b > direct", "c"}
    first = collapsed.touches.iloc[0]
    assert first["seconds_to_conversion"] == 7 * 86400  # the first touch of the run is kept


def test_same_instant_conversions_take_touches_once() -> None:
    tp = pd.DataFrame({"user_id": ["u"], "timestamp": [ts(1)], "channel": ["a"]})
    cv = pd.DataFrame({"user_id": ["u", "u"], "timestamp": [ts(2), ts(2)], "value": [1.0, 2.0]})
    jt = build_journeys(tp, cv)
    assert jt.journeys["n_touches"].tolist() == [1, 0]
    assert path_table(jt)["total_conversions"].tolist() == [1]


def test_bad_lookback(hand_logs: tuple[pd.DataFrame, pd.DataFrame]) -> None:
    with pytest.raises(DataError, match="lookback_days"):
        build_journeys(*hand_logs, lookback_days=0)


def test_from_paths_rejects_negative_counts() -> None:
    bad = pd.DataFrame(
        {
            "path": ["a"],
            "total_conversions": [-1],
            "total_conversion_value": [0.0],
            "total_null": [0],
        }
    )
    with pytest.raises(DataError, match="negative"):
        JourneyTable.from_paths(bad)


def test_no_conversions_gives_only_null_journeys(
    hand_logs: tuple[pd.DataFrame, pd.DataFrame],
) -> None:
    tp, cv = hand_logs
    jt = build_journeys(tp, cv.iloc[:0], lookback_days=100)
    assert not jt.journeys["converted"].any()
    assert jt.touches["seconds_to_conversion"].isna().all()
    table = path_table(jt)
    assert table["total_conversions"].sum() == 0
    assert table["total_null"].sum() == tp["user_id"].nunique()
