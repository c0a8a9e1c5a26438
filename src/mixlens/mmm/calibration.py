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
optional ``geo``. Only the first row per ``(channel, start, end[, geo])`` is used (the
experiments stage lists its recommended estimate first).

The national model rejects rows with a ``geo``. The geo model
(:func:`prepare_geo_lift_tests`) reads them: a row whose ``geo`` names a geo (or several,
comma-separated, e.g. an experiment's treated geos) tests the channel in those geos only;
a row without ``geo`` is a national test, the channel's spend removed in every geo.

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
from mixlens.mmm.geo_data import GeoMMMData

__all__ = [
    "LIFT_COLUMNS",
    "LiftTests",
    "prepare_geo_lift_tests",
    "prepare_lift_tests",
    "read_lift_tests",
]

FloatArray = NDArray[np.float64]
IntArray = NDArray[np.int64]

#: Columns of a validated lift-test frame, in order.
LIFT_COLUMNS: tuple[str, ...] = ("channel", "start", "end", "incremental_outcome", "se", "method")
_OUTCOME_ALIASES = ("incremental_outcome", "incremental_conversions")
_DAYS_PER_WEEK = 7
#: Separator of several geos in one ``geo`` cell.
GEO_SEPARATOR = ","


def _row_error(message: str, source: str | None, column: str, row: int) -> DataError:
    return DataError(message, file=source, column=column, row=row)


def read_lift_tests(source: str | Path | pd.DataFrame, *, geo: bool = False) -> pd.DataFrame:
    """Read and check a lift-test table; return one row per ``(channel, start, end[, geo])``.

    Parameters
    ----------
    source
        Path of a CSV or Parquet file, or a DataFrame, in the ``lift_tests.csv`` format.
    geo
        Keep the optional ``geo`` column (for the geo model): the result gets a ``geo``
        column, ``""`` for national tests. Without it, a row with a geo is an error unless
        it gives ``spend_share``.

    Notes
    -----
    The optional ``spend_share`` column, in ``(0, 1]`` (1 when absent), is the share of the
    market that the test held out, e.g. the treated geos' share in a geo holdout
    (``mixlens experiment analyze`` writes it beside the treated ``geo`` list). A national
    model reads such a test as that share of the lift of switching the channel off
    nationally in the window (geos as scaled copies of the market: the treated geos lose
    all of their spend, not a share of it, so diminishing returns apply to the whole
    spend); a geo model uses the ``geo`` list instead.

    Returns
    -------
    pandas.DataFrame
        Columns :data:`LIFT_COLUMNS` (``start``/``end`` as timestamps), ``spend_share``,
        ``geo`` (with ``geo=True``) and ``row``, the 1-based row of the input each test
        came from.

    Raises
    ------
    DataError
        If the file cannot be read, a column is missing, or a row has a bad date, a start
        after its end, a non-finite outcome, a non-positive ``se`` or (without ``geo``) a
        ``geo`` (lift tests of single geos need a geo model); the error names file,
        column and row.
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
            raw = (
                pd.read_parquet(path)
                if path.suffix == ".parquet"
                else pd.read_csv(path, dtype={"geo": str})
            )
        except (ValueError, OSError) as err:
            raise DataError(f"cannot read lift tests: {err}", file=name) from err
    outcome = next((c for c in _OUTCOME_ALIASES if c in raw.columns), None)
    missing = [c for c in ("channel", "start", "end", "se") if c not in raw.columns]
    if outcome is None:
        missing.append("incremental_outcome")
    if missing:
        raise DataError(f"missing lift-test columns {', '.join(missing)}", file=name)
    rows: list[dict[str, Any]] = []
    seen: set[tuple[str, pd.Timestamp, pd.Timestamp, str]] = set()
    for i, record in enumerate(raw.to_dict("records"), start=1):
        cell = record.get("geo")
        geos = "" if cell is None or pd.isna(cell) else _geo_cell(cell)
        share_cell = record.get("spend_share")
        share = 1.0
        if share_cell is not None and not pd.isna(share_cell):
            share = float(pd.to_numeric(pd.Series([share_cell]), errors="coerce").iloc[0])
            if not (np.isfinite(share) and 0 < share <= 1):
                raise _row_error(
                    f"spend_share must lie in (0, 1], got {share_cell!r}", name, "spend_share", i
                )
        if geos and not geo and (share_cell is None or pd.isna(share_cell)):
            raise _row_error(
                "geo-level lift tests need a geo model or a spend_share (the treated geos' "
                "share of the channel's spend) to read them nationally",
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
        key = (str(record["channel"]), dates["start"], dates["end"], geos)
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
                "spend_share": share,
                "geo": geos,
                "row": i,
            }
        )
    columns = [*LIFT_COLUMNS, "spend_share", "geo", "row"]
    frame = pd.DataFrame(rows, columns=columns)
    if not geo:
        frame = frame.drop(columns="geo")
    frame.attrs["source"] = name
    return frame


def _geo_cell(cell: object) -> str:
    """Normalize a ``geo`` cell: names stripped, joined by :data:`GEO_SEPARATOR`."""
    if isinstance(cell, float) and cell.is_integer():
        cell = int(cell)  # a numeric geo column read as floats
    names = [part.strip() for part in str(cell).split(GEO_SEPARATOR)]
    return GEO_SEPARATOR.join(n for n in names if n)


@dataclass(frozen=True, eq=False)
class LiftTests:
    """Lift tests aligned with a prepared panel.

    Attributes
    ----------
    frame
        The tests (:data:`LIFT_COLUMNS`, ``geo`` for a geo model, and ``row``), one row
        per test.
    channel_index
        Index of each test's channel in the panel's channels, shape ``(n_tests,)``.
    exposure
        Share of each week's spend that each test switched off: the part of the week inside
        the test's window, ``(n_weeks, n_tests)`` in ``[0, 1]``.
    geo_mask
        For a geo model: 1 where a test removes spend in a geo, ``(n_geos, n_tests)``
        (every geo for a national test); None for the national model.
    """

    frame: pd.DataFrame
    channel_index: IntArray
    exposure: FloatArray
    geo_mask: FloatArray | None = None

    @property
    def share(self) -> FloatArray:
        """Market share each test held out (``spend_share``; 1 without it or in a geo model).

        A national model scales each test's implied national lift by it, ``(n_tests,)``.
        """
        if self.geo_mask is not None or "spend_share" not in self.frame.columns:
            return np.ones(self.n_tests)
        return self.frame["spend_share"].to_numpy(dtype=np.float64)

    @property
    def n_tests(self) -> int:
        """Number of tests."""
        return len(self.frame)

    @property
    def geos(self) -> list[str]:
        """Each test's geo cell (``""`` for a national test; all ``""`` without geos)."""
        if "geo" not in self.frame.columns:
            return [""] * self.n_tests
        return [str(g) for g in self.frame["geo"]]

    @property
    def labels(self) -> list[str]:
        """One label per test: ``channel start..end`` (and ``@ geo`` for a geo test)."""
        return [
            f"{c} {s.date()}..{e.date()}" + (f" @ {geo}" if geo else "")
            for (c, s, e, _), geo in zip(_windows(self.frame), self.geos, strict=True)
        ]

    @property
    def measured(self) -> FloatArray:
        """Measured incremental outcomes, target units, ``(n_tests,)``."""
        return self.frame["incremental_outcome"].to_numpy(dtype=np.float64)

    @property
    def se(self) -> FloatArray:
        """Standard errors, target units, ``(n_tests,)``."""
        return self.frame["se"].to_numpy(dtype=np.float64)

    def to_records(self) -> list[dict[str, Any]]:
        """JSON-safe rows (dates as ISO strings; ``geo`` for a geo model's tests)."""
        out = []
        methods = self.frame["method"].astype(str).tolist()
        for (channel, start, end, _), value, se, method, geo in zip(
            _windows(self.frame), self.measured, self.se, methods, self.geos, strict=True
        ):
            record: dict[str, Any] = {
                "channel": channel,
                "start": start.date().isoformat(),
                "end": end.date().isoformat(),
                "incremental_outcome": float(value),
                "se": float(se),
                "method": method,
            }
            if self.geo_mask is not None:
                record["geo"] = geo
            out.append(record)
        return out

    def fit_frame(self, implied: FloatArray, ci: float) -> pd.DataFrame:
        """Return the tests beside the implied lift per draw (``(S, n_tests)``, target units).

        Returns
        -------
        pandas.DataFrame
            ``channel, start, end, method, measured, se, model_mean, model_lo, model_hi``
            (a ``geo`` column after ``channel`` for a geo model's tests); ``lo``/``hi``
            bound the central interval of mass ``ci``.
        """
        lo, hi = np.quantile(implied, [(1 - ci) / 2, (1 + ci) / 2], axis=0)
        frame = self.frame
        out = pd.DataFrame(
            {
                "channel": frame["channel"].to_numpy(),
                "start": frame["start"].dt.strftime("%Y-%m-%d").to_numpy(),
                "end": frame["end"].dt.strftime("%Y-%m-%d").to_numpy(),
                "method": frame["method"].to_numpy(),
                "measured": self.measured,
                "se": self.se,
                "model_mean": implied.mean(axis=0),
                "model_lo": lo,
                "model_hi": hi,
            }
        )
        if self.geo_mask is not None:
            out.insert(1, "geo", self.geos)
        return out


def _windows(frame: pd.DataFrame) -> list[tuple[str, pd.Timestamp, pd.Timestamp, int]]:
    """``(channel, start, end, input row)`` of each test of a validated frame."""
    return [
        (str(c), pd.Timestamp(s), pd.Timestamp(e), int(r))
        for c, s, e, r in zip(
            frame["channel"], frame["start"], frame["end"], frame["row"], strict=True
        )
    ]


def _align(
    frame: pd.DataFrame, dates: pd.DatetimeIndex, channels: tuple[str, ...]
) -> tuple[IntArray, FloatArray]:
    """Each test's channel index and per-week exposure (see :class:`LiftTests`).

    Raises
    ------
    DataError
        On a channel the model does not have or a window outside the panel's weeks.
    """
    name = frame.attrs.get("source")
    week_start = dates.to_numpy().astype("datetime64[D]")
    first = pd.Timestamp(week_start[0])
    last = pd.Timestamp(week_start[-1]) + pd.Timedelta(days=_DAYS_PER_WEEK - 1)
    week_end = week_start + np.timedelta64(_DAYS_PER_WEEK - 1, "D")
    exposure = np.zeros((len(dates), len(frame)))
    index = np.zeros(len(frame), dtype=np.int64)
    for j, (channel, start, end, row) in enumerate(_windows(frame)):
        if channel not in channels:
            known = ", ".join(channels)
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
        index[j] = channels.index(channel)
        lo = np.datetime64(start.date(), "D")
        hi = np.datetime64(end.date(), "D")
        overlap = (np.minimum(week_end, hi) - np.maximum(week_start, lo)).astype(np.int64) + 1
        exposure[:, j] = np.clip(overlap, 0, _DAYS_PER_WEEK) / _DAYS_PER_WEEK
    return index, exposure


def _check_spent(frame: pd.DataFrame, j: int, spent: bool, where: str = "") -> None:
    """Raise unless test ``j``'s channel spent in its window (``where``: in which geos)."""
    if spent:
        return
    channel, _, _, row = _windows(frame)[j]
    raise _row_error(
        f"channel {channel!r} did not spend in the window{where}; the test cannot inform it",
        frame.attrs.get("source"),
        "channel",
        row,
    )


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
        Tests with channel indices, per-week exposure and market share (see
        :attr:`LiftTests.share`).

    Raises
    ------
    DataError
        On a bad row (see :func:`read_lift_tests`), a channel the model does not have, a
        window outside the panel's weeks, or a window in which the channel did not spend.
    """
    frame = read_lift_tests(source)
    index, exposure = _align(frame, data.dates, data.channels)
    for j in range(len(frame)):
        _check_spent(frame, j, bool(np.any(exposure[:, j] * data.spend[:, index[j]] > 0)))
    return LiftTests(frame=frame.reset_index(drop=True), channel_index=index, exposure=exposure)


def prepare_geo_lift_tests(source: str | Path | pd.DataFrame, data: GeoMMMData) -> LiftTests:
    """Read lift tests for the geo model and align them with its weeks, channels and geos.

    A test whose ``geo`` names one geo (or several, comma-separated) removes the
    channel's spend in the window in those geos; a test without ``geo`` removes it in
    every geo (a national test).

    Parameters
    ----------
    source
        Path or DataFrame in the ``lift_tests.csv`` format (see :func:`read_lift_tests`).
    data
        The prepared geo panel the model is fitted on.

    Returns
    -------
    LiftTests
        Tests with channel indices, per-week exposure and ``geo_mask``.

    Raises
    ------
    DataError
        As :func:`prepare_lift_tests`, and on a geo the panel does not have (column
        ``geo``) or a window in which the channel did not spend in the test's geos.
    """
    frame = read_lift_tests(source, geo=True).reset_index(drop=True)
    name = frame.attrs.get("source")
    index, exposure = _align(frame, data.weeks, data.base.channels)
    mask = np.zeros((data.n_geos, len(frame)))
    for j, (cell, row) in enumerate(zip(frame["geo"], frame["row"], strict=True)):
        names = str(cell).split(GEO_SEPARATOR) if cell else list(data.geos)
        for geo in names:
            if geo not in data.geos:
                raise _row_error(
                    f"unknown geo {geo!r}; the panel's geos are {', '.join(data.geos)}",
                    name,
                    "geo",
                    int(row),
                )
            mask[data.geos.index(geo), j] = 1.0
        spend = data.spend[:, :, index[j]] * mask[None, :, j]  # (T, G)
        where = f" in geo {cell}" if cell else ""
        _check_spent(frame, j, bool(np.any(exposure[:, j, None] * spend > 0)), where)
    return LiftTests(frame=frame, channel_index=index, exposure=exposure, geo_mask=mask)
