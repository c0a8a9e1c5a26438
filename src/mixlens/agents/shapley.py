"""Shapley attribution over the shared response surface, with channels as players.

The characteristic function of coalition ``S`` is the predicted outcome summed over
weeks with the media of ``S`` on and every other channel at zero. Values are indexed by
bitmask (bit ``c`` set when channel ``c`` is in the coalition). Shapley values are
linear in the value function, so agents' local credits sum to the global credit.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
import pandas as pd

from mixlens._rng import RandomLike, as_generator
from mixlens.agents.agent import AgentLike, FloatArray
from mixlens.agents.backends import call_each
from mixlens.agents.messages import Bus, Message
from mixlens.agents.protocols import COORDINATOR, secure_collect, share_seeds
from mixlens.errors import DataError

__all__ = [
    "MAX_EXACT_PLAYERS",
    "SampledShapley",
    "attribute",
    "coalition_values",
    "exact_shapley",
    "sampled_shapley",
    "shapley_credit",
]

MAX_EXACT_PLAYERS = 15


def _popcount(masks: npt.NDArray[np.int64]) -> npt.NDArray[np.int64]:
    counts = np.zeros_like(masks)
    m = masks.copy()
    while np.any(m):
        counts += m & 1
        m >>= 1
    return counts


def exact_shapley(values: npt.ArrayLike) -> FloatArray:
    """Exact Shapley values from a value function given on every coalition.

    Parameters
    ----------
    values
        ``v(S)`` for every bitmask ``S`` in ``0 .. 2**n - 1``, shape ``(2**n,)``,
        ``n <= 15``.

    Returns
    -------
    numpy.ndarray
        Shapley value per player, shape ``(n,)``, in the units of ``values``; they sum
        to ``v(all) - v(empty)``.

    Examples
    --------
    >>> exact_shapley([0.0, 1.0, 2.0, 5.0]).tolist()  # v({0})=1, v({1})=2, v({0,1})=5
    [2.0, 3.0]
    """
    v = np.asarray(values, dtype=np.float64)
    n = round(math.log2(v.size)) if v.size > 0 else -1
    if n < 1 or 2**n != v.size:
        raise DataError(f"values must have 2**n entries (n >= 1), got {v.size}")
    if n > MAX_EXACT_PLAYERS:
        raise DataError(f"exact Shapley supports up to {MAX_EXACT_PLAYERS} players, got {n}")
    masks = np.arange(2**n, dtype=np.int64)
    sizes = _popcount(masks)
    weights = np.array(
        [math.factorial(s) * math.factorial(n - s - 1) / math.factorial(n) for s in range(n)]
    )
    out = np.empty(n)
    for i in range(n):
        without = masks[(masks >> i) & 1 == 0]
        out[i] = float(np.sum(weights[sizes[without]] * (v[without | (1 << i)] - v[without])))
    return out


def coalition_values(base: float, media: npt.ArrayLike) -> FloatArray:
    """Value of every coalition for a model additive in channels.

    Parameters
    ----------
    base
        Summed prediction with all media off, target units.
    media
        Summed contribution of each channel when on, shape ``(n,)``, target units.

    Returns
    -------
    numpy.ndarray
        ``v(S) = base + sum_{c in S} media[c]`` for every bitmask, shape ``(2**n,)``.

    Examples
    --------
    >>> coalition_values(1.0, [10.0, 100.0]).tolist()
    [1.0, 11.0, 101.0, 111.0]
    """
    m = np.asarray(media, dtype=np.float64)
    n = m.size
    bits = (np.arange(2**n)[:, None] >> np.arange(n)[None, :]) & 1
    return np.asarray(base + bits @ m, dtype=np.float64)


@dataclass(frozen=True)
class SampledShapley:
    """Permutation-sampled Shapley values with their error bounds.

    Attributes
    ----------
    values
        Estimated Shapley value per player, shape ``(n,)``; they sum to
        ``v(all) - v(empty)`` exactly (to floating point).
    stderr
        Standard error per player (sample standard deviation of the marginal
        contributions over ``sqrt(permutations)``).
    hoeffding
        Half-width per player of a two-sided ``1 - delta`` Hoeffding interval,
        ``range_i * sqrt(ln(2 / delta) / (2 m))``, where ``range_i`` is the spread of the
        player's observed marginal contributions (a bound if the spread covers every
        marginal, as it does for additive games where it is zero).
    permutations, delta
        Sample size ``m`` and the bound's failure probability.
    """

    values: FloatArray
    stderr: FloatArray
    hoeffding: FloatArray
    permutations: int
    delta: float


def sampled_shapley(
    value: Callable[[npt.NDArray[np.bool_]], float],
    n: int,
    *,
    permutations: int = 200,
    delta: float = 0.05,
    rng: RandomLike = None,
) -> SampledShapley:
    """Shapley values by permutation sampling (Castro et al. 2009), for any ``n``.

    Each permutation adds players one at a time; a player's marginal contribution is
    the change of ``value`` when it joins. Every permutation's marginals telescope to
    ``v(all) - v(empty)``, so the estimate conserves the total; the rounding left over is
    spread evenly so the sum is exact to floating point.

    Parameters
    ----------
    value
        Characteristic function of a boolean membership vector ``(n,)``.
    n
        Number of players.
    permutations
        Sampled permutations ``m``.
    delta
        Failure probability of the Hoeffding half-width.
    rng
        Randomness of the permutations.

    Examples
    --------
    >>> est = sampled_shapley(lambda s: float(s @ [1.0, 2.0, 3.0]), 3, permutations=5, rng=0)
    >>> est.values.tolist(), est.stderr.tolist()
    ([1.0, 2.0, 3.0], [0.0, 0.0, 0.0])
    """
    if n < 1 or permutations < 2:
        raise DataError("sampled Shapley needs n >= 1 players and at least 2 permutations")
    gen = as_generator(rng)
    marg = np.empty((permutations, n))
    empty = float(value(np.zeros(n, dtype=bool)))
    full = float(value(np.ones(n, dtype=bool)))
    for m in range(permutations):
        members = np.zeros(n, dtype=bool)
        prev = empty
        for player in gen.permutation(n):
            members[player] = True
            cur = float(value(members))
            marg[m, player] = cur - prev
            prev = cur
    values = marg.mean(axis=0)
    values += (full - empty - values.sum()) / n
    stderr = marg.std(axis=0, ddof=1) / math.sqrt(permutations)
    spread = marg.max(axis=0) - marg.min(axis=0)
    half = spread * math.sqrt(math.log(2.0 / delta) / (2.0 * permutations))
    return SampledShapley(values, stderr, half, permutations, delta)


def shapley_credit(
    base: float, media: npt.ArrayLike, *, permutations: int = 200, rng: RandomLike = None
) -> FloatArray:
    """Shapley credit of channels in an additive game: exact up to 15, sampled beyond.

    Examples
    --------
    >>> shapley_credit(1.0, [10.0, 100.0]).tolist()
    [10.0, 100.0]
    """
    m = np.asarray(media, dtype=np.float64)
    if m.size <= MAX_EXACT_PLAYERS:
        return exact_shapley(coalition_values(base, m))
    est = sampled_shapley(
        lambda s: base + float(m[s].sum()), m.size, permutations=permutations, rng=rng
    )
    return est.values


def attribute(
    agents: Sequence[AgentLike],
    coef: npt.ArrayLike,
    bus: Bus,
    *,
    seeds: Mapping[str, Mapping[str, int]],
    round: int,
    mask_scale: float | None = None,
    local: bool = False,
) -> pd.DataFrame:
    """Per-agent and global Shapley credit on the shared fitted model.

    The coordinator broadcasts the coefficients; each agent computes its coalition
    values and its own Shapley credit on its rows; the coalition values are securely
    summed and the coordinator computes the global credit from the sum; each agent
    reports its own credit. With ``local=True`` each agent uses its own shrunk
    coefficients (:attr:`Agent.local_coef`, hierarchical variant) where it has them, so
    the global credit is the sum over agents of their local models' values.

    Unless ``mask_scale`` is given, the fixed-point range is agreed from the agents'
    orders of magnitude (:func:`~mixlens.agents.protocols.secure_collect`).

    Returns
    -------
    pandas.DataFrame
        ``agent, channel, credit`` (target units), agent ``all`` holding the global
        credit; per channel, the agents' rows sum to the ``all`` row.
    """
    channels = agents[0].model.channels
    rows: list[dict[str, object]] = []
    sent = [
        bus.send(Message(COORDINATOR, a.name, "coef", round, {"coef": np.asarray(coef)}))
        for a in agents
    ]
    args = [(g.payload["coef"], local) for g in sent]
    share_seeds(agents, seeds)
    total = secure_collect(
        agents, bus, "coalition_vector", args, round=round, kind="values", scale=mask_scale
    )
    credits = call_each(agents, "own_credit", args)
    for a, credit in zip(agents, credits, strict=True):
        got = bus.send(Message(a.name, COORDINATOR, "credit", round, {"credit": credit}))
        rows += [
            {"agent": a.name, "channel": c, "credit": float(v)}
            for c, v in zip(channels, got.payload["credit"], strict=True)
        ]
    rows += [
        {"agent": "all", "channel": c, "credit": float(v)}
        for c, v in zip(channels, exact_shapley(total), strict=True)
    ]
    return pd.DataFrame(rows, columns=["agent", "channel", "credit"])
