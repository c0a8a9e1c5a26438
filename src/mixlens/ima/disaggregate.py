"""Temporal disaggregation: weekly channel contributions to daily ones (IMA stage 2).

A weekly MMM says how much a channel contributed in each week; IMA needs it per day.
Each week's contribution is split over its days in proportion to the channel's
*adstocked* daily media, with the MMM's adstock converted from weeks to days by
:func:`mixlens.transforms.timescale.to_daily` (same kernel shape in calendar time). A
week whose adstocked media is zero on every day is split uniformly. The daily series
sums to the weekly one exactly (up to floating-point rounding) by construction.

Examples
--------
>>> import numpy as np
>>> from mixlens.transforms.timescale import DelayedParams
>>> media = np.r_[np.ones(7), np.zeros(7)]
>>> daily = disaggregate_channel([70.0, 14.0], media, DelayedParams(0.3, 0.0, 1))
>>> daily.reshape(2, 7).sum(axis=1).round(9).tolist()
[70.0, 14.0]
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np
import pandas as pd
from numpy.typing import ArrayLike, NDArray

from mixlens.transforms.adstock import adstock
from mixlens.transforms.timescale import AdstockParams, to_daily

__all__ = [
    "daily_adstock",
    "daily_grid",
    "daily_media_matrix",
    "disaggregate",
    "disaggregate_channel",
    "period_consistent_adstock",
    "split_weekly",
]

FloatArray = NDArray[np.float64]


def daily_adstock(
    media: ArrayLike, weekly_params: AdstockParams, *, days_per_week: int = 7
) -> FloatArray:
    """Adstock daily media with a kernel given on the weekly scale.

    Parameters
    ----------
    media
        Daily media (any unit: impressions, spend, clicks), time on axis 0; shape
        ``(n_days,)`` or ``(n_days, n_series)``.
    weekly_params
        Adstock parameters with lags in weeks; converted with :func:`to_daily`.
    days_per_week
        Days per week.

    Returns
    -------
    numpy.ndarray
        Adstocked media, same shape and unit as ``media`` (normalised kernel, so mass
        is preserved up to the truncation at the end of the series).

    Examples
    --------
    >>> from mixlens.transforms.timescale import GeometricParams
    >>> daily_adstock([7.0, 0.0], GeometricParams(alpha=0.0, l_max=1)).tolist()
    [7.0, 0.0]
    """
    daily = to_daily(weekly_params, days_per_week=days_per_week)
    weights = daily.weights(normalize=True)
    return adstock(np.asarray(media, dtype=np.float64), weights, axis=0)


def period_consistent_adstock(
    media: ArrayLike,
    weekly_params: AdstockParams,
    *,
    offset: int = 0,
    days_per_week: int = 7,
    weekly_weights: ArrayLike | None = None,
) -> FloatArray:
    """Daily adstocked media whose period sums are exactly the MMM's adstocked media.

    A weekly MMM adstocks each week's *total* media with its weekly kernel. The daily
    kernel of :func:`daily_adstock` has the same shape in calendar time, but its daily
    series summed over each week only approximates the weekly one: media late in a week
    carries into the next week, while the MMM credits the whole week's media at lag zero
    (for a delayed kernel the daily sums run about half a week early). A regression on
    that media cannot reproduce the MMM's weekly contributions, most visibly at burst
    edges. Here each week's total is the MMM's own weekly adstock of the weekly media
    sums, and only its split over the days follows the daily kernel::

        xtilde_t = A_w(t) * d_t / sum_{s in w(t)} d_s

    with ``A`` the weekly adstock of the weekly sums and ``d`` the daily adstock (uniform
    within a week where ``d`` is zero there).

    Parameters
    ----------
    media
        Daily media, time on axis 0, shape ``(n_days,)`` or ``(n_days, n_series)``.
    weekly_params
        The channel's adstock with lags in MMM periods (its daily twin gives the split).
    offset
        Index of the first day of an MMM period (days before it belong to earlier
        periods, counted back from it).
    days_per_week
        Days per MMM period.
    weekly_weights
        The weekly kernel, shape ``(l_max,)``, e.g. the posterior mean of the MMM's
        kernel weights (the kernel of the posterior-mean contribution, since adstock is
        linear); default ``weekly_params.weights(normalize=True)``.

    Returns
    -------
    numpy.ndarray
        Same shape and unit as ``media``.

    Examples
    --------
    >>> from mixlens.transforms.timescale import DelayedParams
    >>> x = np.r_[np.zeros(6), 7.0, np.zeros(7)]
    >>> p = DelayedParams(theta=0.3, peak=0.0, l_max=2)
    >>> out = period_consistent_adstock(x, p)
    >>> out.reshape(2, 7).sum(axis=1).round(6).tolist()
    [5.384615, 1.615385]
    >>> (p.weights(normalize=True) * 7).round(6).tolist()
    [5.384615, 1.615385]
    """
    x = np.asarray(media, dtype=np.float64)
    kernel = (
        weekly_params.weights(normalize=True)
        if weekly_weights is None
        else np.asarray(weekly_weights, dtype=np.float64)
    )
    week = np.floor_divide(np.arange(x.shape[0]) - offset, days_per_week)
    week = week - (week.min() if week.size else 0)
    n_weeks = int(week.max()) + 1 if week.size else 0
    sums = np.zeros((n_weeks, *x.shape[1:]))
    np.add.at(sums, week, x)
    stocked = adstock(sums, kernel, axis=0)
    daily = daily_adstock(x, weekly_params, days_per_week=days_per_week)
    within = np.zeros_like(sums)
    np.add.at(within, week, daily)
    counts = np.bincount(week, minlength=n_weeks).astype(np.float64)
    per_day = within[week]
    uniform = 1.0 / counts[week].reshape((-1,) + (1,) * (x.ndim - 1))
    share = np.where(per_day > 0, daily / np.where(per_day > 0, per_day, 1.0), uniform)
    out: FloatArray = stocked[week] * share
    return out


def disaggregate_channel(
    weekly: ArrayLike,
    daily_media: ArrayLike,
    weekly_params: AdstockParams | None,
    *,
    days_per_week: int = 7,
) -> FloatArray:
    """Split one channel's weekly contributions over days, by adstocked daily media.

    Parameters
    ----------
    weekly
        Weekly contributions, shape ``(n_weeks,)``, in target units.
    daily_media
        The channel's daily media, shape ``(n_weeks * days_per_week,)``, day ``d`` of
        week ``w`` at index ``w * days_per_week + d``. Media before the first day is
        taken as zero.
    weekly_params
        The channel's adstock with lags in weeks; ``None`` uses the raw media (no
        carryover).
    days_per_week
        Days per week (``1`` makes the split the identity: a daily MMM).

    Returns
    -------
    numpy.ndarray
        Daily contributions, shape ``(n_weeks * days_per_week,)``, target units; the
        days of each week sum to that week's contribution.

    Raises
    ------
    ValueError
        If the shapes disagree, or media is negative or not finite.

    Examples
    --------
    >>> from mixlens.transforms.timescale import GeometricParams
    >>> disaggregate_channel([7.0], [0, 0, 0, 0, 0, 0, 0], GeometricParams(0.5, 2)).tolist()
    [1.0, 1.0, 1.0, 1.0, 1.0, 1.0, 1.0]
    """
    y = np.asarray(weekly, dtype=np.float64)
    x = np.asarray(daily_media, dtype=np.float64)
    if y.ndim != 1 or x.shape != (y.size * days_per_week,):
        raise ValueError(
            f"daily_media must have shape ({y.size * days_per_week},) for {y.size} weeks "
            f"of {days_per_week} days, got {x.shape}"
        )
    if not (np.all(np.isfinite(x)) and np.all(x >= 0)):
        raise ValueError("daily_media must be finite and non-negative")
    if not np.all(np.isfinite(y)):
        raise ValueError("weekly contributions must be finite")
    pressure = x if weekly_params is None else daily_adstock(x, weekly_params)
    return split_weekly(y, pressure, days_per_week=days_per_week)


def split_weekly(weekly: ArrayLike, pressure: ArrayLike, *, days_per_week: int = 7) -> FloatArray:
    """Split weekly totals over days in proportion to a daily pressure (uniform if none).

    Parameters
    ----------
    weekly
        Weekly totals, shape ``(n_weeks,)``.
    pressure
        Non-negative daily weights (e.g. adstocked media), shape
        ``(n_weeks * days_per_week,)``; negative values count as zero.
    days_per_week
        Days per week.

    Returns
    -------
    numpy.ndarray
        Daily values, shape ``(n_weeks * days_per_week,)``, the days of each week summing
        to its total.

    Examples
    --------
    >>> split_weekly([4.0], [0, 1, 3], days_per_week=3).tolist()
    [0.0, 1.0, 3.0]
    """
    y = np.asarray(weekly, dtype=np.float64)
    p = np.clip(np.asarray(pressure, dtype=np.float64), 0.0, None)
    if y.ndim != 1 or p.shape != (y.size * days_per_week,):
        raise ValueError(
            f"pressure must have shape ({y.size * days_per_week},) for {y.size} weeks, "
            f"got {p.shape}"
        )
    p = p.reshape(y.size, days_per_week)
    totals = p.sum(axis=1, keepdims=True)
    uniform = np.full_like(p, 1.0 / days_per_week)
    share = np.where(totals > 0, p / np.where(totals > 0, totals, 1.0), uniform)
    out: FloatArray = (share * y[:, None]).reshape(-1)
    return out


def disaggregate(
    weekly: pd.DataFrame,
    daily_media: pd.DataFrame,
    adstock_params: Mapping[str, AdstockParams | None],
    *,
    days_per_week: int = 7,
) -> pd.DataFrame:
    """Disaggregate every channel's weekly contributions to days.

    Parameters
    ----------
    weekly
        Long ``date, channel, contribution``: one row per channel and week, ``date`` the
        first day of the week, weeks consecutive and shared by every channel.
    daily_media
        Long ``date, channel, media`` (days without a row have zero media); days outside
        the weeks are ignored.
    adstock_params
        Weekly-scale adstock per channel (``None``: no carryover).
    days_per_week
        Days per week.

    Returns
    -------
    pandas.DataFrame
        ``date, channel, contribution`` for every day of every week, sorted by channel
        then date; per channel and week the days sum to the weekly contribution.

    Raises
    ------
    KeyError
        If a channel of ``weekly`` has no adstock parameters.

    Examples
    --------
    >>> w = pd.DataFrame({"date": ["2024-01-01"], "channel": ["tv"], "contribution": [7.0]})
    >>> m = pd.DataFrame({"date": ["2024-01-03"], "channel": ["tv"], "media": [5.0]})
    >>> disaggregate(w, m, {"tv": None})["contribution"].tolist()
    [0.0, 0.0, 7.0, 0.0, 0.0, 0.0, 0.0]
    """
    days = daily_grid(pd.to_datetime(weekly["date"]).drop_duplicates().sort_values(), days_per_week)
    media = daily_media_matrix(daily_media, days, value="media")
    frames = []
    for channel, part in weekly.groupby("channel", sort=False):
        part = part.assign(date=pd.to_datetime(part["date"])).sort_values("date")
        x = media[str(channel)].to_numpy() if str(channel) in media else np.zeros(len(days))
        y = disaggregate_channel(
            part["contribution"].to_numpy(dtype=np.float64),
            x,
            adstock_params[str(channel)],
            days_per_week=days_per_week,
        )
        frames.append(pd.DataFrame({"date": days, "channel": channel, "contribution": y}))
    return pd.concat(frames, ignore_index=True)


def daily_grid(
    week_starts: pd.Series | pd.DatetimeIndex, days_per_week: int = 7
) -> pd.DatetimeIndex:
    """Every day of the given weeks (week ``date`` = its first day), in order.

    Examples
    --------
    >>> len(daily_grid(pd.to_datetime(pd.Series(["2024-01-01", "2024-01-08"]))))
    14
    """
    starts = pd.DatetimeIndex(week_starts)
    offsets = pd.to_timedelta(np.arange(days_per_week), unit="D")
    return pd.DatetimeIndex([s + o for s in starts for o in offsets])


def daily_media_matrix(
    frame: pd.DataFrame, days: pd.DatetimeIndex, *, value: str, key: str = "channel"
) -> pd.DataFrame:
    """Pivot long daily media to a ``days x key`` matrix, zero where no row.

    Examples
    --------
    >>> f = pd.DataFrame({"date": ["2024-01-02"], "channel": ["tv"], "media": [3.0]})
    >>> daily_media_matrix(f, pd.date_range("2024-01-01", periods=2), value="media")["tv"].tolist()
    [0.0, 3.0]
    """
    dates = pd.to_datetime(frame["date"])
    wide = (
        frame.assign(date=dates)
        .pivot_table(index="date", columns=key, values=value, aggfunc="sum", sort=False)
        .reindex(days)
        .fillna(0.0)
    )
    wide.columns = [str(c) for c in wide.columns]
    return wide.astype(np.float64)
