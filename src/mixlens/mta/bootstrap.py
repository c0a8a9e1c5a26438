"""Credit intervals by bootstrap over users.

Each replicate draws a Poisson(1) multiplicity per user (journeys from path tables, which
have no users, draw Poisson(weight) per row), reruns the model on the reweighted journeys, and
rescales its credit to the conversions and value observed, so the interval is about how the
credit is *split*. The hazard models refit the logistic regression on the reweighted
person-period rows (warm-started, at most ``refit_iterations`` L-BFGS-B steps), and the
incremental model also redraws each lift test from ``N(estimate, se)``. Intervals are the
2.5 % and 97.5 % quantiles over replicates.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import numpy.typing as npt
import pandas as pd

from mixlens.mta.hazard import HazardFit, fit_logistic
from mixlens.mta.journeys import JourneyTable
from mixlens.mta.result import AttributionResult

__all__ = ["INTERVAL_COLUMNS", "bootstrap_hazard", "bootstrap_journeys", "resample_journeys"]

INTERVAL_COLUMNS = ("conversions_lo", "conversions_hi", "value_lo", "value_hi")
"""Columns the bootstrap adds to ``attribution.csv`` after the design.md columns."""

FloatArray = npt.NDArray[np.float64]


def resample_journeys(journeys: JourneyTable, rng: np.random.Generator) -> JourneyTable:
    """Return one bootstrap replicate of the journeys (users drawn Poisson(1) times).

    Journeys whose replicate weight is 0 are dropped; value scales with the weight.
    """
    j = journeys.journeys
    weight = j["weight"].to_numpy(dtype=np.float64)
    users = j["user_id"].astype("str").to_numpy()
    if len(users) and bool((users != "").all()):
        codes, uniques = pd.factorize(users)
        mult = rng.poisson(1.0, size=len(uniques)).astype(np.float64)[codes]
        new_weight = weight * mult
    else:
        new_weight = rng.poisson(weight).astype(np.float64)
    keep = new_weight > 0
    ratio = np.where(weight > 0, new_weight / np.where(weight > 0, weight, 1.0), 0.0)
    new_id = np.cumsum(keep) - 1
    jj = j.loc[keep].copy()
    jj["weight"] = new_weight[keep]
    jj["value"] = (j["value"].to_numpy(dtype=np.float64) * ratio)[keep]
    jj["journey_id"] = np.arange(int(keep.sum()), dtype=np.int64)
    t = journeys.touches
    tj = t["journey_id"].to_numpy(dtype=np.int64)
    tk = keep[tj]
    tt = t.loc[tk].copy()
    tt["journey_id"] = new_id[tj[tk]]
    return JourneyTable(
        touches=tt.reset_index(drop=True),
        journeys=jj.reset_index(drop=True),
        has_timing=journeys.has_timing,
        meta=journeys.meta,
    )


def _quantiles(result: AttributionResult, draws: list[AttributionResult]) -> pd.DataFrame:
    """Intervals per row of ``result`` from replicate results, rescaled to its totals."""
    base = result.credit
    names = list(base["channel"])
    conv = np.zeros((len(draws), len(names)))
    val = np.zeros((len(draws), len(names)))
    for b, draw in enumerate(draws):
        frame = draw.credit.set_index("channel")
        c = frame["conversions"].reindex(names, fill_value=0.0).to_numpy(dtype=np.float64)
        v = frame["value"].reindex(names, fill_value=0.0).to_numpy(dtype=np.float64)
        conv[b] = c * (result.conversions / c.sum()) if c.sum() > 0 else 0.0
        val[b] = v * (result.value / v.sum()) if v.sum() > 0 else 0.0
    lo, hi = 2.5, 97.5
    return pd.DataFrame(
        {
            "model": result.model,
            "channel": pd.array(names, dtype="str"),
            "conversions_lo": np.percentile(conv, lo, axis=0),
            "conversions_hi": np.percentile(conv, hi, axis=0),
            "value_lo": np.percentile(val, lo, axis=0),
            "value_hi": np.percentile(val, hi, axis=0),
        }
    )


def bootstrap_journeys(
    result: AttributionResult,
    journeys: JourneyTable,
    run: Callable[[JourneyTable], AttributionResult],
    *,
    replicates: int,
    seed: int,
) -> pd.DataFrame:
    """Intervals of a journey model: rerun ``run`` on ``replicates`` resampled journeys.

    Returns
    -------
    pandas.DataFrame
        ``model, channel`` and :data:`INTERVAL_COLUMNS`, one row per row of ``result``.
    """
    rng = np.random.default_rng([seed, 7])
    draws = [run(resample_journeys(journeys, rng)) for _ in range(replicates)]
    return _quantiles(result, draws)


def bootstrap_hazard(
    result: AttributionResult,
    fit: HazardFit,
    credit: Callable[[FloatArray, npt.NDArray[np.int64], np.random.Generator], AttributionResult],
    *,
    replicates: int,
    seed: int,
    refit_iterations: int = 30,
) -> pd.DataFrame:
    """Intervals of a hazard-based model: refit on user-reweighted rows, recredit.

    ``credit(coef, rows, rng)`` returns the model's result for refitted coefficients and the
    resampled conversions (indices, with repetition).
    """
    rng = np.random.default_rng([seed, 11])
    x, y, w, user = fit.rows
    n_users = int(max(int(user.max()), int(fit.conversion_user.max())) + 1)
    lower: list[float | None] = [None] * len(fit.coef)
    if bool(fit.diagnostics.get("nonnegative", True)):
        for cols in fit.stock_columns:
            for c in cols:
                lower[int(c)] = 0.0
    draws = []
    for _ in range(replicates):
        mult = rng.poisson(1.0, size=n_users)
        rw = w * mult[user]
        refit = fit_logistic(
            x,
            y,
            rw,
            l2=float(fit.diagnostics.get("l2", 1.0)),
            lower=lower,
            start=fit.coef,
            maxiter=refit_iterations,
        )
        rows = np.repeat(
            np.arange(fit.conversion_user.shape[0], dtype=np.int64), mult[fit.conversion_user]
        )
        draws.append(credit(refit.coef, rows, rng))
    return _quantiles(result, draws)
