"""Shared helpers of the MTA tests."""

from __future__ import annotations

import pandas as pd


def ts(day: float, hour: float = 0.0) -> pd.Timestamp:
    return pd.Timestamp("2025-01-01") + pd.Timedelta(days=day, hours=hour)


def paths(rows: list[tuple[str, float, float, float]]) -> pd.DataFrame:
    """A path table from (path, conversions, value, nulls) rows."""
    return pd.DataFrame(
        rows, columns=["path", "total_conversions", "total_conversion_value", "total_null"]
    )
