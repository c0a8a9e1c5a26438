"""IMA's split inside campaign families, against the truth and beside baselines.

The simulator groups a channel's campaigns into families that share one flighting pattern
(:mod:`mixlens.data.simulate.flighting`), so their daily media move together and a
regression on them is near-collinear: the hard case for any split. :func:`score_families`
scores each method's split *inside* every family (each family's campaigns rescaled to its
true total, free of how much the method gave the family as a whole), beside how correlated
the family's daily media really are (:func:`family_correlations`);
:func:`summarise_families` averages them per channel and band of correlation, and
:func:`score_family_split` scores the intervals of each campaign's share of its family.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Literal

import numpy as np
import pandas as pd
from numpy.typing import NDArray

from mixlens.data.schemas import require_columns
from mixlens.errors import DataError
from mixlens.ima.evaluate import (
    SPLIT_COLUMNS,
    campaign_shares,
    rank_correlation,
    share_error,
    share_interval_scores,
)
from mixlens.ima.results import UNATTRIBUTED

__all__ = [
    "correlation_band",
    "family_correlations",
    "mean_pairwise_correlation",
    "score_families",
    "score_family_split",
    "summarise_families",
]

FloatArray = NDArray[np.float64]

_FAMILY_COLUMNS = (
    "method", "channel", "family", "n_campaigns", "mean_corr", "split_error", "spearman",
)  # fmt: skip

FamilyWeight = Literal["campaigns", "families"]


def mean_pairwise_correlation(x: FloatArray) -> float:
    """Mean Pearson correlation over the pairs of columns of ``x``.

    Parameters
    ----------
    x
        Daily series, shape ``(n_days, n_series)``.

    Returns
    -------
    float
        Mean over the ``n_series * (n_series - 1) / 2`` pairs of the correlation of their
        daily values, in ``[-1, 1]``; pairs with a constant series are left out; NaN when
        no pair is left.

    Examples
    --------
    >>> x = np.array([[1.0, 2.0, 1.0], [2.0, 4.0, 3.0], [3.0, 6.0, 2.0]])
    >>> round(mean_pairwise_correlation(x), 4)  # pairs: 1, 0.5, 0.5
    0.6667
    """
    values = np.asarray(x, dtype=np.float64)
    if values.ndim != 2:
        raise ValueError(f"x must have shape (n_days, n_series), got {values.shape}")
    centred = values - values.mean(axis=0)
    norm = np.sqrt((centred**2).sum(axis=0))
    ok = norm > 0
    if ok.sum() < 2:
        return float("nan")
    z = centred[:, ok] / norm[ok]
    corr = np.clip(z.T @ z, -1.0, 1.0)
    upper = np.triu_indices(corr.shape[0], k=1)
    return float(corr[upper].mean())


def _family_table(truth: pd.DataFrame) -> pd.DataFrame:
    """``channel, campaign, family, true`` per true campaign (totals), checked."""
    require_columns(truth, ("channel", "campaign", "family", "contribution"), file="truth")
    blank = truth["family"].isna().to_numpy()
    if blank.any():
        raise DataError(
            "campaign without a family", file="truth", column="family", row=int(blank.argmax()) + 1
        )
    keyed = truth.assign(
        channel=truth["channel"].astype(str),
        campaign=truth["campaign"].astype(str),
        family=truth["family"].astype(str),
    )
    families = keyed.groupby(["channel", "campaign"], sort=False)["family"].nunique()
    if (families > 1).any():
        channel, campaign = families[families > 1].index[0]
        raise DataError(
            f"campaign '{campaign}' of channel '{channel}' is in more than one family",
            file="truth",
            column="family",
        )
    return (
        keyed.groupby(["channel", "campaign", "family"], sort=False)["contribution"]
        .sum()
        .rename("true")
        .reset_index()
    )


def family_correlations(
    truth: pd.DataFrame, media: pd.DataFrame, *, column: str = "impressions"
) -> pd.DataFrame:
    """How correlated each family's campaigns really are: their daily media.

    Parameters
    ----------
    truth
        ``channel, campaign, family`` (e.g. the simulator's ``campaign_params``; other
        columns ignored).
    media
        Daily campaign media, long: ``date, channel, campaign`` and ``column`` (design.md's
        daily campaign media; days without a row count as zero). Every campaign of a
        family of two or more campaigns must have rows.
    column
        Media column to correlate (``impressions``: what IMA regresses on by default).

    Returns
    -------
    pandas.DataFrame
        ``channel, family, n_campaigns, mean_corr`` for families of at least two
        campaigns: the mean pairwise Pearson correlation of the campaigns' daily media
        over the calendar days from the table's first to its last date
        (:func:`mean_pairwise_correlation`).

    Raises
    ------
    DataError
        If a column is missing or a campaign of such a family has no media rows.

    Examples
    --------
    >>> t = pd.DataFrame({"channel": "a", "campaign": ["x", "y", "z"],
    ...                   "family": ["f", "f", "g"]})
    >>> m = pd.DataFrame({"date": ["2024-01-01", "2024-01-02", "2024-01-03"] * 2,
    ...                   "channel": "a", "campaign": ["x"] * 3 + ["y"] * 3,
    ...                   "impressions": [1.0, 2.0, 3.0, 2.0, 4.0, 7.0]})
    >>> family_correlations(t, m).round(4).values.tolist()
    [['a', 'f', 2, 0.9934]]
    """
    require_columns(truth, ("channel", "campaign", "family"), file="truth")
    require_columns(media, ("date", "channel", "campaign", column), file="media")
    dates = pd.to_datetime(media["date"])
    days = pd.date_range(dates.min(), dates.max(), freq="D") if len(media) else None
    keyed = media.assign(
        date=dates, channel=media["channel"].astype(str), campaign=media["campaign"].astype(str)
    )
    plan = truth[["channel", "campaign", "family"]].astype(str).drop_duplicates()
    rows = []
    for (channel, family), part in plan.groupby(["channel", "family"], sort=False):
        names = list(part["campaign"])
        if len(names) < 2:
            continue
        own = keyed[(keyed["channel"] == channel) & keyed["campaign"].isin(names)]
        missing = sorted(set(names) - set(own["campaign"]))
        if missing:
            raise DataError(
                f"no daily media for campaign '{missing[0]}' of channel '{channel}'",
                file="media",
                column="campaign",
            )
        wide = own.pivot_table(index="date", columns="campaign", values=column, aggfunc="sum")
        wide = wide.reindex(index=days, columns=names).fillna(0.0)
        corr = mean_pairwise_correlation(wide.to_numpy(dtype=np.float64))
        rows.append((str(channel), str(family), len(names), corr))
    return pd.DataFrame(rows, columns=["channel", "family", "n_campaigns", "mean_corr"])


def score_families(
    estimates: Mapping[str, pd.DataFrame],
    truth: pd.DataFrame,
    media: pd.DataFrame | None = None,
    *,
    column: str = "impressions",
) -> pd.DataFrame:
    """Score each method's split inside every campaign family against the truth.

    Parameters
    ----------
    estimates
        Method name -> ``channel, campaign, contribution``: campaign totals over the
        window, target units (``unattributed`` rows ignored; a true campaign without a row
        counts as zero). Only the channels an estimate has are scored.
    truth
        ``channel, campaign, family, contribution``: true campaign totals and families
        (e.g. the simulator's ``campaign_params``).
    media
        Daily campaign media (see :func:`family_correlations`) for ``mean_corr``; NaN
        there without it.
    column
        Media column of ``media`` to correlate.

    Returns
    -------
    pandas.DataFrame
        ``method, channel, family, n_campaigns, mean_corr, split_error, spearman``, one
        row per method and family of at least two campaigns: ``mean_corr`` the mean
        pairwise correlation of the family's daily media; ``split_error`` the total error
        of the family's campaigns after rescaling the method's to the family's true total
        (``sum_k |est_k / sum est - true_k / sum true|`` over the family, in ``[0, 2]``:
        ``2 * share_error``, zero for the truth and whatever the method gave the family
        as a whole; ``2`` where it gave the family nothing and NaN where the truth did);
        ``spearman`` the rank correlation of the family's campaign totals with the true
        ones (NaN where either side is constant).

    Raises
    ------
    DataError
        If a column is missing (``family`` included), or an estimate names a campaign
        the truth does not have.

    Examples
    --------
    >>> t = pd.DataFrame({"channel": "a", "campaign": ["x", "y", "z"],
    ...                   "family": ["f", "f", "g"], "contribution": [1.0, 3.0, 5.0]})
    >>> e = pd.DataFrame({"channel": "a", "campaign": ["x", "y", "z"],
    ...                   "contribution": [4.0, 4.0, 1.0]})
    >>> s = score_families({"m": e}, t)
    >>> s[["family", "n_campaigns", "split_error", "spearman"]].values.tolist()
    [['f', 2, 0.5, nan]]
    """
    true = _family_table(truth)
    corr: dict[tuple[str, str], float] = {}
    if media is not None:
        fc = family_correlations(true, media, column=column)
        corr = dict(
            zip(zip(fc["channel"], fc["family"], strict=True), fc["mean_corr"], strict=True)
        )
    known = pd.MultiIndex.from_frame(true[["channel", "campaign"]])
    rows = []
    for method, est in estimates.items():
        require_columns(est, ("channel", "campaign", "contribution"), file=f"estimate '{method}'")
        est = est.assign(channel=est["channel"].astype(str), campaign=est["campaign"].astype(str))
        est = est[est["campaign"] != UNATTRIBUTED]
        totals = est.groupby(["channel", "campaign"], sort=False)["contribution"].sum()
        unknown = ~totals.index.isin(known)
        if unknown.any():
            channel, campaign = totals.index[unknown][0]
            raise DataError(
                f"estimate '{method}': campaign '{campaign}' of channel '{channel}' is not "
                "in the truth",
                file=f"estimate '{method}'",
                column="campaign",
            )
        scored = true[true["channel"].isin(set(est["channel"]))]
        keys = pd.MultiIndex.from_frame(scored[["channel", "campaign"]])
        values = totals.reindex(keys).fillna(0.0).to_numpy(dtype=np.float64)
        scored = scored.assign(est=values)
        for (channel, family), part in scored.groupby(["channel", "family"], sort=False):
            if len(part) < 2:
                continue
            e = part["est"].to_numpy(dtype=np.float64)
            t = part["true"].to_numpy(dtype=np.float64)
            r = corr.get((str(channel), str(family)), float("nan"))
            rows.append(
                (method, channel, family, len(part), r, 2 * share_error(e, t),
                 rank_correlation(e, t))
            )  # fmt: skip
    return pd.DataFrame(rows, columns=list(_FAMILY_COLUMNS))


def _weighted_mean(values: pd.Series, weights: pd.Series) -> float:
    """Mean of the finite ``values`` with their ``weights``; NaN when none is finite."""
    ok = np.isfinite(values.to_numpy(dtype=np.float64))
    if not ok.any():
        return float("nan")
    return float(np.average(values[ok], weights=weights[ok]))


def _band_index(corr: float, edges: tuple[float, ...]) -> int:
    """Index of the band of ``corr`` (``0`` below the first edge); ``len(edges) + 1`` for NaN."""
    if not np.isfinite(corr):
        return len(edges) + 1
    return int(np.searchsorted(np.asarray(edges, dtype=np.float64), corr, side="right"))


def correlation_band(corr: float, edges: tuple[float, ...]) -> str:
    """Label of the band of ``corr`` between increasing ``edges`` (``'n/a'`` for NaN).

    Examples
    --------
    >>> [correlation_band(r, (0.5, 0.8)) for r in (0.2, 0.5, 0.9, float("nan"))]
    ['corr < 0.5', '0.5 <= corr < 0.8', 'corr >= 0.8', 'n/a']
    """
    i = _band_index(corr, edges)
    if i > len(edges):
        return "n/a"
    if not edges:
        return "any corr"
    if i == 0:
        return f"corr < {edges[0]:g}"
    if i == len(edges):
        return f"corr >= {edges[-1]:g}"
    return f"{edges[i - 1]:g} <= corr < {edges[i]:g}"


def summarise_families(
    scores: pd.DataFrame,
    *,
    edges: tuple[float, ...] = (0.8,),
    weight: FamilyWeight = "campaigns",
) -> pd.DataFrame:
    """Per method and channel: family scores averaged over the channel's families.

    Parameters
    ----------
    scores
        As :func:`score_families` returns.
    edges
        Strictly increasing correlation edges of the bands (``(0.8,)``: families whose
        ``mean_corr`` is at least 0.8 against the rest).
    weight
        ``campaigns``: each family weighted by its number of campaigns (a campaign-level
        mean of the families' errors); ``families``: plain mean over families.

    Returns
    -------
    pandas.DataFrame
        ``method, channel, band, n_families, n_campaigns, mean_corr, split_error,
        spearman``; band ``all`` (every family) first, then one row per band that has
        families, from the least to the most correlated (:func:`correlation_band`;
        ``n/a`` last). Each figure is the ``weight`` mean over the band's families with a
        finite value (NaN where none).

    Examples
    --------
    >>> s = pd.DataFrame({"method": "m", "channel": "a", "family": ["f", "g"],
    ...                   "n_campaigns": [2, 6], "mean_corr": [0.9, 0.1],
    ...                   "split_error": [0.4, 0.0], "spearman": [np.nan, 0.5]})
    >>> summarise_families(s)[["band", "n_campaigns", "split_error", "spearman"]].values.tolist()
    [['all', 8, 0.1, 0.5], ['corr < 0.8', 6, 0.0, 0.5], ['corr >= 0.8', 2, 0.4, nan]]
    >>> summarise_families(s, weight="families")["split_error"].tolist()
    [0.2, 0.0, 0.4]
    """
    if weight not in ("campaigns", "families"):
        raise ValueError(f"weight must be 'campaigns' or 'families', got {weight!r}")
    if list(edges) != sorted(set(edges)):
        raise ValueError(f"edges must be strictly increasing, got {edges}")
    band = np.array([_band_index(float(r), edges) for r in scores["mean_corr"]], dtype=int)
    frame = scores.assign(_band=band)
    rows = []
    for (method, channel), part in frame.groupby(["method", "channel"], sort=False):
        groups = [("all", part)]
        if edges:
            groups += [
                (correlation_band(float(sub["mean_corr"].iloc[0]), edges), sub)
                for _, sub in part.groupby("_band", sort=True)
            ]
        for label, sub in groups:
            n = sub["n_campaigns"].astype(np.float64)
            w = n if weight == "campaigns" else pd.Series(1.0, index=sub.index)
            rows.append(
                (method, channel, label, len(sub), int(n.sum()),
                 _weighted_mean(sub["mean_corr"], w), _weighted_mean(sub["split_error"], w),
                 _weighted_mean(sub["spearman"], w))
            )  # fmt: skip
    columns = ["method", "channel", "band", "n_families", "n_campaigns", "mean_corr"]
    return pd.DataFrame(rows, columns=[*columns, "split_error", "spearman"])


def score_family_split(
    rows: pd.DataFrame, draws: FloatArray, truth: pd.DataFrame, *, ci: float = 0.9
) -> pd.DataFrame:
    """Score the intervals of campaigns' shares of their *family* against the truth.

    As :func:`score_split`, one family at a time: draw by draw, a campaign's share is its
    total over the sum of its family's campaigns in that draw, and its true share its
    true total over the family's.

    Parameters
    ----------
    rows
        ``channel, campaign``: what each column of ``draws`` is (as
        :attr:`IMAResult.rows <mixlens.ima.results.IMAResult.rows>`); ``unattributed``
        columns are left out.
    draws
        Campaign totals per draw, shape ``(n_draws, len(rows))``, target units.
    truth
        ``channel, campaign, family, contribution`` (true totals and families).
    ci
        Mass of the central interval of the share draws, in ``(0, 1)``.

    Returns
    -------
    pandas.DataFrame
        ``channel, family, n_campaigns, split_coverage, split_rel_width, split_abs_z``
        per family with at least two campaigns among ``rows`` (see :func:`score_split`
        for the three figures; NaN where the family's true total is not positive).

    Raises
    ------
    DataError
        If ``truth`` lacks a column, or ``rows`` names a campaign it does not have.
    ValueError
        If ``draws`` does not have one column per row, or ``ci`` is not in ``(0, 1)``.

    Examples
    --------
    >>> rows = pd.DataFrame({"channel": "a", "campaign": ["x", "y", "z"]})
    >>> draws = np.array([[1.0, 3.0, 9.0], [2.0, 2.0, 0.0], [1.5, 2.5, 1.0]])
    >>> t = pd.DataFrame({"channel": "a", "campaign": ["x", "y", "z"],
    ...                   "family": ["f", "f", "g"], "contribution": [3.0, 7.0, 5.0]})
    >>> score_family_split(rows, draws, t)[["family", "split_coverage"]].values.tolist()
    [['f', 1.0]]
    """
    values = np.asarray(draws, dtype=np.float64)
    if values.ndim != 2 or values.shape[1] != len(rows):
        raise ValueError(f"draws must have shape (n_draws, {len(rows)}), got {values.shape}")
    if not 0 < ci < 1:
        raise ValueError(f"ci must lie in (0, 1), got {ci}")
    table = _family_table(truth)
    pairs = list(zip(table["channel"], table["campaign"], strict=True))
    family_of = dict(zip(pairs, table["family"], strict=True))
    true_of = dict(zip(pairs, table["true"].astype(np.float64), strict=True))
    keys = list(zip(rows["channel"].astype(str), rows["campaign"].astype(str), strict=True))
    named = [i for i, (_, c) in enumerate(keys) if c != UNATTRIBUTED]
    unknown = [keys[i] for i in named if keys[i] not in family_of]
    if unknown:
        raise DataError(
            f"campaign '{unknown[0][1]}' of channel '{unknown[0][0]}' is not in the truth",
            file="rows",
            column="campaign",
        )
    plan = pd.DataFrame(
        {
            "col": named,
            "channel": [keys[i][0] for i in named],
            "family": [family_of[keys[i]] for i in named],
            "true": [true_of[keys[i]] for i in named],
        }
    )
    out = []
    for (channel, family), part in plan.groupby(["channel", "family"], sort=False):
        if len(part) < 2:
            continue
        shares = campaign_shares(values[:, part["col"].to_numpy()])
        shares = shares[np.isfinite(shares).all(axis=1)]
        t = part["true"].to_numpy(dtype=np.float64)
        t = t / t.sum() if t.sum() > 0 else np.full(t.size, np.nan)
        out.append((channel, family, len(part), *share_interval_scores(shares, t, ci)))
    return pd.DataFrame(out, columns=["channel", "family", "n_campaigns", *SPLIT_COLUMNS])
