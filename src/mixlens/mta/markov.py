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
  ``conversions * RE_c / sum RE``. ChannelAttribution counts, among its simulated converting
  paths, those that visited a state containing ``c``, and scales those counts to the
  conversions: the same quantity, estimated.
* **Value.** A conversion's value depends on the state the path converts from (the mean value
  of the observed conversions from that state; ChannelAttribution draws from their
  distribution); value credit is ``value * V_c / sum V`` with ``V_c = sum_s mean_value_s *
  (P(conv via s) - P_{-c}(conv via s))``.

:func:`markov_transitions` returns the fitted chain; on ChannelAttribution's sample and on a
simulated 100,000-user path table it equals ChannelAttribution 2.2.5's ``transition_matrix``
at orders 1 to 4, and ChannelAttribution's credit converges on the exact credit as its
simulation grows (benchmark section ``mta_markov_parity``).

ChannelAttribution estimates these probabilities by simulating paths; here they are exact: with
``P`` the transient transition matrix, the expected visits ``x = (I - P^T)^{-1} e_start`` come
from one sparse LU solve, and one more per channel on the chain restricted to the states without
it. Every observed state reaches an absorbing state, so ``I - P`` is non-singular.

ChannelAttribution also cuts every simulated path after ``max_step`` channel states (by default
the longest observed path, in states, plus one) and counts a cut path as not converting.
``max_step=N`` computes that cut chain exactly: the visits are ``sum_{t=0..N} (P^T)^t e_start``
(N sparse products), so a path converts when it reaches ``(conversion)`` from its N-th state
or earlier; ``max_step="observed"`` takes ChannelAttribution's default N. On real path tables
the cut is negligible (below 1e-6 of any channel's credit on ChannelAttribution's sample, whose
longest path has 45 states); on small tables whose chain loops it is not (1.6% on the
six-path table of ``tests/mta/test_markov_parity.py``).

Examples
--------
>>> p = pd.DataFrame({"path": ["a > b", "b"], "total_conversions": [1, 1],
...                   "total_conversion_value": [10.0, 2.0], "total_null": [0, 1]})
>>> r = markov_attribution(JourneyTable.from_paths(p))
>>> r.credit["conversions"].tolist()
[0.5, 1.5]
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

import numpy as np
import numpy.typing as npt
import pandas as pd
import scipy.sparse as sp
import scipy.sparse.linalg as spla

from mixlens.errors import DataError
from mixlens.mta.journeys import JourneyArrays, JourneyTable
from mixlens.mta.result import AttributionResult, make_result

__all__ = ["MAX_ORDER", "markov_attribution", "markov_transitions"]

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


def _visits(
    p: sp.csr_matrix, keep: npt.NDArray[np.bool_], max_step: int | None = None
) -> FloatArray:
    """Return expected visits to each kept transient state from ``(start)``, 0 elsewhere.

    With ``max_step``, only visits within a path's first ``max_step`` states (after the start).
    """
    index = np.flatnonzero(keep)
    sub = p[index][:, index]
    rhs = np.zeros(index.shape[0])
    rhs[0] = 1.0  # the start state is kept and first
    x = np.zeros(keep.shape[0])
    if max_step is not None:
        step, total, forward = rhs, rhs.copy(), sub.T.tocsr()
        for _ in range(max_step):
            step = forward @ step
            total += step
        x[index] = total
        return x
    system = (sp.identity(index.shape[0], format="csc") - sub.T).tocsc()
    x[index] = spla.spsolve(system, rhs) if index.shape[0] > 1 else rhs
    return x


def _check_max_step(max_step: object, longest: int) -> int | None:
    """Resolve ``max_step`` (None, ``"observed"`` or a positive integer) or raise DataError."""
    if max_step is None:
        return None
    if max_step == "observed":
        return longest + 1
    if isinstance(max_step, bool) or not isinstance(max_step, int | np.integer) or max_step < 1:
        raise DataError(
            f"max_step must be a positive integer, 'observed' or None, got {max_step!r}"
        )
    return int(max_step)


@dataclass(frozen=True)
class _Chain:
    """Transition counts of the fitted chain; state 0 is ``(start)``, state ``i`` key ``i-1``."""

    keys: IntArray
    base: int
    counts: sp.csr_matrix
    to_conv: FloatArray
    to_null: FloatArray
    value_from: FloatArray
    longest: int

    @property
    def n_states(self) -> int:
        """Number of channel states (``(start)`` excluded)."""
        return int(self.keys.shape[0])


def _fit_chain(
    a: JourneyArrays, order: int, conv: FloatArray, null: FloatArray, value: FloatArray
) -> _Chain:
    """Count transitions: each journey adds conversions plus nulls along its merged states."""
    keys, journey, base = _state_keys(a, order)
    active = journey[(conv + null)[journey] > 0]  # CA drops null paths without var_null
    uniq, state = np.unique(keys, return_inverse=True)
    state = state.astype(np.int64) + 1  # 0 is (start)
    n_t = uniq.shape[0] + 1
    flow = (conv + null)[journey]
    first = np.ones(journey.shape[0], dtype=bool)
    first[1:] = journey[1:] != journey[:-1]
    last = np.ones(journey.shape[0], dtype=bool)
    last[:-1] = journey[1:] != journey[:-1]
    prev = np.where(first, 0, np.roll(state, 1))
    ends, end_journey = state[last], journey[last]
    return _Chain(
        keys=uniq,
        base=base,
        counts=sp.coo_matrix((flow, (prev, state)), shape=(n_t, n_t)).tocsr(),
        to_conv=np.bincount(ends, weights=conv[end_journey], minlength=n_t).astype(np.float64),
        to_null=np.bincount(ends, weights=null[end_journey], minlength=n_t).astype(np.float64),
        value_from=np.bincount(ends, weights=value[end_journey], minlength=n_t).astype(np.float64),
        longest=int(np.bincount(active).max()) if active.size else 0,
    )


def _state_names(keys: IntArray, base: int, order: int, channels: tuple[str, ...]) -> list[str]:
    """Label each state key with its channels, oldest first, joined by ``" > "``."""
    names = []
    for key in keys.tolist():
        digits = [(key // base**back) % base for back in range(order - 1, -1, -1)]
        names.append(" > ".join(channels[d - 1] for d in digits if d > 0))
    return names


def markov_transitions(
    journeys: JourneyTable, *, order: int = 1, use_nulls: bool = True
) -> pd.DataFrame:
    """Return the fitted chain's transitions (ChannelAttribution's ``transition_matrix``).

    Parameters
    ----------
    journeys
        The journeys (from logs or a path table).
    order
        Markov order, 1 to 4.
    use_nulls
        Use the null journeys, as in :func:`markov_attribution`.

    Returns
    -------
    pandas.DataFrame
        ``from, to, count, probability``: one row per observed transition (positive count),
        states labelled by their channels joined by ``" > "`` (oldest first) plus ``(start)``,
        ``(conversion)`` and ``(null)``; probabilities from a state sum to 1.

    Examples
    --------
    >>> p = pd.DataFrame({"path": ["a > a > b", "b"], "total_conversions": [1, 0],
    ...                   "total_conversion_value": [5.0, 0.0], "total_null": [1, 2]})
    >>> markov_transitions(JourneyTable.from_paths(p)).to_numpy().tolist()
    ... # doctest: +NORMALIZE_WHITESPACE
    [['(start)', 'a', 2.0, 0.5], ['(start)', 'b', 2.0, 0.5], ['a', 'b', 2.0, 1.0],
     ['b', '(conversion)', 1.0, 0.25], ['b', '(null)', 3.0, 0.75]]
    """
    order = check_order(order)
    a = journeys.arrays()
    conv = a.conversions
    null = np.where(a.converted, 0.0, a.weight) if use_nulls else np.zeros_like(conv)
    chain = _fit_chain(a, order, conv, null, np.zeros_like(conv))
    names = ["(start)", *_state_names(chain.keys, chain.base, order, a.channels)]
    coo = chain.counts.tocoo()
    src = [*coo.row.tolist(), *range(len(names)), *range(len(names))]
    dst = [names[j] for j in coo.col.tolist()]
    dst += ["(conversion)"] * len(names) + ["(null)"] * len(names)
    count = np.concatenate([coo.data, chain.to_conv, chain.to_null])
    frame = pd.DataFrame({"from": [names[i] for i in src], "to": dst, "count": count})
    frame = frame[frame["count"] > 0].copy()  # (from, to) pairs are unique: csr sums repeats
    out = frame.groupby("from", sort=False)["count"].transform("sum")
    frame["probability"] = frame["count"] / out
    order_of = {name: i for i, name in enumerate(names)}
    order_of.update({"(conversion)": len(names), "(null)": len(names) + 1})
    key = frame["from"].map(order_of) * (len(names) + 2) + frame["to"].map(order_of)
    return frame.iloc[np.argsort(key.to_numpy(), kind="stable")].reset_index(drop=True)


def markov_attribution(
    journeys: JourneyTable,
    *,
    order: int = 1,
    use_nulls: bool = True,
    max_step: int | Literal["observed"] | None = None,
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
    max_step
        None (default): the exact chain, paths of any length. A positive integer: the chain
        cut as ChannelAttribution's simulation cuts it, a path that has not reached
        ``(conversion)`` or ``(null)`` after ``max_step`` states counting as not converting.
        ``"observed"``: ChannelAttribution's default, the longest journey in states plus one
        (``meta["max_path_states"] + 1``).

    Returns
    -------
    AttributionResult
        Model ``"markov"``; ``meta`` holds ``order``, ``states``, ``max_path_states`` (the
        longest journey in states, repeats merged, among those that shape the chain),
        ``max_step`` (resolved to a number or None), ``p_conversion`` and the per-channel
        ``removal_effects`` (``1 - P_{-c}(conv) / P(conv)``, which is also
        ``P(c visited | conversion)``: ChannelAttribution's ``removal_effects_conversion``).
        Conversions without touches go to ``baseline``.

    Raises
    ------
    DataError
        If ``order`` is not an integer from 1 to 4, or ``max_step`` is not None,
        ``"observed"`` or a positive integer.
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

    chain = _fit_chain(a, order, conv, null, value)
    n_t, uniq, counts = chain.n_states + 1, chain.keys, chain.counts
    longest = chain.longest
    cut = _check_max_step(max_step, longest)
    out = np.asarray(counts.sum(axis=1)).ravel() + chain.to_conv + chain.to_null
    safe = np.where(out > 0, out, 1.0)
    p = sp.diags(1.0 / safe) @ counts
    p_conv = chain.to_conv / safe
    mean_value = np.divide(
        chain.value_from, chain.to_conv, out=np.zeros(n_t), where=chain.to_conv > 0
    )

    contains = np.vstack(
        [np.zeros((1, n_ch), dtype=bool), _contains(uniq, chain.base, order, n_ch)]
    )
    everything = np.ones(n_t, dtype=bool)
    x = _visits(p.tocsr(), everything, cut)
    conv_via = x * p_conv
    p_total = float(conv_via.sum())
    lost = np.zeros(n_ch)
    lost_value = np.zeros(n_ch)
    for c in range(n_ch):
        holds = contains[:, c]
        if not holds.any() or p_total == 0:
            continue
        x_c = _visits(p.tocsr(), ~holds, cut)
        drop = conv_via - x_c * p_conv
        lost[c] = float(drop.sum())
        lost_value[c] = float((drop * mean_value).sum())
    credit = _normalise(lost, total_conv)
    credit_value = _normalise(lost_value, total_value)
    meta: dict[str, Any] = {
        "order": order,
        "use_nulls": bool(use_nulls),
        "states": int(uniq.shape[0]),
        "max_path_states": longest,
        "max_step": cut,
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
