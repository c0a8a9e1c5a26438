"""Held-out discrimination and calibration of a probability model (numpy only).

Examples
--------
>>> import numpy as np
>>> out = discrimination(np.array([0.1, 0.4, 0.35, 0.8]), np.array([0.0, 0.0, 1.0, 1.0]), bins=2)
>>> out["auc"], round(out["log_loss"], 3), len(out["reliability"])
(0.75, 0.472, 2)
"""

from __future__ import annotations

from typing import Any

import numpy as np
import numpy.typing as npt

__all__ = ["auc", "discrimination", "log_loss", "reliability"]

FloatArray = npt.NDArray[np.float64]


def auc(p: npt.ArrayLike, y: npt.ArrayLike) -> float:
    """Area under the ROC curve by ranks (ties count one half); NaN with one class only.

    Examples
    --------
    >>> auc([0.1, 0.4, 0.35, 0.8], [0, 0, 1, 1])
    0.75
    """
    s = np.asarray(p, dtype=np.float64)
    yy = np.asarray(y, dtype=np.float64)
    n_pos = float(yy.sum())
    n_neg = float(yy.shape[0] - n_pos)
    if n_pos <= 0 or n_neg <= 0:
        return float("nan")
    order = np.argsort(s, kind="stable")
    uniq, inverse, counts = np.unique(s[order], return_inverse=True, return_counts=True)
    ends = np.cumsum(counts)
    mid_rank = ends - (counts - 1) / 2.0  # average 1-based rank of each tie group
    ranks = np.empty_like(s)
    ranks[order] = mid_rank[inverse]
    del uniq
    return float((ranks[yy == 1].sum() - n_pos * (n_pos + 1) / 2) / (n_pos * n_neg))


def log_loss(p: npt.ArrayLike, y: npt.ArrayLike, *, eps: float = 1e-7) -> float:
    """Mean negative log-likelihood of 0/1 outcomes (probabilities clipped to ``[eps, 1-eps]``)."""
    q = np.clip(np.asarray(p, dtype=np.float64), eps, 1 - eps)
    yy = np.asarray(y, dtype=np.float64)
    return float(-np.mean(yy * np.log(q) + (1 - yy) * np.log1p(-q)))


def reliability(p: npt.ArrayLike, y: npt.ArrayLike, *, bins: int = 10) -> list[dict[str, float]]:
    """Reliability curve: per equal-width bin of predicted probability, mean predicted vs observed.

    Returns one dict per non-empty bin: ``bin_lo, bin_hi, mean_predicted, observed_rate, count``.
    """
    q = np.asarray(p, dtype=np.float64)
    yy = np.asarray(y, dtype=np.float64)
    edges = np.linspace(0.0, 1.0, bins + 1)
    which = np.clip(np.searchsorted(edges, q, side="right") - 1, 0, bins - 1)
    out = []
    for b in range(bins):
        hit = which == b
        if hit.any():
            out.append(
                {
                    "bin_lo": float(edges[b]),
                    "bin_hi": float(edges[b + 1]),
                    "mean_predicted": float(q[hit].mean()),
                    "observed_rate": float(yy[hit].mean()),
                    "count": float(hit.sum()),
                }
            )
    return out


def discrimination(p: npt.ArrayLike, y: npt.ArrayLike, *, bins: int = 10) -> dict[str, Any]:
    """Return ``{"auc", "log_loss", "reliability"}`` of predictions ``p`` for outcomes ``y``."""
    return {
        "auc": auc(p, y),
        "log_loss": log_loss(p, y),
        "reliability": reliability(p, y, bins=bins),
    }
