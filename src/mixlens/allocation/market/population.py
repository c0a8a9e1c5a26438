"""The market's users: the users of a journey world, period by period.

:func:`draw_population` generates the journey world ``config.journey_world`` with seed
``config.population_seed`` (:func:`~mixlens.data.simulate.journeys_engine.generate_world`,
the same world ``simulate_journeys(world, seed=population_seed)`` writes) and keeps its
users: their base conversion intensity with in-market episodes, integrated per period
(:meth:`~mixlens.data.simulate.journeys_engine.World.base_integral`), their conversion
values, and, per channel, the journey world's touch process turned into exposure weights:
a user is in the channel's audience with probability ``sigmoid(logit(reach) + s z)`` and
is reached at a rate ``exp(s z)`` times the region factor, times ``intent_lift`` during the
in-market episode. A won impression is one touch: it adds ``effect`` to the user's
conversion intensity, decaying with the channel's half-life (see :mod:`.env`).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

from mixlens.allocation.market.config import MarketConfig
from mixlens.data.simulate.journeys_engine import generate_world

__all__ = ["Population", "Synergy", "draw_population"]

FloatArray = NDArray[np.float64]
_DAY = 86_400


@dataclass(frozen=True)
class Synergy:
    """A journey-world interaction among market channels (column indices).

    Attributes
    ----------
    targets, sources
        Channel columns boosted, and those whose earlier touch boosts them.
    gamma
        Relative boost of a target touch's effect.
    window
        Periods a source touch counts for (``window_days / period_days``).
    """

    targets: tuple[int, ...]
    sources: tuple[int, ...]
    gamma: float
    window: float


@dataclass(frozen=True, eq=False)
class Population:
    """The journey world's users as the market sees them (``N`` users, ``C`` channels).

    Attributes
    ----------
    z
        Latent propensity of each user, ``(N,)`` (the world's ``z``).
    base
        Base conversions (intensity integral without ads) per period and user, ``(T, N)``.
    values
        Value of each user's ``k``-th conversion, currency, ``(N, K)``.
    cumulative
        Per period and channel, cumulative exposure probabilities over users for
        sampling whom an impression reaches, ``(T, C, N)``.
    effect
        Intensity a touch adds, conversions per user-day, ``(C,)``.
    half_life
        Half-life of a touch's effect, days, ``(C,)``.
    synergies
        Interactions among the market's channels.
    """

    z: FloatArray
    base: FloatArray
    values: FloatArray
    cumulative: FloatArray
    effect: FloatArray
    half_life: FloatArray
    synergies: tuple[Synergy, ...]

    @property
    def exposure(self) -> FloatArray:
        """Exposure probabilities per period, channel and user, ``(T, C, N)``."""
        out: FloatArray = np.diff(self.cumulative, axis=2, prepend=0.0)
        return out


def draw_population(config: MarketConfig) -> Population:
    """Users of the journey world ``config.journey_world`` drawn with ``population_seed``.

    Examples
    --------
    >>> pop = draw_population(MarketConfig(users=100, periods=4))
    >>> pop.base.shape, pop.cumulative.shape
    ((4, 100), (4, 3, 100))
    >>> bool(np.allclose(pop.exposure.sum(axis=2), 1.0))
    True
    """
    world_cfg = config.journey_world
    world = generate_world(world_cfg, config.population_seed).without_touches()
    n, periods = config.users, config.periods
    edges = np.arange(periods + 1, dtype=np.int64) * config.period_days * _DAY
    users = np.arange(n, dtype=np.int64)
    integral = np.stack([world.base_integral(users, np.full(n, t)) for t in edges])
    base = np.diff(integral, axis=0)
    # in-market share of each period per user, for the channels' intent lift
    lo, hi = edges[:-1, None], edges[1:, None]
    overlap = np.clip(
        np.minimum(hi, world.episode_end[None, :]) - np.maximum(lo, world.episode_start[None, :]),
        0,
        None,
    ) / (config.period_days * _DAY)
    specs = {c.name: c for c in world_cfg.channels}
    codes = {c.name: i for i, c in enumerate(world_cfg.channels)}
    rng = np.random.default_rng(np.random.SeedSequence([config.population_seed, 9]))
    weights = np.zeros((periods, len(config.channels), n))
    for j, name in enumerate(config.channel_names):
        spec = specs[name]
        logit = math.log(spec.reach / (1.0 - spec.reach)) if spec.reach < 1 else math.inf
        audience = rng.random(n) < 0.5 * (1.0 + np.tanh(0.5 * (logit + spec.selection * world.z)))
        rate = audience * np.exp(spec.selection * world.z)
        rate = rate * world.plan.region_channel[world.region, codes[name]]
        weights[:, j] = rate[None, :] * (1.0 + (spec.intent_lift - 1.0) * overlap)
    total = weights.sum(axis=2, keepdims=True)
    weights = np.where(total > 0, weights / np.where(total > 0, total, 1.0), 1.0 / n)
    cumulative = np.cumsum(weights, axis=2)
    cumulative[..., -1] = 1.0
    column = {name: j for j, name in enumerate(config.channel_names)}
    synergies = []
    for inter in world_cfg.interactions or ():
        targets = tuple(column[t] for t in inter.targets if t in column)
        sources = tuple(column[s] for s in inter.sources if s in column)
        if targets and sources:
            window = inter.window_days / config.period_days
            synergies.append(Synergy(targets, sources, inter.gamma, window))
    return Population(
        z=world.z,
        base=base,
        values=world.value_cents / 100.0,
        cumulative=cumulative,
        effect=np.array([specs[c].effect for c in config.channel_names]),
        half_life=np.array([specs[c].half_life_days for c in config.channel_names]),
        synergies=tuple(synergies),
    )
