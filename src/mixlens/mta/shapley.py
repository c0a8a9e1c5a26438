r"""Shapley-value attribution over observed channel sets (Zhao et al. 2018, simplified method).

The game: the players are the channels; ``R(T)`` is the conversions (or value) of converting
journeys whose channel *set* is exactly ``T``; a coalition ``S`` is worth the conversions of
journeys whose set lies within it, ``v(S) = sum_{T subset S} R(T)``. The Shapley value is

.. math:: \phi_j = \sum_{S \subseteq N \setminus j} \frac{|S|!\,(n-|S|-1)!}{n!}
          \left(v(S \cup j) - v(S)\right),

computed exactly for up to ``max_exact_channels`` channels (20 by default) over all ``2^n``
coalitions as bitmasks: ``v`` by a subset-sum (zeta) transform, then the weighted marginal
contributions, in numpy. Beyond that, permutations are sampled: in a permutation, a journey's
``R`` goes to the member of its set that comes last (its marginal contributor); the credit is
the mean over permutations, with its standard error in ``meta``.

Because ``v`` is a sum of unanimity games with non-negative dividends ``R(T)``, every marginal
contribution is ``>= 0`` (no negative credit, no clipping needed), the credit sums to
``v(N)`` exactly (efficiency: the conversions of journeys with at least one touch), and the
result equals Zhao et al.'s simplified formula ``phi_j = sum_{T ∋ j} R(T) / |T|``, which Google
Ads Data Hub documents. Conversions without touches go to ``baseline``; null journeys play no
part in this game.

Examples
--------
>>> p = pd.DataFrame({"path": ["a", "b", "a > b", "a > b > c"],
...                   "total_conversions": [4, 2, 6, 3],
...                   "total_conversion_value": [4.0, 2.0, 6.0, 3.0],
...                   "total_null": [0, 0, 0, 0]})
>>> shapley_attribution(JourneyTable.from_paths(p)).credit["conversions"].tolist()
[8.0, 6.0, 1.0]
"""

from __future__ import annotations

from math import factorial
from typing import Any

import numpy as np
import numpy.typing as npt
import pandas as pd  # noqa: F401  (used by the doctests)

from mixlens._rng import RandomLike, as_generator
from mixlens.errors import DataError
from mixlens.mta.journeys import JourneyArrays, JourneyTable
from mixlens.mta.result import AttributionResult, make_result

__all__ = ["MAX_EXACT_CHANNELS", "shapley_attribution", "shapley_from_game"]

MAX_EXACT_CHANNELS = 20
"""Most channels solved exactly by default (``2^20`` coalitions)."""

IntArray = npt.NDArray[np.int64]
FloatArray = npt.NDArray[np.float64]


def _popcount(n_bits: int) -> IntArray:
    """Shape ``(2^n_bits,)``: number of set bits of every mask."""
    counts = np.zeros(1, dtype=np.int64)
    for _ in range(n_bits):
        counts = np.concatenate([counts, counts + 1])
    return counts


def _zeta(r: FloatArray, n_bits: int) -> FloatArray:
    """Subset sums ``v(S) = sum_{T subset S} r(T)`` over bitmasks; shape ``(2^n_bits,)``."""
    v = r.astype(np.float64).copy()
    for i in range(n_bits):
        view = v.reshape(-1, 2, 1 << i)
        view[:, 1, :] += view[:, 0, :]
    return v


def shapley_from_game(v: npt.ArrayLike) -> FloatArray:
    """Exact Shapley values of a game given on all coalitions as bitmasks.

    Parameters
    ----------
    v
        Shape ``(2^n,)``: ``v[mask]`` is the worth of the coalition whose members are the set
        bits of ``mask`` (bit ``j`` is player ``j``); ``v[0]`` is normally 0.

    Returns
    -------
    numpy.ndarray
        Shape ``(n,)``: each player's Shapley value; they sum to ``v[-1] - v[0]``.

    Examples
    --------
    >>> shapley_from_game([0.0, 1.0, 2.0, 4.0]).tolist()
    [1.5, 2.5]
    """
    worth = np.asarray(v, dtype=np.float64)
    n = int(worth.shape[0]).bit_length() - 1
    if worth.shape[0] != 1 << n:
        raise DataError(f"a game needs 2^n coalition values, got {worth.shape[0]}")
    size = _popcount(n)
    weight = np.array(
        [factorial(s) * factorial(n - s - 1) / factorial(n) for s in range(n)], dtype=np.float64
    )
    phi = np.zeros(n, dtype=np.float64)
    for j in range(n):
        view = worth.reshape(-1, 2, 1 << j)
        sizes = size.reshape(-1, 2, 1 << j)[:, 0, :]
        phi[j] = float((weight[sizes] * (view[:, 1, :] - view[:, 0, :])).sum())
    return phi


def _sets(a: JourneyArrays) -> tuple[IntArray, IntArray, IntArray]:
    """Distinct (journey, channel) pairs of converting journeys, and the active channels.

    Returns ``journey`` and ``player`` (index into ``active``) of each pair, and ``active``:
    the channel codes that appear in some converting journey.
    """
    touch = a.converted[a.journey] & (a.weight[a.journey] > 0)
    pairs = np.unique(a.journey[touch] * len(a.channels) + a.channel[touch])
    journey = pairs // max(len(a.channels), 1)
    channel = pairs % max(len(a.channels), 1)
    active, player = np.unique(channel, return_inverse=True)
    return journey.astype(np.int64), player.astype(np.int64), active.astype(np.int64)


def shapley_attribution(
    journeys: JourneyTable,
    *,
    max_exact_channels: int = MAX_EXACT_CHANNELS,
    n_permutations: int = 1_000,
    seed: RandomLike = 0,
) -> AttributionResult:
    """Attribute conversions and value by Shapley values over observed channel sets.

    Parameters
    ----------
    journeys
        The journeys (from logs or a path table).
    max_exact_channels
        Solve exactly when at most this many channels appear in converting journeys.
    n_permutations
        Permutations sampled beyond ``max_exact_channels``.
    seed
        Seed (or Generator) of the permutations; the exact method draws nothing.

    Returns
    -------
    AttributionResult
        Model ``"shapley"``; ``meta`` holds ``method`` (``"exact"`` or ``"sampled"``),
        ``players`` and, when sampled, ``n_permutations`` and per-channel standard errors
        ``se_conversions`` and ``se_value``.
    """
    a = journeys.arrays()
    conv = a.conversions
    value = np.where(a.converted, a.value, 0.0)
    touchless = a.n_touches == 0
    baseline = (float(conv[touchless].sum()), float(value[touchless].sum()))
    journey, player, active = _sets(a)
    n = int(active.shape[0])
    credit = np.zeros(len(a.channels))
    credit_value = np.zeros(len(a.channels))
    meta: dict[str, Any] = {"players": n}
    if n == 0:
        meta["method"] = "exact"
    elif n <= max_exact_channels:
        mask = np.zeros(a.n_touches.shape[0], dtype=np.int64)
        np.bitwise_or.at(mask, journey, np.left_shift(np.int64(1), player))
        rows = np.unique(journey)
        for out, weights in ((credit, conv), (credit_value, value)):
            r = np.bincount(mask[rows], weights=weights[rows], minlength=1 << n).astype(np.float64)
            out[active] = np.maximum(shapley_from_game(_zeta(r, n)), 0.0)
        meta["method"] = "exact"
    else:
        if n_permutations < 2:
            raise DataError(f"n_permutations={n_permutations} must be at least 2")
        sampled = _sampled(journey, player, n, conv, value, n_permutations, as_generator(seed))
        (credit[active], se), (credit_value[active], se_value) = sampled
        names = [a.channels[c] for c in active]
        meta.update(
            method="sampled",
            n_permutations=int(n_permutations),
            se_conversions=dict(zip(names, se.tolist(), strict=True)),
            se_value=dict(zip(names, se_value.tolist(), strict=True)),
        )
    return make_result("shapley", a.channels, credit, credit_value, baseline=baseline, meta=meta)


def _sampled(
    journey: IntArray,
    player: IntArray,
    n: int,
    conv: FloatArray,
    value: FloatArray,
    n_permutations: int,
    rng: np.random.Generator,
) -> tuple[tuple[FloatArray, FloatArray], tuple[FloatArray, FloatArray]]:
    """Permutation-sampled Shapley values and their standard errors (conversions, value)."""
    starts = np.flatnonzero(np.r_[True, journey[1:] != journey[:-1]])
    rows = journey[starts]
    draws_c = np.empty((n_permutations, n))
    draws_v = np.empty((n_permutations, n))
    for k in range(n_permutations):
        rank = rng.permutation(n)  # rank[p]: position of player p in the permutation
        last = np.maximum.reduceat(rank[player] * n + player, starts) % n
        draws_c[k] = np.bincount(last, weights=conv[rows], minlength=n)
        draws_v[k] = np.bincount(last, weights=value[rows], minlength=n)
    root = np.sqrt(n_permutations)
    return (
        (draws_c.mean(axis=0), draws_c.std(axis=0, ddof=1) / root),
        (draws_v.mean(axis=0), draws_v.std(axis=0, ddof=1) / root),
    )
