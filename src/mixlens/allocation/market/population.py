"""The market's users: in-market propensity, conversion value and per-channel targeting."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

from mixlens.allocation.market.config import MarketConfig

__all__ = ["Population", "draw_population"]

FloatArray = NDArray[np.float64]


@dataclass(frozen=True, eq=False)
class Population:
    """A compact user population in the spirit of the journey world.

    Attributes
    ----------
    propensity
        In-market propensity per user, ``(N,)``.
    value
        Value of a conversion per user, currency, ``(N,)``.
    exposure
        Probability that a channel's impression reaches each user, ``(N, C)``
        (columns sum to 1).
    cumulative
        Column-wise cumulative ``exposure`` for fast sampling, ``(C, N)``.
    """

    propensity: FloatArray
    value: FloatArray
    exposure: FloatArray
    cumulative: FloatArray


def draw_population(config: MarketConfig) -> Population:
    """Draw the config's population from ``config.population_seed`` (fixed per market).

    Examples
    --------
    >>> pop = draw_population(MarketConfig(users=100))
    >>> pop.exposure.shape, bool(np.allclose(pop.exposure.sum(axis=0), 1.0))
    ((100, 3), True)
    """
    rng = np.random.default_rng(np.random.SeedSequence([config.population_seed, 9]))
    p = rng.beta(config.propensity_a, config.propensity_b, size=config.users)
    value = rng.lognormal(config.value_log_mean, config.value_log_sd, size=config.users)
    weights = np.stack([np.maximum(p, 1e-9) ** ch.targeting for ch in config.channels], axis=1)
    exposure = weights / weights.sum(axis=0, keepdims=True)
    cumulative = np.cumsum(exposure, axis=0).T.copy()
    cumulative[:, -1] = 1.0
    return Population(propensity=p, value=value, exposure=exposure, cumulative=cumulative)
