"""User-level A/B tests: conversion lift, value lift, ROAS and incremental ROAS.

Input is one row per user: ``user_id, group (treatment|control), converted (0/1), value``
and an optional ``cost`` (the media cost spent on the user). All intervals are Wald intervals
at ``level`` with normal quantiles; ratio metrics use the delta method:

- **conversion**: ``p_t - p_c``, ``se = sqrt(p_t (1 - p_t) / n_t + p_c (1 - p_c) / n_c)``;
  incremental conversions ``= n_t (p_t - p_c)`` (conversions in the treatment group the
  treatment caused).
- **value**: difference in mean value per user (Welch); incremental value ``= n_t * diff``.
- **roas** (per group): ``sum(value) / sum(cost)``, a ratio of means with delta-method variance
  ``(s_v^2 - 2 R s_vc + R^2 s_c^2) / (n mean(c)^2)``.
- **incremental roas** (cost given): ``(mean v_t - mean v_c) / (mean c_t - mean c_c)``, a ratio
  of two independent differences, delta method with the within-group covariances.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
from scipy import stats

from mixlens.errors import DataError

__all__ = ["ABResult", "ab_test", "validate_ab"]

FRAME = "<frame>"
GROUPS = ("treatment", "control")


def validate_ab(frame: pd.DataFrame, *, file: str = FRAME) -> pd.DataFrame:
    """Validate a user-level A/B table and return it typed.

    Parameters
    ----------
    frame
        Columns ``user_id, group, converted, value`` and optional ``cost``.
    file
        Name of the source, used in error messages.

    Returns
    -------
    pandas.DataFrame
        ``user_id`` and ``group`` as strings, ``converted`` as 0/1 floats, ``value`` (and
        ``cost``) as non-negative floats.

    Raises
    ------
    DataError
        On the first problem, naming the file, the column and the 1-based row.

    Examples
    --------
    >>> frame = pd.DataFrame({"user_id": ["u1", "u2"], "group": ["treatment", "holdout"],
    ...                       "converted": [1, 0], "value": [5.0, 0.0]})
    >>> validate_ab(frame, file="ab.csv")  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    mixlens.errors.DataError: ab.csv: column 'group', row 2: unknown group 'holdout'; use ...
    """
    for col in ("user_id", "group", "converted", "value"):
        if col not in frame.columns:
            shown = ", ".join(str(c) for c in frame.columns)
            raise DataError(f"missing column {col!r} (columns: {shown})", file=file)
    if len(frame) == 0:
        raise DataError("no data rows", file=file)
    out = frame.reset_index(drop=True).copy()
    out["user_id"] = out["user_id"].astype(str).str.strip()
    blank = out["user_id"].eq("").to_numpy()
    if blank.any():
        raise DataError("empty user_id", file=file, column="user_id", row=int(np.argmax(blank)) + 1)
    group = out["group"].astype(str).str.strip().str.lower()
    bad = ~group.isin(GROUPS).to_numpy()
    if bad.any():
        row = int(np.argmax(bad))
        raise DataError(
            f"unknown group {out['group'].iloc[row]!r}; use treatment or control",
            file=file,
            column="group",
            row=row + 1,
        )
    out["group"] = group
    for col in ("converted", "value", "cost"):
        if col not in out.columns:
            continue
        raw = out[col]
        values = pd.to_numeric(raw, errors="coerce").to_numpy(dtype=np.float64)
        bad = ~np.isfinite(values) | (values < 0)
        if col == "converted":
            bad |= ~np.isin(values, (0.0, 1.0))
        if bad.any():
            row = int(np.argmax(bad))
            need = "0 or 1" if col == "converted" else "a non-negative number"
            raise DataError(
                f"bad value {raw.iloc[row]!r}; need {need}", file=file, column=col, row=row + 1
            )
        out[col] = values
    dup = out["user_id"].duplicated().to_numpy()
    if dup.any():
        row = int(np.argmax(dup))
        raise DataError(
            f"duplicate user_id {out['user_id'].iloc[row]!r}",
            file=file,
            column="user_id",
            row=row + 1,
        )
    for name in GROUPS:
        if int((out["group"] == name).sum()) < 2:
            raise DataError(f"group {name!r} has fewer than 2 users", file=file, column="group")
    return out


@dataclass(frozen=True)
class ABResult:
    """Result of a user-level A/B test.

    Attributes
    ----------
    metrics
        One row per metric: ``metric, treatment, control, estimate, se, lo, hi`` where
        ``estimate`` is the treatment-minus-control difference (or the ratio for ROAS
        metrics), metrics ``conversion_rate``, ``value_per_user`` and, with cost,
        ``roas_treatment``, ``roas_control`` and ``incremental_roas``.
    n_treatment, n_control
        Users per group.
    incremental_conversions, incremental_conversions_se
        ``n_treatment * (p_t - p_c)`` and its standard error.
    incremental_value, incremental_value_se
        ``n_treatment * (mean value difference)`` and its standard error.
    level
        Interval level.
    """

    metrics: pd.DataFrame
    n_treatment: int
    n_control: int
    incremental_conversions: float
    incremental_conversions_se: float
    incremental_value: float
    incremental_value_se: float
    level: float

    def to_frame(self) -> pd.DataFrame:
        """Return the metrics table (a copy)."""
        return self.metrics.copy()

    def to_dict(self) -> dict[str, Any]:
        """Return a JSON-safe dict."""
        return {
            "n_treatment": self.n_treatment,
            "n_control": self.n_control,
            "incremental_conversions": self.incremental_conversions,
            "incremental_conversions_se": self.incremental_conversions_se,
            "incremental_value": self.incremental_value,
            "incremental_value_se": self.incremental_value_se,
            "level": self.level,
            "metrics": self.metrics.to_dict(orient="records"),
        }


def _row(metric: str, t: float, c: float, est: float, se: float, z: float) -> dict[str, Any]:
    return {
        "metric": metric,
        "treatment": t,
        "control": c,
        "estimate": est,
        "se": se,
        "lo": est - z * se,
        "hi": est + z * se,
    }


def _ratio(v: np.ndarray, c: np.ndarray) -> tuple[float, float]:
    """Ratio of means ``sum(v) / sum(c)`` and its delta-method standard error."""
    n = len(v)
    mv, mc = float(v.mean()), float(c.mean())
    if mc <= 0:
        return float("nan"), float("nan")
    r = mv / mc
    cov = np.cov(v, c, ddof=1)
    var = (cov[0, 0] - 2 * r * cov[0, 1] + r**2 * cov[1, 1]) / (n * mc**2)
    return r, float(np.sqrt(max(var, 0.0)))


def ab_test(frame: pd.DataFrame, *, level: float = 0.9, file: str = FRAME) -> ABResult:
    """Analyse a user-level A/B test (see the module docstring for the formulas).

    Parameters
    ----------
    frame
        ``user_id, group, converted, value[, cost]``; validated with :func:`validate_ab`.
    level
        Interval level.
    file
        Name of the source, used in error messages.

    Returns
    -------
    ABResult
        The metrics and the incremental conversions and value.

    Examples
    --------
    >>> frame = pd.DataFrame({
    ...     "user_id": [f"u{i}" for i in range(8)],
    ...     "group": ["treatment"] * 4 + ["control"] * 4,
    ...     "converted": [1, 1, 0, 0, 1, 0, 0, 0],
    ...     "value": [10.0, 20.0, 0.0, 0.0, 10.0, 0.0, 0.0, 0.0]})
    >>> res = ab_test(frame)
    >>> float(res.metrics.loc[0, "estimate"]), round(res.incremental_conversions, 4)
    (0.25, 1.0)
    """
    if not 0 < level < 1:
        raise ValueError(f"level must be in (0, 1), got {level}")
    data = validate_ab(frame, file=file)
    z = float(stats.norm.ppf(0.5 + level / 2))
    is_t = (data["group"] == "treatment").to_numpy()
    conv = data["converted"].to_numpy(dtype=np.float64)
    value = data["value"].to_numpy(dtype=np.float64)
    n_t, n_c = int(is_t.sum()), int((~is_t).sum())
    p_t, p_c = float(conv[is_t].mean()), float(conv[~is_t].mean())
    se_p = float(np.sqrt(p_t * (1 - p_t) / n_t + p_c * (1 - p_c) / n_c))
    m_t, m_c = float(value[is_t].mean()), float(value[~is_t].mean())
    se_v = float(np.sqrt(value[is_t].var(ddof=1) / n_t + value[~is_t].var(ddof=1) / n_c))
    rows = [
        _row("conversion_rate", p_t, p_c, p_t - p_c, se_p, z),
        _row("value_per_user", m_t, m_c, m_t - m_c, se_v, z),
    ]
    if "cost" in data.columns:
        cost = data["cost"].to_numpy(dtype=np.float64)
        r_t, se_t = _ratio(value[is_t], cost[is_t])
        r_c, se_c = _ratio(value[~is_t], cost[~is_t])
        rows.append(_row("roas_treatment", r_t, float("nan"), r_t, se_t, z))
        rows.append(_row("roas_control", float("nan"), r_c, r_c, se_c, z))
        rows.append(_incremental_roas(value, cost, is_t, z))
    return ABResult(
        metrics=pd.DataFrame(rows),
        n_treatment=n_t,
        n_control=n_c,
        incremental_conversions=n_t * (p_t - p_c),
        incremental_conversions_se=n_t * se_p,
        incremental_value=n_t * (m_t - m_c),
        incremental_value_se=n_t * se_v,
        level=level,
    )


def _incremental_roas(
    value: np.ndarray, cost: np.ndarray, is_t: np.ndarray, z: float
) -> dict[str, Any]:
    """Incremental ROAS ``diff(value) / diff(cost)`` per user, delta method."""
    parts = []
    for mask in (is_t, ~is_t):
        n = int(mask.sum())
        cov = np.cov(value[mask], cost[mask], ddof=1) / n
        parts.append((float(value[mask].mean()), float(cost[mask].mean()), cov))
    (vt, ct, cov_t), (vc, cc, cov_c) = parts
    dv, dc = vt - vc, ct - cc
    cov = cov_t + cov_c
    if dc <= 0:
        return _row("incremental_roas", float("nan"), float("nan"), float("nan"), float("nan"), z)
    r = dv / dc
    var = (cov[0, 0] - 2 * r * cov[0, 1] + r**2 * cov[1, 1]) / dc**2
    return _row("incremental_roas", dv, dc, r, float(np.sqrt(max(var, 0.0))), z)
