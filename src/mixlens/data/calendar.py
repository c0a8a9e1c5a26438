"""A retail holiday calendar shared by the simulator and the models.

The simulator's true holiday effects live on these dates, and the MMM's holiday
regressors are built from the same calendar, as a user would build them from a
country calendar (Prophet-style).
"""

from __future__ import annotations

import datetime as dt

import pandas as pd

#: Holiday names in a stable order (the order of columns in holiday matrices).
HOLIDAYS: tuple[str, ...] = (
    "new_year",
    "easter",
    "memorial_day",
    "independence_day",
    "labor_day",
    "black_friday",
    "cyber_monday",
    "christmas_eve",
    "christmas",
)


def _easter(year: int) -> dt.date:
    """Gregorian Easter Sunday (anonymous Gregorian algorithm)."""
    a = year % 19
    b, c = divmod(year, 100)
    d, e = divmod(b, 4)
    f = (b + 8) // 25
    g = (b - f + 1) // 3
    h = (19 * a + b - d - g + 15) % 30
    i, k = divmod(c, 4)
    ell = (32 + 2 * e + 2 * i - h - k) % 7
    m = (a + 11 * h + 22 * ell) // 451
    month, day = divmod(h + ell - 7 * m + 114, 31)
    return dt.date(year, month, day + 1)


def _nth_weekday(year: int, month: int, weekday: int, n: int) -> dt.date:
    """Return the ``n``-th ``weekday`` (Monday=0) of a month; ``n=-1`` is the last one."""
    if n > 0:
        first = dt.date(year, month, 1)
        offset = (weekday - first.weekday()) % 7
        return first + dt.timedelta(days=offset + 7 * (n - 1))
    last = (dt.date(year, month % 12 + 1, 1) if month < 12 else dt.date(year + 1, 1, 1)) - (
        dt.timedelta(days=1)
    )
    return last - dt.timedelta(days=(last.weekday() - weekday) % 7)


def holiday_dates(year: int) -> dict[str, dt.date]:
    """Dates of the calendar's holidays in ``year``, keyed by name (see :data:`HOLIDAYS`).

    Examples
    --------
    >>> holiday_dates(2024)["black_friday"]
    datetime.date(2024, 11, 29)
    """
    thanksgiving = _nth_weekday(year, 11, 3, 4)
    return {
        "new_year": dt.date(year, 1, 1),
        "easter": _easter(year),
        "memorial_day": _nth_weekday(year, 5, 0, -1),
        "independence_day": dt.date(year, 7, 4),
        "labor_day": _nth_weekday(year, 9, 0, 1),
        "black_friday": thanksgiving + dt.timedelta(days=1),
        "cyber_monday": thanksgiving + dt.timedelta(days=4),
        "christmas_eve": dt.date(year, 12, 24),
        "christmas": dt.date(year, 12, 25),
    }


def holiday_frame(dates: pd.DatetimeIndex) -> pd.DataFrame:
    """Daily 0/1 indicators, one column per holiday, for each day in ``dates``.

    Parameters
    ----------
    dates
        Daily dates, shape ``(n_days,)``.

    Returns
    -------
    pandas.DataFrame
        Shape ``(n_days, len(HOLIDAYS))``, indexed by ``dates``.
    """
    frame = pd.DataFrame(0.0, index=dates, columns=list(HOLIDAYS))
    if len(dates) == 0:
        return frame
    days = pd.DatetimeIndex(dates).normalize()
    for year in range(days.min().year, days.max().year + 1):
        for name, day in holiday_dates(year).items():
            frame.loc[days == pd.Timestamp(day), name] = 1.0
    return frame


def weekly_holiday_frame(week_starts: pd.DatetimeIndex, *, days_per_week: int = 7) -> pd.DataFrame:
    """Weekly holiday indicators: 1 where the week starting on a date contains the holiday.

    Parameters
    ----------
    week_starts
        First day of each week, shape ``(n_weeks,)``.

    Returns
    -------
    pandas.DataFrame
        Shape ``(n_weeks, len(HOLIDAYS))``, indexed by ``week_starts``.
    """
    starts = pd.DatetimeIndex(week_starts)
    if len(starts) == 0:
        return pd.DataFrame(0.0, index=starts, columns=list(HOLIDAYS))
    days = pd.date_range(starts.min(), starts.max() + pd.Timedelta(days=days_per_week - 1))
    daily = holiday_frame(days)
    week_of_day = starts.searchsorted(days, side="right") - 1
    weekly = daily.groupby(week_of_day).sum().clip(upper=1.0)
    weekly.index = starts[weekly.index]
    return weekly.reindex(starts, fill_value=0.0)
