"""Journeys from touchpoint and conversion logs, and ChannelAttribution path tables.

A *journey* is what one conversion is credited over: the user's touches since their previous
conversion and within ``lookback_days`` before it (a touch stamped at the same instant as the
conversion precedes it). Touches after a user's last conversion that lie within
``lookback_days`` of the window end form one *null journey* (a journey without conversion).
Conversions with no touch in their lookback are kept as journeys with ``n_touches = 0``, so the
journeys hold every conversion observed; path tables leave them out. When two conversions of a
user share an instant, the first (in input order) takes the touches.

DuckDB does the heavy lifting: users are dictionary-encoded with Arrow, then one ``ASOF`` join
finds each touch's next conversion, filters by the lookback, and sorts touches into journeys.

Examples
--------
>>> import pandas as pd
>>> tp = pd.DataFrame({"user_id": ["u1", "u1", "u2"], "channel": ["tv", "search", "tv"],
...                    "timestamp": pd.to_datetime(["2025-01-01", "2025-01-02", "2025-01-03"])})
>>> cv = pd.DataFrame({"user_id": ["u1"], "timestamp": pd.to_datetime(["2025-01-02 12:00"]),
...                    "value": [10.0]})
>>> jt = build_journeys(tp, cv, lookback_days=30)
>>> path_table(jt)
          path  total_conversions  total_conversion_value  total_null
0  tv > search                  1                    10.0           0
1           tv                  0                     0.0           1
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from mixlens.data.schemas import PATH_SEPARATOR, validate_paths
from mixlens.errors import DataError

__all__ = ["JourneyArrays", "JourneyTable", "build_journeys", "path_table"]

IntArray = npt.NDArray[np.int64]
FloatArray = npt.NDArray[np.float64]

_US_PER_SECOND = 1_000_000
_US_PER_DAY = 86_400 * _US_PER_SECOND
_NO_CONVERSION = np.iinfo(np.int64).max


@dataclass(frozen=True)
class JourneyTable:
    """Journeys as two tidy frames: one row per touch, one row per journey.

    Attributes
    ----------
    touches
        ``journey_id`` (int64), ``position`` (int64, 0 for the first touch), ``channel``
        (categorical over :attr:`channels`), ``seconds_to_conversion`` (float64, seconds from
        the touch to the conversion; NaN for null journeys and for journeys from path tables).
        Sorted by journey, then position. Shape ``(n_touches, 4)``.
    journeys
        ``journey_id`` (int64, equal to the row number), ``user_id`` (str; empty for journeys
        from path tables), ``converted`` (bool), ``weight`` (float64: how many identical
        journeys the row stands for, 1 for journeys from logs, a path-table row's
        ``total_conversions`` or ``total_null`` otherwise), ``value`` (float64, total conversion
        value of the row, 0 for null journeys), ``n_touches`` (int64). Shape ``(n_journeys, 6)``.
    has_timing
        Whether ``seconds_to_conversion`` is known (journeys built from logs).
    meta
        How the journeys were built (lookback, window end, collapse), JSON-safe.
    """

    touches: pd.DataFrame
    journeys: pd.DataFrame
    has_timing: bool
    meta: dict[str, Any]

    @property
    def channels(self) -> tuple[str, ...]:
        """Channel names, sorted; the categories of ``touches.channel``."""
        return tuple(str(c) for c in self.touches["channel"].cat.categories)

    @property
    def conversions(self) -> float:
        """Conversions observed (touchless ones included)."""
        j = self.journeys
        return float(j["weight"].to_numpy()[j["converted"].to_numpy()].sum())

    @property
    def value(self) -> float:
        """Conversion value observed, currency."""
        return float(self.journeys["value"].sum())

    def arrays(self) -> JourneyArrays:
        """Return the numpy arrays the models compute on (see :class:`JourneyArrays`)."""
        j = self.journeys
        t = self.touches
        n_touches = j["n_touches"].to_numpy(dtype=np.int64)
        offsets = np.zeros(len(j) + 1, dtype=np.int64)
        np.cumsum(n_touches, out=offsets[1:])
        return JourneyArrays(
            journey=t["journey_id"].to_numpy(dtype=np.int64),
            position=t["position"].to_numpy(dtype=np.int64),
            channel=t["channel"].cat.codes.to_numpy().astype(np.int64),
            seconds=t["seconds_to_conversion"].to_numpy(dtype=np.float64),
            offsets=offsets,
            n_touches=n_touches,
            converted=j["converted"].to_numpy(dtype=bool),
            weight=j["weight"].to_numpy(dtype=np.float64),
            value=j["value"].to_numpy(dtype=np.float64),
            channels=self.channels,
        )

    @classmethod
    def from_paths(cls, paths: pd.DataFrame) -> JourneyTable:
        """Build journeys from a ChannelAttribution path table.

        Parameters
        ----------
        paths
            ``path`` (channels joined by ``" > "``), ``total_conversions``,
            ``total_conversion_value``, ``total_null``; validated with
            :func:`mixlens.data.schemas.validate_paths`.

        Returns
        -------
        JourneyTable
            Per path row, one converting journey (weight ``total_conversions``, value
            ``total_conversion_value``) and one null journey (weight ``total_null``), each only
            when its weight is positive. No timing (``has_timing`` is False).

        Examples
        --------
        >>> p = pd.DataFrame({"path": ["a > b", "b"], "total_conversions": [2, 0],
        ...                   "total_conversion_value": [5.0, 0.0], "total_null": [1, 3]})
        >>> jt = JourneyTable.from_paths(p)
        >>> jt.journeys[["converted", "weight", "n_touches"]].to_numpy().tolist()
        [[True, 2.0, 2], [False, 1.0, 2], [False, 3.0, 1]]
        """
        valid = validate_paths(paths)
        steps = pc.split_pattern(
            pa.array(valid["path"], type=pa.large_string()), PATH_SEPARATOR.strip()
        )
        lengths = pc.list_value_length(steps).to_numpy(zero_copy_only=False).astype(np.int64)
        codes, names = _encode_sorted(pc.utf8_trim_whitespace(pc.list_flatten(steps)))
        conv = valid["total_conversions"].to_numpy(dtype=np.float64)
        null = valid["total_null"].to_numpy(dtype=np.float64)
        value = valid["total_conversion_value"].to_numpy(dtype=np.float64)
        # Row r becomes journeys (r, converting) and (r, null), interleaved, kept when weight > 0.
        weight = np.stack([conv, null], axis=1).ravel()
        keep = weight > 0
        row = np.repeat(np.arange(len(valid), dtype=np.int64), 2)[keep]
        converted = np.tile(np.array([True, False]), len(valid))[keep]
        starts = np.zeros(len(valid) + 1, dtype=np.int64)
        np.cumsum(lengths, out=starts[1:])
        n_touch = lengths[row]
        touch_src = _ranges(starts[row], n_touch)
        journey_of_touch = np.repeat(np.arange(row.shape[0], dtype=np.int64), n_touch)
        return _assemble(
            journey=journey_of_touch,
            channel=codes[touch_src],
            seconds=np.full(touch_src.shape[0], np.nan),
            names=names,
            user=pd.array([""] * row.shape[0], dtype="str"),
            converted=converted,
            weight=weight[keep],
            value=np.where(converted, value[row], 0.0),
            has_timing=False,
            meta={"source": "paths", "path_rows": len(valid)},
        )


@dataclass(frozen=True)
class JourneyArrays:
    """Flat numpy views of a :class:`JourneyTable` (``n`` touches, ``m`` journeys).

    Attributes
    ----------
    journey, position, channel, seconds
        Shape ``(n,)``: journey row, position, channel code (into ``channels``) and seconds to
        conversion of each touch, sorted by journey then position.
    offsets
        Shape ``(m + 1,)``: journey ``j`` holds touches ``offsets[j]:offsets[j + 1]``.
    n_touches, converted, weight, value
        Shape ``(m,)``: per journey.
    channels
        Channel names by code.
    """

    journey: IntArray
    position: IntArray
    channel: IntArray
    seconds: FloatArray
    offsets: IntArray
    n_touches: IntArray
    converted: npt.NDArray[np.bool_]
    weight: FloatArray
    value: FloatArray
    channels: tuple[str, ...]

    @property
    def conversions(self) -> FloatArray:
        """Shape ``(m,)``: conversions of each journey row (0 for null journeys)."""
        return np.where(self.converted, self.weight, 0.0)


def _ranges(starts: IntArray, lengths: IntArray) -> IntArray:
    """Concatenate ``arange(s, s + n)`` for every ``(s, n)``; shape ``(lengths.sum(),)``."""
    total = int(lengths.sum())
    if total == 0:
        return np.zeros(0, dtype=np.int64)
    ends = np.cumsum(lengths)
    shift = np.repeat(starts - (ends - lengths), lengths)
    out: IntArray = np.arange(total, dtype=np.int64) + shift
    return out


def _encode_sorted(values: pa.Array | pa.ChunkedArray) -> tuple[IntArray, tuple[str, ...]]:
    """Dictionary-encode strings with a sorted dictionary; return codes and names."""
    encoded = pc.dictionary_encode(values)
    if isinstance(encoded, pa.ChunkedArray):
        encoded = encoded.combine_chunks()
    names = [str(v) for v in encoded.dictionary.to_pylist()]
    order = np.argsort(np.array(names, dtype=object), kind="stable")
    remap = np.empty(len(names), dtype=np.int64)
    remap[order] = np.arange(len(names), dtype=np.int64)
    codes = encoded.indices.to_numpy(zero_copy_only=False).astype(np.int64)
    return remap[codes], tuple(names[i] for i in order)


def _assemble(
    *,
    journey: IntArray,
    channel: IntArray,
    seconds: FloatArray,
    names: tuple[str, ...],
    user: Any,
    converted: npt.NDArray[np.bool_],
    weight: FloatArray,
    value: FloatArray,
    has_timing: bool,
    meta: dict[str, Any],
) -> JourneyTable:
    """Build a :class:`JourneyTable` from touches sorted by journey (then time)."""
    n_journeys = converted.shape[0]
    n_touches = np.bincount(journey, minlength=n_journeys).astype(np.int64)
    starts = np.cumsum(n_touches) - n_touches
    position = np.arange(journey.shape[0], dtype=np.int64) - starts[journey]
    touches = pd.DataFrame(
        {
            "journey_id": journey,
            "position": position,
            "channel": pd.Categorical.from_codes(channel, categories=pd.Index(list(names))),
            "seconds_to_conversion": seconds,
        }
    )
    journeys = pd.DataFrame(
        {
            "journey_id": np.arange(n_journeys, dtype=np.int64),
            "user_id": user,
            "converted": converted,
            "weight": weight.astype(np.float64),
            "value": value.astype(np.float64),
            "n_touches": n_touches,
        }
    )
    return JourneyTable(touches=touches, journeys=journeys, has_timing=has_timing, meta=meta)


def _collapse(journey: IntArray, channel: IntArray) -> npt.NDArray[np.bool_]:
    """Mask keeping the first touch of every run of one channel within a journey."""
    keep = np.ones(journey.shape[0], dtype=bool)
    keep[1:] = (journey[1:] != journey[:-1]) | (channel[1:] != channel[:-1])
    return keep


def _window_end(touch_us: IntArray, conv_us: IntArray) -> int:
    """Default window end: midnight after the last timestamp observed (microseconds)."""
    last = max(int(touch_us.max()), int(conv_us.max()) if conv_us.shape[0] else -(2**62))
    return (last // _US_PER_DAY + 1) * _US_PER_DAY


def _epoch_us(column: pd.Series) -> IntArray:
    """Naive datetimes as int64 microseconds since the epoch."""
    return column.to_numpy().astype("datetime64[us]").astype(np.int64)


def build_journeys(
    touchpoints: pd.DataFrame,
    conversions: pd.DataFrame,
    *,
    lookback_days: float = 30.0,
    window_end: dt.datetime | pd.Timestamp | None = None,
    collapse_repeats: bool = False,
) -> JourneyTable:
    """Cut touchpoint and conversion logs into journeys (see the module docstring).

    Parameters
    ----------
    touchpoints
        ``user_id, timestamp, channel`` (other columns ignored), as the loaders return them
        (timestamps naive ``datetime64``, ids strings). Shape ``(n_touches, >=3)``.
    conversions
        ``user_id, timestamp`` with optional ``value`` (currency; 0 when absent).
    lookback_days
        A touch counts toward a conversion at most this many days before it (inclusive).
    window_end
        End of the observation window (exclusive). Touches after a user's last conversion and
        at or after ``window_end - lookback`` form the null journeys. Default: midnight after
        the last timestamp in either table.
    collapse_repeats
        Keep only the first touch of each run of consecutive touches of one channel.

    Returns
    -------
    JourneyTable
        Journeys ordered by user (first appearance), then closing time; null journeys last
        within a user.

    Raises
    ------
    DataError
        If ``lookback_days`` is not positive or the touchpoints are empty.
    """
    import duckdb

    if not (lookback_days > 0 and np.isfinite(lookback_days)):
        raise DataError(f"lookback_days={lookback_days!r} must be a positive number of days")
    if len(touchpoints) == 0:
        raise DataError("no touchpoints")
    touch_us = _epoch_us(touchpoints["timestamp"])
    conv_us = _epoch_us(conversions["timestamp"])
    n_tp, n_cv = len(touchpoints), len(conversions)
    users = pa.chunked_array(
        [
            pa.array(touchpoints["user_id"].astype("str"), type=pa.large_string()),
            pa.array(conversions["user_id"].astype("str"), type=pa.large_string()),
        ]
    )
    user_enc = pc.dictionary_encode(users).combine_chunks()
    user_codes = user_enc.indices.to_numpy(zero_copy_only=False).astype(np.int64)
    channel, names = _encode_sorted(pa.array(touchpoints["channel"].astype("str")))
    if "value" in conversions.columns:
        conv_value = conversions["value"].to_numpy(dtype=np.float64)
    else:
        conv_value = np.zeros(n_cv, dtype=np.float64)
    end_us = _window_end(touch_us, conv_us) if window_end is None else _as_us(window_end)
    lookback_us = round(lookback_days * _US_PER_DAY)

    tp = pa.table(
        {
            "u": user_codes[:n_tp],
            "ts": touch_us,
            "rid": np.arange(n_tp, dtype=np.int64),
        }
    )
    cv = pa.table({"u": user_codes[n_tp:], "ts": conv_us, "rid": np.arange(n_cv, dtype=np.int64)})
    con = duckdb.connect()
    try:
        con.register("tp", tp)
        con.register("cv", cv)
        # Conversions in (user, time, input) order: their rank is the conversion row.
        conv = con.execute("SELECT u, ts, rid FROM cv ORDER BY u, ts, rid").fetchnumpy()
        con.execute(
            "CREATE TEMP TABLE cf AS SELECT u, ts, min(cr) AS cr FROM "
            "(SELECT u, ts, row_number() OVER (ORDER BY u, ts, rid) - 1 AS cr FROM cv) "
            "GROUP BY u, ts"
        )
        kept = con.execute(
            f"""
            SELECT t.rid, coalesce(c.cr, -1) AS cr, coalesce(c.ts, {_NO_CONVERSION}) AS cts
            FROM tp t ASOF LEFT JOIN cf c ON t.u = c.u AND t.ts <= c.ts
            WHERE (c.cr IS NOT NULL AND c.ts - t.ts <= {lookback_us})
               OR (c.cr IS NULL AND t.ts >= {end_us - lookback_us})
            ORDER BY t.u, cts, t.ts, t.rid
            """
        ).fetchnumpy()
    finally:
        con.close()
    rid = np.asarray(kept["rid"], dtype=np.int64)
    cr = np.asarray(kept["cr"], dtype=np.int64)
    conv_rid = np.asarray(conv["rid"], dtype=np.int64)
    conv_user = np.asarray(conv["u"], dtype=np.int64)
    conv_ts = np.asarray(conv["ts"], dtype=np.int64)

    # Journeys: every conversion, then one null journey per user with null touches.
    null_users = np.unique(user_codes[:n_tp][rid[cr < 0]])
    j_user = np.concatenate([conv_user, null_users])
    j_time = np.concatenate([conv_ts, np.full(null_users.shape[0], _NO_CONVERSION)])
    j_rank = np.concatenate(
        [np.arange(n_cv, dtype=np.int64), np.full(null_users.shape[0], n_cv, dtype=np.int64)]
    )
    order = np.lexsort((j_rank, j_time, j_user))
    journey_id = np.empty(order.shape[0], dtype=np.int64)
    journey_id[order] = np.arange(order.shape[0], dtype=np.int64)
    touch_user = user_codes[:n_tp][rid]
    null_slot = n_cv + np.searchsorted(null_users, touch_user)
    journey = journey_id[np.where(cr >= 0, cr, np.minimum(null_slot, order.shape[0] - 1))]
    if journey.shape[0] > 1 and bool(np.any(journey[1:] < journey[:-1])):
        resort = np.argsort(journey, kind="stable")
        rid, cr, journey = rid[resort], cr[resort], journey[resort]
    touch_channel = channel[rid]
    closing = conv_ts[np.maximum(cr, 0)] if n_cv else np.zeros(cr.shape[0], dtype=np.int64)
    seconds = np.where(cr >= 0, (closing - touch_us[rid]) / _US_PER_SECOND, np.nan)
    if collapse_repeats:
        keep = _collapse(journey, touch_channel)
        journey, touch_channel, seconds = journey[keep], touch_channel[keep], seconds[keep]

    converted = np.arange(order.shape[0]) < n_cv
    dictionary = user_enc.dictionary
    user_ids = pc.take(dictionary, pa.array(j_user[order])).to_pandas()
    return _assemble(
        journey=journey,
        channel=touch_channel,
        seconds=seconds,
        names=names,
        user=pd.array(user_ids, dtype="str"),
        converted=converted[order],
        weight=np.ones(order.shape[0]),
        value=np.concatenate([conv_value[conv_rid], np.zeros(null_users.shape[0])])[order],
        has_timing=True,
        meta={
            "source": "logs",
            "lookback_days": float(lookback_days),
            "window_end": pd.Timestamp(end_us, unit="us").isoformat(),
            "collapse_repeats": bool(collapse_repeats),
            "touches_in": n_tp,
            "conversions_in": n_cv,
        },
    )


def _as_us(when: dt.datetime | pd.Timestamp) -> int:
    """Return a naive datetime as microseconds since the epoch."""
    stamp = pd.Timestamp(when)
    if stamp.tzinfo is not None:
        stamp = stamp.tz_convert("UTC").tz_localize(None)
    return int(stamp.to_datetime64().astype("datetime64[us]").astype(np.int64))


def _sum_money(values: FloatArray, groups: IntArray, n_groups: int) -> FloatArray:
    """Group sums of currency values; exact (integer cents) when every value is whole cents."""
    cents = np.round(values * 100.0)
    if np.array_equal(cents / 100.0, values) and float(np.abs(cents).sum()) < 2.0**53:
        sums = np.bincount(groups, weights=cents, minlength=n_groups)
        result: FloatArray = np.rint(sums) / 100.0
        return result
    plain: FloatArray = np.bincount(groups, weights=values, minlength=n_groups).astype(np.float64)
    return plain


def path_table(journeys: JourneyTable) -> pd.DataFrame:
    """Aggregate journeys into ChannelAttribution's path table.

    Parameters
    ----------
    journeys
        The journeys; those without touches are left out.

    Returns
    -------
    pandas.DataFrame
        ``path`` (channels joined by ``" > "``), ``total_conversions``,
        ``total_conversion_value`` (currency), ``total_null``; identical paths aggregated;
        sorted by conversions (descending), nulls (descending), then path. Counts are int64
        when whole numbers, else float64.
    """
    a = journeys.arrays()
    names = pa.array(list(a.channels), type=pa.string())
    strings = pc.take(names, pa.array(a.channel.astype(np.int32)))
    lists = pa.LargeListArray.from_arrays(pa.array(a.offsets, type=pa.int64()), strings)
    touched = a.n_touches > 0
    paths = pc.binary_join(lists, PATH_SEPARATOR).filter(pa.array(touched))
    encoded = pc.dictionary_encode(paths)
    group = encoded.indices.to_numpy(zero_copy_only=False).astype(np.int64)
    n_groups = len(encoded.dictionary)
    conv = np.where(a.converted, a.weight, 0.0)[touched]
    null = np.where(a.converted, 0.0, a.weight)[touched]
    conv_sum = np.bincount(group, weights=conv, minlength=n_groups)
    null_sum = np.bincount(group, weights=null, minlength=n_groups)
    value_sum = _sum_money(np.where(a.converted, a.value, 0.0)[touched], group, n_groups)
    table = pa.table({"path": encoded.dictionary, "c": conv_sum, "n": null_sum, "v": value_sum})
    order = pc.sort_indices(
        table, sort_keys=[("c", "descending"), ("n", "descending"), ("path", "ascending")]
    ).to_numpy()
    return pd.DataFrame(
        {
            "path": pd.array(table["path"].take(pa.array(order)).to_pylist(), dtype="str"),
            "total_conversions": _counts(conv_sum[order]),
            "total_conversion_value": value_sum[order],
            "total_null": _counts(null_sum[order]),
        }
    )


def _counts(values: FloatArray) -> npt.NDArray[Any]:
    """Return counts as int64 when they are whole numbers."""
    if np.array_equal(np.round(values), values):
        return values.astype(np.int64)
    return values
