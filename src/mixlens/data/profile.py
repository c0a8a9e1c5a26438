"""A short profile of a validated input table: what ``mixlens validate`` prints."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np
import pandas as pd

from mixlens.data.schemas import FRAME, GEO, PATH_SEPARATOR, check_kind, weekly_channels

__all__ = ["Profile", "profile_frame"]


@dataclass(frozen=True)
class Profile:
    """What a validated table holds, in numbers.

    Parameters
    ----------
    kind
        The table kind (``weekly``, ``campaigns``, ``touchpoints``, ``conversions``, ``paths``).
    file
        Where the table came from.
    rows
        Number of data rows.
    columns
        Column names, in order.
    start, end
        First and last date (``YYYY-MM-DD``), or None for a path table.
    period
        ``"week"`` for the weekly panel, ``"day"`` for the other dated kinds, else None.
    periods
        Distinct weeks or days with at least one row.
    gaps
        Weeks or days between ``start`` and ``end`` with no row.
    channels
        Channel names: spend-column order for the weekly panel, sorted otherwise.
    spend_total
        Total spend (all spend columns; ``spend``; touchpoint ``cost``), or None.
    outcome
        What ``outcome_total`` counts: the target column, ``conversions`` or
        ``total_conversions``; None for tables without an outcome.
    outcome_total
        Sum of the target, number of conversions, or sum of ``total_conversions``.
    geos
        Number of geos when the table has a ``geo`` column.
    controls
        Control columns of the weekly panel.
    users
        Distinct users (touchpoints, conversions).
    campaigns
        Distinct (channel, campaign) pairs (campaigns, touchpoints with ``campaign``).
    value_total
        Total conversion value (conversions with ``value``; paths).
    null_total
        Journeys without a conversion (paths: sum of ``total_null``).
    mean_path_length
        Mean touchpoints per journey in a path table, weighted by ``total_conversions +
        total_null`` (unweighted when those are all zero).
    """

    kind: str
    file: str
    rows: int
    columns: tuple[str, ...]
    start: str | None = None
    end: str | None = None
    period: str | None = None
    periods: int | None = None
    gaps: int | None = None
    channels: tuple[str, ...] = ()
    spend_total: float | None = None
    outcome: str | None = None
    outcome_total: float | None = None
    geos: int | None = None
    controls: tuple[str, ...] = ()
    users: int | None = None
    campaigns: int | None = None
    value_total: float | None = None
    null_total: float | None = None
    mean_path_length: float | None = None

    def lines(self) -> list[str]:
        """Return the profile as short human-readable lines.

        Examples
        --------
        >>> Profile(kind="paths", file="p.csv", rows=2, columns=("path",)).lines()
        ['paths p.csv: 2 rows, 1 column']
        """
        cols = "column" if len(self.columns) == 1 else "columns"
        out = [f"{self.kind} {self.file}: {self.rows:,} rows, {len(self.columns)} {cols}"]
        if self.start is not None and self.period is not None:
            missing = "no gaps" if not self.gaps else f"{self.gaps:,} {self.period}s missing"
            out.append(
                f"dates: {self.start} to {self.end} ({self.periods:,} {self.period}s, {missing})"
            )
        if self.geos is not None:
            out.append(f"geos: {self.geos:,}")
        if self.channels:
            out.append(f"channels ({len(self.channels)}): {', '.join(self.channels)}")
        if self.controls:
            out.append(f"controls: {', '.join(self.controls)}")
        if self.campaigns is not None:
            out.append(f"campaigns: {self.campaigns:,}")
        if self.users is not None:
            out.append(f"users: {self.users:,}")
        if self.spend_total is not None:
            out.append(f"spend total: {_number(self.spend_total)}")
        if self.outcome in ("conversions", "total_conversions") and self.outcome_total is not None:
            out.append(f"conversions: {_number(self.outcome_total)}")
        elif self.outcome is not None and self.outcome_total is not None:
            out.append(f"{self.outcome} total: {_number(self.outcome_total)}")
        if self.value_total is not None:
            out.append(f"conversion value total: {_number(self.value_total)}")
        if self.null_total is not None:
            out.append(f"journeys without conversion: {_number(self.null_total)}")
        if self.mean_path_length is not None:
            out.append(f"mean path length: {self.mean_path_length:.2f}")
        return out

    def to_dict(self) -> dict[str, Any]:
        """Return the profile as a JSON-safe dict (tuples become lists)."""
        return {
            key: list(value) if isinstance(value, tuple) else value
            for key, value in asdict(self).items()
        }


def _number(value: float) -> str:
    """Format a total: no decimals when it is whole, else two."""
    return f"{value:,.0f}" if float(value).is_integer() else f"{value:,.2f}"


def _total(series: pd.Series) -> float:
    """Sum of a numeric column, NaN skipped, as a Python float."""
    return float(np.nansum(series.to_numpy(dtype=np.float64, na_value=np.nan)))


def _span(moments: pd.Series, *, weekly: bool) -> dict[str, Any]:
    """Start, end, periods and gaps of a datetime column."""
    days = moments.to_numpy(dtype="datetime64[us]").astype("datetime64[D]")
    first, last = days.min(), days.max()
    distinct = int(pd.unique(days).size)
    step = 7 if weekly else 1
    expected = int((last - first).astype(np.int64)) // step + 1
    return {
        "start": str(first),
        "end": str(last),
        "period": "week" if weekly else "day",
        "periods": distinct,
        "gaps": max(expected - distinct, 0),
    }


def _sorted_unique(series: pd.Series) -> tuple[str, ...]:
    return tuple(sorted(str(value) for value in pd.unique(series.dropna())))


def _pairs(frame: pd.DataFrame) -> int:
    """Distinct non-empty (channel, campaign) pairs."""
    named = frame.loc[frame["campaign"].astype("str").str.strip().ne(""), ["channel", "campaign"]]
    return len(named.drop_duplicates())


def profile_frame(
    frame: pd.DataFrame,
    kind: str,
    *,
    file: str = FRAME,
    target: str = "sales",
    controls: Sequence[str] = (),
) -> Profile:
    """Profile a validated table.

    Parameters
    ----------
    frame
        A frame returned by the validator of its kind (:mod:`mixlens.data.schemas`).
    kind
        The table kind.
    file
        Where the table came from.
    target, controls
        The weekly panel's outcome and control columns.

    Returns
    -------
    Profile
        Rows, date range, channels, totals and the extras of the kind.
    """
    checked = check_kind(kind)
    base: dict[str, Any] = {
        "kind": checked,
        "file": file,
        "rows": len(frame),
        "columns": tuple(str(col) for col in frame.columns),
    }
    if GEO in frame.columns and checked in ("weekly", "campaigns"):
        base["geos"] = int(frame[GEO].nunique())
    if checked == "weekly":
        channels = weekly_channels(frame, target=target, controls=controls)
        spend = sum(_total(frame[f"{channel}_spend"]) for channel in channels)
        return Profile(
            **base,
            **_span(frame["date"], weekly=True),
            channels=channels,
            controls=tuple(controls),
            spend_total=float(spend),
            outcome=target,
            outcome_total=_total(frame[target]),
        )
    if checked == "campaigns":
        return Profile(
            **base,
            **_span(frame["date"], weekly=False),
            channels=_sorted_unique(frame["channel"]),
            campaigns=_pairs(frame),
            spend_total=_total(frame["spend"]),
        )
    if checked == "touchpoints":
        return Profile(
            **base,
            **_span(frame["timestamp"], weekly=False),
            channels=_sorted_unique(frame["channel"]),
            users=int(frame["user_id"].nunique()),
            campaigns=_pairs(frame) if "campaign" in frame.columns else None,
            spend_total=_total(frame["cost"]) if "cost" in frame.columns else None,
        )
    if checked == "conversions":
        return Profile(
            **base,
            **_span(frame["timestamp"], weekly=False),
            users=int(frame["user_id"].nunique()),
            outcome="conversions",
            outcome_total=float(len(frame)),
            value_total=_total(frame["value"]) if "value" in frame.columns else None,
        )
    steps = frame["path"].str.split(PATH_SEPARATOR.strip(), regex=False)
    lengths = (frame["path"].str.count(">") + 1).to_numpy(dtype=np.float64)
    weights = frame["total_conversions"].to_numpy(dtype=np.float64) + frame["total_null"].to_numpy(
        dtype=np.float64
    )
    mean_length = (
        float(np.average(lengths, weights=weights)) if weights.sum() > 0 else float(lengths.mean())
    )
    return Profile(
        **base,
        channels=_sorted_unique(steps.explode().str.strip()),
        outcome="total_conversions",
        outcome_total=_total(frame["total_conversions"]),
        value_total=_total(frame["total_conversion_value"]),
        null_total=_total(frame["total_null"]),
        mean_path_length=mean_length,
    )
