"""Lift-test calibration: experiments' measured incremental outcomes in the MMM's likelihood.

A lift test says: over the window ``start .. end`` (days, inclusive), channel ``channel``
produced ``incremental_outcome`` (in the target's units) with standard error ``se``.
The model's implied incremental outcome of that test is the channel's contribution with
its spend as observed minus its contribution with the spend inside the window removed,
summed over the whole panel (so carryover after the window counts, as it does in a
holdout experiment that keeps measuring through its cool-down). A week that the window
covers partly loses that share of its spend (days in the window / 7). Each test adds
``implied ~ Normal(incremental_outcome, se)`` to the likelihood.

The input is the project's ``lift_tests.csv`` (design.md): ``channel, start, end,
incremental_outcome`` (or ``incremental_conversions``), ``se``, ``method`` and an
optional ``geo``. Only the first row per ``(channel, start, end)`` is used (the
experiments stage lists its recommended estimate first).

Examples
--------
>>> frame = pd.DataFrame({"channel": ["tv"], "start": ["2024-03-04"], "end": ["2024-03-31"],
...                       "incremental_outcome": [1.2e5], "se": [2e4], "method": ["synthetic"]})
>>> read_lift_tests(frame)[["channel", "se"]].to_dict("records")
[{'channel': 'tv', 'se': 20000.0}]
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from numpy.typing import NDArray

from mixlens.errors import DataError
from mixlens.mmm.data import MMMData

__all__ = ["LIFT_COLUMNS", "LiftTests", "prepare_lift_tests", "read_lift_tests"]

FloatArray = NDArray[np.float64]
IntArray = NDArray[np.int64]

#: Columns of a validated lift-test frame, in order.
LIFT_COLUMNS: tuple[str, ...] = ("channel", "start", "end", "incremental_outcome", "se", "method")
_OUTCOME_ALIASES = ("incremental_outcome", "incremental_conversions")
_DAYS_PER_WEEK = 7


def _row_error(message: str, source: str | None, column: str, row: int) -> DataError:
    return DataError(message, file=source, column=column, row=row)


def read_lift_tests(source: str | Path | pd.DataFrame) -> pd.DataFrame:
    """Read and check a lift-test table; return one row per ``(channel, start, end)``.

    Parameters
    ----------
    source
        Path of a CSV or Parquet file, or a DataFrame, in the ``lift_tests.csv`` format.

    Returns
    -------
    pandas.DataFrame
        Columns :data:`LIFT_COLUMNS` (``start``/``end`` as timestamps) plus ``row``, the
        1-based row of the input each test came from.

    Raises
    ------
    DataError
        If the file cannot be read, a column is missing, or a row has a bad date, a start
        after its end, a non-finite outcome, a non-positive ``se`` or a ``geo`` (lift
        tests of single geos need a geo model); the error names file, column and row.
    """
    name: str | None = None
    if isinstance(source, pd.DataFrame):
        raw = source.copy()
    else:
        name = str(source)
        path = Path(source)
        if not path.exists():
            raise DataError("lift-test file not found", file=name)
        try:
            raw = pd.read_parquet(path) if path.suffix == ".parquet" else pd.read_csv(path)
        except (ValueError, OSError) as err:
            raise DataError(f"cannot read lift tests: {err}", file=name) from err
    outcome = next((c for c in _OUTCOME_ALIASES if c in raw.columns), None)
    missing = [c for c in ("channel", "start", "end", "se") if c not in raw.columns]
    if outcome is None:
        missing.append("incremental_outcome")
    if missing:
        raise DataError(f"missing lift-test columns {', '.join(missing)}", file=name)
    rows: list[dict[str, Any]] = []
    seen: set[tuple[str, pd.Timestamp, pd.Timestamp]] = set()
    for i, record in enumerate(raw.to_dict("records"), start=1):
        geo = record.get("geo")
        if geo is not None and not pd.isna(geo) and str(geo).strip():
            raise _row_error(
                "geo-level lift tests need a geo model; the MMM is national (drop the row "
                "or scale the test to the nation)",
                name,
                "geo",
                i,
            )
        dates = {}
        for column in ("start", "end"):
            try:
                dates[column] = pd.Timestamp(record[column]).normalize()
            except (ValueError, TypeError) as err:
                raise _row_error(f"not a date: {record[column]!r}", name, column, i) from err
            if pd.isna(dates[column]):
                raise _row_error("date is missing", name, column, i)
        if dates["start"] > dates["end"]:
            raise _row_error(
                f"start {dates['start'].date()} is after end {dates['end'].date()}", name, "end", i
            )
        value = pd.to_numeric(pd.Series([record[outcome]]), errors="coerce").iloc[0]
        if not np.isfinite(value):
            raise _row_error("incremental outcome must be a finite number", name, str(outcome), i)
        se = pd.to_numeric(pd.Series([record["se"]]), errors="coerce").iloc[0]
        if not (np.isfinite(se) and se > 0):
            raise _row_error(f"se must be positive, got {record['se']!r}", name, "se", i)
        key = (str(record["channel"]), dates["start"], dates["end"])
        if key in seen:
            continue
        seen.add(key)
        method = record.get("method")
        rows.append(
            {
                "channel": key[0],
                "start": key[1],
                "end": key[2],
                "incremental_outcome": float(value),
                "se": float(se),
                "method": "" if method is None or pd.isna(method) else str(method),
                "row": i,
            }
        )
    frame = pd.DataFrame(rows, columns=[*LIFT_COLUMNS, "row"])
    frame.attrs["source"] = name
    return frame


@dataclass(frozen=True, eq=False)
class LiftTests:
    """Lift tests aligned with a prepared panel.

    Attributes
    ----------
    frame
        The tests (:data:`LIFT_COLUMNS` and ``row``), one row per test.
    channel_index
        Index of each test's channel in the panel's channels, shape ``(n_tests,)``.
    exposure
        Share of each week's spend that falls inside each test's window,
        ``(n_weeks, n_tests)`` in ``[0, 1]``.
    """

    frame: pd.DataFrame
    channel_index: IntArray
    exposure: FloatArray

    @property
    def n_tests(self) -> int:
        """Number of tests."""
        return len(self.frame)

    @property
    def labels(self) -> list[str]:
        """One label per test: ``channel start..end``."""
        return [f"{c} {s.date()}..{e.date()}" for c, s, e, _ in _windows(self.frame)]

    @property
    def measured(self) -> FloatArray:
        """Measured incremental outcomes, target units, ``(n_tests,)``."""
        return self.frame["incremental_outcome"].to_numpy(dtype=np.float64)

    @property
    def se(self) -> FloatArray:
        """Standard errors, target units, ``(n_tests,)``."""
        return self.frame["se"].to_numpy(dtype=np.float64)

    def to_records(self) -> list[dict[str, Any]]:
        """JSON-safe rows (dates as ISO strings)."""
        out = []
        methods = self.frame["method"].astype(str).tolist()
        for (channel, start, end, _), value, se, method in zip(
            _windows(self.frame), self.measured, self.se, methods, strict=True
        ):
            out.append(
                {
                    "channel": channel,
                    "start": start.date().isoformat(),
                    "end": end.date().isoformat(),
                    "incremental_outcome": float(value),
                    "se": float(se),
                    "method": method,
                }
            )
        return out


def _windows(frame: pd.DataFrame) -> list[tuple[str, pd.Timestamp, pd.Timestamp, int]]:
    """``(channel, start, end, input row)`` of each test of a validated frame."""
    return [
        (str(c), pd.Timestamp(s), pd.Timestamp(e), int(r))
        for c, s, e, r in zip(
            frame["channel"], frame["start"], frame["end"], frame["row"], strict=True
        )
    ]


def prepare_lift_tests(source: str | Path | pd.DataFrame, data: MMMData) -> LiftTests:
    """Read lift tests and align them with the panel's weeks and channels.

    Parameters
    ----------
    source
        Path or DataFrame in the ``lift_tests.csv`` format (see :func:`read_lift_tests`).
    data
        The prepared panel the model is fitted on.

    Returns
    -------
    LiftTests
        Tests with channel indices and per-week exposure.

    Raises
    ------
    DataError
        On a bad row (see :func:`read_lift_tests`), a channel the model does not have, a
        window outside the panel's weeks, or a window in which the channel did not spend.
    """
    frame = read_lift_tests(source)
    name = frame.attrs.get("source")
    week_start = data.dates.to_numpy().astype("datetime64[D]")
    first = pd.Timestamp(week_start[0])
    last = pd.Timestamp(week_start[-1]) + pd.Timedelta(days=_DAYS_PER_WEEK - 1)
    exposure = np.zeros((data.n_weeks, len(frame)))
    index = np.zeros(len(frame), dtype=np.int64)
    for j, (channel, start, end, row) in enumerate(_windows(frame)):
        if channel not in data.channels:
            known = ", ".join(data.channels)
            raise _row_error(
                f"unknown channel {channel!r}; the model's channels are {known}",
                name,
                "channel",
                row,
            )
        if start < first or end > last:
            column = "start" if start < first else "end"
            raise _row_error(
                f"window {start.date()}..{end.date()} is outside the panel's weeks "
                f"{first.date()}..{last.date()}",
                name,
                column,
                row,
            )
        index[j] = data.channels.index(channel)
        lo = np.datetime64(start.date(), "D")
        hi = np.datetime64(end.date(), "D")
        week_end = week_start + np.timedelta64(_DAYS_PER_WEEK - 1, "D")
        overlap = (np.minimum(week_end, hi) - np.maximum(week_start, lo)).astype(np.int64) + 1
        exposure[:, j] = np.clip(overlap, 0, _DAYS_PER_WEEK) / _DAYS_PER_WEEK
        if not np.any(exposure[:, j] * data.spend[:, index[j]] > 0):
            raise _row_error(
                f"channel {channel!r} did not spend in the window; the test cannot inform it",
                name,
                "channel",
                row,
            )
    return LiftTests(frame=frame.reset_index(drop=True), channel_index=index, exposure=exposure)
