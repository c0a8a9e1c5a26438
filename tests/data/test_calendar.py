"""Holiday calendar: reference dates and weekly indicators."""

from __future__ import annotations

import datetime as dt

import pandas as pd
import pytest

from mixlens.data.calendar import HOLIDAYS, holiday_dates, holiday_frame, weekly_holiday_frame


@pytest.mark.parametrize(
    ("year", "name", "expected"),
    [
        (2023, "easter", dt.date(2023, 4, 9)),
        (2024, "easter", dt.date(2024, 3, 31)),
        (2025, "easter", dt.date(2025, 4, 20)),
        (2023, "black_friday", dt.date(2023, 11, 24)),
        (2025, "cyber_monday", dt.date(2025, 12, 1)),
        (2024, "memorial_day", dt.date(2024, 5, 27)),
        (2024, "labor_day", dt.date(2024, 9, 2)),
    ],
)
def test_reference_dates(year: int, name: str, expected: dt.date) -> None:
    assert holiday_dates(year)[name] == expected


def test_daily_and_weekly_frames() -> None:
    days = pd.date_range("2023-11-20", "2023-12-31")
    daily = holiday_frame(days)
    assert list(daily.columns) == list(HOLIDAYS)
    assert daily["black_friday"].sum() == 1.0
    assert daily.loc["2023-12-25", "christmas"] == 1.0
    weeks = pd.date_range("2023-11-20", periods=6, freq="7D")
    weekly = weekly_holiday_frame(weeks)
    assert weekly.loc["2023-11-20", "black_friday"] == 1.0
    assert weekly.loc["2023-11-27", "cyber_monday"] == 1.0
    assert weekly.loc["2023-12-18", "christmas"] == 0.0
    assert weekly.loc["2023-12-25", "christmas"] == 1.0
    assert weekly.to_numpy().max() == 1.0
