"""Pairwise additive masks for secure aggregation.

Agents ``i < j`` share a seed; ``i`` adds the seed's pseudo-random vector and ``j``
subtracts it, so the masks cancel in the sum and whoever adds the masked vectors learns
only their sum. Seeds are dealt by :func:`pairwise_seeds` (a stand-in for pairwise key
agreement); each agent keeps only its own pairs.

Two forms: :func:`pairwise_mask` adds float64 uniforms on ``[-scale, scale]`` (they
cancel up to rounding, ~``1e-16 * scale``); :func:`fixed_mask` works on 64-bit
fixed-point words modulo ``2**64`` (:func:`to_fixed`), where masks are uniform over all
words (perfect hiding) and cancel exactly, so equal values sum to exactly equal totals.
The agents' secure aggregation (:meth:`~mixlens.agents.Agent.secure_share`) uses the
fixed-point form.
"""

from __future__ import annotations

import zlib
from collections.abc import Mapping, Sequence

import numpy as np
import numpy.typing as npt

from mixlens._rng import RandomLike, as_generator

__all__ = [
    "FIXED_BITS",
    "MAX_PARTIES",
    "fixed_mask",
    "from_fixed",
    "pairwise_mask",
    "pairwise_seeds",
    "to_fixed",
]

FloatArray = npt.NDArray[np.float64]


def pairwise_seeds(names: Sequence[str], rng: RandomLike = None) -> dict[str, dict[str, int]]:
    """Deal one shared seed per pair of agents; each agent's view of its pairs.

    Parameters
    ----------
    names
        Agent names.
    rng
        Randomness of the dealer (stands in for pairwise key agreement).

    Returns
    -------
    dict
        ``seeds[a][b] == seeds[b][a]`` for every pair ``a != b``.

    Examples
    --------
    >>> s = pairwise_seeds(["a", "b", "c"], rng=0)
    >>> s["a"]["b"] == s["b"]["a"], sorted(s["c"])
    (True, ['a', 'b'])
    """
    gen = as_generator(rng)
    seeds: dict[str, dict[str, int]] = {n: {} for n in names}
    for i, a in enumerate(names):
        for b in names[i + 1 :]:
            seed = int(gen.integers(0, 2**63 - 1))
            seeds[a][b] = seed
            seeds[b][a] = seed
    return seeds


def pairwise_mask(
    name: str, peers: Mapping[str, int], *, round: int, kind: str, size: int, scale: float
) -> FloatArray:
    """Sum of ``name``'s signed pairwise masks, shape ``(size,)``.

    ``+mask`` toward peers whose name sorts after ``name``, ``-mask`` otherwise, so the
    masks of all agents sum to zero (up to rounding). Each mask is uniform on
    ``[-scale, scale]``.

    Examples
    --------
    >>> s = pairwise_seeds(["a", "b"], rng=1)
    >>> m = [pairwise_mask(n, s[n], round=1, kind="x", size=3, scale=1.0) for n in "ab"]
    >>> bool(np.allclose(m[0] + m[1], 0.0))
    True
    """
    total = np.zeros(size)
    tag = zlib.crc32(kind.encode("utf-8"))
    for peer, seed in peers.items():
        draw = np.random.default_rng([seed, round, tag]).uniform(-scale, scale, size)
        total += draw if name < peer else -draw
    return total


FIXED_BITS = 52
"""Fixed-point resolution: a value ``v`` with mask scale ``s`` is sent as ``round(v 2**52 / s)``."""

MAX_PARTIES = 1024
"""Most agents one fixed-point sum may add (so the sum of ``|v| <= s`` stays in int64)."""


def fixed_mask(
    name: str, peers: Mapping[str, int], *, round: int, kind: str, size: int
) -> npt.NDArray[np.uint64]:
    """Sum of ``name``'s signed pairwise masks modulo ``2**64``, shape ``(size,)``.

    Masks are uniform on all 64-bit words, so a masked word reveals nothing about the
    value under it; the masks of all agents cancel exactly in the modular sum.

    Examples
    --------
    >>> s = pairwise_seeds(["a", "b"], rng=1)
    >>> m = [fixed_mask(n, s[n], round=1, kind="x", size=3) for n in "ab"]
    >>> (m[0] + m[1]).tolist()
    [0, 0, 0]
    """
    total = np.zeros(size, dtype=np.uint64)
    tag = zlib.crc32(kind.encode("utf-8"))
    for peer, seed in peers.items():
        draw = np.random.default_rng([seed, round, tag]).integers(
            0, 2**64, size, dtype=np.uint64, endpoint=False
        )
        if name < peer:
            np.add(total, draw, out=total)
        else:
            np.subtract(total, draw, out=total)
    return total


def to_fixed(
    values: npt.ArrayLike, scale: float | npt.ArrayLike, *, parties: int = 1
) -> npt.NDArray[np.uint64]:
    """Encode ``values`` as 64-bit two's-complement fixed point with step ``scale * 2**-52``.

    Each value must satisfy ``|v| <= scale * 2**10 / parties``, so that the sum over
    ``parties`` agents stays below ``2**62`` words.

    Examples
    --------
    >>> from_fixed(to_fixed([1.5, -2.0], 4.0), 4.0).tolist()
    [1.5, -2.0]
    """
    v = np.asarray(values, dtype=np.float64)
    s = np.broadcast_to(np.asarray(scale, dtype=np.float64), v.shape)
    bound = s * 2.0 ** (62 - FIXED_BITS) / max(parties, 1)
    if not np.all(np.abs(v) <= bound):
        raise ValueError(
            f"a value ({float(np.max(np.abs(v))):.3g}) exceeds its fixed-point range; "
            "use a larger mask scale"
        )
    return np.rint(v / s * 2.0**FIXED_BITS).astype(np.int64).view(np.uint64)


def from_fixed(words: npt.ArrayLike, scale: float | npt.ArrayLike) -> FloatArray:
    """Decode a (summed) fixed-point vector written by :func:`to_fixed`."""
    w = np.asarray(words, dtype=np.uint64).view(np.int64).astype(np.float64)
    return np.asarray(w * np.asarray(scale, dtype=np.float64) / 2.0**FIXED_BITS, np.float64)
