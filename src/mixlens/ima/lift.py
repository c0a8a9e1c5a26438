"""Campaign lift tests as evidence in IMA's campaign regression ("experiments as priors").

A campaign lift test says: over the days ``start .. end`` (inclusive), campaign
``campaign`` of channel ``channel`` produced ``incremental_outcome`` (target units) with
standard error ``se``. The file is the project's ``lift_tests.csv`` (design.md) with a
``campaign`` column; rows without a campaign are channel-level tests, which calibrate the
MMM (``mixlens mmm fit --lift-tests``), not IMA, and are skipped here. When the file lists
several estimates of one test (the experiments stage writes its recommended one first),
the first is used.

In the regression each test adds ``implied ~ Normal(incremental_outcome, se)``, where
``implied`` is what removing the campaign's adstocked media on the window's days takes
from the channel's modelled response (linear model: ``beta_k * sum x_k``; saturating
model: ``sum_t f(P_t) - f(P_t - p_{k,t})`` with ``f`` the channel's Hill curve).
Carryover after the window is not counted, so tests should cover their cool-down.

Examples
--------
>>> frame = pd.DataFrame({"channel": ["social"], "campaign": ["c1"], "start": ["2024-03-04"],
...                       "end": ["2024-03-31"], "incremental_outcome": [1200.0], "se": [200.0]})
>>> read_campaign_lifts(frame)[["campaign", "se"]].to_dict("records")
[{'campaign': 'c1', 'se': 200.0}]
"""

from __future__ import annotations

import warnings
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from mixlens.errors import DataError
from mixlens.ima.geo_regression import GeoChannelDesign, GeoLift
from mixlens.ima.regression import CampaignLift, ChannelDesign
from mixlens.mmm.calibration import GEO_SEPARATOR, read_lift_tests

__all__ = [
    "CampaignLift",
    "GeoLift",
    "align_geo_lifts",
    "align_lifts",
    "read_campaign_lifts",
    "warn_lifts_with_advi",
]

_SEP = "\x1f"


def read_campaign_lifts(source: str | Path | pd.DataFrame, *, geo: bool = False) -> pd.DataFrame:
    """Read campaign lift tests: ``channel, campaign, start, end, incremental_outcome, se``.

    Parameters
    ----------
    source
        A ``lift_tests.csv``-format file (CSV or Parquet) or frame with a ``campaign``
        column.
    geo
        For geo-level IMA: keep the optional ``geo`` column (the geos the test ran in,
        comma-separated; ``""``: every geo); without it a row with a geo is an error.

    Returns
    -------
    pandas.DataFrame
        One row per campaign and window (``start``/``end`` timestamps) with ``row``, the
        1-based input row (and ``geo`` with ``geo=True``); empty if no row names a
        campaign.

    Raises
    ------
    DataError
        If the table has no ``campaign`` column or a row is invalid (naming file, column
        and row, as :func:`mixlens.mmm.calibration.read_lift_tests` does).
    """
    name = None if isinstance(source, pd.DataFrame) else str(source)
    if isinstance(source, pd.DataFrame):
        raw = source.copy()
    else:
        path = Path(source)
        if not path.exists():
            raise DataError("lift-test file not found", file=name)
        try:
            raw = pd.read_parquet(path) if path.suffix == ".parquet" else pd.read_csv(path)
        except (ValueError, OSError) as err:
            raise DataError(f"cannot read lift tests: {err}", file=name) from err
    if "campaign" not in raw.columns:
        raise DataError(
            "IMA uses campaign lift tests: add a 'campaign' column (channel-level tests "
            "calibrate the MMM: mixlens mmm fit --lift-tests)",
            file=name,
            column="campaign",
        )
    campaign = raw["campaign"]
    named = campaign.notna() & (campaign.astype(str).str.strip() != "")
    # Keep input row numbers: validate every row, then drop the channel-level ones.
    keyed = raw.assign(
        channel=raw["channel"].astype(str) + _SEP + campaign.where(named, "").astype(str)
    )
    try:
        tests = read_lift_tests(keyed, geo=geo)
    except DataError as err:
        raise (err.with_file(name) if name is not None else err) from None
    if name is not None:
        tests.attrs["source"] = name
    parts = tests["channel"].str.split(_SEP, n=1, expand=True)
    tests = tests.assign(channel=parts[0], campaign=parts[1])
    tests = tests[tests["campaign"] != ""].reset_index(drop=True)
    cols = ["channel", "campaign", "start", "end", "incremental_outcome", "se", "row"]
    return tests[[*cols, "geo"] if geo else cols]


def warn_lifts_with_advi(alternative: str) -> None:
    """Warn that mean-field ADVI barely uses lift tests; ``alternative``: what to use."""
    warnings.warn(
        "campaign lift tests with mean-field ADVI: it barely moves along the ridge of "
        f"campaigns flighted together, where lift tests matter most; use {alternative} "
        "to let the tests separate them",
        UserWarning,
        stacklevel=3,
    )


def _place(
    test: Mapping[Any, Any],
    campaigns: Mapping[str, tuple[str, ...]],
    days: pd.DatetimeIndex,
    file: str | None,
) -> tuple[int, int, int]:
    """Check a test's channel, campaign and window; return (campaign column, first, last day)."""
    row = int(test["row"])
    names = campaigns.get(str(test["channel"]))
    if names is None:
        raise DataError(
            f"channel {test['channel']!r} has no campaigns in the campaign table",
            file=file,
            column="channel",
            row=row,
        )
    if test["campaign"] not in names:
        raise DataError(
            f"campaign {test['campaign']!r} is not a campaign of {test['channel']!r}",
            file=file,
            column="campaign",
            row=row,
        )
    inside = np.flatnonzero((days >= test["start"]) & (days <= test["end"]))
    if inside.size == 0:
        raise DataError(
            f"window {test['start'].date()} .. {test['end'].date()} is outside the data "
            f"({days[0].date()} .. {days[-1].date()})",
            file=file,
            column="start",
            row=row,
        )
    return names.index(str(test["campaign"])), int(inside[0]), int(inside[-1])


def align_lifts(
    tests: pd.DataFrame,
    designs: Sequence[ChannelDesign],
    days: pd.DatetimeIndex,
    *,
    file: str | None = None,
) -> list[CampaignLift]:
    """Place campaign lift tests on the regression's channels, campaigns and days.

    Parameters
    ----------
    tests
        From :func:`read_campaign_lifts`.
    designs
        The channels' regression data.
    days
        The regression's days (one per row of every design).
    file
        The tests' file name, for errors.

    Returns
    -------
    list of CampaignLift
        One per test.

    Raises
    ------
    DataError
        If a test names an unknown channel or campaign, or its window misses the days.
    """
    campaigns = {d.channel: d.campaigns for d in designs}
    out = []
    for test in tests.to_dict("records"):
        column, first, last = _place(test, campaigns, days, file)
        out.append(
            CampaignLift(
                channel=str(test["channel"]),
                column=column,
                first=first,
                last=last,
                value=float(test["incremental_outcome"]),
                se=float(test["se"]),
            )
        )
    return out


def align_geo_lifts(
    tests: pd.DataFrame,
    designs: Sequence[GeoChannelDesign],
    days: pd.DatetimeIndex,
    *,
    file: str | None = None,
) -> list[GeoLift]:
    """Place campaign lift tests on the geo regression's channels, campaigns, geos and days.

    Parameters
    ----------
    tests
        From :func:`read_campaign_lifts` with ``geo=True``: a test's ``geo`` lists the
        geos it ran in (comma-separated; ``""``: every geo with the channel's campaigns),
        its outcome is their sum.
    designs
        The channels' geo regression data.
    days
        The regression's days.
    file
        The tests' file name, for errors.

    Returns
    -------
    list of GeoLift
        One per test.

    Raises
    ------
    DataError
        If a test names an unknown channel, campaign or geo, or its window misses the days.
    """
    index = {gd.channel: c for c, gd in enumerate(designs)}
    campaigns = {gd.channel: gd.campaigns for gd in designs}
    out = []
    for test in tests.to_dict("records"):
        column, first, last = _place(test, campaigns, days, file)
        c = index[str(test["channel"])]
        gd = designs[c]
        cell = str(test.get("geo") or "")
        names = [g.strip() for g in cell.split(GEO_SEPARATOR)] if cell else list(gd.geos)
        unknown = [g for g in names if g not in gd.geos]
        if unknown:
            raise DataError(
                f"geo {unknown[0]!r} has no campaigns of {gd.channel!r} (geos: "
                f"{', '.join(gd.geos)})",
                file=file,
                column="geo",
                row=int(test["row"]),
            )
        out.append(
            GeoLift(
                channel=c,
                column=column,
                geos=tuple(sorted({gd.geos.index(g) for g in names})),
                first=first,
                last=last,
                value=float(test["incremental_outcome"]),
                se=float(test["se"]),
            )
        )
    return out
