"""Rule-based attribution: first, last, last non-direct, linear, time decay, position based.

Every function spreads each converting journey's conversions (its ``weight``) and value over
its touches by a fixed rule, vectorized over all touches at once. Conversions whose journey has
no touch go to ``baseline``. Null journeys get nothing.

Examples
--------
>>> p = pd.DataFrame({"path": ["a > b > c"], "total_conversions": [10],
...                   "total_conversion_value": [100.0], "total_null": [0]})
>>> jt = JourneyTable.from_paths(p)
>>> position_based(jt).credit["conversions"].round(9).tolist()
[4.0, 2.0, 4.0]
>>> last_touch(jt).credit["conversions"].tolist()
[0.0, 0.0, 10.0]
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np
import numpy.typing as npt
import pandas as pd  # noqa: F401  (used by the doctests)

from mixlens.errors import DataError
from mixlens.mta.journeys import JourneyArrays, JourneyTable
from mixlens.mta.result import AttributionResult, make_result

__all__ = [
    "DIRECT",
    "first_touch",
    "last_non_direct",
    "last_touch",
    "linear",
    "position_based",
    "time_decay",
]

DIRECT = "direct"
"""The channel ``last_non_direct`` skips."""

FloatArray = npt.NDArray[np.float64]


def _credit(
    model: str, a: JourneyArrays, touch_share: FloatArray, meta: Mapping[str, object]
) -> AttributionResult:
    """Credit each touch ``touch_share`` of its journey's conversions and value.

    ``touch_share`` has shape ``(n_touches,)`` and sums to 1 within every journey.
    """
    conv = a.conversions
    value = np.where(a.converted, a.value, 0.0)
    n_ch = len(a.channels)
    by_conv = np.bincount(a.channel, weights=touch_share * conv[a.journey], minlength=n_ch)
    by_value = np.bincount(a.channel, weights=touch_share * value[a.journey], minlength=n_ch)
    touchless = a.n_touches == 0
    baseline = (float(conv[touchless].sum()), float(value[touchless].sum()))
    return make_result(model, a.channels, by_conv, by_value, baseline=baseline, meta=meta)


def _one_touch(a: JourneyArrays, index: npt.NDArray[np.int64]) -> FloatArray:
    """Touch shares putting all of a journey on touch ``index[j]`` (journeys with touches)."""
    share = np.zeros(a.journey.shape[0], dtype=np.float64)
    share[index] = 1.0
    return share


def first_touch(journeys: JourneyTable) -> AttributionResult:
    """Credit every conversion to the first touch of its journey."""
    a = journeys.arrays()
    return _credit("first", a, (a.position == 0).astype(np.float64), {})


def last_touch(journeys: JourneyTable) -> AttributionResult:
    """Credit every conversion to the last touch of its journey."""
    a = journeys.arrays()
    last = a.position == a.n_touches[a.journey] - 1
    return _credit("last", a, last.astype(np.float64), {})


def last_non_direct(journeys: JourneyTable, *, direct: str = DIRECT) -> AttributionResult:
    """Credit every conversion to the last touch that is not ``direct``.

    A journey of only ``direct`` touches keeps its credit on its last (direct) touch.
    """
    a = journeys.arrays()
    n = a.journey.shape[0]
    code = a.channels.index(direct) if direct in a.channels else -1
    touched = np.flatnonzero(a.n_touches > 0)
    candidate = np.where(a.channel != code, np.arange(n, dtype=np.int64), -1)
    if n:
        best = np.maximum.reduceat(candidate, a.offsets[touched])
    else:
        best = np.zeros(0, dtype=np.int64)
    chosen = np.where(best >= 0, best, a.offsets[touched + 1] - 1)
    return _credit("last_non_direct", a, _one_touch(a, chosen), {"direct": direct})


def linear(journeys: JourneyTable) -> AttributionResult:
    """Credit each touch of a journey an equal share (a channel touched twice gets two)."""
    a = journeys.arrays()
    share = 1.0 / np.maximum(a.n_touches[a.journey], 1)
    return _credit("linear", a, share.astype(np.float64), {})


def time_decay(journeys: JourneyTable, *, half_life_days: float = 7.0) -> AttributionResult:
    """Credit touches in proportion to ``2 ** (-seconds_to_conversion / half_life)``.

    Parameters
    ----------
    journeys
        Journeys built from logs (path tables carry no timing).
    half_life_days
        A touch ``half_life_days`` before the conversion gets half the weight of one at the
        conversion.

    Raises
    ------
    DataError
        If the journeys have no timing or ``half_life_days`` is not positive.
    """
    if not (half_life_days > 0 and np.isfinite(half_life_days)):
        raise DataError(f"half_life_days={half_life_days!r} must be a positive number")
    if not journeys.has_timing:
        raise DataError(
            "time_decay needs touch timestamps; path tables have none "
            "(give touchpoints and conversions)"
        )
    a = journeys.arrays()
    seconds = np.nan_to_num(a.seconds, nan=0.0)
    # Shift by each journey's latest touch so the largest weight is 1 (no underflow).
    latest = np.full(a.n_touches.shape[0], np.inf)
    np.minimum.at(latest, a.journey, seconds)
    raw = np.exp2(-(seconds - latest[a.journey]) / (half_life_days * 86_400.0))
    total = np.bincount(a.journey, weights=raw, minlength=a.n_touches.shape[0])
    share = raw / total[a.journey]
    return _credit("time_decay", a, share, {"half_life_days": float(half_life_days)})


def position_based(
    journeys: JourneyTable, *, first: float = 0.4, last: float = 0.4
) -> AttributionResult:
    """U-shaped credit: ``first`` to the first touch, ``last`` to the last, the rest in between.

    Parameters
    ----------
    journeys
        The journeys.
    first, last
        Shares of the first and last touch; the middle touches split ``1 - first - last``
        equally. A one-touch journey gives its touch everything; a two-touch journey splits
        ``first : last`` (50/50 by default), as Google Analytics and DP6 do.

    Raises
    ------
    DataError
        If the shares are negative or sum above 1.
    """
    if not (first >= 0 and last >= 0 and first + last <= 1 + 1e-12 and first + last > 0):
        raise DataError(f"position weights first={first}, last={last} must be >= 0, sum in (0, 1]")
    a = journeys.arrays()
    n = a.n_touches[a.journey]
    pos = a.position
    middle = (1.0 - first - last) / np.maximum(n - 2, 1)
    share = np.where(pos == 0, first, np.where(pos == n - 1, last, middle))
    share = np.where(n == 2, np.where(pos == 0, first, last) / (first + last), share)
    share = np.where(n == 1, 1.0, share)
    meta = {"first": float(first), "last": float(last)}
    return _credit("position", a, share.astype(np.float64), meta)
