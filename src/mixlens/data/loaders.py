"""Read input tables from CSV, Parquet or DuckDB and validate them at the boundary.

Every loader is :func:`read_table` followed by the matching validator of
:mod:`mixlens.data.schemas`; every problem raises :class:`~mixlens.errors.DataError` with one
line naming the file, the column and the first bad row where they apply.

CSV files are read with Arrow, every column as text, so the validators can point at the first
value that is not a number or a date; then the columns are converted.
"""

from __future__ import annotations

import codecs
import csv
import gzip
from collections.abc import Sequence
from pathlib import Path
from typing import IO

import pandas as pd
import pyarrow as pa
import pyarrow.csv as pacsv

from mixlens.data.profile import Profile, profile_frame
from mixlens.data.schemas import (
    MediaPanel,
    check_kind,
    validate_campaigns,
    validate_conversions,
    validate_paths,
    validate_touchpoints,
)
from mixlens.errors import DataError

__all__ = [
    "MediaPanel",
    "load_campaigns",
    "load_conversions",
    "load_paths",
    "load_touchpoints",
    "load_weekly",
    "read_table",
    "validate_file",
]

PathLike = str | Path
TouchpointSource = str | Path | pd.DataFrame

_CSV = (".csv", ".csv.gz")
_PARQUET = (".parquet", ".pq")
_DUCKDB = (".duckdb", ".db")
_DELIMITERS = {";": "';'", "\t": "tab", "|": "'|'"}
_CHUNK = 1 << 20


def read_table(path: PathLike, *, table: str | None = None) -> pd.DataFrame:
    """Read a table from CSV (``.csv``, ``.csv.gz``), Parquet or a DuckDB database.

    Parameters
    ----------
    path
        The file. A DuckDB database (``.duckdb`` or ``.db``) names its table either with
        ``table=`` or in the path as ``file.duckdb::table``; a database with a single table
        needs neither.
    table
        Table (or ``schema.table``) to read from a DuckDB database.

    Returns
    -------
    pandas.DataFrame
        For CSV every column as strings (``str`` dtype, empty cells as ``""``); for Parquet and
        DuckDB the stored types. Not yet validated.

    Raises
    ------
    DataError
        If the file is missing, empty, has no data rows, is not UTF-8, looks separated by
        something other than commas, has a ragged row, or is of an unsupported type.
    """
    return _read(path, table)[0]


def _read(
    path: PathLike, table: str | None = None, *, delimiters: str = ","
) -> tuple[pd.DataFrame, str]:
    """Read a table (see :func:`read_table`); return it and the name errors use for it.

    ``delimiters`` lists the CSV field separators accepted (detected from the header).
    """
    spec = str(path)
    if "::" in spec:
        spec, _, in_path = spec.rpartition("::")
        table = table or in_path
    file = Path(spec)
    name = file.name.lower()
    label = f"{spec}::{table}" if table and name.endswith(_DUCKDB) else spec
    if not file.exists():
        raise DataError("file not found", file=label)
    if file.is_dir():
        raise DataError("is a directory, not a file", file=label)
    if file.stat().st_size == 0:
        raise DataError("empty file (0 bytes)", file=label)
    if table and not name.endswith(_DUCKDB):
        raise DataError(
            f"a table name ({table!r}) only applies to a DuckDB database (.duckdb or .db)",
            file=label,
        )
    if name.endswith(_CSV):
        frame = _read_csv(file, label, delimiters)
    elif name.endswith(_PARQUET):
        frame = _read_parquet(file, label)
    elif name.endswith(_DUCKDB):
        frame, label = _read_duckdb(file, table, spec)
    else:
        suffix = "".join(file.suffixes[-2:]) or "(none)"
        raise DataError(
            f"unsupported file type {suffix!r}; use .csv, .csv.gz, .parquet, .pq, .duckdb or .db",
            file=label,
        )
    if len(frame) == 0:
        raise DataError("no data rows", file=label)
    return frame, label


def _open(file: Path) -> IO[bytes] | gzip.GzipFile:
    """Open ``file`` for binary reading, decompressing ``.gz``."""
    if file.name.lower().endswith(".gz"):
        return gzip.open(file, "rb")
    return file.open("rb")


def _header(file: Path, label: str, delimiters: str = ",") -> tuple[list[str], str]:
    """Read and check the header line of a CSV file; return the column names and separator."""
    try:
        with _open(file) as handle:
            line = handle.readline(_CHUNK)
    except (OSError, EOFError) as err:
        raise DataError(f"cannot read file: {err}", file=label) from err
    if not line:
        raise DataError("empty file (0 bytes once decompressed)", file=label)
    if line.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        raise DataError("file is UTF-16-encoded; save it as UTF-8", file=label)
    try:
        text = line.decode("utf-8-sig")
    except UnicodeDecodeError as err:
        raise DataError(
            f"header is not UTF-8 (byte 0x{line[err.start]:02x} at byte offset {err.start}); "
            "save the file as UTF-8",
            file=label,
        ) from err
    if not text.strip():
        raise DataError("no header line (the first line is blank)", file=label)
    names = next(csv.reader([text.rstrip("\r\n")]))
    delimiter = ","
    if len(names) == 1:
        counts = {sep: names[0].count(sep) for sep in _DELIMITERS}
        sep = max(counts, key=lambda key: counts[key])
        if counts[sep] and sep in delimiters:
            delimiter = sep
            names = next(csv.reader([text.rstrip("\r\n")], delimiter=sep))
        elif counts[sep]:
            raise DataError(
                f"looks {_DELIMITERS[sep]}-separated; mixlens reads comma-separated CSV", file=label
            )
    seen: set[str] = set()
    for position, col in enumerate(names, start=1):
        if not col.strip():
            raise DataError(f"empty column name at position {position} in the header", file=label)
        if col in seen:
            raise DataError(f"duplicate column {col!r} in the header", file=label)
        seen.add(col)
    return names, delimiter


def _read_csv(file: Path, label: str, delimiters: str = ",") -> pd.DataFrame:
    """Read a CSV file with every column as text."""
    names, delimiter = _header(file, label, delimiters)
    parse = pacsv.ParseOptions(delimiter=delimiter)
    convert = pacsv.ConvertOptions(
        column_types=dict.fromkeys(names, pa.string()),
        strings_can_be_null=False,
        quoted_strings_can_be_null=False,
    )
    try:
        table = pacsv.read_csv(str(file), parse_options=parse, convert_options=convert)
    except pa.ArrowInvalid as err:
        message = str(err)
        if "UTF8" in message or "UTF-8" in message:
            raise _utf8_error(file, label, names) from err
        if "Empty CSV file" in message:
            raise DataError("no data rows", file=label) from err
        if "CSV parse error" in message:
            raise _ragged_row(file, label, names, convert) from err
        raise DataError(f"cannot read CSV: {message.splitlines()[0]}", file=label) from err
    frame: pd.DataFrame = table.to_pandas()
    return frame


def _ragged_row(
    file: Path, label: str, names: list[str], convert: pacsv.ConvertOptions
) -> DataError:
    """Locate the first row whose field count differs from the header's."""
    found: list[tuple[int | None, int, int]] = []

    def handler(row: pacsv.InvalidRow) -> str:
        if not found:
            found.append((row.number, row.expected_columns, row.actual_columns))
        return "skip"

    try:
        pacsv.read_csv(
            str(file),
            read_options=pacsv.ReadOptions(use_threads=False),
            parse_options=pacsv.ParseOptions(invalid_row_handler=handler),
            convert_options=convert,
        )
    except pa.ArrowInvalid as err:
        if not found:
            return DataError(f"cannot parse CSV: {str(err).splitlines()[0]}", file=label)
    if not found:
        return DataError("cannot parse CSV (unbalanced quotes?)", file=label)
    number, expected, actual = found[0]
    return DataError(
        f"expected {expected} fields (like the header), found {actual}; "
        "quote values that contain commas",
        file=label,
        row=None if number is None else number - 1,
    )


def _utf8_error(file: Path, label: str, names: list[str]) -> DataError:
    """Locate the first byte that is not UTF-8; name its row and, if it can, its column."""
    offset = 0
    lines = 0
    carry = b""
    with _open(file) as handle:
        while True:
            chunk = handle.read(_CHUNK)
            block = carry + chunk
            if chunk:
                cut = block.rfind(b"\n") + 1
                block, carry = block[:cut], block[cut:]
            else:
                carry = b""
            try:
                block.decode("utf-8")
            except UnicodeDecodeError as err:
                before = block[: err.start]
                line_start = before.rfind(b"\n") + 1
                row = lines + before.count(b"\n")
                field = before[line_start:].count(b",")
                column = names[field] if row > 0 and field < len(names) else None
                return DataError(
                    f"not UTF-8 (byte 0x{block[err.start]:02x} at byte offset "
                    f"{offset + err.start}); save the file as UTF-8",
                    file=label,
                    column=column,
                    row=row if row > 0 else None,
                )
            offset += len(block)
            lines += block.count(b"\n")
            if not chunk:
                break
    return DataError("not UTF-8; save the file as UTF-8", file=label)


def _read_parquet(file: Path, label: str) -> pd.DataFrame:
    """Read a Parquet file."""
    try:
        frame: pd.DataFrame = pd.read_parquet(file)
    except (pa.ArrowException, OSError, ValueError) as err:
        first = str(err).splitlines()[0] if str(err) else type(err).__name__
        raise DataError(f"cannot read Parquet file: {first}", file=label) from err
    return frame


def _read_duckdb(file: Path, table: str | None, spec: str) -> tuple[pd.DataFrame, str]:
    """Read one table of a DuckDB database; return it and its label ``file::table``."""
    import duckdb

    try:
        con = duckdb.connect(str(file), read_only=True)
    except duckdb.Error as err:
        raise DataError(
            f"cannot open DuckDB database: {str(err).splitlines()[0]}", file=spec
        ) from err
    try:
        rows = con.execute(
            "SELECT table_schema, table_name FROM information_schema.tables "
            "ORDER BY table_schema, table_name"
        ).fetchall()
        tables = [name if schema == "main" else f"{schema}.{name}" for schema, name in rows]
        if table is None:
            if len(tables) != 1:
                listing = ", ".join(tables) or "none"
                raise DataError(f"name the table as {spec}::TABLE (tables: {listing})", file=spec)
            table = tables[0]
        label = f"{spec}::{table}"
        if table not in tables:
            listing = ", ".join(tables) or "none"
            raise DataError(f"no table {table!r} in the database (tables: {listing})", file=label)
        quoted = ".".join('"' + part.replace('"', '""') + '"' for part in table.split("."))
        frame = con.execute(f"SELECT * FROM {quoted}").df()
    except duckdb.Error as err:
        raise DataError(f"cannot read DuckDB table: {str(err).splitlines()[0]}", file=spec) from err
    finally:
        con.close()
    return frame, label


def load_weekly(
    path: PathLike, *, target: str = "sales", controls: Sequence[str] = ()
) -> MediaPanel:
    """Read and validate a weekly channel panel.

    Parameters
    ----------
    path
        CSV, Parquet or ``file.duckdb::table``.
    target
        The outcome column.
    controls
        Control columns; each must exist.

    Returns
    -------
    MediaPanel
        The validated panel.
    """
    frame, label = _read(path)
    return MediaPanel.from_frame(frame, target=target, controls=controls, file=label)


def load_campaigns(path: PathLike) -> pd.DataFrame:
    """Read and validate a daily campaign table (see :func:`validate_campaigns`)."""
    frame, label = _read(path)
    return validate_campaigns(frame, file=label)


def load_touchpoints(path: PathLike) -> pd.DataFrame:
    """Read and validate a touchpoint table (see :func:`validate_touchpoints`)."""
    frame, label = _read(path)
    return validate_touchpoints(frame, file=label)


def load_conversions(
    path: PathLike, *, touchpoints: TouchpointSource | None = None
) -> pd.DataFrame:
    """Read and validate a conversion table (see :func:`validate_conversions`).

    Parameters
    ----------
    path
        The conversions file.
    touchpoints
        The touchpoints, as a file (read and validated too) or a frame. When given, a
        conversion by a user with no touchpoint is an error.
    """
    frame, label = _read(path)
    return _check_conversions(frame, label, touchpoints)


def _check_conversions(
    frame: pd.DataFrame, label: str, touchpoints: TouchpointSource | None
) -> pd.DataFrame:
    """Validate conversions, against the users of ``touchpoints`` when given."""
    if touchpoints is None:
        return validate_conversions(frame, file=label)
    if isinstance(touchpoints, pd.DataFrame):
        source = "<frame>"
        users = validate_touchpoints(touchpoints, file=source)["user_id"]
    else:
        tp_frame, source = _read(touchpoints)
        users = validate_touchpoints(tp_frame, file=source)["user_id"]
    return validate_conversions(frame, file=label, known_users=users, touchpoints_file=source)


def load_paths(path: PathLike) -> pd.DataFrame:
    """Read and validate a ChannelAttribution path table (see :func:`validate_paths`).

    CSV files may be comma- or semicolon-separated (ChannelAttribution's own sample is).
    """
    frame, label = _read(path, delimiters=",;")
    return validate_paths(frame, file=label)


def validate_file(
    path: PathLike,
    kind: str,
    *,
    target: str = "sales",
    controls: Sequence[str] = (),
    touchpoints: TouchpointSource | None = None,
) -> Profile:
    """Read and validate one input file, and profile it (``mixlens validate``).

    Parameters
    ----------
    path
        The file.
    kind
        One of ``weekly``, ``campaigns``, ``touchpoints``, ``conversions``, ``paths``.
    target, controls
        The weekly panel's outcome and control columns.
    touchpoints
        For conversions: touchpoints to check users against.

    Returns
    -------
    Profile
        Rows, date range, channels, totals; ``Profile.lines()`` prints it.

    Raises
    ------
    DataError
        On an unknown kind or the first problem in the file.
    """
    checked = check_kind(kind)
    frame, label = _read(path, delimiters=",;" if checked == "paths" else ",")
    if checked == "weekly":
        valid = MediaPanel.from_frame(frame, target=target, controls=controls, file=label).frame
    elif checked == "campaigns":
        valid = validate_campaigns(frame, file=label)
    elif checked == "touchpoints":
        valid = validate_touchpoints(frame, file=label)
    elif checked == "conversions":
        valid = _check_conversions(frame, label, touchpoints)
    else:
        valid = validate_paths(frame, file=label)
    return profile_frame(valid, checked, file=label, target=target, controls=controls)
