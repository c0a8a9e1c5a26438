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

The geo model's knots are centred (``centre @ knots == 0``, ``centre`` the knots' mean
weight over the weeks) and live in a space of one dimension less; :func:`centred_knots`
maps free coordinates onto that space by a reflection (an orthogonal map, so a posterior
that the data pin down knot by knot stays as well conditioned in the free coordinates),
and :func:`free_coordinates` maps back:

>>> reflector = knot_reflector(np.full(4, 0.25))
>>> knots = centred_knots(np.array([1.0, -2.0, 0.5]), reflector)
>>> bool(abs(knots.sum()) < 1e-12), free_coordinates(knots, reflector).round(12).tolist()
(True, [1.0, -2.0, 0.5])
"""

from __future__ import annotations

from typing import Literal, TypeAlias

import numpy as np
from numpy.typing import NDArray

__all__ = [
    "AUTO_GEO_WEEKS_PER_KNOT",
    "AUTO_NATIONAL_KNOTS",
    "TimeKnots",
    "centred_knots",
    "check_time_knots",
    "free_coordinates",
    "knot_positions",
    "knot_reflector",
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


def knot_reflector(centre: FloatArray) -> FloatArray:
    """Return the Householder vector ``v`` of a reflection onto the centred knots.

    The reflection ``H = I - 2 v v' / (v' v)`` maps ``e_K`` (the last unit vector) to
    ``-centre / |centre|``. ``H`` is symmetric and orthogonal, so ``H @ [free, 0]`` is
    orthogonal to ``centre`` for any ``free`` of length ``K - 1`` (see
    :func:`centred_knots`). ``centre`` has positive entries (a mean of interpolation
    weights).
    """
    c = np.asarray(centre, dtype=np.float64)
    if c.ndim != 1 or c.size == 0 or np.any(c <= 0):
        raise ValueError("centre must be a non-empty vector of positive weights")
    v = c / np.linalg.norm(c)
    v[-1] += 1.0
    return v


def centred_knots(free: FloatArray, reflector: FloatArray) -> FloatArray:
    """Knot values ``H @ [free, 0]`` (last axis) for free coordinates ``(..., K - 1)``.

    They satisfy ``centre @ knots == 0`` for the ``centre`` of ``reflector``
    (:func:`knot_reflector`). ``O(K)``: one dot product and one update.
    """
    values = np.asarray(free, dtype=np.float64)
    padded = np.concatenate([values, np.zeros((*values.shape[:-1], 1))], axis=-1)
    factor = 2.0 * (padded @ reflector) / (reflector @ reflector)
    out: FloatArray = padded - factor[..., None] * reflector
    return out


def free_coordinates(knots: FloatArray, reflector: FloatArray) -> FloatArray:
    """Inverse of :func:`centred_knots` for knots with ``centre @ knots == 0`` (last axis)."""
    values = np.asarray(knots, dtype=np.float64)
    factor = 2.0 * (values @ reflector) / (reflector @ reflector)
    out: FloatArray = (values - factor[..., None] * reflector)[..., :-1]
    return out
