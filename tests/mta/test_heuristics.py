from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from tests.mta.helpers import paths

from mixlens.errors import DataError
from mixlens.mta import (
    JourneyTable,
    build_journeys,
    first_touch,
    last_non_direct,
    last_touch,
    linear,
    position_based,
    time_decay,
)
from mixlens.mta.result import AttributionResult

# Hand journeys (conftest.hand_logs): j1 a > b > a (value 10; touches 7 d, 1 d, 0 before),
# j2 direct (4), j3 b > direct (6; 25 h and 1 h before); u4's c is a null journey.
CHANNELS = ["a", "b", "c", "direct"]
VALUES = np.array([10.0, 4.0, 6.0])


def credit(result: AttributionResult) -> dict[str, tuple[float, float]]:
    c = result.credit
    return {
        str(ch): (float(n), float(v))
        for ch, n, v in zip(c["channel"], c["conversions"], c["value"], strict=True)
    }


def expect(result: AttributionResult, shares: dict[str, list[float]]) -> None:
    """shares[channel] = that channel's share of each of the three journeys."""
    got = credit(result)
    assert list(got) == CHANNELS
    for ch in CHANNELS:
        s = np.array(shares.get(ch, [0.0, 0.0, 0.0]))
        assert got[ch][0] == pytest.approx(s.sum(), abs=1e-12)
        assert got[ch][1] == pytest.approx((s * VALUES).sum(), abs=1e-12)


@pytest.fixture
def jt(hand_logs: tuple[pd.DataFrame, pd.DataFrame]) -> JourneyTable:
    return build_journeys(*hand_logs)


def test_first(jt: JourneyTable) -> None:
    expect(first_touch(jt), {"a": [1, 0, 0], "b": [0, 0, 1], "direct": [0, 1, 0]})


def test_last(jt: JourneyTable) -> None:
    expect(last_touch(jt), {"a": [1, 0, 0], "direct": [0, 1, 1]})


def test_last_non_direct(jt: JourneyTable) -> None:
    # j2 has only direct touches: it falls back to direct.
    expect(last_non_direct(jt), {"a": [1, 0, 0], "b": [0, 0, 1], "direct": [0, 1, 0]})


def test_linear(jt: JourneyTable) -> None:
    expect(linear(jt), {"a": [2 / 3, 0, 0], "b": [1 / 3, 0, 0.5], "direct": [0, 1, 0.5]})


def test_position(jt: JourneyTable) -> None:
    # 3 touches: 40/20/40; 2 touches: 50/50; 1 touch: 100.
    expect(position_based(jt), {"a": [0.8, 0, 0], "b": [0.2, 0, 0.5], "direct": [0, 1, 0.5]})
    # Custom weights: 2-touch journeys split first:last.
    custom = position_based(jt, first=0.3, last=0.6)
    expect(custom, {"a": [0.9, 0, 0], "b": [0.1, 0, 1 / 3], "direct": [0, 1, 2 / 3]})


def test_time_decay(jt: JourneyTable) -> None:
    w1 = np.array([2.0**-1, 2.0 ** (-1 / 7), 1.0])  # 7 d, 1 d, 0 before; half-life 7 d
    w3 = np.array([2.0 ** (-25 / 168), 2.0 ** (-1 / 168)])
    s1, s3 = w1 / w1.sum(), w3 / w3.sum()
    expect(
        time_decay(jt, half_life_days=7),
        {"a": [s1[0] + s1[2], 0, 0], "b": [s1[1], 0, s3[0]], "direct": [0, 1, s3[1]]},
    )


def test_time_decay_needs_timing() -> None:
    jt = JourneyTable.from_paths(paths([("a > b", 1, 1.0, 0)]))
    with pytest.raises(DataError, match="timestamps"):
        time_decay(jt)
    with pytest.raises(DataError, match="half_life"):
        time_decay(jt, half_life_days=0)


def test_position_bad_weights(jt: JourneyTable) -> None:
    with pytest.raises(DataError, match="position weights"):
        position_based(jt, first=0.7, last=0.5)


def test_touchless_conversions_go_to_baseline() -> None:
    tp = pd.DataFrame(
        {"user_id": ["u"], "timestamp": [pd.Timestamp("2025-01-01")], "channel": ["a"]}
    )
    cv = pd.DataFrame(
        {
            "user_id": ["u", "u"],
            "timestamp": pd.to_datetime(["2025-01-02", "2025-03-01"]),
            "value": [1.0, 5.0],
        }
    )
    result = last_touch(build_journeys(tp, cv, lookback_days=10))
    frame = result.to_frame()
    assert frame["channel"].tolist() == ["a", "baseline"]
    assert frame["conversions"].tolist() == [1.0, 1.0]
    assert frame["value"].tolist() == [1.0, 5.0]
    assert frame["share"].tolist() == [0.5, 0.5]
