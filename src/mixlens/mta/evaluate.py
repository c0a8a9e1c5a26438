"""Judge attribution against causal truth (the journey simulator's counterfactual re-runs)."""

from __future__ import annotations

import numpy as np
import pandas as pd
from scipy.stats import spearmanr

#: Channels with no causal effect by construction; their credit counts as baseline.
NON_CAUSAL = frozenset({"direct", "baseline"})


def accuracy_against_truth(attribution: pd.DataFrame, channel_truth: pd.DataFrame) -> pd.DataFrame:
    """Per-model accuracy of credit against the true incremental conversions.

    Parameters
    ----------
    attribution
        ``attribution.csv`` rows: ``model, channel, conversions`` (other columns ignored).
    channel_truth
        The simulator's ``channel, incremental_conversions, share`` per channel (a ``direct``
        row, if present, is non-causal and ignored).

    Returns
    -------
    pandas.DataFrame
        One row per model: ``share_error`` = sum over paid channels of ``|share - true share|``
        with model shares renormalised over paid channels; ``spearman`` rank correlation of
        the paid-channel credit with the truth; ``raw_count_error`` = (sum over paid channels of
        ``|credit - true incremental|`` + ``|non-causal credit - true baseline|``) / conversions,
        where the true baseline is the conversions not explained by paid channels' removal
        effects and non-causal credit is what a model gives to ``baseline`` and ``direct``;
        ``non_causal_share`` = that credit over all conversions.

    Examples
    --------
    >>> truth = pd.DataFrame({"channel": ["a", "b"], "incremental_conversions": [30.0, 10.0],
    ...                       "share": [0.75, 0.25]})
    >>> credit = pd.DataFrame({"model": ["m", "m", "m"], "channel": ["a", "b", "baseline"],
    ...                        "conversions": [30.0, 10.0, 60.0]})
    >>> accuracy_against_truth(credit, truth)[["share_error", "raw_count_error"]].to_numpy()
    array([[0., 0.]])
    """
    paid = channel_truth[~channel_truth["channel"].isin(NON_CAUSAL)]
    names = list(paid["channel"])
    true_share = paid["share"].to_numpy(dtype=np.float64)
    true_share = true_share / true_share.sum()
    true_incremental = paid["incremental_conversions"].to_numpy(dtype=np.float64)
    rows = []
    for model, frame in attribution.groupby("model", sort=False):
        credit = frame.groupby("channel")["conversions"].sum()
        total = float(credit.sum())
        paid_credit = credit.reindex(names, fill_value=0.0).to_numpy(dtype=np.float64)
        non_causal = float(credit[credit.index.isin(NON_CAUSAL)].sum())
        share = paid_credit / max(float(paid_credit.sum()), 1e-12)
        true_baseline = total - float(true_incremental.sum())
        raw = np.abs(paid_credit - true_incremental).sum() + abs(non_causal - true_baseline)
        rho = spearmanr(paid_credit, true_incremental).statistic if len(names) > 2 else np.nan
        rows.append(
            {
                "model": str(model),
                "share_error": float(np.abs(share - true_share).sum()),
                "spearman": float(rho),
                "raw_count_error": float(raw / max(total, 1e-12)),
                "non_causal_share": non_causal / max(total, 1e-12),
            }
        )
    return pd.DataFrame(rows)
