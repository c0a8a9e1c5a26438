"""Journeys, ChannelAttribution path tables and fast CSV writing for the journey world.

These are the array routines behind :func:`mixlens.data.simulate.journeys.simulate_journeys`
that turn touchpoints and conversions into journeys. They take plain sorted arrays, so they
know nothing of the generative model and can be tested on hand-made inputs.

A journey is the run of one user's touches that precede one conversion: the touches after the
user's previous conversion (a touch in the same second as a conversion precedes it), within
``lookback`` seconds of the conversion. The user's touches after their last conversion, within
``lookback`` seconds of the window end, form a null journey (a journey without conversion).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv
from numpy.typing import NDArray

from mixlens.data.io import write_atomic

__all__ = ["JourneySet", "build_journeys", "iso_seconds", "path_table", "write_csv_fast"]

PATH_SEPARATOR = " > "
"""Separator of channels in a path (ChannelAttribution's convention)."""

_SECONDS_PER_DAY = 86_400
_CSV_CHUNK_ROWS = 1_000_000


@dataclass(frozen=True)
class JourneySet:
    """Journeys as flat arrays over the touches they contain.

    Attributes
    ----------
    touch_index
        Shape ``(n_kept,)``: indices into the touch arrays of the touches that belong to a
        journey, journey after journey, each journey in time order.
    offsets
        Shape ``(n_journeys + 1,)``: journey ``j`` holds
        ``touch_index[offsets[j]:offsets[j + 1]]``.
    conversion
        Shape ``(n_journeys,)``: row of the conversion that closes journey ``j``, or ``-1`` for a
        null journey.
    user
        Shape ``(n_journeys,)``: user of each journey.
    """

    touch_index: NDArray[np.int64]
    offsets: NDArray[np.int64]
    conversion: NDArray[np.int64]
    user: NDArray[np.int64]

    @property
    def n_journeys(self) -> int:
        """Number of journeys with at least one touch."""
        return int(self.conversion.shape[0])

    @property
    def n_null(self) -> int:
        """Number of null journeys (touches, no conversion)."""
        return int(np.count_nonzero(self.conversion < 0))

    def last_touch(self) -> NDArray[np.int64]:
        """Return the touch index of the last touch of every journey, shape ``(n_journeys,)``."""
        return self.touch_index[self.offsets[1:] - 1]


def build_journeys(
    touch_user: NDArray[np.int64],
    touch_time: NDArray[np.int64],
    conversion_user: NDArray[np.int64],
    conversion_time: NDArray[np.int64],
    *,
    window_end: int,
    lookback: int,
) -> JourneySet:
    """Cut every user's touches into journeys closed by conversions, plus null journeys.

    Parameters
    ----------
    touch_user, touch_time
        Shape ``(n_touches,)``: user and time (integer seconds from the window start) of each
        touch, sorted by user, then time.
    conversion_user, conversion_time
        Shape ``(n_conversions,)``: user and time (seconds) of each conversion, sorted likewise.
    window_end
        End of the window in seconds from its start; touches at or after
        ``window_end - lookback`` and after the user's last conversion form the null journey.
    lookback
        Lookback in seconds: a touch belongs to a conversion's journey only if it lies at most
        ``lookback`` seconds before it.

    Returns
    -------
    JourneySet
        The journeys with at least one touch; conversions without any touch in their lookback
        appear in no journey.
    """
    n_conv = conversion_user.shape[0]
    span = np.int64(window_end + 1)
    touch_key = touch_user * span + touch_time
    conv_key = conversion_user * span + conversion_time
    # First conversion at or after each touch (a touch in the conversion's second precedes it).
    nxt = np.searchsorted(conv_key, touch_key, side="left").astype(np.int64)
    clipped = np.minimum(nxt, max(n_conv - 1, 0))
    if n_conv:
        same_user = (nxt < n_conv) & (conversion_user[clipped] == touch_user)
        in_lookback = conversion_time[clipped] - touch_time <= lookback
    else:
        same_user = np.zeros(touch_user.shape[0], dtype=bool)
        in_lookback = same_user
    converting = same_user & in_lookback
    null = ~same_user & (touch_time >= window_end - lookback)
    kept = np.flatnonzero(converting | null).astype(np.int64)
    journey_key = np.where(converting[kept], nxt[kept], n_conv + touch_user[kept])
    if kept.shape[0] == 0:
        empty = np.zeros(0, dtype=np.int64)
        return JourneySet(empty, np.zeros(1, dtype=np.int64), empty, empty)
    starts = np.flatnonzero(np.r_[True, journey_key[1:] != journey_key[:-1]]).astype(np.int64)
    offsets = np.r_[starts, kept.shape[0]].astype(np.int64)
    first_key = journey_key[starts]
    conversion = np.where(first_key < n_conv, first_key, -1).astype(np.int64)
    return JourneySet(
        touch_index=kept,
        offsets=offsets,
        conversion=conversion,
        user=touch_user[kept[starts]].astype(np.int64),
    )


def path_table(
    journeys: JourneySet,
    touch_channel: NDArray[np.integer],
    channel_names: tuple[str, ...],
    conversion_value: NDArray[np.int64],
) -> pd.DataFrame:
    """Aggregate journeys into ChannelAttribution's path table.

    Parameters
    ----------
    journeys
        Output of :func:`build_journeys`.
    touch_channel
        Shape ``(n_touches,)``: channel code of every touch (index into ``channel_names``).
    channel_names
        Channel names, by code.
    conversion_value
        Shape ``(n_conversions,)``: value of each conversion in integer cents.

    Returns
    -------
    pandas.DataFrame
        Columns ``path`` (channels joined by ``" > "``), ``total_conversions``,
        ``total_conversion_value`` (currency units) and ``total_null``; identical paths
        aggregated; sorted by conversions (descending), nulls (descending), then path.
    """
    names = pa.array(list(channel_names), type=pa.string())
    codes = pa.array(np.asarray(touch_channel[journeys.touch_index], dtype=np.int32))
    values = pc.take(names, codes)
    lists = pa.LargeListArray.from_arrays(pa.array(journeys.offsets, type=pa.int64()), values)
    paths = pc.binary_join(lists, PATH_SEPARATOR)
    is_conv = journeys.conversion >= 0
    padded = np.append(conversion_value.astype(np.int64), 0)  # a null journey is worth 0
    cents = padded[np.where(is_conv, journeys.conversion, conversion_value.shape[0])]
    table = pa.table(
        {
            "path": paths,
            "conv": pa.array(is_conv.astype(np.int64)),
            "cents": pa.array(cents.astype(np.int64)),
            "null": pa.array((~is_conv).astype(np.int64)),
        }
    )
    grouped = table.group_by("path", use_threads=False).aggregate(
        [("conv", "sum"), ("cents", "sum"), ("null", "sum")]
    )
    order = pc.sort_indices(
        grouped,
        sort_keys=[("conv_sum", "descending"), ("null_sum", "descending"), ("path", "ascending")],
    )
    grouped = grouped.take(order)
    return pd.DataFrame(
        {
            "path": pd.array(grouped["path"].to_pylist(), dtype="str"),
            "total_conversions": grouped["conv_sum"].to_numpy().astype(np.int64),
            "total_conversion_value": grouped["cents_sum"].to_numpy().astype(np.int64) / 100.0,
            "total_null": grouped["null_sum"].to_numpy().astype(np.int64),
        }
    )


def iso_seconds(epoch_seconds: NDArray[np.int64]) -> pa.Array:
    """Format seconds since the Unix epoch as ISO 8601 strings ``YYYY-MM-DDTHH:MM:SS``.

    Parameters
    ----------
    epoch_seconds
        Shape ``(n,)``: integer seconds since 1970-01-01T00:00:00 (naive, no time zone).

    Returns
    -------
    pyarrow.Array
        Shape ``(n,)`` string array; about ten times faster than ``strftime``.
    """
    n = int(epoch_seconds.shape[0])
    if n == 0:
        return pa.array([], type=pa.string())
    day, second = np.divmod(epoch_seconds, _SECONDS_PER_DAY)
    first = int(day.min())
    dates = np.datetime_as_string(
        np.datetime64("1970-01-01", "D") + np.arange(first, int(day.max()) + 1), unit="D"
    )
    date_bytes = np.frombuffer("".join(dates.tolist()).encode(), dtype=np.uint8).reshape(-1, 10)
    out = np.empty((n, 19), dtype=np.uint8)
    out[:, :10] = date_bytes[day - first]
    out[:, 10:] = _time_of_day_bytes()[second]
    offsets = np.arange(n + 1, dtype=np.int64) * 19
    return pa.LargeStringArray.from_buffers(n, pa.py_buffer(offsets), pa.py_buffer(out))


_TOD_CACHE: list[NDArray[np.uint8]] = []


def _time_of_day_bytes() -> NDArray[np.uint8]:
    """Return the 86,400 strings ``THH:MM:SS`` as a ``(86400, 9)`` byte array (cached)."""
    if not _TOD_CACHE:
        text = "".join(
            f"T{h:02d}:{m:02d}:{s:02d}" for h in range(24) for m in range(60) for s in range(60)
        )
        _TOD_CACHE.append(np.frombuffer(text.encode(), dtype=np.uint8).reshape(-1, 9))
    return _TOD_CACHE[0]


def _column_to_arrow(column: pd.Series) -> pa.Array:
    """Convert one DataFrame column for CSV: datetimes become ISO 8601 strings."""
    if isinstance(column.dtype, pd.CategoricalDtype):
        categories = pa.array([str(c) for c in column.cat.categories], type=pa.string())
        return pa.DictionaryArray.from_arrays(pa.array(column.cat.codes.to_numpy()), categories)
    if pd.api.types.is_datetime64_any_dtype(column.dtype):
        seconds = column.to_numpy().astype("datetime64[s]").astype(np.int64)
        return iso_seconds(seconds)
    return pa.array(column.to_numpy())


def write_csv_fast(frame: pd.DataFrame, path: str | Path) -> Path:
    """Write ``frame`` as CSV with pyarrow, atomically, in chunks of rows.

    Datetime columns are written as ISO 8601 to the second, categoricals as their labels,
    floats in their shortest round-trip form; nothing is quoted, so string values must not
    contain commas, quotes or newlines (channel and campaign names are checked for that).

    Parameters
    ----------
    frame
        Table to write; its index is not written.
    path
        Destination ``.csv`` file.

    Returns
    -------
    pathlib.Path
        ``path``.
    """
    options = pacsv.WriteOptions(include_header=False, quoting_style="none")
    header = (",".join(str(c) for c in frame.columns) + "\n").encode()

    def writer(tmp: Path) -> None:
        with tmp.open("wb") as handle:
            handle.write(header)
            for lo in range(0, len(frame), _CSV_CHUNK_ROWS):
                chunk = frame.iloc[lo : lo + _CSV_CHUNK_ROWS]
                table = pa.table({str(c): _column_to_arrow(chunk[c]) for c in chunk.columns})
                pacsv.write_csv(table, handle, write_options=options)

    return write_atomic(path, writer)
