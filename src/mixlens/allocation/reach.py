"""Reach as a response model: unique people reached by a spend plan.

Each channel buys impressions at its cost per thousand (``I_c = 1000 s_c / cpm_c``) and
shows them at random to its own audience of ``U_c`` people, so a member of the audience is
missed with probability ``exp(-I_c / U_c)`` (Poisson reach). Audiences are independent draws
from one population of ``N`` people (the Sainsbury deduplication), so a person is missed by
every channel with probability ``prod_c (1 - a_c p_c)`` with ``a_c = U_c / N`` and
``p_c = 1 - exp(-I_c / U_c)``, and the plan's reach is::

    R = N * (1 - prod_c (1 - a_c p_c))

``R`` is concave in each channel's spend and its gradient is analytic. A channel's
contribution is its share of ``-log(1 - R / N) = -sum_c log(1 - a_c p_c)`` (additive over
channels) times ``R``, so contributions sum to the reach.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numpy.typing import ArrayLike, NDArray

from mixlens.errors import DataError

__all__ = ["ReachCurves"]

FloatArray = NDArray[np.float64]


@dataclass(frozen=True, eq=False)
class ReachCurves:
    """Deduplicated reach of a spend plan (a :class:`~mixlens.allocation.ResponseModel`).

    Parameters
    ----------
    channels
        Channel names, length ``C``.
    cpm
        Cost per thousand impressions per channel, currency, ``> 0``.
    audience
        People each channel can reach, ``> 0``.
    population
        People in the population the audiences are drawn from; default the largest
        audience (every audience inside it). Must be at least every audience.

    Examples
    --------
    >>> reach = ReachCurves(("tv", "social"), cpm=[10.0, 5.0], audience=[1000.0, 500.0])
    >>> round(float(reach.expected(np.array([10.0, 0.0]))[0]), 1)  # 1000 (1 - e^-1)
    632.1
    >>> reach.contributions(np.array([10.0, 5.0])).sum().round(6) == reach.expected(
    ...     np.array([10.0, 5.0]))[0].round(6)
    np.True_
    """

    channels: tuple[str, ...]
    cpm: ArrayLike
    audience: ArrayLike
    population: float | None = None

    def __post_init__(self) -> None:
        cpm, audience = self._cpm(), self._audience()
        n = len(self.channels)
        if cpm.shape != (n,) or audience.shape != (n,):
            raise DataError(f"reach needs one cpm and one audience per channel ({n})")
        for name, values in (("cpm", cpm), ("audience", audience)):
            bad = ~np.isfinite(values) | (values <= 0)
            if bad.any():
                channel = self.channels[int(np.argmax(bad))]
                raise DataError(f"reach {name} of channel {channel!r} must be a positive number")
        if self._population() < float(audience.max()) * (1 - 1e-12):
            raise DataError(
                f"reach population {self._population():g} is smaller than the largest "
                f"audience {float(audience.max()):g}"
            )

    def _cpm(self) -> FloatArray:
        return np.asarray(self.cpm, dtype=np.float64).reshape(-1)

    def _audience(self) -> FloatArray:
        return np.asarray(self.audience, dtype=np.float64).reshape(-1)

    def _population(self) -> float:
        if self.population is None:
            return float(self._audience().max())
        return float(self.population)

    def _parts(self, spend: FloatArray) -> tuple[FloatArray, FloatArray, float]:
        """Missed share per channel ``exp(-I/U)``, hit share ``a p`` and the population."""
        audience = self._audience()
        impressions = 1000.0 * np.maximum(spend, 0.0) / self._cpm()
        missed = np.exp(-impressions / audience)
        n = self._population()
        return missed, audience / n * (1.0 - missed), n

    def expected(self, spend: FloatArray) -> FloatArray:
        """Reach of ``spend`` (people), shape ``(1,)``."""
        _, hit, n = self._parts(spend)
        return np.array([n * (1.0 - float(np.prod(1.0 - hit)))])

    def contributions(self, spend: FloatArray) -> FloatArray:
        """Each channel's share of the reach (log-additive split), shape ``(1, C)``."""
        _, hit, _ = self._parts(spend)
        logs = -np.log1p(-np.minimum(hit, 1.0 - 1e-15))
        total = float(logs.sum())
        reach = float(self.expected(spend)[0])
        share = logs / total if total > 0 else np.zeros_like(logs)
        out: FloatArray = (reach * share)[None, :]
        return out

    def gradient(self, spend: FloatArray) -> FloatArray:
        """Reach per currency unit of each channel, shape ``(1, C)``."""
        # dR/ds_c = prod_{k != c} (1 - a_k p_k) * exp(-I_c / U_c) * 1000 / cpm_c
        missed, hit, _ = self._parts(spend)
        others = float(np.prod(1.0 - hit)) / np.maximum(1.0 - hit, 1e-300)
        out: FloatArray = (others * missed * 1000.0 / self._cpm())[None, :]
        return out
