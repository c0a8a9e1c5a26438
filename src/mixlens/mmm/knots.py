"""Knots of the time-varying baseline: where they sit and how weeks interpolate them.

The time-varying baseline (Meridian-style) is a piecewise-linear curve through ``K``
knot values placed evenly over the fitted weeks; week ``t``'s value is the linear
interpolation of its two neighbouring knots, ``W[t] @ knots`` with ``W`` the hat-function
design of :func:`knot_weights`. Weeks outside the fitted window (a holdout) take the
nearest end knot's value: the baseline is held flat, not extrapolated.

Examples
--------
>>> knot_positions(5, 3)
array([0., 2., 4.])
>>> knot_weights(np.array([0.0, 1.0, 4.0, 6.0]), knot_positions(5, 3))
array([[1. , 0. , 0. ],
       [0.5, 0.5, 0. ],
       [0. , 0. , 1. ],
       [0. , 0. , 1. ]])
>>> resolve_time_knots("auto", 156, geo=True), resolve_time_knots("auto", 156, geo=False)
(156, 0)
>>> weights = knot_weights(np.arange(5.0), knot_positions(5, 3))
>>> spans(weights, np.arange(5.0)), spans(weights, np.array([0.0, 1.0, 0.0, 0.0, 0.0]))
(True, False)
"""

from __future__ import annotations

from typing import Literal, TypeAlias

import numpy as np
from numpy.typing import NDArray

__all__ = [
    "AUTO_GEO_WEEKS_PER_KNOT",
    "AUTO_NATIONAL_KNOTS",
    "TimeKnots",
    "check_time_knots",
    "knot_positions",
    "knot_weights",
    "resolve_time_knots",
    "spans",
]

FloatArray = NDArray[np.float64]

TimeKnots: TypeAlias = int | Literal["auto"]
"""Number of baseline knots (0 for none, else at least 2) or ``"auto"``."""

#: ``"auto"`` on a geo panel: one knot per this many weeks (1 = Meridian's geo default,
#: a free time effect each week shared by the geos, identified against media by the
#: geos' differing spend). On Meridian's geo panel it lifts the national in-sample R² from
#: 0.37 to 0.999 where one knot per 4 weeks reaches 0.55 (benchmarks/RESULTS.md,
#: ``peers_mmm_geo``).
AUTO_GEO_WEEKS_PER_KNOT = 1

#: ``"auto"`` on a national panel: no knots (the linear trend only). A national panel has
#: no second source of variation to tell a wandering baseline from slowly varying media,
#: and knots raised the ROI error on the simulator (benchmarks/RESULTS.md,
#: ``mmm_variants``).
AUTO_NATIONAL_KNOTS = 0


def check_time_knots(value: object) -> TimeKnots:
    """Return ``value`` as a valid :data:`TimeKnots` (``"auto"``, 0 or an integer >= 2).

    Raises
    ------
    ValueError
        On anything else (1 knot would only duplicate the intercept).
    """
    if value == "auto":
        return "auto"
    if isinstance(value, bool) or not isinstance(value, int | np.integer):
        raise ValueError(f"time_knots must be 'auto' or an integer, got {value!r}")
    number = int(value)
    if number < 0 or number == 1:
        raise ValueError(
            f"time_knots must be 0 (no time-varying baseline), >= 2 or 'auto', got {number}"
        )
    return number


def resolve_time_knots(value: TimeKnots, n_weeks: int, *, geo: bool) -> int:
    """Return the number of knots to fit for ``value`` on ``n_weeks`` weeks (0 for none).

    ``"auto"`` gives one knot per :data:`AUTO_GEO_WEEKS_PER_KNOT` weeks on a geo panel and
    :data:`AUTO_NATIONAL_KNOTS` on a national one; a number above ``n_weeks`` is capped at
    ``n_weeks`` (one knot per week).
    """
    value = check_time_knots(value)
    if value == "auto":
        if geo:
            value = -(-n_weeks // AUTO_GEO_WEEKS_PER_KNOT)
        else:
            value = AUTO_NATIONAL_KNOTS
    count = min(int(value), n_weeks)
    return count if count >= 2 else 0


def knot_positions(n_weeks: int, n_knots: int) -> FloatArray:
    """Week indices (0-based) of ``n_knots`` knots spread evenly from the first to the last week."""
    if n_knots == 0:
        return np.zeros(0)
    return np.linspace(0.0, float(max(n_weeks - 1, 0)), n_knots)


def knot_weights(weeks: FloatArray, positions: FloatArray) -> FloatArray:
    """Interpolation design ``W``, shape ``(len(weeks), len(positions))``; rows sum to 1.

    ``weeks`` are (possibly fractional) week indices on the knots' scale; weeks before
    the first knot or after the last take that knot's value.
    """
    weeks = np.asarray(weeks, dtype=np.float64)
    n_knots = len(positions)
    if n_knots == 0:
        return np.zeros((len(weeks), 0))
    identity = np.eye(n_knots)
    out: FloatArray = np.column_stack(
        [np.interp(weeks, positions, identity[k]) for k in range(n_knots)]
    )
    return out


def spans(weights: FloatArray, features: FloatArray, *, rtol: float = 1e-8) -> bool:
    """Whether every column of ``features`` lies in the column span of knot ``weights``.

    A feature in the span is not identified apart from the knots (and the intercept, as
    the weights' rows sum to 1): e.g. the linear trend under any knots, or the
    seasonality and holidays under one knot per week. ``features`` has shape
    ``(n_weeks,)`` or ``(n_weeks, n_features)``; a column is in the span when its least
    squares residual on ``weights`` is within ``rtol`` of its norm (no columns: True;
    no knots: True only for all-zero columns).
    """
    matrix = np.asarray(features, dtype=np.float64).reshape(len(weights), -1)
    norms = np.linalg.norm(matrix, axis=0)
    if weights.shape[1] == 0:
        return bool(np.all(norms == 0.0))
    coef = np.linalg.lstsq(weights, matrix, rcond=None)[0]
    residual = np.linalg.norm(matrix - weights @ coef, axis=0)
    return bool(np.all(residual <= rtol * np.maximum(norms, 1e-300)))
