"""Shapley attribution over the shared response surface, with channels as players.

The characteristic function of coalition ``S`` is the predicted outcome summed over
weeks with the media of ``S`` on and every other channel at zero. Values are indexed by
bitmask (bit ``c`` set when channel ``c`` is in the coalition). Shapley values are
linear in the value function, so agents' local credits sum to the global credit.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence

import numpy as np
import numpy.typing as npt
import pandas as pd

from mixlens.agents.agent import Agent, FloatArray
from mixlens.agents.messages import Bus, Message
from mixlens.agents.protocols import COORDINATOR, secure_sum
from mixlens.errors import DataError

__all__ = ["MAX_EXACT_PLAYERS", "attribute", "coalition_values", "exact_shapley"]

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


def attribute(
    agents: Sequence[Agent],
    coef: npt.ArrayLike,
    bus: Bus,
    *,
    seeds: Mapping[str, Mapping[str, int]],
    round: int,
    mask_scale: float | None = None,
) -> pd.DataFrame:
    """Per-agent and global Shapley credit on the shared fitted model.

    The coordinator broadcasts the coefficients; each agent computes its coalition
    values and its own Shapley credit on its rows; the coalition values are securely
    summed and the coordinator computes the global credit from the sum; each agent
    reports its own credit.

    Returns
    -------
    pandas.DataFrame
        ``agent, channel, credit`` (target units), agent ``all`` holding the global
        credit; per channel, the agents' rows sum to the ``all`` row.
    """
    channels = agents[0].model.channels
    local_values: dict[str, FloatArray] = {}
    rows: list[dict[str, object]] = []
    for a in agents:
        got = bus.send(Message(COORDINATOR, a.name, "coef", round, {"coef": np.asarray(coef)}))
        base, media = a.channel_sums(got.payload["coef"])
        local_values[a.name] = coalition_values(base, media)
    scale = (
        mask_scale
        if mask_scale is not None
        else 1e3 * max(float(np.abs(v).max()) for v in local_values.values())
    )
    total, _ = secure_sum(local_values, bus, seeds=seeds, round=round, kind="values", scale=scale)
    for a in agents:
        credit = exact_shapley(local_values[a.name])
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
