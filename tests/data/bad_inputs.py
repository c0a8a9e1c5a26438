"""Bad input files and the exact one-line error each must give.

A reusable case table: ``tests/data/test_loaders.py`` checks each case against
``mixlens.data.loaders.validate_file``, and the CLI tests can run ``mixlens validate`` on the
same files and expect exit status 2 with the same message.

Import it as ``from tests.data.bad_inputs import BAD_INPUTS`` (when the repository root is on
``sys.path``) or as ``from bad_inputs import BAD_INPUTS`` (pytest's default rootdir-relative
import of a test module in ``tests/data``). It needs only the standard library at import time.

Usage::

    path = case.write(tmp_path)                  # writes the file (and its touchpoints file)
    validate_file(path, case.kind, **case.kwargs(tmp_path))
    expected = case.message(tmp_path)            # "{file}" and "{touchpoints}" filled in
"""

from __future__ import annotations

import gzip
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

Writer = Callable[[Path], None]

TOUCHPOINTS_NAME = "touchpoints.csv"


@dataclass(frozen=True)
class BadInput:
    """One bad input file and the message it must give.

    ``content`` is the file's bytes, a writer ``f(path)`` that creates it, or None for a file
    that must not exist. ``table`` names a DuckDB table: the path becomes ``FILE::TABLE``.
    ``touchpoints`` is the content of a touchpoints CSV written beside the file (conversions
    cases). ``expected`` is the exact message, with ``{file}`` for the path as passed (including
    ``::TABLE``) and ``{touchpoints}`` for the touchpoints path.
    """

    name: str
    kind: str
    filename: str
    content: bytes | Writer | None
    expected: str
    target: str = "sales"
    controls: tuple[str, ...] = ()
    touchpoints: bytes | None = None
    table: str | None = None

    def path(self, directory: Path) -> str:
        """Path to pass to the loader (``FILE::TABLE`` for a DuckDB table)."""
        spec = str(directory / self.filename)
        return f"{spec}::{self.table}" if self.table else spec

    def touchpoints_path(self, directory: Path) -> Path | None:
        """Path of the touchpoints file written beside the case, if any."""
        return directory / TOUCHPOINTS_NAME if self.touchpoints is not None else None

    def write(self, directory: Path) -> str:
        """Write the file (and touchpoints) into ``directory``; return :meth:`path`."""
        target = directory / self.filename
        if isinstance(self.content, bytes):
            target.write_bytes(self.content)
        elif self.content is not None:
            self.content(target)
        tp = self.touchpoints_path(directory)
        if tp is not None and self.touchpoints is not None:
            tp.write_bytes(self.touchpoints)
        return self.path(directory)

    def kwargs(self, directory: Path) -> dict[str, Any]:
        """Keyword arguments for ``validate_file``."""
        out: dict[str, Any] = {"target": self.target, "controls": self.controls}
        tp = self.touchpoints_path(directory)
        if tp is not None:
            out["touchpoints"] = tp
        return out

    def cli_args(self, directory: Path) -> list[str]:
        """Arguments for ``mixlens validate`` (flag names as in the CLI's contract)."""
        args = ["validate", self.path(directory), "--kind", self.kind]
        if self.target != "sales":
            args += ["--target", self.target]
        if self.controls:
            args += ["--controls", ",".join(self.controls)]
        tp = self.touchpoints_path(directory)
        if tp is not None:
            args += ["--touchpoints", str(tp)]
        return args

    def message(self, directory: Path) -> str:
        """The expected message with the paths filled in."""
        tp = self.touchpoints_path(directory)
        return self.expected.replace("{file}", self.path(directory)).replace(
            "{touchpoints}", str(tp)
        )


def _csv(*lines: str) -> bytes:
    return ("\n".join(lines) + "\n").encode("utf-8")


def _weekly(*rows: str, header: str = "date,sales,tv_spend") -> bytes:
    return _csv(header, *rows)


def _parquet_negative_spend(path: Path) -> None:
    import pandas as pd

    pd.DataFrame(
        {
            "date": pd.to_datetime(["2024-01-01", "2024-01-08"]),
            "sales": [10.0, 11.0],
            "tv_spend": [1.0, -1.0],
        }
    ).to_parquet(path, index=False)


def _duckdb_weekly(path: Path) -> None:
    import duckdb

    con = duckdb.connect(str(path))
    try:
        con.execute(
            "CREATE TABLE weekly AS SELECT * FROM (VALUES "
            "(DATE '2024-01-01', 10.0, 1.0), (DATE '2024-01-08', 11.0, 2.0)"
            ") AS t(date, revenue, tv_spend)"
        )
    finally:
        con.close()


_TOUCHPOINTS = _csv(
    "user_id,timestamp,channel",
    "u1,2024-01-01T10:00:00,tv",
    "u2,2024-01-02T10:00:00,search",
)

_OK_WEEKS = ("2024-01-01,10,1", "2024-01-08,11,2", "2024-01-15,12,3")

BAD_INPUTS: list[BadInput] = [
    # --- reading
    BadInput("file_not_found", "weekly", "missing.csv", None, "{file}: file not found"),
    BadInput("empty_file", "weekly", "empty.csv", b"", "{file}: empty file (0 bytes)"),
    BadInput("header_only", "weekly", "header.csv", _weekly(), "{file}: no data rows"),
    BadInput(
        "semicolon_separated",
        "weekly",
        "semi.csv",
        b"date;sales;tv_spend\n2024-01-01;10;1\n",
        "{file}: looks ';'-separated; mixlens reads comma-separated CSV",
    ),
    BadInput(
        "tab_separated",
        "touchpoints",
        "tabs.csv",
        b"user_id\ttimestamp\tchannel\nu1\t2024-01-01T10:00:00\ttv\n",
        "{file}: looks tab-separated; mixlens reads comma-separated CSV",
    ),
    BadInput(
        "latin1_value",
        "touchpoints",
        "latin1.csv",
        "user_id,timestamp,channel\nu1,2024-01-01T10:00:00,tv\nu2,2024-01-02T10:00:00,télé\n".encode(
            "latin-1"
        ),
        "{file}: column 'channel', row 2: not UTF-8 (byte 0xe9 at byte offset 76); "
        "save the file as UTF-8",
    ),
    BadInput(
        "gzip_latin1_value",
        "touchpoints",
        "latin1.csv.gz",
        gzip.compress("user_id,timestamp,channel\nu1,2024-01-01,télé\n".encode("latin-1")),
        "{file}: column 'channel', row 1: not UTF-8 (byte 0xe9 at byte offset 41); "
        "save the file as UTF-8",
    ),
    BadInput(
        "header_without_newline",
        "weekly",
        "header_nl.csv",
        b"date,sales,tv_spend",
        "{file}: no data rows",
    ),
    BadInput(
        "duplicate_header_column",
        "weekly",
        "dupcol.csv",
        _csv("date,sales,tv_spend,sales", "2024-01-01,10,1,10"),
        "{file}: duplicate column 'sales' in the header",
    ),
    BadInput(
        "utf16_file",
        "weekly",
        "utf16.csv",
        "date,sales,tv_spend\n2024-01-01,10,1\n".encode("utf-16"),
        "{file}: file is UTF-16-encoded; save it as UTF-8",
    ),
    BadInput(
        "ragged_row",
        "campaigns",
        "ragged.csv",
        _csv(
            "date,channel,campaign,spend,impressions",
            "2024-01-01,tv,c1,10,100",
            "2024-01-02,tv,c1,1,000,100",
        ),
        "{file}: row 2: expected 5 fields (like the header), found 6; "
        "quote values that contain commas",
    ),
    BadInput(
        "unsupported_extension",
        "weekly",
        "weekly.xlsx",
        b"PK\x03\x04",
        "{file}: unsupported file type '.xlsx'; use .csv, .csv.gz, .parquet, .pq, .duckdb or .db",
    ),
    BadInput(
        "unknown_kind",
        "weekley",
        "weekly.csv",
        _weekly(*_OK_WEEKS),
        "unknown kind 'weekley' (did you mean 'weekly'?); "
        "kinds are: weekly, campaigns, touchpoints, conversions, paths",
    ),
    # --- columns
    BadInput(
        "missing_column_case",
        "weekly",
        "case.csv",
        _weekly(*_OK_WEEKS, header="Date,sales,tv_spend"),
        "{file}: missing column 'date' (found 'Date'; columns are case-sensitive)",
    ),
    BadInput(
        "missing_control_close_match",
        "weekly",
        "control.csv",
        _csv("date,sales,tv_spend,prices", "2024-01-01,10,1,3"),
        "{file}: missing column 'price' (did you mean 'prices'?)",
        controls=("price",),
    ),
    BadInput(
        "missing_target_no_match",
        "weekly",
        "target.csv",
        _weekly(*_OK_WEEKS),
        "{file}: missing column 'conversions' (columns are: date, sales, tv_spend)",
        target="conversions",
    ),
    BadInput(
        "no_spend_column",
        "weekly",
        "nospend.csv",
        _csv("date,sales,tv", "2024-01-01,10,1"),
        "{file}: no '{channel}_spend' column; a weekly panel needs at least one (e.g. 'tv_spend')",
    ),
    BadInput(
        "impressions_without_spend",
        "weekly",
        "impr.csv",
        _csv("date,sales,tv_spend,radio_impressions", "2024-01-01,10,1,5"),
        "{file}: column 'radio_impressions': no matching 'radio_spend' column; "
        "every channel needs '{channel}_spend'",
    ),
    BadInput(
        "missing_column_touchpoints",
        "touchpoints",
        "tp_cols.csv",
        _csv("user,timestamp,channel", "u1,2024-01-01T10:00:00,tv"),
        "{file}: missing column 'user_id' (columns are: user, timestamp, channel)",
    ),
    # --- values
    BadInput(
        "non_numeric_spend",
        "weekly",
        "nonnum.csv",
        _weekly("2024-01-01,10,1", "2024-01-08,11,abc"),
        "{file}: column 'tv_spend', row 2: not a number: 'abc'",
    ),
    BadInput(
        "negative_spend",
        "weekly",
        "negative.csv",
        _weekly("2024-01-01,10,1", "2024-01-08,11,2", "2024-01-15,12,-5"),
        "{file}: column 'tv_spend', row 3: negative value -5; must be >= 0",
    ),
    BadInput(
        "empty_target",
        "weekly",
        "emptyval.csv",
        _weekly("2024-01-01,10,1", "2024-01-08,,2"),
        "{file}: column 'sales', row 2: empty value; a number is required",
    ),
    BadInput(
        "nan_control",
        "weekly",
        "nan.csv",
        _csv("date,sales,tv_spend,price", "2024-01-01,10,1,3", "2024-01-08,11,2,NaN"),
        "{file}: column 'price', row 2: missing value 'NaN'; a number is required",
        controls=("price",),
    ),
    BadInput(
        "thousands_separator",
        "weekly",
        "thousands.csv",
        _weekly('2024-01-01,"1,200",1'),
        "{file}: column 'sales', row 1: not a number: '1,200'; "
        "use '.' for decimals and no thousands separator",
    ),
    BadInput(
        "infinite_spend",
        "weekly",
        "inf.csv",
        _weekly("2024-01-01,10,inf"),
        "{file}: column 'tv_spend', row 1: not a finite number: 'inf'",
    ),
    BadInput(
        "unparsable_date",
        "weekly",
        "baddate.csv",
        _weekly("2024-01-01,10,1", "2024/01/08,11,2"),
        "{file}: column 'date', row 2: cannot parse date '2024/01/08' (expected YYYY-MM-DD)",
    ),
    BadInput(
        "parquet_negative_spend",
        "weekly",
        "negative.parquet",
        _parquet_negative_spend,
        "{file}: column 'tv_spend', row 2: negative value -1; must be >= 0",
    ),
    # --- weeks
    BadInput(
        "duplicate_week",
        "weekly",
        "dup.csv",
        _weekly("2024-01-01,10,1", "2024-01-08,11,2", "2024-01-08,12,3"),
        "{file}: column 'date', row 3: duplicate week 2024-01-08 (first at row 2)",
    ),
    BadInput(
        "missing_week",
        "weekly",
        "gap.csv",
        _weekly("2024-01-01,10,1", "2024-01-08,11,2", "2024-01-22,12,3"),
        "{file}: column 'date', row 3: missing week: expected 2024-01-15, found 2024-01-22 "
        "(1 week missing after row 2)",
    ),
    BadInput(
        "unsorted_dates",
        "weekly",
        "unsorted.csv",
        _weekly("2024-01-01,10,1", "2024-01-15,11,2", "2024-01-08,12,3"),
        "{file}: column 'date', row 3: dates not increasing: 2024-01-08 comes after "
        "2024-01-15 (row 2); sort the rows by date",
    ),
    BadInput(
        "not_weekly",
        "weekly",
        "daily.csv",
        _weekly("2024-01-01,10,1", "2024-01-09,11,2"),
        "{file}: column 'date', row 2: dates are not weekly: expected 2024-01-08 "
        "(7 days after row 1), found 2024-01-09",
    ),
    BadInput(
        "geo_missing_week",
        "weekly",
        "geo_gap.csv",
        _csv(
            "geo,date,sales,tv_spend",
            "north,2024-01-01,10,1",
            "south,2024-01-01,10,1",
            "north,2024-01-08,10,1",
            "south,2024-01-15,10,1",
        ),
        "{file}: column 'date', row 4: missing week for geo 'south': expected 2024-01-08, "
        "found 2024-01-15 (1 week missing after row 2)",
    ),
    BadInput(
        "geo_different_weeks",
        "weekly",
        "geo_span.csv",
        _csv(
            "geo,date,sales,tv_spend",
            "north,2024-01-01,10,1",
            "north,2024-01-08,10,1",
            "south,2024-01-08,10,1",
        ),
        "{file}: column 'geo', row 3: geo 'south' covers 2024-01-08 to 2024-01-08 but geo "
        "'north' covers 2024-01-01 to 2024-01-08; every geo needs the same weeks",
    ),
    BadInput(
        "duckdb_missing_table",
        "weekly",
        "media.duckdb",
        _duckdb_weekly,
        "{file}: no table 'panel' in the database (tables: weekly)",
        table="panel",
    ),
    BadInput(
        "duckdb_missing_target",
        "weekly",
        "media.duckdb",
        _duckdb_weekly,
        "{file}: missing column 'sales' (columns are: date, revenue, tv_spend)",
        table="weekly",
    ),
    # --- campaigns
    BadInput(
        "campaign_duplicate_row",
        "campaigns",
        "camp_dup.csv",
        _csv(
            "date,channel,campaign,spend,impressions",
            "2024-01-01,tv,c1,10,100",
            "2024-01-01,tv,c2,10,100",
            "2024-01-01,tv,c1,5,50",
        ),
        "{file}: row 3: duplicate row for date 2024-01-01, channel 'tv', campaign 'c1' "
        "(first at row 1)",
    ),
    BadInput(
        "campaign_negative_impressions",
        "campaigns",
        "camp_neg.csv",
        _csv("date,channel,campaign,spend,impressions", "2024-01-01,tv,c1,10,-100"),
        "{file}: column 'impressions', row 1: negative value -100; must be >= 0",
    ),
    BadInput(
        "campaign_empty_channel",
        "campaigns",
        "camp_empty.csv",
        _csv("date,channel,campaign,spend,impressions", "2024-01-01, ,c1,10,100"),
        "{file}: column 'channel', row 1: empty value; a value is required",
    ),
    # --- touchpoints
    BadInput(
        "unparsable_timestamp",
        "touchpoints",
        "tp_ts.csv",
        _csv("user_id,timestamp,channel", "u1,2024-01-01T10:00:00,tv", "u2,yesterday,tv"),
        "{file}: column 'timestamp', row 2: cannot parse timestamp 'yesterday' "
        "(expected ISO 8601, e.g. 2024-01-31T13:45:00)",
    ),
    BadInput(
        "touchpoint_negative_cost",
        "touchpoints",
        "tp_cost.csv",
        _csv("user_id,timestamp,channel,cost", "u1,2024-01-01T10:00:00,tv,-0.5"),
        "{file}: column 'cost', row 1: negative value -0.5; must be >= 0",
    ),
    # --- conversions
    BadInput(
        "unknown_user",
        "conversions",
        "conversions.csv",
        _csv("user_id,timestamp,value", "u1,2024-01-03T10:00:00,5", "u9,2024-01-03T11:00:00,7"),
        "{file}: column 'user_id', row 2: conversion for unknown user 'u9' "
        "(not in touchpoints {touchpoints})",
        touchpoints=_TOUCHPOINTS,
    ),
    BadInput(
        "duplicate_conversion_id",
        "conversions",
        "conv_dup.csv",
        _csv(
            "user_id,timestamp,conversion_id",
            "u1,2024-01-03T10:00:00,c1",
            "u2,2024-01-03T11:00:00,c2",
            "u2,2024-01-04T11:00:00,c1",
        ),
        "{file}: column 'conversion_id', row 3: duplicate conversion_id 'c1' (first at row 1)",
    ),
    BadInput(
        "conversion_value_not_number",
        "conversions",
        "conv_val.csv",
        _csv("user_id,timestamp,value", "u1,2024-01-03T10:00:00,12 EUR"),
        "{file}: column 'value', row 1: not a number: '12 EUR'",
    ),
    # --- paths
    BadInput(
        "path_empty",
        "paths",
        "paths_empty.csv",
        _csv(
            "path,total_conversions,total_conversion_value,total_null",
            "tv > search,3,30,10",
            ",1,10,2",
        ),
        "{file}: column 'path', row 2: empty value; a value is required",
    ),
    BadInput(
        "path_empty_channel",
        "paths",
        "paths_gap.csv",
        _csv(
            "path,total_conversions,total_conversion_value,total_null",
            "tv >  > search,3,30,10",
        ),
        "{file}: column 'path', row 1: empty channel in path 'tv >  > search'; "
        "join channels with ' > '",
    ),
    BadInput(
        "path_negative_null",
        "paths",
        "paths_neg.csv",
        _csv(
            "path,total_conversions,total_conversion_value,total_null",
            "tv > search,3,30,10",
            "search,1,10,-2",
        ),
        "{file}: column 'total_null', row 2: negative value -2; must be >= 0",
    ),
]
