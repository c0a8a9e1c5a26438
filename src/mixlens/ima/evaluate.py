"""IMA against campaign-level truth, beside naive baselines.

* **spend share**: each channel's contribution split by the campaigns' share of its spend
  (:func:`spend_share_baseline`);
* **media share**: split by the campaigns' share of the channel's adstocked media over the
  window, in the units IMA regresses on (impressions by default;
  :func:`media_share_baseline`). This is IMA's own prior centre (one effectiveness shared
  by the channel's campaigns), so it is the bar IMA's regression has to clear to show
  that the MMM's weekly contributions told it anything about the campaigns;
* **NNLS**: unregularised non-negative least squares of the daily channel contribution on
  the same adstocked campaign media, reconciled with the same rule as IMA
  (:func:`nnls_baseline`).

:func:`score_campaigns` compares campaign totals per channel: Spearman rank correlation,
the total absolute error relative to the channel's true total
(``sum_k |est_k - true_k| / sum_k true_k``) and, separating IMA's own job (the split of a
channel over its campaigns) from the channel total it is given (the MMM's, which IMA
conserves and cannot correct), the error of the campaigns' *shares* of the channel:
``share_error = sum_k |est_k / sum est - true_k / sum true| / 2`` (the mass on the wrong
campaigns, in ``[0, 1]``) and ``split_error``, the total error after rescaling the
estimates to the true channel total (``2 * share_error``, on ``total_error``'s scale).
With the true channel total, ``total_error`` and ``split_error`` differ only by the
unattributed row.

:func:`score_split` judges the *intervals* on the same footing: IMA's interval of a
campaign's total mixes its own uncertainty about the split with the MMM's about the
channel total (which IMA conserves and cannot correct), so it scores each campaign's
share of its channel instead. Draw by draw, a campaign's share is its draw over the sum
of the channel's campaigns in that draw (:func:`campaign_shares`; the ``unattributed``
row is left out, as in :func:`share_error`), and the central ``ci`` interval of the
share draws is compared with the true share.

The same scores inside campaign families: :mod:`mixlens.ima.families`.
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np
import pandas as pd
from numpy.typing import NDArray
from scipy.optimize import nnls
from scipy.stats import spearmanr

from mixlens.ima.regression import ChannelDesign, ReconcileRule, reconcile
from mixlens.ima.results import UNATTRIBUTED

__all__ = [
    "SPLIT_COLUMNS",
    "campaign_shares",
    "media_share_baseline",
    "nnls_baseline",
    "rank_correlation",
    "score_campaigns",
    "score_split",
    "share_error",
    "share_interval_scores",
    "spend_share_baseline",
]

FloatArray = NDArray[np.float64]


def rank_correlation(a: FloatArray, b: FloatArray) -> float:
    """Spearman rank correlation; NaN when either side is constant or has < 2 values.

    Examples
    --------
    >>> rank_correlation(np.array([1.0, 2.0, 3.0]), np.array([10.0, 30.0, 20.0]))
    0.5
    """
    if a.size < 2 or np.ptp(a) == 0 or np.ptp(b) == 0:
        return float("nan")
    return float(spearmanr(a, b).statistic)


def share_error(estimate: FloatArray, truth: FloatArray) -> float:
    """Half the L1 distance between estimated and true campaign shares of their sums.

    The share of the channel credited to the wrong campaigns, in ``[0, 1]``, whatever the
    level of the estimates (``1`` when the estimates are all zero and the truth is not;
    NaN when the truth sums to zero).

    Examples
    --------
    >>> share_error(np.array([2.0, 2.0]), np.array([1.0, 3.0]))
    0.25
    >>> share_error(np.array([10.0, 30.0]), np.array([1.0, 3.0]))
    0.0
    """
    t_sum, e_sum = float(truth.sum()), float(estimate.sum())
    if t_sum <= 0:
        return float("nan")
    if e_sum <= 0:
        return 1.0
    return float(np.abs(estimate / e_sum - truth / t_sum).sum()) / 2


def spend_share_baseline(campaigns: pd.DataFrame) -> pd.DataFrame:
    """Split each channel's total by campaign spend share.

    Parameters
    ----------
    campaigns
        ``channel, campaign, spend, contribution_mean`` (as :meth:`IMAResult.campaigns`);
        ``unattributed`` rows count toward the channel total.

    Returns
    -------
    pandas.DataFrame
        ``channel, campaign, contribution`` without ``unattributed`` rows.

    Examples
    --------
    >>> c = pd.DataFrame({"channel": ["a", "a", "a"], "campaign": ["x", "y", UNATTRIBUTED],
    ...                   "spend": [1.0, 3.0, 0.0], "contribution_mean": [5.0, 4.0, 3.0]})
    >>> spend_share_baseline(c)["contribution"].tolist()
    [3.0, 9.0]
    """
    total = campaigns.groupby("channel", sort=False)["contribution_mean"].transform("sum")
    named = campaigns["campaign"] != UNATTRIBUTED
    spend = campaigns["spend"].where(named, 0.0)
    spend_total = spend.groupby(campaigns["channel"]).transform("sum")
    share = np.where(spend_total > 0, spend / spend_total.where(spend_total > 0, 1.0), 0.0)
    out = campaigns.loc[named, ["channel", "campaign"]].copy()
    out["contribution"] = (share * total)[named.to_numpy()]
    return out.reset_index(drop=True)


def media_share_baseline(campaigns: pd.DataFrame, designs: list[ChannelDesign]) -> pd.DataFrame:
    """Split each channel's total by its campaigns' share of their adstocked media.

    Parameters
    ----------
    campaigns
        ``channel, campaign, contribution_mean`` (as :meth:`IMAResult.campaigns`); the
        channel total is the sum over its rows, ``unattributed`` included.
    designs
        The channels' regression designs (:func:`mixlens.ima.fit.prepare_inputs`): each
        campaign's adstocked daily media over the window, ``x`` of shape
        ``(n_days, n_campaigns)``.

    Returns
    -------
    pandas.DataFrame
        ``channel, campaign, contribution`` for the designs' campaigns (zero for a
        channel whose media sum to zero).

    Examples
    --------
    >>> d = ChannelDesign("a", ("x", "y"), np.ones(2), np.array([[1.0, 0.0], [1.0, 2.0]]))
    >>> c = pd.DataFrame({"channel": ["a", "a"], "campaign": ["x", UNATTRIBUTED],
    ...                   "contribution_mean": [6.0, 2.0]})
    >>> media_share_baseline(c, [d])["contribution"].tolist()
    [4.0, 4.0]
    """
    totals = campaigns.groupby("channel", sort=False)["contribution_mean"].sum()
    frames = []
    for d in designs:
        media = d.x.sum(axis=0)
        media_total = float(media.sum())
        share = media / media_total if media_total > 0 else np.zeros_like(media)
        total = float(totals.get(d.channel, 0.0))
        frames.append(
            pd.DataFrame(
                {"channel": d.channel, "campaign": list(d.campaigns), "contribution": share * total}
            )
        )
    return pd.concat(frames, ignore_index=True)


def nnls_baseline(designs: list[ChannelDesign], *, rule: ReconcileRule = "cap") -> pd.DataFrame:
    """Unregularised NNLS of each channel's daily contribution on its campaigns' media.

    Fits ``y_t ~ alpha + sum_k beta_k x_{k,t}`` with ``alpha, beta >= 0`` by
    :func:`scipy.optimize.nnls`, then reconciles ``beta_k x_{k,t}`` with the channel as
    IMA does.

    Returns
    -------
    pandas.DataFrame
        ``channel, campaign, contribution``: totals over the window, target units.
    """
    frames = []
    for d in designs:
        scale = d.x.max(axis=0)
        scale = np.where(scale > 0, scale, 1.0)
        a = np.concatenate([np.ones((d.y.size, 1)), d.x / scale], axis=1)
        coef, _ = nnls(a, d.y, maxiter=50 * a.shape[1])
        parts = d.x * (coef[1:] / scale)[None, :]
        scaled, _ = reconcile(d.y, parts, rule=rule, intercept=coef[0])
        frames.append(
            pd.DataFrame(
                {"channel": d.channel, "campaign": list(d.campaigns), "contribution": scaled.sum(0)}
            )
        )
    return pd.concat(frames, ignore_index=True)


def score_campaigns(
    estimates: Mapping[str, pd.DataFrame],
    truth: pd.DataFrame,
    spend: pd.DataFrame | None = None,
) -> pd.DataFrame:
    """Score campaign totals per channel against the truth.

    Parameters
    ----------
    estimates
        Method name -> ``channel, campaign, contribution`` (campaign totals;
        ``unattributed`` rows are ignored).
    truth
        ``channel, campaign, contribution``: true totals (or daily rows, summed here).
    spend
        ``channel, campaign, spend`` (e.g. :meth:`IMAResult.campaigns`): adds the scores
        of campaign ROI (contribution / spend) over the campaigns with spend:
        ``roi_spearman``, its rank correlation with the true ROI (which campaign is the
        most efficient: what a budget moves on; NaN when the estimated ROI is the same
        for every campaign, as spend share's is), and ``roi_error``, the median relative
        error of campaign ROI after rescaling the estimates to the true channel total
        (the split's error, free of the channel total, as ``split_error``).

    Returns
    -------
    pandas.DataFrame
        ``method, channel, n_campaigns, spearman, total_error, share_error,
        split_error`` where ``total_error`` is ``sum_k |est_k - true_k| / sum_k true_k``
        over the channel's campaigns, ``share_error`` the error of their shares
        (:func:`share_error`) and ``split_error = 2 * share_error`` the total error
        after rescaling the estimates to the true channel total.

    Examples
    --------
    >>> t = pd.DataFrame({"channel": "a", "campaign": ["x", "y"], "contribution": [1.0, 3.0]})
    >>> e = pd.DataFrame({"channel": "a", "campaign": ["x", "y"], "contribution": [2.0, 2.0]})
    >>> cols = ["spearman", "total_error", "share_error", "split_error"]
    >>> score_campaigns({"m": e}, t)[cols].values.tolist()
    [[nan, 0.5, 0.25, 0.5]]
    >>> s = pd.DataFrame({"channel": "a", "campaign": ["x", "y"], "spend": [1.0, 1.0]})
    >>> score_campaigns({"m": e}, t, s)[["roi_spearman", "roi_error"]].values.tolist()
    [[nan, 0.6666666666666666]]
    """
    true = truth.groupby(["channel", "campaign"], sort=False)["contribution"].sum()
    cost = (
        None
        if spend is None
        else spend[spend["campaign"] != UNATTRIBUTED]
        .groupby(["channel", "campaign"], sort=False)["spend"]
        .sum()
    )
    rows = []
    for method, est in estimates.items():
        est = est[est["campaign"] != UNATTRIBUTED]
        keep = true.index.get_level_values("channel").isin(set(est["channel"]))
        merged = (
            est.groupby(["channel", "campaign"], sort=False)["contribution"]
            .sum()
            .rename("est")
            .to_frame()
            .join(true[keep].rename("true"), how="outer")
            .fillna(0.0)
            .reset_index()
        )
        for channel, part in merged.groupby("channel", sort=False):
            e = part["est"].to_numpy(dtype=np.float64)
            t = part["true"].to_numpy(dtype=np.float64)
            denom = float(np.abs(t).sum())
            err = float(np.abs(e - t).sum()) / denom if denom > 0 else float("nan")
            shares = share_error(e, t)
            row = [method, str(channel), len(part), rank_correlation(e, t), err, shares]
            row.append(2 * shares)
            if cost is not None:
                s_k = pd.MultiIndex.from_frame(part[["channel", "campaign"]])
                paid = cost.reindex(s_k).fillna(0.0).to_numpy(dtype=np.float64)
                row += list(_roi_scores(e, t, paid))
            rows.append(tuple(row))
    columns = ["method", "channel", "n_campaigns", "spearman", "total_error", "share_error"]
    columns.append("split_error")
    if cost is not None:
        columns += ["roi_spearman", "roi_error"]
    return pd.DataFrame(rows, columns=columns)


def _roi_scores(est: FloatArray, true: FloatArray, spend: FloatArray) -> tuple[float, float]:
    """ROI rank correlation and median relative ROI error of the rescaled split."""
    paid = spend > 0
    if not paid.any() or est.sum() <= 0 or true.sum() <= 0:
        return float("nan"), float("nan")
    rescaled = est * (true.sum() / est.sum())
    roi = est[paid] / spend[paid]
    # The same ROI for every campaign up to rounding (spend share) ranks nothing.
    flat = np.ptp(roi) <= 1e-9 * float(np.abs(roi).max())
    rank = float("nan") if flat else rank_correlation(roi, true[paid] / spend[paid])
    positive = paid & (true > 0)
    rel = np.abs(rescaled[positive] - true[positive]) / true[positive]
    return rank, float(np.median(rel)) if rel.size else float("nan")


def campaign_shares(draws: FloatArray) -> FloatArray:
    """Each draw's campaign totals as shares of their sum in that draw.

    Parameters
    ----------
    draws
        Campaign totals of one channel, shape ``(n_draws, n_campaigns)``.

    Returns
    -------
    numpy.ndarray
        Same shape; every row sums to one, or is NaN where the draw's campaigns sum to
        zero or less (no split to speak of).

    Examples
    --------
    >>> campaign_shares(np.array([[1.0, 3.0], [2.0, 2.0], [0.0, 0.0]])).tolist()
    [[0.25, 0.75], [0.5, 0.5], [nan, nan]]
    """
    values = np.asarray(draws, dtype=np.float64)
    total = values.sum(axis=-1, keepdims=True)
    positive = total > 0
    out: FloatArray = np.where(positive, values / np.where(positive, total, 1.0), np.nan)
    return out


#: Columns of :func:`share_interval_scores`' scores in the tables of :func:`score_split`.
SPLIT_COLUMNS = ("split_coverage", "split_rel_width", "split_abs_z")


def score_split(
    rows: pd.DataFrame, draws: FloatArray, truth: pd.DataFrame, *, ci: float = 0.9
) -> pd.DataFrame:
    """Score the intervals of the campaigns' shares of their channel against the truth.

    Parameters
    ----------
    rows
        ``channel, campaign``: what each column of ``draws`` is (as
        :attr:`IMAResult.rows <mixlens.ima.results.IMAResult.rows>`); ``unattributed``
        columns are left out.
    draws
        Campaign totals per draw, shape ``(n_draws, len(rows))`` (as
        :attr:`IMAResult.total_draws <mixlens.ima.results.IMAResult.total_draws>`).
    truth
        ``channel, campaign, contribution``: true totals (or daily rows, summed here).
        A campaign's true share is its total over the channel's true total (every true
        campaign of the channel; a campaign absent from the truth has share zero).
    ci
        Mass of the central interval of the share draws, in ``(0, 1)``.

    Returns
    -------
    pandas.DataFrame
        ``channel, n_campaigns, split_coverage, split_rel_width, split_abs_z`` per
        channel of ``rows``: the share of campaigns whose true share lies inside the
        central ``ci`` interval of their share draws (up to ``1e-12``; draws whose
        campaigns sum to zero or less are dropped), the median interval width over the
        true share (campaigns with a positive true share), and the median
        ``|mean - true| / sd`` of the share draws (campaigns with a positive sd). NaN
        where nothing qualifies.

    Raises
    ------
    ValueError
        If ``draws`` does not have one column per row, or ``ci`` is not in ``(0, 1)``.

    Examples
    --------
    >>> rows = pd.DataFrame({"channel": "a", "campaign": ["x", "y", UNATTRIBUTED]})
    >>> draws = np.array([[1.0, 3.0, 5.0], [2.0, 2.0, 0.0], [1.5, 2.5, 1.0]])
    >>> t = pd.DataFrame({"channel": "a", "campaign": ["x", "y"], "contribution": [3.0, 7.0]})
    >>> s = score_split(rows, draws, t, ci=0.9)
    >>> s[["channel", "n_campaigns", "split_coverage"]].values.tolist()
    [['a', 2, 1.0]]
    >>> round(float(s["split_rel_width"].iloc[0]), 4)  # median of 0.225 / 0.3, 0.225 / 0.7
    0.5357
    >>> score_split(rows, draws, t, ci=0.5)["split_coverage"].tolist()
    [0.0]
    """
    values = np.asarray(draws, dtype=np.float64)
    if values.ndim != 2 or values.shape[1] != len(rows):
        raise ValueError(f"draws must have shape (n_draws, {len(rows)}), got {values.shape}")
    if not 0 < ci < 1:
        raise ValueError(f"ci must lie in (0, 1), got {ci}")
    true = truth.groupby(["channel", "campaign"], sort=False)["contribution"].sum()
    channel_total = true.groupby(level="channel", sort=False).sum()
    names = rows["campaign"].astype(str).to_numpy()
    channels = rows["channel"].astype(str).to_numpy()
    out = []
    for channel in dict.fromkeys(channels):
        cols = np.flatnonzero((channels == channel) & (names != UNATTRIBUTED))
        if cols.size == 0:
            continue
        shares = campaign_shares(values[:, cols])
        shares = shares[np.isfinite(shares).all(axis=1)]
        denom = float(channel_total.get(channel, 0.0))
        t = np.array([float(true.get((channel, n), 0.0)) for n in names[cols]])
        t = t / denom if denom > 0 else np.full(cols.size, np.nan)
        out.append((channel, cols.size, *share_interval_scores(shares, t, ci)))
    return pd.DataFrame(out, columns=["channel", "n_campaigns", *SPLIT_COLUMNS])


def share_interval_scores(
    shares: FloatArray, true: FloatArray, ci: float
) -> tuple[float, float, float]:
    """Coverage, median relative width and median |z| of share draws against true shares.

    ``shares`` has shape ``(n_draws, n)`` with finite rows; ``true`` shape ``(n,)``; ``ci``
    the central interval's mass. NaN where there are no draws or the truth is not finite.
    """
    nan = float("nan")
    if shares.shape[0] == 0 or not np.isfinite(true).all():
        return nan, nan, nan
    lo, hi = np.quantile(shares, [(1 - ci) / 2, (1 + ci) / 2], axis=0)
    mean, sd = shares.mean(axis=0), shares.std(axis=0)
    # Shares lie in [0, 1]: an absolute tolerance absorbs the rounding of the ratios.
    inside = (true >= lo - 1e-12) & (true <= hi + 1e-12)
    pos, spread = true > 0, sd > 0
    width = (hi - lo)[pos] / true[pos]
    z = np.abs(mean - true)[spread] / sd[spread]
    return (
        float(inside.mean()),
        float(np.median(width)) if width.size else nan,
        float(np.median(z)) if z.size else nan,
    )
