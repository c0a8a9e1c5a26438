"""IMA against campaign-level truth, beside two naive baselines.

* **spend share**: each channel's contribution split by the campaigns' share of its spend
  (:func:`spend_share_baseline`);
* **NNLS**: unregularised non-negative least squares of the daily channel contribution on
  the same adstocked campaign media, reconciled with the same rule as IMA
  (:func:`nnls_baseline`).

:func:`score_campaigns` compares campaign totals per channel: Spearman rank correlation
and the total absolute error relative to the channel's true total
(``sum_k |est_k - true_k| / sum_k true_k``).
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

__all__ = ["nnls_baseline", "rank_correlation", "score_campaigns", "spend_share_baseline"]

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


def score_campaigns(estimates: Mapping[str, pd.DataFrame], truth: pd.DataFrame) -> pd.DataFrame:
    """Score campaign totals per channel against the truth.

    Parameters
    ----------
    estimates
        Method name -> ``channel, campaign, contribution`` (campaign totals;
        ``unattributed`` rows are ignored).
    truth
        ``channel, campaign, contribution``: true totals (or daily rows, summed here).

    Returns
    -------
    pandas.DataFrame
        ``method, channel, n_campaigns, spearman, total_error`` where ``total_error`` is
        ``sum_k |est_k - true_k| / sum_k true_k`` over the channel's campaigns.

    Examples
    --------
    >>> t = pd.DataFrame({"channel": "a", "campaign": ["x", "y"], "contribution": [1.0, 3.0]})
    >>> e = pd.DataFrame({"channel": "a", "campaign": ["x", "y"], "contribution": [2.0, 2.0]})
    >>> score_campaigns({"m": e}, t)[["spearman", "total_error"]].values.tolist()
    [[nan, 0.5]]
    """
    true = truth.groupby(["channel", "campaign"], sort=False)["contribution"].sum()
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
            rows.append((method, str(channel), len(part), rank_correlation(e, t), err))
    return pd.DataFrame(
        rows, columns=["method", "channel", "n_campaigns", "spearman", "total_error"]
    )
