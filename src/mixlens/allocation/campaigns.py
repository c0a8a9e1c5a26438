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
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from mixlens.errors import DataError

__all__ = ["read_campaigns", "split_campaigns"]

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


def split_campaigns(plan: pd.DataFrame, campaigns: pd.DataFrame) -> pd.DataFrame:
    """Split each channel's ``recommended_spend`` over its campaigns.

    Parameters
    ----------
    plan
        ``allocation.csv``: ``channel, current_spend, recommended_spend, ...``.
    campaigns
        IMA's ``campaigns.csv``: ``channel, campaign, spend, contribution_mean[, roi_mean]``.

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
        for name, w, s, r in zip(part["campaign"], weight, share, roi, strict=True):
            rows.append((channel, str(name), current * s, total * w, float(w), float(r)))
    columns = ["channel", "campaign", "current_spend", "recommended_spend", "weight", "roi_mean"]
    out = pd.DataFrame(rows, columns=columns)
    if out.empty and not plan.empty:
        raise DataError("no campaigns to split")
    return out
