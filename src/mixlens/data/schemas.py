"""Schemas of the mixlens input tables and pure validators for in-memory frames.

Each ``validate_*`` function takes a frame as read (strings from CSV, or typed columns from
Parquet, DuckDB or the simulator), checks it against the contract in ``docs/design.md`` and
returns a new, typed frame: dates and timestamps as ``datetime64[us]`` (timestamps with an
offset are converted to UTC and made naive), numeric columns as ``float64`` and identifiers as
strings. The first problem found raises :class:`~mixlens.errors.DataError` naming the file, the
column and the 1-based data row (the first row after the header is row 1).

Checks run in a fixed order: required columns, then each column in schema order (values that
cannot be parsed, then missing values, then negative values), then rules across rows
(duplicates, ordering, gaps, unknown users).
"""

from __future__ import annotations

import contextlib
import difflib
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Literal

import numpy as np
import numpy.typing as npt
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from mixlens.errors import DataError

__all__ = [
    "ALL_GEOS",
    "KINDS",
    "SCHEMAS",
    "Kind",
    "MediaPanel",
    "TableSchema",
    "check_kind",
    "require_columns",
    "validate_campaigns",
    "validate_conversions",
    "validate_paths",
    "validate_touchpoints",
    "validate_weekly",
    "weekly_channels",
]

Kind = Literal["weekly", "campaigns", "touchpoints", "conversions", "paths"]
Metric = Literal["spend", "impressions", "clicks"]

KINDS: tuple[Kind, ...] = ("weekly", "campaigns", "touchpoints", "conversions", "paths")
METRICS: tuple[Metric, ...] = ("spend", "impressions", "clicks")
PATH_SEPARATOR = " > "
GEO = "geo"
#: The ``geo`` value of the rows of a geo table that hold the total over geos.
ALL_GEOS = "all"
FRAME = "<frame>"

_NA_TOKENS = frozenset({"na", "n/a", "nan", "+nan", "-nan", "null", "none"})
_DATE_HINT = "a date (YYYY-MM-DD)"
_TIMESTAMP_HINT = "an ISO 8601 timestamp"

BoolArray = npt.NDArray[np.bool_]
FloatArray = npt.NDArray[np.float64]


@dataclass(frozen=True)
class TableSchema:
    """Columns of one kind of input table.

    Parameters
    ----------
    kind
        The table kind, as given to ``mixlens validate --kind``.
    required
        Columns that must be present (the weekly panel adds its target, spend and control
        columns, which depend on the data and the call).
    optional
        Columns the validator knows and checks when present. Other columns are kept as they are.
    """

    kind: Kind
    required: tuple[str, ...]
    optional: tuple[str, ...]


SCHEMAS: dict[Kind, TableSchema] = {
    "weekly": TableSchema("weekly", ("date",), (GEO,)),
    "campaigns": TableSchema(
        "campaigns", ("date", "channel", "campaign", "spend", "impressions"), ("clicks", GEO)
    ),
    "touchpoints": TableSchema(
        "touchpoints", ("user_id", "timestamp", "channel"), ("campaign", "cost")
    ),
    "conversions": TableSchema("conversions", ("user_id", "timestamp"), ("value", "conversion_id")),
    "paths": TableSchema(
        "paths", ("path", "total_conversions", "total_conversion_value", "total_null"), ()
    ),
}


def check_kind(kind: str) -> Kind:
    """Return ``kind`` if it names a table kind, else raise a :class:`DataError`.

    Examples
    --------
    >>> check_kind("weekly")
    'weekly'
    """
    if kind in KINDS:
        return kind
    close = difflib.get_close_matches(kind, KINDS, n=1, cutoff=0.6)
    hint = f" (did you mean {close[0]!r}?)" if close else ""
    raise DataError(f"unknown kind {kind!r}{hint}; kinds are: {', '.join(KINDS)}")


# --------------------------------------------------------------------------- column helpers


def _first(mask: BoolArray) -> int | None:
    """Return the position of the first true value of ``mask``, or None."""
    if not mask.any():
        return None
    return int(np.argmax(mask))


def _suggest(name: str, present: Sequence[str]) -> str:
    """Explain where a missing column ``name`` might be among ``present``."""
    for col in present:
        if col.strip() == name:
            return f"(found {col!r}; remove the spaces around the name)"
    for col in present:
        if col.strip().casefold() == name.casefold():
            return f"(found {col!r}; columns are case-sensitive)"
    close = difflib.get_close_matches(name, present, n=1, cutoff=0.75)
    if close:
        return f"(did you mean {close[0]!r}?)"
    shown = ", ".join(present[:12]) + (", ..." if len(present) > 12 else "")
    return f"(columns are: {shown})"


def require_columns(frame: pd.DataFrame, columns: Iterable[str], *, file: str) -> None:
    """Raise a DataError naming ``file`` and the first of ``columns`` that ``frame`` lacks.

    The message lists the columns present or suggests a near match.
    """
    present = [str(col) for col in frame.columns]
    for name in columns:
        if name not in present:
            raise DataError(f"missing column {name!r} {_suggest(name, present)}", file=file)


def _text(series: pd.Series) -> pd.Series:
    """Return ``series`` as strings, missing values as NaN."""
    text: pd.Series = series.astype("str")
    return text


def _blank(text: pd.Series) -> BoolArray:
    """Mask of missing or whitespace-only strings."""
    empty = text.str.strip().eq("").fillna(False).to_numpy(dtype=bool)
    return np.asarray(text.isna().to_numpy(dtype=bool) | empty, dtype=bool)


def _missing_message(raw: str | None, needed: str) -> str:
    """Message for a missing required value whose text was ``raw`` (None if not text)."""
    if raw is None or raw.strip() == "":
        return f"empty value; {needed} is required"
    return f"missing value {raw!r}; {needed} is required"


def _parse_floats(text: pd.Series) -> tuple[FloatArray, BoolArray]:
    """Parse strings to floats; return the values and the mask of unparsable strings.

    Blank strings and NA tokens (``NA``, ``NaN``, ``null``...) give NaN and are not unparsable.
    The fast path casts with Arrow; only when that fails does pandas locate the bad values.
    """
    arrow = pa.array(text, from_pandas=True)
    stripped = pc.utf8_trim_whitespace(arrow)
    cleaned = pc.if_else(pc.equal(stripped, ""), pa.scalar(None, stripped.type), stripped)
    with contextlib.suppress(pa.ArrowException):  # any value Arrow cannot cast
        values = pc.cast(cleaned, pa.float64()).to_numpy(zero_copy_only=False)
        return np.asarray(values, dtype=np.float64), np.zeros(len(text), dtype=bool)
    # Arrow refused some value: let pandas find which ones.
    plain = text.str.strip()
    missing = _blank(plain) | plain.str.lower().isin(_NA_TOKENS).to_numpy(dtype=bool)
    numbers = pd.to_numeric(plain.where(~missing), errors="coerce")
    values = numbers.to_numpy(dtype=np.float64, na_value=np.nan)
    return values, np.isnan(values) & ~missing


def _numbers(
    frame: pd.DataFrame, column: str, *, file: str, required: bool, nonnegative: bool = True
) -> pd.Series:
    """Return ``frame[column]`` as float64 after checking it holds numbers."""
    series = frame[column]
    raw: pd.Series | None = None
    if pd.api.types.is_bool_dtype(series) or pd.api.types.is_numeric_dtype(series):
        values = series.to_numpy(dtype=np.float64, na_value=np.nan)
    else:
        raw = _text(series)
        values, bad = _parse_floats(raw)
        row = _first(bad)
        if row is not None:
            value = _raw_at(raw, row)
            hint = "; use '.' for decimals and no thousands separator" if "," in value else ""
            raise DataError(f"not a number: {value!r}{hint}", file=file, column=column, row=row + 1)
    missing = np.isnan(values)
    row = _first(missing)
    if required and row is not None:
        if raw is None:
            message = "missing value (NaN); a number is required"
        else:
            message = _missing_message(_raw_at(raw, row), "a number")
        raise DataError(message, file=file, column=column, row=row + 1)
    row = _first(np.isinf(values))
    if row is not None:
        shown = repr(_raw_at(raw, row)) if raw is not None else f"{values[row]}"
        raise DataError(f"not a finite number: {shown}", file=file, column=column, row=row + 1)
    if nonnegative:
        row = _first(values < 0)
        if row is not None:
            raise DataError(
                f"negative value {values[row]:.10g}; must be >= 0",
                file=file,
                column=column,
                row=row + 1,
            )
    return pd.Series(values, index=frame.index, name=column, dtype=np.float64)


def _raw_at(raw: pd.Series, row: int) -> str:
    """Return the text at position ``row`` ('' when missing)."""
    value = raw.iloc[row]
    return "" if pd.isna(value) else str(value)


def _strings(frame: pd.DataFrame, column: str, *, file: str, required: bool) -> pd.Series:
    """Return ``frame[column]`` as strings; a required column may hold no blank value."""
    text = _text(frame[column])
    if required:
        row = _first(_blank(text))
        if row is not None:
            raise DataError(
                "empty value; a value is required", file=file, column=column, row=row + 1
            )
        return text
    return text.fillna("")


def _datetimes(
    frame: pd.DataFrame, column: str, *, file: str, timestamp: bool = False
) -> pd.Series:
    """Return ``frame[column]`` parsed as naive ``datetime64[us]``.

    Dates must be ``YYYY-MM-DD``; timestamps any ISO 8601 form (offsets converted to UTC).
    """
    series = frame[column]
    needed = _TIMESTAMP_HINT if timestamp else _DATE_HINT
    if pd.api.types.is_datetime64_any_dtype(series):
        parsed = series
        if isinstance(series.dtype, pd.DatetimeTZDtype):
            parsed = series.dt.tz_convert("UTC").dt.tz_localize(None)
        row = _first(parsed.isna().to_numpy(dtype=bool))
        if row is not None:
            raise DataError(
                f"missing value (NaT); {needed} is required", file=file, column=column, row=row + 1
            )
        result: pd.Series = parsed.dt.as_unit("us")
        return result
    text = _text(series).str.strip()
    row = _first(_blank(text))
    if row is not None:
        raise DataError(_missing_message(None, needed), file=file, column=column, row=row + 1)
    if timestamp:
        parsed = pd.to_datetime(text, format="ISO8601", utc=True, errors="coerce")
    else:
        parsed = pd.to_datetime(text, format="%Y-%m-%d", errors="coerce")
    row = _first(parsed.isna().to_numpy(dtype=bool))
    if row is not None:
        what = "timestamp" if timestamp else "date"
        expected = "ISO 8601, e.g. 2024-01-31T13:45:00" if timestamp else "YYYY-MM-DD"
        raise DataError(
            f"cannot parse {what} {text.iloc[row]!r} (expected {expected})",
            file=file,
            column=column,
            row=row + 1,
        )
    if timestamp:
        parsed = parsed.dt.tz_localize(None)
    result = parsed.dt.as_unit("us")
    return result


def _day(value: pd.Timestamp) -> str:
    """ISO date of ``value``."""
    return value.strftime("%Y-%m-%d")


def _first_duplicate(frame: pd.DataFrame, keys: list[str]) -> tuple[int, int] | None:
    """Return (first row, duplicate row) positions of the first duplicated key, or None."""
    dup = frame.duplicated(subset=keys, keep="first").to_numpy(dtype=bool)
    row = _first(dup)
    if row is None:
        return None
    same = np.ones(len(frame), dtype=bool)
    for key in keys:
        same &= (frame[key] == frame[key].iloc[row]).to_numpy(dtype=bool)
    first = _first(same)
    return (row if first is None else first), row


def _no_rows(frame: pd.DataFrame, file: str) -> None:
    if len(frame) == 0:
        raise DataError("no data rows", file=file)


# --------------------------------------------------------------------------- weekly panel


def weekly_channels(
    frame: pd.DataFrame, *, target: str = "sales", controls: Sequence[str] = ()
) -> tuple[str, ...]:
    """Channels of a weekly panel: the prefixes of its ``{channel}_spend`` columns, in order.

    Examples
    --------
    >>> weekly_channels(pd.DataFrame(columns=["date", "sales", "tv_spend", "search_spend"]))
    ('tv', 'search')
    """
    skip = {target, *controls}
    return tuple(
        str(col)[: -len("_spend")]
        for col in frame.columns
        if str(col).endswith("_spend") and len(str(col)) > len("_spend") and col not in skip
    )


def validate_weekly(
    frame: pd.DataFrame,
    *,
    file: str = FRAME,
    target: str = "sales",
    controls: Sequence[str] = (),
) -> pd.DataFrame:
    """Validate a wide weekly channel panel and return it typed.

    Parameters
    ----------
    frame
        The panel: ``date``, the target, ``{channel}_spend`` for each channel, optional
        ``{channel}_impressions`` and ``{channel}_clicks``, the control columns and an optional
        ``geo`` column (then one row per geo and week).
    file
        Name of the source, used in error messages.
    target
        The outcome column.
    controls
        Control columns; each must exist.

    Returns
    -------
    pandas.DataFrame
        A copy with ``date`` as ``datetime64[us]``, the target, media and control columns as
        ``float64`` and ``geo`` as strings; a geo panel is ordered by geo (first appearance),
        then date. Other columns are kept unchanged.

    Raises
    ------
    DataError
        On the first problem: a missing column, no spend column, a value that is not a
        number, an empty required value, a negative media value, a duplicate week, unsorted
        dates, a missing week, or geos covering different weeks.
    """
    controls = tuple(controls)
    require_columns(frame, ("date", target, *controls), file=file)
    channels = weekly_channels(frame, target=target, controls=controls)
    if not channels:
        raise DataError(
            "no '{channel}_spend' column; a weekly panel needs at least one (e.g. 'tv_spend')",
            file=file,
        )
    columns = {str(col) for col in frame.columns}
    for col in sorted(columns - {target, *controls}):
        for metric in ("impressions", "clicks"):
            prefix = col[: -len(metric) - 1]
            if col.endswith(f"_{metric}") and prefix and prefix not in channels:
                raise DataError(
                    f"no matching '{prefix}_spend' column; every channel needs '{{channel}}_spend'",
                    file=file,
                    column=col,
                )
    _no_rows(frame, file)
    out = frame.reset_index(drop=True).copy()
    out["date"] = _datetimes(out, "date", file=file)
    geo = GEO if GEO in columns else None
    if geo is not None:
        out[geo] = _strings(out, geo, file=file, required=True)
    out[target] = _numbers(out, target, file=file, required=True, nonnegative=False)
    for channel in channels:
        out[f"{channel}_spend"] = _numbers(out, f"{channel}_spend", file=file, required=True)
    for metric in ("impressions", "clicks"):
        for channel in channels:
            name = f"{channel}_{metric}"
            if name in columns:
                out[name] = _numbers(out, name, file=file, required=False)
    for name in controls:
        out[name] = _numbers(out, name, file=file, required=True, nonnegative=False)
    _check_weeks(out, file=file, geo=geo)
    if geo is not None:
        order = pd.factorize(out[geo])[0]
        out = out.assign(_order=order).sort_values(["_order", "date"], kind="stable")
        out = out.drop(columns="_order").reset_index(drop=True)
    return out


def _check_weeks(frame: pd.DataFrame, *, file: str, geo: str | None) -> None:
    """Check one row per week, strictly increasing, 7 days apart (within each geo)."""
    keys = ["date"] if geo is None else [geo, "date"]

    def where(row: int) -> str:
        return "" if geo is None else f" for geo {frame[geo].iloc[row]!r}"

    dup = _first_duplicate(frame, keys)
    if dup is not None:
        first, dup_row = dup
        raise DataError(
            f"duplicate week {_day(frame['date'].iloc[dup_row])}{where(dup_row)} "
            f"(first at row {first + 1})",
            file=file,
            column="date",
            row=dup_row + 1,
        )
    dates = frame["date"]
    positions = pd.Series(np.arange(len(frame)), index=frame.index)
    if geo is None:
        step = dates.diff()
        previous = positions.shift()
    else:
        step = dates.groupby(frame[geo], sort=False).diff()
        previous = positions.groupby(frame[geo], sort=False).shift()
    days = (step.dt.total_seconds() / 86400.0).to_numpy(dtype=np.float64, na_value=np.nan)
    row = _first(days < 0)
    if row is not None:
        prev = int(previous.iloc[row])
        raise DataError(
            f"dates not increasing{where(row)}: {_day(dates.iloc[row])} comes after "
            f"{_day(dates.iloc[prev])} (row {prev + 1}); sort the rows by date",
            file=file,
            column="date",
            row=row + 1,
        )
    row = _first(~np.isnan(days) & (days != 7.0))
    if row is not None:
        prev = int(previous.iloc[row])
        expected = _day(dates.iloc[prev] + pd.Timedelta(days=7))
        found = _day(dates.iloc[row])
        if days[row] % 7 == 0:
            missing = int(days[row] // 7) - 1
            weeks = "week" if missing == 1 else "weeks"
            message = (
                f"missing week{where(row)}: expected {expected}, found {found} "
                f"({missing} {weeks} missing after row {prev + 1})"
            )
        else:
            message = (
                f"dates are not weekly{where(row)}: expected {expected} "
                f"(7 days after row {prev + 1}), found {found}"
            )
        raise DataError(message, file=file, column="date", row=row + 1)
    if geo is not None:
        spans = dates.groupby(frame[geo], sort=False).agg(["min", "max"])
        first_span = spans.iloc[0]
        for name, span in spans.iloc[1:].iterrows():
            if span["min"] != first_span["min"] or span["max"] != first_span["max"]:
                at = _first((frame[geo] == name).to_numpy(dtype=bool))
                raise DataError(
                    f"geo {name!r} covers {_day(span['min'])} to {_day(span['max'])} but geo "
                    f"{spans.index[0]!r} covers {_day(first_span['min'])} to "
                    f"{_day(first_span['max'])}; every geo needs the same weeks",
                    file=file,
                    column=geo,
                    row=None if at is None else at + 1,
                )


@dataclass(frozen=True, eq=False)
class MediaPanel:
    """A validated weekly channel panel (the MMM input).

    Build it with :meth:`from_frame` (or :func:`mixlens.data.loaders.load_weekly`), which
    validates; the constructor trusts its arguments.

    Parameters
    ----------
    frame
        The validated panel (see :func:`validate_weekly`).
    target
        The outcome column.
    channels
        Channel names, from the ``{channel}_spend`` columns.
    controls
        Control columns.
    geo
        Name of the geo column, or None for a national panel.
    source
        Where the panel came from, used in error messages.

    Examples
    --------
    >>> frame = pd.DataFrame(
    ...     {"date": ["2024-01-01", "2024-01-08"], "sales": [10.0, 12.0], "tv_spend": [1.0, 2.0]}
    ... )
    >>> panel = MediaPanel.from_frame(frame)
    >>> panel.channels
    ('tv',)
    >>> panel.spend()["tv"].tolist()
    [1.0, 2.0]
    """

    frame: pd.DataFrame
    target: str = "sales"
    channels: tuple[str, ...] = ()
    controls: tuple[str, ...] = ()
    geo: str | None = None
    source: str = FRAME

    @classmethod
    def from_frame(
        cls,
        frame: pd.DataFrame,
        *,
        target: str = "sales",
        controls: Sequence[str] = (),
        file: str = FRAME,
    ) -> MediaPanel:
        """Validate ``frame`` (see :func:`validate_weekly`) and wrap it in a panel."""
        valid = validate_weekly(frame, file=file, target=target, controls=controls)
        return cls(
            frame=valid,
            target=target,
            channels=weekly_channels(valid, target=target, controls=controls),
            controls=tuple(controls),
            geo=GEO if GEO in valid.columns else None,
            source=file,
        )

    @property
    def dates(self) -> pd.DatetimeIndex:
        """The date of each row."""
        return pd.DatetimeIndex(self.frame["date"], name="date")

    @property
    def weeks(self) -> pd.DatetimeIndex:
        """The distinct weeks, in order."""
        return pd.DatetimeIndex(np.sort(self.frame["date"].unique()), name="date")

    @property
    def geos(self) -> tuple[str, ...]:
        """The geos in order of first appearance; empty for a national panel."""
        if self.geo is None:
            return ()
        return tuple(str(g) for g in pd.unique(self.frame[self.geo]))

    def _index(self) -> pd.Index:
        if self.geo is None:
            return self.dates
        return pd.MultiIndex.from_arrays(
            [self.frame[self.geo].to_numpy(), self.dates], names=[self.geo, "date"]
        )

    def media(self, metric: Metric = "spend") -> pd.DataFrame:
        """Return one media metric as a rows x channels frame, columns named by channel.

        The index is the date (or geo and date for a geo panel).

        Raises
        ------
        DataError
            If a channel has no ``{channel}_{metric}`` column.
        """
        if metric not in METRICS:
            raise ValueError(f"unknown metric {metric!r}; use one of {', '.join(METRICS)}")
        names = [f"{channel}_{metric}" for channel in self.channels]
        lacking = [name for name in names if name not in self.frame.columns]
        if lacking:
            raise DataError(
                f"no {metric} column for every channel: missing {', '.join(lacking)}",
                file=self.source,
            )
        out = self.frame[names].copy()
        out.columns = pd.Index(self.channels, name="channel")
        out.index = self._index()
        return out

    def spend(self) -> pd.DataFrame:
        """Return spend as a rows x channels frame (see :meth:`media`)."""
        return self.media("spend")

    def outcome(self) -> pd.Series:
        """Return the target column, indexed like :meth:`media`."""
        return pd.Series(self.frame[self.target].to_numpy(), index=self._index(), name=self.target)

    def control_frame(self) -> pd.DataFrame:
        """Return the control columns, indexed like :meth:`media`."""
        out = self.frame[list(self.controls)].copy()
        out.index = self._index()
        return out

    def to_frame(self) -> pd.DataFrame:
        """Return a copy of the validated wide panel."""
        return self.frame.copy()


# --------------------------------------------------------------------------- long tables


def validate_campaigns(frame: pd.DataFrame, *, file: str = FRAME) -> pd.DataFrame:
    """Validate a daily campaign table (``date, channel, campaign, spend, impressions``).

    Optional ``clicks`` (numeric, non-negative, may be empty) and ``geo`` columns are checked;
    other columns are kept. No two rows may share (geo,) date, channel and campaign.

    Returns
    -------
    pandas.DataFrame
        A typed copy: ``date`` as ``datetime64[us]``, numbers as ``float64``.
    """
    require_columns(frame, SCHEMAS["campaigns"].required, file=file)
    _no_rows(frame, file)
    out = frame.reset_index(drop=True).copy()
    out["date"] = _datetimes(out, "date", file=file)
    for name in ("channel", "campaign"):
        out[name] = _strings(out, name, file=file, required=True)
    if GEO in out.columns:
        out[GEO] = _strings(out, GEO, file=file, required=True)
    for name in ("spend", "impressions"):
        out[name] = _numbers(out, name, file=file, required=True)
    if "clicks" in out.columns:
        out["clicks"] = _numbers(out, "clicks", file=file, required=False)
    keys = ([GEO] if GEO in out.columns else []) + ["date", "channel", "campaign"]
    dup = _first_duplicate(out, keys)
    if dup is not None:
        first, dup_row = dup
        key = ", ".join(
            f"date {_day(out['date'].iloc[dup_row])}"
            if k == "date"
            else f"{k} {out[k].iloc[dup_row]!r}"
            for k in keys
        )
        raise DataError(
            f"duplicate row for {key} (first at row {first + 1})", file=file, row=dup_row + 1
        )
    return out


def validate_touchpoints(frame: pd.DataFrame, *, file: str = FRAME) -> pd.DataFrame:
    """Validate a touchpoint table (``user_id, timestamp, channel``, optional ``campaign, cost``).

    Extra columns (region, business_unit...) are kept unchanged.

    Returns
    -------
    pandas.DataFrame
        A typed copy: ids and channels as strings, ``timestamp`` as naive ``datetime64[us]``
        (UTC when the input had offsets), ``cost`` as ``float64`` (empty cost is NaN).
    """
    require_columns(frame, SCHEMAS["touchpoints"].required, file=file)
    _no_rows(frame, file)
    out = frame.reset_index(drop=True).copy()
    out["user_id"] = _strings(out, "user_id", file=file, required=True)
    out["timestamp"] = _datetimes(out, "timestamp", file=file, timestamp=True)
    out["channel"] = _strings(out, "channel", file=file, required=True)
    if "campaign" in out.columns:
        out["campaign"] = _strings(out, "campaign", file=file, required=False)
    if "cost" in out.columns:
        out["cost"] = _numbers(out, "cost", file=file, required=False)
    return out


def validate_conversions(
    frame: pd.DataFrame,
    *,
    file: str = FRAME,
    known_users: Iterable[str] | pd.Series | None = None,
    touchpoints_file: str = FRAME,
) -> pd.DataFrame:
    """Validate a conversion table (``user_id, timestamp``, optional ``value, conversion_id``).

    Parameters
    ----------
    frame
        The conversions.
    file
        Name of the source, used in error messages.
    known_users
        User ids that have touchpoints. When given, a conversion by any other user is an error.
    touchpoints_file
        Name of the touchpoint source, used in the unknown-user message.

    Returns
    -------
    pandas.DataFrame
        A typed copy: ids as strings, ``timestamp`` as naive ``datetime64[us]``, ``value`` as
        ``float64`` (empty value is NaN).
    """
    require_columns(frame, SCHEMAS["conversions"].required, file=file)
    _no_rows(frame, file)
    out = frame.reset_index(drop=True).copy()
    out["user_id"] = _strings(out, "user_id", file=file, required=True)
    out["timestamp"] = _datetimes(out, "timestamp", file=file, timestamp=True)
    if "value" in out.columns:
        out["value"] = _numbers(out, "value", file=file, required=False)
    if "conversion_id" in out.columns:
        out["conversion_id"] = _strings(out, "conversion_id", file=file, required=True)
        dup = _first_duplicate(out, ["conversion_id"])
        if dup is not None:
            first, dup_row = dup
            raise DataError(
                f"duplicate conversion_id {out['conversion_id'].iloc[dup_row]!r} "
                f"(first at row {first + 1})",
                file=file,
                column="conversion_id",
                row=dup_row + 1,
            )
    if known_users is not None:
        users = known_users if isinstance(known_users, pd.Series) else list(known_users)
        unknown = ~out["user_id"].isin(pd.unique(pd.Series(users, dtype="str")))
        row = _first(unknown.to_numpy(dtype=bool))
        if row is not None:
            raise DataError(
                f"conversion for unknown user {out['user_id'].iloc[row]!r} "
                f"(not in touchpoints {touchpoints_file})",
                file=file,
                column="user_id",
                row=row + 1,
            )
    return out


def validate_paths(frame: pd.DataFrame, *, file: str = FRAME) -> pd.DataFrame:
    """Validate a ChannelAttribution path table.

    Columns: ``path`` (channels joined by ``" > "``), ``total_conversions``,
    ``total_conversion_value`` and ``total_null`` (non-negative numbers).

    Returns
    -------
    pandas.DataFrame
        A typed copy: ``path`` as strings, the totals as ``float64``.
    """
    require_columns(frame, SCHEMAS["paths"].required, file=file)
    _no_rows(frame, file)
    out = frame.reset_index(drop=True).copy()
    out["path"] = _strings(out, "path", file=file, required=True)
    # A step is empty where '>' opens or closes the path or two '>' meet with only spaces
    # between them: the same as splitting on '>' and finding a blank piece, without the split.
    sep = re.escape(PATH_SEPARATOR.strip())
    empty = (
        out["path"].str.contains(rf"^\s*{sep}|{sep}\s*{sep}|{sep}\s*$", regex=True)
        | out["path"].str.strip().eq("")
    ).to_numpy(dtype=bool)
    row = _first(empty)
    if row is not None:
        raise DataError(
            f"empty channel in path {out['path'].iloc[row]!r}; join channels with ' > '",
            file=file,
            column="path",
            row=row + 1,
        )
    for name in SCHEMAS["paths"].required[1:]:
        out[name] = _numbers(out, name, file=file, required=True)
    return out
