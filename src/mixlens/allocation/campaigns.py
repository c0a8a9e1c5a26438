"""Split each channel's recommended spend over its campaigns with IMA's campaign credit.

IMA's daily regression gives every campaign a linear effect per unit of media under the
channel's shared saturation, so a campaign's marginal return per currency is proportional
to its ROI (``roi_mean`` in ``campaigns.csv``). The split weights each campaign by its
current spend times that ROI (its ``contribution_mean``): budget moves towards campaigns
that return more per currency without extrapolating any campaign far beyond the spend it
was measured at. Campaigns without spend or with non-positive credit get nothing; a
channel whose campaigns all lack credit keeps its current spend split. The
``unattributed`` row is not a campaign and is skipped. Per channel the campaign spends
sum to the channel's recommended spend exactly.

Per-campaign bounds (:func:`read_campaign_bounds`, rows of the bounds file that name a
``campaign``) constrain the split: :func:`merge_campaign_bounds` turns them into channel
bounds the optimiser respects (a channel needs at least the sum of its campaigns' lower
bounds and, when every campaign has an upper bound, at most their sum), raising a
:class:`~mixlens.errors.DataError` that names the conflicting constraints; the split is then
the plan closest to the credit-weighted one inside the bounds (``clip(t * weight, lower,
upper)`` with ``t`` set so the campaigns sum to the channel).
"""

from __future__ import annotations

from collections.abc import Hashable, Mapping
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from mixlens.errors import DataError

__all__ = [
    "CampaignBounds",
    "merge_campaign_bounds",
    "read_campaign_bounds",
    "read_campaigns",
    "split_campaigns",
]

#: Bounds per ``(channel, campaign)``: ``(lower, upper)``, ``None`` for an open side.
CampaignBounds = Mapping[tuple[str, str], tuple[float | None, float | None]]

UNATTRIBUTED = "unattributed"
REQUIRED = ("channel", "campaign", "spend", "contribution_mean")


def read_campaigns(ima_dir: str | Path) -> pd.DataFrame:
    """Read ``campaigns.csv`` of a ``mixlens ima fit`` folder.

    Raises
    ------
    DataError
        If the file is missing or lacks a required column.
    """
    path = Path(ima_dir) / "campaigns.csv"
    if not path.exists():
        raise DataError("not an IMA output folder: campaigns.csv is missing", file=str(path))
    frame = pd.read_csv(path)
    for column in REQUIRED:
        if column not in frame.columns:
            raise DataError(f"missing column {column!r}", file=str(path), column=column)
    return frame


def split_campaigns(
    plan: pd.DataFrame, campaigns: pd.DataFrame, bounds: CampaignBounds | None = None
) -> pd.DataFrame:
    """Split each channel's ``recommended_spend`` over its campaigns.

    Parameters
    ----------
    plan
        ``allocation.csv``: ``channel, current_spend, recommended_spend, ...``.
    campaigns
        IMA's ``campaigns.csv``: ``channel, campaign, spend, contribution_mean[, roi_mean]``.
    bounds
        Optional per-campaign ``(lower, upper)`` spend over the horizon; the split is the
        closest to the credit-weighted one inside them.

    Raises
    ------
    DataError
        If a channel's recommended spend is outside the sum of its campaigns' bounds.

    Returns
    -------
    pandas.DataFrame
        ``channel, campaign, current_spend, recommended_spend, weight, roi_mean``; current
        spend is the campaign's share of the channel's current plan (IMA's window split).
        Channels without campaigns in IMA get one row named after the channel.

    Examples
    --------
    >>> plan = pd.DataFrame({"channel": ["tv"], "current_spend": [10.0],
    ...                      "recommended_spend": [20.0]})
    >>> camp = pd.DataFrame({"channel": ["tv", "tv"], "campaign": ["a", "b"],
    ...                      "spend": [5.0, 5.0], "contribution_mean": [15.0, 5.0]})
    >>> split_campaigns(plan, camp)["recommended_spend"].tolist()
    [15.0, 5.0]
    """
    rows = []
    camp = campaigns[campaigns["campaign"].astype(str) != UNATTRIBUTED]
    for record in plan.to_dict("records"):
        channel = str(record["channel"])
        part = camp[camp["channel"].astype(str) == channel]
        total = float(record["recommended_spend"])
        current = float(record["current_spend"])
        if part.empty:
            rows.append((channel, channel, current, total, 1.0, np.nan))
            continue
        spend = part["spend"].to_numpy(dtype=np.float64)
        credit = part["contribution_mean"].to_numpy(dtype=np.float64)
        weight = np.where(spend > 0, np.maximum(credit, 0.0), 0.0)
        if weight.sum() <= 0:
            weight = np.maximum(spend, 0.0)
        if weight.sum() <= 0:
            weight = np.ones(len(part))
        weight = weight / weight.sum()
        share = spend / spend.sum() if spend.sum() > 0 else np.full(len(part), 1 / len(part))
        roi = part["roi_mean"] if "roi_mean" in part.columns else pd.Series(np.nan, part.index)
        names = [str(n) for n in part["campaign"]]
        amounts = total * weight
        if bounds and any((channel, n) in bounds for n in names):
            amounts = _bounded_split(channel, names, weight, total, bounds)
        for name, w, s, a, r in zip(names, weight, share, amounts, roi, strict=True):
            rows.append((channel, name, current * s, float(a), float(w), float(r)))
    columns = ["channel", "campaign", "current_spend", "recommended_spend", "weight", "roi_mean"]
    out = pd.DataFrame(rows, columns=columns)
    if out.empty and not plan.empty:
        raise DataError("no campaigns to split")
    return out


def _sides(channel: str, names: list[str], bounds: CampaignBounds) -> tuple[np.ndarray, np.ndarray]:
    lower = np.array([bounds.get((channel, n), (None, None))[0] or 0.0 for n in names])
    upper = np.array(
        [np.inf if (b := bounds.get((channel, n), (None, None))[1]) is None else b for n in names]
    )
    return lower.astype(np.float64), upper.astype(np.float64)


def _bounded_split(
    channel: str, names: list[str], weight: np.ndarray, total: float, bounds: CampaignBounds
) -> np.ndarray:
    """``clip(t * weight, lower, upper)`` summing to ``total`` (bisection on ``t``)."""
    lower, upper = _sides(channel, names, bounds)
    if total < lower.sum() * (1 - 1e-9) - 1e-9 or total > upper.sum() * (1 + 1e-9) + 1e-9:
        raise DataError(
            f"channel {channel!r}: recommended spend {total:g} is outside its campaigns' "
            f"bounds (lower bounds sum to {lower.sum():g}, upper bounds to {upper.sum():g})"
        )
    # Campaigns without credit stay at their lower bound unless the others are all full;
    # then they share the rest equally (within their bounds).
    positive = weight > 0
    room_pos = float(np.where(positive, upper, lower).sum())
    w = np.asarray(weight, dtype=np.float64) if total <= room_pos else (~positive).astype(float)
    base = np.where(positive, upper, lower) if total > room_pos else lower
    active = w > 0
    lo_a, hi_a = np.where(active, lower, base), np.where(active, upper, base)
    a, b = 0.0, 1.0
    while np.clip(b * w, lo_a, hi_a).sum() < total and b < 1e300:
        b *= 2.0
    for _ in range(200):
        t = 0.5 * (a + b)
        if np.clip(t * w, lo_a, hi_a).sum() < total:
            a = t
        else:
            b = t
    out: np.ndarray = np.clip(0.5 * (a + b) * w, lo_a, hi_a)
    return out


def read_bound_sides(
    record: Mapping[Hashable, Any], *, file: str, row: int
) -> tuple[float | None, float | None]:
    """Lower and upper bound of one bounds-file row (currency; ``None`` where blank).

    Raises
    ------
    DataError
        Naming the file, column and row when a side is not a finite number >= 0.
    """
    sides: list[float | None] = []
    for column in ("lower", "upper"):
        value = record.get(column)
        if value is None or pd.isna(value):
            sides.append(None)
            continue
        try:
            number = float(value)
        except (TypeError, ValueError):
            raise DataError(f"not a number: {value!r}", file=file, column=column, row=row) from None
        if not np.isfinite(number) or number < 0:
            raise DataError(
                f"must be finite and >= 0: {value!r}", file=file, column=column, row=row
            )
        sides.append(number)
    return sides[0], sides[1]


def read_campaign_bounds(
    path: str | Path, campaigns: pd.DataFrame
) -> dict[tuple[str, str], tuple[float | None, float | None]]:
    """Read the campaign rows of a bounds file: ``channel, campaign`` and ``lower, upper``.

    Rows with a blank ``campaign`` are channel bounds (read by
    :func:`~mixlens.allocation.run.read_bounds`) and skipped here; amounts are currency
    over the planning horizon; blank cells leave that side open.

    Parameters
    ----------
    path
        The bounds CSV.
    campaigns
        IMA's ``campaigns.csv`` (the campaigns that exist).

    Returns
    -------
    dict
        ``{(channel, campaign): (lower, upper)}``; empty without a ``campaign`` column.

    Raises
    ------
    DataError
        On an unknown campaign, a bad number, a lower bound above its upper bound or a
        ``locked`` campaign (lock the channel instead).
    """
    file = str(path)
    frame = pd.read_csv(path)
    if "campaign" not in frame.columns:
        return {}
    known = {
        (str(c), str(k))
        for c, k in zip(campaigns["channel"], campaigns["campaign"], strict=True)
        if str(k) != UNATTRIBUTED
    }
    out: dict[tuple[str, str], tuple[float | None, float | None]] = {}
    for row, record in enumerate(frame.to_dict("records"), start=1):
        campaign = record.get("campaign")
        if campaign is None or pd.isna(campaign) or not str(campaign).strip():
            continue
        key = (str(record["channel"]), str(campaign).strip())
        if key not in known:
            raise DataError(
                f"unknown campaign {key[1]!r} of channel {key[0]!r} (not in IMA's campaigns.csv)",
                file=file,
                column="campaign",
                row=row,
            )
        flag = record.get("locked")
        if flag is not None and not pd.isna(flag) and str(flag).strip().lower() in {
            "1", "1.0", "true", "yes"
        }:  # fmt: skip
            raise DataError(
                "a campaign cannot be locked; give it lower = upper",
                file=file,
                column="locked",
                row=row,
            )
        sides = read_bound_sides(record, file=file, row=row)
        if sides[0] is not None and sides[1] is not None and sides[0] > sides[1]:
            raise DataError(
                f"campaign {key[1]!r} of channel {key[0]!r}: lower bound {sides[0]:g} exceeds "
                f"its upper bound {sides[1]:g}",
                file=file,
                row=row,
            )
        out[key] = (sides[0], sides[1])
    return out


def merge_campaign_bounds(
    channel_bounds: Mapping[str, tuple[float | None, float | None]] | None,
    campaign_bounds: CampaignBounds,
    campaigns: pd.DataFrame,
) -> dict[str, tuple[float | None, float | None]]:
    """Channel bounds implied by campaign bounds, merged with the channel's own.

    A channel's lower bound becomes the larger of its own and the sum of its campaigns'
    lower bounds; when every campaign of the channel has an upper bound, its upper bound
    becomes the smaller of its own and their sum.

    Raises
    ------
    DataError
        When the merged lower bound exceeds the merged upper bound, naming the constraints.

    Examples
    --------
    >>> camp = pd.DataFrame({"channel": ["tv", "tv"], "campaign": ["a", "b"]})
    >>> merge_campaign_bounds({"tv": (None, 100.0)}, {("tv", "a"): (30.0, None)}, camp)
    {'tv': (30.0, 100.0)}
    """
    merged = dict(channel_bounds or {})
    by_channel: dict[str, list[str]] = {}
    for c, k in zip(campaigns["channel"], campaigns["campaign"], strict=True):
        if str(k) != UNATTRIBUTED:
            by_channel.setdefault(str(c), []).append(str(k))
    for channel in sorted({c for c, _ in campaign_bounds}):
        names = by_channel.get(channel, [])
        lower, upper = _sides(channel, names, campaign_bounds)
        own_lo, own_hi = merged.get(channel, (None, None))
        lo = max(own_lo or 0.0, float(lower.sum()))
        hi_c = float(upper.sum())
        hi = own_hi if not np.isfinite(hi_c) else min(hi_c, np.inf if own_hi is None else own_hi)
        if hi is not None and lo > hi * (1 + 1e-12) + 1e-12:
            lows = ", ".join(f"{n} {v:g}" for n, v in zip(names, lower, strict=True) if v > 0)
            if own_hi is not None and own_hi < hi_c and lo == float(lower.sum()):
                why = f"the channel's upper bound {own_hi:g}"
            else:
                why = f"the sum of its campaigns' upper bounds {hi_c:g}"
            if own_lo is not None and own_lo > float(lower.sum()):
                what = f"the channel's lower bound {own_lo:g}"
            else:
                what = f"its campaigns' lower bounds ({lows}) sum to {float(lower.sum()):g}"
            raise DataError(f"channel {channel!r}: {what}, above {why}: infeasible bounds")
        merged[channel] = (lo if lo > 0 else own_lo, None if hi is None else float(hi))
    return merged
