r"""Markov-chain attribution of order 1 to 4 with exact removal effects.

The chain follows ChannelAttribution's ``markov_model`` conventions:

* **States.** For order ``k`` a state is a window of ``k`` consecutive channels of a path
  (a path shorter than ``k`` is one state, the whole path). Consecutive identical states of a
  path are merged, so the chain has no self-loops (``a > a > b`` is ``a -> b`` at order 1).
* **Transitions.** Each path adds its weight (conversions plus nulls) to ``(start) -> s_1``
  and to every ``s_i -> s_{i+1}``; its conversions to ``s_m -> (conversion)`` and, when nulls
  are used (``var_null`` given), its nulls to ``s_m -> (null)``.
* **Removal.** Removing channel ``c`` sends every transition into a state that contains ``c``
  to ``(null)``. The removal effect is ``RE_c = P(conv) - P_{-c}(conv)``, which equals
  ``P(conversion and some state containing c is visited)``; a channel's credit is
  ``conversions * RE_c / sum RE``.
* **Value.** A conversion's value depends on the state the path converts from (the mean value
  of the observed conversions from that state); value credit is
  ``value * V_c / sum V`` with ``V_c = sum_s mean_value_s * (P(conv via s) - P_{-c}(conv via
  s))``.

ChannelAttribution estimates these probabilities by simulating paths (and cuts simulated paths
at the longest observed path); here they are exact: with ``P`` the transient transition matrix,
the expected visits ``x = (I - P^T)^{-1} e_start`` come from one sparse LU solve, and one more
per channel on the chain restricted to the states without it. Every observed state reaches an
absorbing state, so ``I - P`` is non-singular.

Examples
--------
>>> p = pd.DataFrame({"path": ["a > b", "b"], "total_conversions": [1, 1],
...                   "total_conversion_value": [10.0, 2.0], "total_null": [0, 1]})
>>> r = markov_attribution(JourneyTable.from_paths(p))
>>> r.credit["conversions"].tolist()
[0.5, 1.5]
"""

from __future__ import annotations

from typing import Any

import numpy as np
import numpy.typing as npt
import pandas as pd  # noqa: F401  (used by the doctests)
import scipy.sparse as sp
import scipy.sparse.linalg as spla

from mixlens.errors import DataError
from mixlens.mta.journeys import JourneyArrays, JourneyTable
from mixlens.mta.result import AttributionResult, make_result

__all__ = ["MAX_ORDER", "markov_attribution"]

MAX_ORDER = 4
"""Highest supported order."""

IntArray = npt.NDArray[np.int64]
FloatArray = npt.NDArray[np.float64]


def check_order(order: int) -> int:
    """Return ``order`` if it is an integer in ``1..MAX_ORDER``, else raise :class:`DataError`."""
    if isinstance(order, bool) or not isinstance(order, int | np.integer):
        raise DataError(f"order must be an integer from 1 to {MAX_ORDER}, got {order!r}")
    if not 1 <= int(order) <= MAX_ORDER:
        raise DataError(f"order={order} is out of range; use 1 to {MAX_ORDER}")
    return int(order)


def _state_keys(a: JourneyArrays, order: int) -> tuple[IntArray, IntArray, int]:
    """Encode each journey's states as integers.

    Returns
    -------
    keys, journey, base
        Shape ``(n_states_seen,)``: the key of every state occurrence (channel codes plus one
        as base-``base`` digits, the last channel lowest) and its journey, in path order, with
        consecutive repeats merged; and the base.
    """
    base = len(a.channels) + 1
    if base**order >= 2**62:
        raise DataError(f"too many channels ({base - 1}) for a Markov chain of order {order}")
    length = a.n_touches[a.journey]
    take = (a.position >= order - 1) | (a.position == length - 1)
    idx = np.flatnonzero(take)
    keys = np.zeros(idx.shape[0], dtype=np.int64)
    pos = a.position[idx]
    for back in range(order):
        src = np.maximum(idx - back, 0)
        digit = np.where(back <= pos, a.channel[src] + 1, 0)
        keys += digit.astype(np.int64) * base**back
    journey = a.journey[idx]
    keep = np.ones(idx.shape[0], dtype=bool)
    keep[1:] = (journey[1:] != journey[:-1]) | (keys[1:] != keys[:-1])
    return keys[keep], journey[keep], base


def _contains(keys: IntArray, base: int, order: int, n_channels: int) -> npt.NDArray[np.bool_]:
    """Shape ``(n_states, n_channels)``: whether each state holds each channel."""
    out = np.zeros((keys.shape[0], n_channels), dtype=bool)
    rows = np.arange(keys.shape[0])
    for back in range(order):
        digit = (keys // base**back) % base
        has = digit > 0
        out[rows[has], digit[has] - 1] = True
    return out


def _visits(p: sp.csr_matrix, keep: npt.NDArray[np.bool_]) -> FloatArray:
    """Return expected visits to each kept transient state from ``(start)``, 0 elsewhere."""
    index = np.flatnonzero(keep)
    sub = p[index][:, index]
    system = (sp.identity(index.shape[0], format="csc") - sub.T).tocsc()
    rhs = np.zeros(index.shape[0])
    rhs[0] = 1.0  # the start state is kept and first
    x = np.zeros(keep.shape[0])
    x[index] = spla.spsolve(system, rhs) if index.shape[0] > 1 else rhs
    return x


def markov_attribution(
    journeys: JourneyTable, *, order: int = 1, use_nulls: bool = True
) -> AttributionResult:
    """Attribute conversions and value by exact Markov removal effects.

    Parameters
    ----------
    journeys
        The journeys (from logs or a path table).
    order
        Markov order, 1 to 4.
    use_nulls
        Use the null journeys (ChannelAttribution's ``var_null``); without them every path
        converts and only converting journeys shape the chain.

    Returns
    -------
    AttributionResult
        Model ``"markov"``; ``meta`` holds ``order``, ``states``, ``p_conversion`` and the
        per-channel ``removal_effects`` (``1 - P_{-c}(conv) / P(conv)``). Conversions without
        touches go to ``baseline``.

    Raises
    ------
    DataError
        If ``order`` is not an integer from 1 to 4.
    """
    order = check_order(order)
    a = journeys.arrays()
    n_ch = len(a.channels)
    conv = a.conversions
    null = np.where(a.converted, 0.0, a.weight) if use_nulls else np.zeros_like(conv)
    value = np.where(a.converted, a.value, 0.0)
    touchless = a.n_touches == 0
    baseline = (float(conv[touchless].sum()), float(value[touchless].sum()))
    total_conv = float(conv[~touchless].sum())
    total_value = float(value[~touchless].sum())

    keys, journey, base = _state_keys(a, order)
    uniq, state = np.unique(keys, return_inverse=True)
    state = state.astype(np.int64) + 1  # 0 is (start)
    n_t = uniq.shape[0] + 1
    flow = (conv + null)[journey]
    first = np.ones(journey.shape[0], dtype=bool)
    first[1:] = journey[1:] != journey[:-1]
    last = np.ones(journey.shape[0], dtype=bool)
    last[:-1] = journey[1:] != journey[:-1]
    prev = np.where(first, 0, np.roll(state, 1))
    counts = sp.coo_matrix((flow, (prev, state)), shape=(n_t, n_t)).tocsr()
    to_conv = np.bincount(state[last], weights=conv[journey[last]], minlength=n_t)
    to_null = np.bincount(state[last], weights=null[journey[last]], minlength=n_t)
    value_from = np.bincount(state[last], weights=value[journey[last]], minlength=n_t)
    out = np.asarray(counts.sum(axis=1)).ravel() + to_conv + to_null
    safe = np.where(out > 0, out, 1.0)
    p = sp.diags(1.0 / safe) @ counts
    p_conv = to_conv / safe
    mean_value = np.divide(value_from, to_conv, out=np.zeros(n_t), where=to_conv > 0)

    contains = np.vstack([np.zeros((1, n_ch), dtype=bool), _contains(uniq, base, order, n_ch)])
    everything = np.ones(n_t, dtype=bool)
    x = _visits(p.tocsr(), everything)
    conv_via = x * p_conv
    p_total = float(conv_via.sum())
    lost = np.zeros(n_ch)
    lost_value = np.zeros(n_ch)
    for c in range(n_ch):
        holds = contains[:, c]
        if not holds.any() or p_total == 0:
            continue
        x_c = _visits(p.tocsr(), ~holds)
        drop = conv_via - x_c * p_conv
        lost[c] = float(drop.sum())
        lost_value[c] = float((drop * mean_value).sum())
    credit = _normalise(lost, total_conv)
    credit_value = _normalise(lost_value, total_value)
    meta: dict[str, Any] = {
        "order": order,
        "use_nulls": bool(use_nulls),
        "states": int(uniq.shape[0]),
        "p_conversion": p_total,
        "removal_effects": {
            name: float(lost[i] / p_total) if p_total > 0 else 0.0
            for i, name in enumerate(a.channels)
        },
    }
    return make_result("markov", a.channels, credit, credit_value, baseline=baseline, meta=meta)


def _normalise(weights: FloatArray, total: float) -> FloatArray:
    """Scale non-negative ``weights`` to sum to ``total`` (zeros when they sum to 0)."""
    clipped = np.maximum(weights, 0.0)  # removes round-off below 0
    s = clipped.sum()
    if s <= 0:
        return np.zeros_like(weights)
    result: FloatArray = clipped * (total / s)
    return result
