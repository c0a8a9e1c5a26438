"""Descriptive tables of journeys: order-1 transitions, path lengths, time to conversion.

Pure functions of a :class:`~mixlens.mta.journeys.JourneyTable`, written by ``mixlens mta fit``
next to ``attribution.csv`` and drawn by the report.

* :func:`transitions` follows the Markov model's conventions (:mod:`mixlens.mta.markov`):
  repeated touches of one channel are merged (no self-loops), every journey adds its weight to
  ``(start) -> first channel`` and along its path, and ends in ``(conversion)`` or ``(null)``.
* :func:`path_lengths` counts touches per journey (repeats included), converting and null.
* :func:`time_to_conversion` bins the time from a converting journey's first touch to its
  conversion (journeys built from logs only).

Examples
--------
>>> p = pd.DataFrame({"path": ["a > a > b", "b"], "total_conversions": [1, 1],
...                   "total_conversion_value": [10.0, 2.0], "total_null": [0, 1]})
>>> t = transitions(JourneyTable.from_paths(p))
>>> print(t.round(3).to_string(index=False))
   from           to  count  probability
(start)            a    1.0        0.333
(start)            b    2.0        0.667
      a            b    1.0        1.000
      b (conversion)    2.0        0.667
      b       (null)    1.0        0.333
>>> print(path_lengths(JourneyTable.from_paths(p)).to_string(index=False))
 touches  converting  null
       1         1.0   1.0
       3         1.0   0.0
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt
import pandas as pd

from mixlens.mta.journeys import JourneyTable

__all__ = [
    "CONVERSION",
    "NULL",
    "START",
    "TIME_BINS_DAYS",
    "path_lengths",
    "time_to_conversion",
    "transitions",
]

START = "(start)"
"""Name of the start state."""

CONVERSION = "(conversion)"
"""Name of the conversion state."""

NULL = "(null)"
"""Name of the null (no conversion) state."""

TIME_BINS_DAYS: tuple[float, ...] = (0.0, 1 / 24, 6 / 24, 1.0, 2.0, 3.0, 7.0, 14.0, 21.0, 30.0)
"""Edges of the time-to-conversion bins, days (a last bin takes everything beyond)."""


def transitions(journeys: JourneyTable) -> pd.DataFrame:
    """Order-1 transition counts and probabilities between channels and absorbing states.

    Returns
    -------
    pandas.DataFrame
        ``from, to, count, probability``: ``count`` is the weighted number of journeys making
        the transition, ``probability`` the count over all transitions leaving ``from``.
        Sorted by ``from`` (``(start)`` first) then ``to``; journeys without touches are left
        out.
    """
    a = journeys.arrays()
    names = np.array([START, *a.channels, CONVERSION, NULL], dtype=object)
    n_ch = len(a.channels)
    conv_state, null_state = n_ch + 1, n_ch + 2
    has = a.n_touches > 0
    # Merge consecutive repeats: keep a touch when it starts its journey or changes channel.
    first = np.zeros(a.channel.shape[0], dtype=bool)
    first[a.offsets[:-1][has]] = True
    changed = np.ones(a.channel.shape[0], dtype=bool)
    changed[1:] = a.channel[1:] != a.channel[:-1]
    keep = first | changed
    state = a.channel[keep] + 1
    journey = a.journey[keep]
    weight = a.weight[journey]
    same = np.zeros(state.shape[0], dtype=bool)
    same[1:] = journey[1:] == journey[:-1]
    src = np.where(same, np.roll(state, 1), 0)
    # Absorbing step from each journey's last state.
    last = np.ones(state.shape[0], dtype=bool)
    last[:-1] = journey[:-1] != journey[1:]
    end = np.where(a.converted[journey[last]], conv_state, null_state)
    frm = np.concatenate([src, state[last]])
    to = np.concatenate([state, end])
    w = np.concatenate([weight, weight[last]])
    frame = pd.DataFrame({"f": frm, "t": to, "count": w})
    counts = frame.groupby(["f", "t"], sort=True)["count"].sum().reset_index()
    counts = counts[counts["count"] > 0]
    out_total = counts.groupby("f")["count"].transform("sum")
    return pd.DataFrame(
        {
            "from": names[counts["f"].to_numpy()].astype(str),
            "to": names[counts["t"].to_numpy()].astype(str),
            "count": counts["count"].to_numpy(dtype=np.float64),
            "probability": (counts["count"] / out_total).to_numpy(dtype=np.float64),
        }
    ).reset_index(drop=True)


def path_lengths(journeys: JourneyTable) -> pd.DataFrame:
    """Weighted number of converting and null journeys by number of touches.

    Returns
    -------
    pandas.DataFrame
        ``touches, converting, null``; journeys without touches are left out.
    """
    j = journeys.journeys
    n = j["n_touches"].to_numpy(dtype=np.int64)
    w = j["weight"].to_numpy(dtype=np.float64)
    conv = j["converted"].to_numpy(dtype=bool)
    frame = pd.DataFrame(
        {"touches": n, "converting": np.where(conv, w, 0.0), "null": np.where(conv, 0.0, w)}
    )
    frame = frame[frame["touches"] > 0]
    return frame.groupby("touches", sort=True)[["converting", "null"]].sum().reset_index()


def time_to_conversion(journeys: JourneyTable) -> pd.DataFrame | None:
    """Count converting journeys by time from their first touch to the conversion.

    Returns
    -------
    pandas.DataFrame or None
        ``days_from, days_to, conversions`` per bin of :data:`TIME_BINS_DAYS` (the last bin
        has ``days_to`` infinite), and ``value``; ``None`` for journeys without timing (path
        tables).

    Examples
    --------
    >>> tp = pd.DataFrame({"user_id": ["u", "u"], "channel": ["tv", "search"],
    ...                    "timestamp": pd.to_datetime(["2025-01-01", "2025-01-02"])})
    >>> cv = pd.DataFrame({"user_id": ["u"], "timestamp": pd.to_datetime(["2025-01-03"])})
    >>> from mixlens.mta.journeys import build_journeys
    >>> t = time_to_conversion(build_journeys(tp, cv, lookback_days=30))
    >>> t.loc[t["conversions"] > 0, ["days_from", "days_to"]].to_numpy().tolist()
    [[2.0, 3.0]]
    """
    if not journeys.has_timing:
        return None
    a = journeys.arrays()
    has = (a.n_touches > 0) & a.converted
    firsts: npt.NDArray[np.int64] = a.offsets[:-1][has]
    days = a.seconds[firsts] / 86_400.0
    edges = np.array([*TIME_BINS_DAYS, np.inf])
    bins = np.clip(np.searchsorted(edges, days, side="right") - 1, 0, len(edges) - 2)
    conv = np.bincount(bins, weights=a.weight[has], minlength=len(edges) - 1)
    value = np.bincount(bins, weights=a.value[has], minlength=len(edges) - 1)
    return pd.DataFrame(
        {"days_from": edges[:-1], "days_to": edges[1:], "conversions": conv, "value": value}
    )
