"""Touchpoints to path table and transition counts, written once as Ibis expressions.

The same aggregation as :func:`mixlens.mta.journeys.build_journeys` followed by
:func:`mixlens.mta.journeys.path_table` and :func:`mixlens.mta.describe.transitions`, for data
that lives in a warehouse: build the expression on the user's Ibis tables, then execute it on
any Ibis backend or compile it to that engine's SQL (:func:`to_sql`: Spark, BigQuery,
Snowflake, DuckDB, ...). Needs the optional extra ``mixlens[ibis]``.

Journey rules (those of :mod:`mixlens.mta.journeys`): a touch belongs to the user's next
conversion at or after it (a touch at the conversion's instant precedes it) when it lies at
most ``lookback_days`` before it; touches after a user's last conversion and at or after
``window_end - lookback_days`` form the user's null journey; several conversions of a user at
one instant: the first (by ``row_id``) takes the touches, the others are touchless and not in
a path table. Touches of one instant are ordered by ``row_id`` (by channel name when no
``row_id`` column is given: warehouses keep no input order).

Only window functions portable across engines are used: no ``ASOF`` join (BigQuery has
none); a touch finds its conversion as the smallest conversion time in the rows that follow it
in the user's merged, time-ordered stream of touches and conversions.

Examples
--------
>>> import ibis, pyarrow as pa
>>> tp = ibis.memtable(pa.table({"user_id": ["u1", "u1", "u2"],
...     "timestamp": pa.array(pd.to_datetime(["2025-01-01", "2025-01-02", "2025-01-03"])),
...     "channel": ["tv", "search", "tv"]}))
>>> cv = ibis.memtable(pa.table({"user_id": ["u1"], "timestamp":
...     pa.array(pd.to_datetime(["2025-01-02 12:00"])), "value": [10.0]}))
>>> con = ibis.duckdb.connect()
>>> con.to_pyarrow(path_table_expr(tp, cv, lookback_days=30)).to_pylist()[0]
{'path': 'tv > search', 'total_conversions': 1, 'total_conversion_value': 10.0, 'total_null': 0}
>>> "WITH" in to_sql(path_table_expr(tp, cv), "bigquery")
True
"""

from __future__ import annotations

import datetime as dt
import importlib
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa

from mixlens.data.schemas import PATH_SEPARATOR
from mixlens.errors import DataError
from mixlens.mta.describe import CONVERSION, NULL, START

__all__ = [
    "DIALECTS",
    "journey_touches_expr",
    "path_table_expr",
    "path_table_ibis",
    "to_sql",
    "transitions_expr",
]

DIALECTS: tuple[str, ...] = ("duckdb", "pyspark", "bigquery", "snowflake")
"""SQL dialects the tests compile to."""

_US_PER_DAY = 86_400 * 1_000_000
_POS_DIGITS = 9  # journeys of up to a billion touches


def _ibis() -> Any:
    """Import Ibis or explain how to install it."""
    try:
        return importlib.import_module("ibis")
    except ImportError as err:  # pragma: no cover - exercised only without the extra
        raise DataError(
            "the Ibis aggregation needs the optional extra: pip install 'mixlens[ibis]'"
        ) from err


def journey_touches_expr(
    touchpoints: Any,
    conversions: Any,
    *,
    lookback_days: float = 30.0,
    window_end: dt.datetime | pd.Timestamp | None = None,
    row_id: str | None = None,
) -> Any:
    """Touches kept in a journey, with their journey key and whether it converted.

    Parameters
    ----------
    touchpoints
        Ibis table with ``user_id, timestamp, channel`` (and ``row_id`` when given).
    conversions
        Ibis table with ``user_id, timestamp`` and optional ``value`` (and ``row_id``).
    lookback_days
        A touch counts toward a conversion at most this many days before it (inclusive).
    window_end
        End of the observation window (exclusive); default midnight after the last timestamp
        of either table.
    row_id
        Column ordering rows of one user and instant (input order).

    Returns
    -------
    ibis.Table
        ``user_id, timestamp, channel, tie, journey_ts`` (the conversion's instant, null for
        the null journey), ``converted`` (bool), ``value`` (the conversion's value, 0 for
        null journeys).

    Raises
    ------
    DataError
        If ``lookback_days`` is not positive.
    """
    ibis = _ibis()
    if not (lookback_days > 0 and lookback_days < float("inf")):
        raise DataError(f"lookback_days={lookback_days!r} must be a positive number of days")
    lookback_us = round(lookback_days * _US_PER_DAY)
    lookback = ibis.interval(microseconds=lookback_us)
    has_value = "value" in conversions.columns
    t_tie = touchpoints[row_id] if row_id else touchpoints["channel"]
    c_tie = conversions[row_id] if row_id else ibis.literal(0)
    touches = touchpoints.select(
        user_id=touchpoints["user_id"].cast("string"),
        timestamp=touchpoints["timestamp"].cast("timestamp"),
        channel=touchpoints["channel"].cast("string"),
        tie=t_tie,
    )
    # One conversion per user and instant: the first (by row_id) takes the touches.
    ranked = conversions.select(
        user_id=conversions["user_id"].cast("string"),
        timestamp=conversions["timestamp"].cast("timestamp"),
        value=(conversions["value"].cast("float64") if has_value else ibis.literal(0.0)),
        ctie=c_tie,
    )
    first = ranked.mutate(
        rank=ibis.row_number().over(
            ibis.window(group_by=[ranked.user_id, ranked.timestamp], order_by=ranked.ctie)
        )
    )
    conv = first.filter(first["rank"] == 0).select("user_id", "timestamp", "value")
    # Merged stream: touches (kind 0) before conversions (kind 1) at one instant.
    stream = touches.select(
        "user_id", "timestamp", "channel", kind=ibis.literal(0), conv_ts=ibis.null("timestamp")
    ).union(
        conv.select(
            "user_id",
            "timestamp",
            channel=ibis.null("string"),
            kind=ibis.literal(1),
            conv_ts=conv["timestamp"],
        )
    )
    following = ibis.window(
        group_by=stream.user_id, order_by=[stream.timestamp, stream.kind], rows=(0, None)
    )
    nxt = stream.mutate(journey_ts=stream.conv_ts.min().over(following))
    touch_next = nxt.filter(nxt.kind == 0).select("user_id", "timestamp", "channel", "journey_ts")
    # The stream drops the tie column (unions need equal schemas): join the next conversion
    # time back onto the touches by (user, instant); all touches of one instant share it.
    next_by_instant = touch_next.group_by(["user_id", "timestamp"]).aggregate(
        journey_ts=touch_next.journey_ts.min()
    )
    joined = touches.join(next_by_instant, ["user_id", "timestamp"])
    if window_end is None:
        last = ibis.greatest(touches.timestamp.max(), conv.timestamp.max())
        end = last.truncate("D") + ibis.interval(days=1)
    else:
        end = ibis.literal(pd.Timestamp(window_end).to_pydatetime()).cast("timestamp")
    keep = (joined.journey_ts.notnull() & (joined.timestamp >= joined.journey_ts - lookback)) | (
        joined.journey_ts.isnull() & (joined.timestamp >= end - lookback)
    )
    kept = joined.filter(keep)
    right = conv.select(c_user="user_id", c_ts="timestamp", c_value="value")
    with_value = kept.left_join(
        right, [kept.user_id == right.c_user, kept.journey_ts == right.c_ts]
    )
    return with_value.select(
        "user_id",
        "timestamp",
        "channel",
        "tie",
        journey_ts=kept.journey_ts,
        converted=kept.journey_ts.notnull(),
        value=ibis.coalesce(with_value.c_value, 0.0),
    )


def path_table_expr(touchpoints: Any, conversions: Any, **options: Any) -> Any:
    """ChannelAttribution's path table as an Ibis expression.

    ``options`` are those of :func:`journey_touches_expr`. Returns ``path, total_conversions,
    total_conversion_value, total_null`` sorted like :func:`mixlens.mta.journeys.path_table`
    (conversions, nulls descending, then path); value sums are exact in whole cents.
    """
    ibis = _ibis()
    t = journey_touches_expr(touchpoints, conversions, **options)
    # Ordered string aggregation is not portable (Spark before 4 has none): number the touches
    # of a journey, prefix each channel with its zero-padded position, sort the collected
    # strings and strip the prefix.
    pos = ibis.row_number().over(
        ibis.window(group_by=[t.user_id, t.journey_ts], order_by=[t.timestamp, t.tie])
    )
    keyed = t.mutate(key=pos.cast("string").lpad(_POS_DIGITS, "0") + t.channel)
    journeys = keyed.group_by(["user_id", "journey_ts"]).aggregate(
        path=keyed.key.collect().sort().map(lambda k: k.substr(_POS_DIGITS)).join(PATH_SEPARATOR),
        converted=keyed.converted.max(),
        cents=(keyed.value * 100).round().max().cast("int64"),
    )
    conv = journeys.converted.cast("int64")
    table = journeys.group_by("path").aggregate(
        total_conversions=conv.sum(),
        cents=(journeys.cents * conv).sum(),
        total_null=(1 - conv).sum(),
    )
    table = table.select(
        "path",
        "total_conversions",
        total_conversion_value=table.cents.cast("float64") / 100.0,
        total_null="total_null",
    )
    return table.order_by(
        [ibis.desc("total_conversions"), ibis.desc("total_null"), ibis.asc("path")]
    )


def transitions_expr(touchpoints: Any, conversions: Any, **options: Any) -> Any:
    """Order-1 transition counts and probabilities as an Ibis expression.

    ``options`` are those of :func:`journey_touches_expr`. Returns ``from, to, count,
    probability`` like :func:`mixlens.mta.describe.transitions` (repeats merged, ``(start)``,
    ``(conversion)`` and ``(null)`` states), sorted by ``from`` then ``to``.
    """
    ibis = _ibis()
    t = journey_touches_expr(touchpoints, conversions, **options)
    journey = [t.user_id, t.journey_ts]
    order = [t.timestamp, t.tie]
    w = ibis.window(group_by=journey, order_by=order)
    marked = t.mutate(prev=t.channel.lag().over(w))
    runs = marked.filter(marked.prev.isnull() | (marked.prev != marked.channel))
    w2 = ibis.window(group_by=[runs.user_id, runs.journey_ts], order_by=[runs.timestamp, runs.tie])
    steps = runs.mutate(src=runs.channel.lag().over(w2), nxt=runs.channel.lead().over(w2))
    inner = steps.select(src=ibis.coalesce(steps.src, START), dst=steps.channel)
    ends = steps.filter(steps.nxt.isnull()).select(
        src=steps.channel,
        dst=ibis.ifelse(steps.converted, CONVERSION, NULL),
    )
    edges = inner.union(ends)
    counts = edges.group_by(["src", "dst"]).aggregate(n=edges.count())
    total = counts.n.sum().over(ibis.window(group_by=counts.src))
    out = counts.select(
        **{
            "from": counts.src,
            "to": counts.dst,
            "count": counts.n.cast("float64"),
            "probability": counts.n.cast("float64") / total.cast("float64"),
        }
    )
    return out.order_by(["from", "to"])


def to_sql(expr: Any, dialect: str) -> str:
    """Compile an expression to ``dialect``'s SQL (``duckdb``, ``pyspark``, ``bigquery``, ...).

    Ibis registers the Spark compiler's options when its PySpark backend is imported, which
    needs ``pyspark``; without it they are registered here with their defaults, so Spark SQL
    compiles without a Spark installation.
    """
    ibis = _ibis()
    if dialect in ("pyspark", "databricks") and getattr(ibis.options, "pyspark", None) is None:
        config = importlib.import_module("ibis.config")

        class _SparkOptions(config.Config):  # type: ignore[misc,name-defined]
            """Defaults of ``ibis.backends.pyspark.Backend.Options``."""

            treat_nan_as_null: bool = False

        ibis.options.pyspark = _SparkOptions()
    return str(ibis.to_sql(expr, dialect=dialect))


def path_table_ibis(
    touchpoints: pd.DataFrame, conversions: pd.DataFrame, **options: Any
) -> pd.DataFrame:
    """Run :func:`path_table_expr` on in-memory frames with a local DuckDB backend.

    The rows' input order breaks ties of one instant (as :func:`build_journeys` does).
    """
    ibis = _ibis()
    tp = _arrow(touchpoints, ["user_id", "timestamp", "channel"])
    cols = ["user_id", "timestamp", *(["value"] if "value" in conversions.columns else [])]
    cv = _arrow(conversions, cols)
    con = ibis.duckdb.connect()
    try:
        expr = path_table_expr(ibis.memtable(tp), ibis.memtable(cv), row_id="rid", **options)
        frame: pd.DataFrame = con.to_pyarrow(expr).to_pandas()
    finally:
        con.disconnect()
    return frame.reset_index(drop=True)


def _arrow(frame: pd.DataFrame, columns: list[str]) -> pa.Table:
    """Arrow table of ``columns`` (ids as strings) plus ``rid``, the input row number."""
    data: dict[str, Any] = {}
    for name in columns:
        col = frame[name]
        if name in ("user_id", "channel"):
            data[name] = pa.array(col.astype("str").to_numpy(dtype=object), type=pa.string())
        elif name == "timestamp":
            data[name] = pa.array(col.to_numpy().astype("datetime64[us]"))
        else:
            data[name] = pa.array(col.to_numpy(dtype=np.float64))
    data["rid"] = pa.array(np.arange(len(frame), dtype=np.int64))
    return pa.table(data)
