"""Engine of the journey world: latent users, touches, the conversion process and its truth.

Internal to :mod:`mixlens.data.simulate.journeys` (whose docstring documents the generative
process implemented here). Everything works on flat numpy arrays: touches are sorted by user,
then time, then channel; per-user quantities are indexed by user id.
"""

from __future__ import annotations

import math
from collections.abc import Collection
from dataclasses import asdict, dataclass, field, replace
from datetime import timedelta
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd
from numpy.typing import NDArray

from mixlens._rng import as_generator
from mixlens.data.simulate.journeys_paths import JourneySet
from mixlens.errors import DataError

if TYPE_CHECKING:
    from mixlens.data.simulate.journeys import JourneyWorldConfig

__all__ = [
    "DIRECT",
    "Touches",
    "Truth",
    "World",
    "conversion_counts",
    "conversion_seconds",
    "generate_world",
    "observed_tables",
    "with_direct_sessions",
    "world_summary",
]

DIRECT = "direct"
"""Channel (and campaign) name of the non-causal direct session touches."""

_DAY = 86_400
_DIRECT_OFFSET = (120, 3_600)  # seconds before the conversion, uniform integer, inclusive
_DIRECT_STREAM = 4  # child of the seed's SeedSequence; generate_world uses children 0 .. 3
_LN2 = math.log(2.0)
_BUSINESS_UNITS = ("bu_retail", "bu_online", "bu_b2b")
_UNIT_WEIGHTS = np.array([0.55, 0.30, 0.15])
_UNIT_VALUE = np.array([1.0, 0.85, 4.0])
_WEEKDAY = np.array([1.0, 1.0, 1.0, 1.0, 0.95, 0.85, 0.9])  # Monday .. Sunday
_HOURLY = np.array(
    [2, 1, 1, 1, 1, 2, 3, 5, 6, 6, 6, 6, 7, 6, 6, 6, 6, 7, 8, 9, 10, 10, 8, 4], dtype=float
)


def _invalid(message: str) -> DataError:
    return DataError(message)


# --------------------------------------------------------------------------- internal world


@dataclass(frozen=True)
class _Interaction:
    gamma: float
    is_target: NDArray[np.bool_]  # (C,) by channel code
    sources: tuple[int, ...]
    flags: tuple[NDArray[np.bool_], ...]  # per source: (n_touches,) a source touch in window


@dataclass(frozen=True)
class _Plan:
    campaign_names: tuple[str, ...]
    campaign_channel: NDArray[np.int64]
    flight_start: NDArray[np.int64]  # day, per global campaign
    flight_end: NDArray[np.int64]  # exclusive day
    flight_weight: NDArray[np.float64]
    cost_factor: NDArray[np.float64]
    region_names: tuple[str, ...]
    region_weight: NDArray[np.float64]
    region_base: NDArray[np.float64]  # (R,)
    region_channel: NDArray[np.float64]  # (R, C)


@dataclass(frozen=True)
class World:
    """Latent state and touches of one world (internal; tests use it to check the truth)."""

    config: JourneyWorldConfig
    plan: _Plan
    seconds: int
    base: NDArray[np.float64]  # (n,) b0 m_r exp(sigma z), per day
    z: NDArray[np.float64]
    region: NDArray[np.int64]
    unit: NDArray[np.int64]
    episode_start: NDArray[np.int64]  # (n,) seconds, clipped to [0, T]
    episode_end: NDArray[np.int64]
    thresholds: NDArray[np.float64]  # (n, K)
    value_cents: NDArray[np.int64]  # (n, K)
    user: NDArray[np.int64]  # touches, sorted by user, time, channel
    time: NDArray[np.int64]
    channel: NDArray[np.int64]
    campaign: NDArray[np.int64]
    cost_micros: NDArray[np.int64]
    effect: NDArray[np.float64]  # (C,)
    half_life: NDArray[np.float64]  # (C,) days
    interactions: tuple[_Interaction, ...]
    candidates: NDArray[np.int64] = field(default_factory=lambda: np.zeros(0, np.int64))
    cand_touch: NDArray[np.int64] = field(default_factory=lambda: np.zeros(0, np.int64))
    cand_slot: NDArray[np.int64] = field(default_factory=lambda: np.zeros(0, np.int64))
    cand_mass: NDArray[np.float64] = field(default_factory=lambda: np.zeros(0, np.float64))

    def without_touches(self) -> World:
        """Return this world without its touch arrays, to free their memory.

        The per-user state, plan and config stay (what the truth and observed tables and the
        summary read, with the touches taken from :class:`Touches`); the conversion routines
        need the touches and cannot run on the result.
        """
        none = np.zeros(0, dtype=np.int64)
        return replace(
            self,
            user=none,
            time=none,
            channel=none,
            campaign=none,
            cost_micros=none,
            interactions=(),
            cand_touch=none,
            cand_slot=none,
            cand_mass=np.zeros(0, dtype=np.float64),
        )

    def base_integral(self, users: NDArray[np.int64], t: NDArray[np.int64]) -> NDArray[np.float64]:
        """Integrated base intensity of ``users`` over ``[0, t]`` seconds, in conversions."""
        overlap = np.clip(
            np.minimum(t, self.episode_end[users]) - self.episode_start[users], 0, None
        )
        lift = self.config.population.in_market_lift - 1.0
        out: NDArray[np.float64] = self.base[users] * ((t + lift * overlap) / _DAY)
        return out

    def amplitudes(
        self, touches: NDArray[np.int64], removed: frozenset[int]
    ) -> NDArray[np.float64]:
        """``alpha_e`` of ``touches`` (indices) with the channels in ``removed`` taken out."""
        ch = self.channel[touches]
        amp = self.effect[ch]
        for inter in self.interactions:
            active = np.zeros(touches.shape[0], dtype=bool)
            for source, flags in zip(inter.sources, inter.flags, strict=True):
                if source not in removed:
                    active |= flags[touches]
            amp = np.where(inter.is_target[ch] & active, amp * (1.0 + inter.gamma), amp)
        if removed:
            amp = np.where(np.isin(ch, np.fromiter(removed, dtype=np.int64)), 0.0, amp)
        out: NDArray[np.float64] = amp
        return out

    def decayed_mass(
        self, touches: NDArray[np.int64], t: NDArray[np.int64] | np.int64
    ) -> NDArray[np.float64]:
        """``h/ln2 (1 - 2^(-(t - t_e)^+/h))`` of each touch at time ``t`` (seconds), days."""
        h = self.half_life[self.channel[touches]]
        dt = np.maximum(t - self.time[touches], 0) / _DAY
        out: NDArray[np.float64] = (h / _LN2) * -np.expm1(-_LN2 * dt / h)
        return out


@dataclass(frozen=True)
class Touches:
    """The observed touches: paid touches plus direct sessions, sorted by user, time, channel.

    Channel codes index ``channel_names`` (the paid channels, then ``direct`` when direct
    sessions are on), campaign codes index ``campaign_names`` likewise.
    """

    user: NDArray[np.int64]
    time: NDArray[np.int64]
    channel: NDArray[np.int64]
    campaign: NDArray[np.int64]
    cost_micros: NDArray[np.int64]
    channel_names: tuple[str, ...]
    campaign_names: tuple[str, ...]
    n_direct: int = 0


def _sigmoid(x: NDArray[np.float64]) -> NDArray[np.float64]:
    out: NDArray[np.float64] = 0.5 * (1.0 + np.tanh(0.5 * x))
    return out


def _categorical(
    rng: np.random.Generator, weights: NDArray[np.float64], n: int
) -> NDArray[np.int64]:
    cum = np.cumsum(weights / weights.sum())
    idx = np.searchsorted(cum, rng.random(n), side="right")
    out: NDArray[np.int64] = np.minimum(idx, weights.shape[0] - 1).astype(np.int64)
    return out


def _make_plan(config: JourneyWorldConfig, rng: np.random.Generator) -> _Plan:
    names, owner, start, end, weight, cost = [], [], [], [], [], []
    for code, spec in enumerate(config.channels):
        for k, campaign in enumerate(spec.campaigns):
            if k == 0:
                lo, hi, w = 0, config.days, 1.0
            else:
                length = min(int(rng.integers(14, 43)), config.days)
                lo = int(rng.integers(0, config.days - length + 1))
                hi, w = lo + length, float(rng.uniform(0.5, 1.5))
            names.append(campaign)
            owner.append(code)
            start.append(lo)
            end.append(hi)
            weight.append(w)
            cost.append(float(rng.lognormal(0.0, 0.15)))
    n_reg, n_ch = config.regions, len(config.channels)
    if n_reg > 1:
        region_weight = np.arange(1, n_reg + 1, dtype=float) ** -0.8
        region_base = rng.lognormal(0.0, 0.2, n_reg)
        region_channel = rng.lognormal(0.0, 0.3, (n_reg, n_ch))
    else:
        region_weight, region_base, region_channel = np.ones(1), np.ones(1), np.ones((1, n_ch))
    return _Plan(
        campaign_names=tuple(names),
        campaign_channel=np.asarray(owner, dtype=np.int64),
        flight_start=np.asarray(start, dtype=np.int64),
        flight_end=np.asarray(end, dtype=np.int64),
        flight_weight=np.asarray(weight, dtype=np.float64),
        cost_factor=np.asarray(cost, dtype=np.float64),
        region_names=tuple(f"region_{r + 1}" for r in range(n_reg)),
        region_weight=region_weight / region_weight.sum(),
        region_base=region_base,
        region_channel=region_channel,
    )


def _channel_touches(
    config: JourneyWorldConfig,
    plan: _Plan,
    code: int,
    pop: dict[str, NDArray[Any]],
    rng: np.random.Generator,
) -> tuple[NDArray[np.int64], NDArray[np.int64], NDArray[np.int64], NDArray[np.int64]]:
    """Draw one channel's touches: (user, time in seconds, global campaign, cost in micros)."""
    spec = config.channels[code]
    z, region = pop["z"], pop["region"]
    n = z.shape[0]
    reach_logit = math.log(spec.reach / (1.0 - spec.reach)) if spec.reach < 1 else math.inf
    in_audience = rng.random(n) < _sigmoid(reach_logit + spec.selection * z)
    rate = spec.frequency * plan.region_channel[region, code] * np.exp(spec.selection * z)
    regular = rng.poisson(rate * config.days) * in_audience
    users = np.repeat(np.arange(n, dtype=np.int64), regular)
    # regular touches: day ~ weekday factor x live flight weights, hour ~ diurnal profile
    mine = np.flatnonzero(plan.campaign_channel == code)
    days = np.arange(config.days)
    live = (plan.flight_start[mine][None, :] <= days[:, None]) & (
        days[:, None] < plan.flight_end[mine][None, :]
    )
    day_weights = live * plan.flight_weight[mine][None, :]  # (days, k)
    weekday = _WEEKDAY[(days + config.start.weekday()) % 7]
    day = _categorical(rng, weekday * day_weights.sum(axis=1), users.shape[0])
    hour = _categorical(rng, _HOURLY, users.shape[0])
    time = day * _DAY + hour * 3600 + rng.integers(0, 3600, users.shape[0])
    if spec.intent_lift > 1:
        ep_days = (pop["episode_end"] - pop["episode_start"]) / _DAY
        extra = rng.poisson(rate * (spec.intent_lift - 1.0) * ep_days) * in_audience
        extra_users = np.repeat(np.arange(n, dtype=np.int64), extra)
        span = pop["episode_end"][extra_users] - pop["episode_start"][extra_users]
        extra_time = pop["episode_start"][extra_users] + np.floor(
            rng.random(extra_users.shape[0]) * span
        ).astype(np.int64)
        users = np.concatenate([users, extra_users])
        time = np.concatenate([time, extra_time])
    # campaign: among the flights live that day, in proportion to their weights
    cum = np.cumsum(day_weights, axis=1)
    d = time // _DAY
    draw = rng.random(users.shape[0]) * cum[d, -1]
    local = np.minimum((cum[d] <= draw[:, None]).sum(axis=1), mine.shape[0] - 1)
    campaign = mine[local]
    noise = rng.lognormal(0.0, spec.cost_noise, users.shape[0]) if spec.cost_noise else 1.0
    cost = np.rint(spec.cost_per_touch * plan.cost_factor[campaign] * noise * 1e6)
    return users, time.astype(np.int64), campaign.astype(np.int64), cost.astype(np.int64)


def _population(
    config: JourneyWorldConfig, plan: _Plan, rng: np.random.Generator
) -> dict[str, NDArray[Any]]:
    n, pop = config.users, config.population
    z = rng.standard_normal(n)
    if config.regions > 1:
        region = _categorical(rng, plan.region_weight, n)
        unit = _categorical(rng, _UNIT_WEIGHTS, n)
    else:
        region = np.zeros(n, dtype=np.int64)
        unit = np.zeros(n, dtype=np.int64)
    in_market = rng.random(n) < pop.in_market_share
    length = rng.uniform(pop.in_market_min_days, pop.in_market_max_days, n) * _DAY
    start = -length + rng.random(n) * (config.days * _DAY + length)
    ep_start = np.clip(np.floor(start), 0, config.days * _DAY).astype(np.int64)
    ep_end = np.clip(np.floor(start + length), 0, config.days * _DAY).astype(np.int64)
    ep_start = np.where(in_market, ep_start, 0)
    ep_end = np.where(in_market, ep_end, 0)
    base = pop.base_rate * plan.region_base[region] * np.exp(pop.propensity_sigma * z)
    return {
        "z": z,
        "region": region,
        "unit": unit,
        "episode_start": ep_start,
        "episode_end": ep_end,
        "base": base,
    }


def _interaction_flags(
    config: JourneyWorldConfig,
    user: NDArray[np.int64],
    time: NDArray[np.int64],
    channel: NDArray[np.int64],
) -> tuple[_Interaction, ...]:
    """For each interaction and source, flag target touches preceded by a source touch."""
    codes = {name: i for i, name in enumerate(config.channel_names)}
    span = np.int64(config.days * _DAY + 1)
    key = user * span + time
    out = []
    for inter in config.interactions or ():
        is_target = np.zeros(len(codes), dtype=bool)
        is_target[[codes[t] for t in inter.targets]] = True
        targets = np.flatnonzero(is_target[channel])
        window = round(inter.window_days * _DAY)
        flags = []
        for source in inter.sources:
            src = np.flatnonzero(channel == codes[source])
            flag = np.zeros(user.shape[0], dtype=bool)
            if src.shape[0] == 0:
                flags.append(flag)
                continue
            pos = np.searchsorted(key[src], key[targets], side="left") - 1
            prev = src[np.maximum(pos, 0)]
            ok = (pos >= 0) & (user[prev] == user[targets]) & (time[targets] - time[prev] <= window)
            flag[targets[ok]] = True
            flags.append(flag)
        out.append(
            _Interaction(
                gamma=inter.gamma,
                is_target=is_target,
                sources=tuple(codes[s] for s in inter.sources),
                flags=tuple(flags),
            )
        )
    return tuple(out)


def generate_world(config: JourneyWorldConfig, seed: int) -> World:
    """Draw the latent state and all touches of the world with ``seed``."""
    s_pop, s_plan, s_draws, s_touch = as_generator(seed).spawn(4)
    plan = _make_plan(config, s_plan)
    pop = _population(config, plan, s_pop)
    n, k_max, n_ch = config.users, config.max_conversions_per_user, len(config.channels)
    thresholds = np.cumsum(s_draws.standard_exponential((n, k_max)), axis=1)
    vp = config.population
    values = s_draws.lognormal(
        math.log(vp.value_mean) - vp.value_sigma**2 / 2, vp.value_sigma, (n, k_max)
    )
    if config.regions > 1:
        values = values * _UNIT_VALUE[pop["unit"]][:, None]
    value_cents = np.maximum(np.rint(values * 100.0), 1).astype(np.int64)
    parts = [
        _channel_touches(config, plan, code, pop, rng)
        for code, rng in enumerate(s_touch.spawn(n_ch))
    ]
    user = np.concatenate([p[0] for p in parts])
    time = np.concatenate([p[1] for p in parts])
    channel = np.concatenate(
        [np.full(p[0].shape[0], c, dtype=np.int64) for c, p in enumerate(parts)]
    )
    span = np.int64(config.days * _DAY + 1)
    order = np.argsort((user * span + time) * n_ch + channel, kind="stable")
    user, time, channel = user[order], time[order], channel[order]
    campaign = np.concatenate([p[2] for p in parts])[order]
    cost = np.concatenate([p[3] for p in parts])[order]
    del order, parts
    gated_codes = [i for i, c in enumerate(config.channels) if c.requires_prior_touch]
    if gated_codes:
        gated = np.isin(channel, gated_codes)
        free = np.flatnonzero(~gated)
        first = np.searchsorted(user[free], np.arange(n), side="left")
        first_time = np.full(n + 1, np.iinfo(np.int64).max, dtype=np.int64)
        has = first < free.shape[0]
        ok = np.zeros(n, dtype=bool)
        ok[has] = user[free[first[has]]] == np.arange(n)[has]
        first_time[:n][ok] = time[free[first[has][ok[has]]]]
        keep = ~gated | (time > first_time[user])
        user, time, channel = user[keep], time[keep], channel[keep]
        campaign, cost = campaign[keep], cost[keep]
    world = World(
        config=config,
        plan=plan,
        seconds=config.days * _DAY,
        base=pop["base"],
        z=pop["z"],
        region=pop["region"],
        unit=pop["unit"],
        episode_start=pop["episode_start"],
        episode_end=pop["episode_end"],
        thresholds=thresholds,
        value_cents=value_cents,
        user=user,
        time=time,
        channel=channel,
        campaign=campaign,
        cost_micros=cost,
        effect=np.array([c.effect for c in config.channels], dtype=np.float64),
        half_life=np.array([c.half_life_days for c in config.channels], dtype=np.float64),
        interactions=_interaction_flags(config, user, time, channel),
    )
    return _with_candidates(world)


def _with_candidates(world: World) -> World:
    """Find the users who convert at least once with every touch (no one else can convert)."""
    n, t_end = world.config.users, np.int64(world.seconds)
    every = np.arange(world.user.shape[0], dtype=np.int64)
    mass = world.decayed_mass(every, t_end)
    ads = np.bincount(world.user, weights=world.amplitudes(every, frozenset()) * mass, minlength=n)
    users = np.arange(n, dtype=np.int64)
    total = world.base_integral(users, np.full(n, t_end)) + ads
    candidates = np.flatnonzero(total >= world.thresholds[:, 0]).astype(np.int64)
    slot_of = np.full(n, -1, dtype=np.int64)
    slot_of[candidates] = np.arange(candidates.shape[0])
    cand_touch = np.flatnonzero(slot_of[world.user] >= 0).astype(np.int64)
    return replace(
        world,
        candidates=candidates,
        cand_touch=cand_touch,
        cand_slot=slot_of[world.user[cand_touch]],
        cand_mass=mass[cand_touch],
    )


def _channel_codes(world: World, removed: Collection[str]) -> frozenset[int]:
    names = world.config.channel_names
    unknown = sorted(set(removed) - set(names))
    if unknown:
        raise _invalid(f"unknown channels {unknown}; the world has {list(names)}")
    return frozenset(names.index(r) for r in removed)


def _total_intensity(world: World, removed: frozenset[int]) -> NDArray[np.float64]:
    """``Lambda_u(T)`` of the candidate users with channels ``removed``, shape ``(n_cand,)``."""
    ads = np.bincount(
        world.cand_slot,
        weights=world.amplitudes(world.cand_touch, removed) * world.cand_mass,
        minlength=world.candidates.shape[0],
    )
    t_end = np.full(world.candidates.shape[0], world.seconds, dtype=np.int64)
    base = world.base_integral(world.candidates, t_end)
    out: NDArray[np.float64] = base + ads
    return out


def conversion_counts(world: World, removed: Collection[str] = ()) -> NDArray[np.int64]:
    """Conversions of every user with the touches of channels ``removed`` taken out.

    Parameters
    ----------
    world
        The world.
    removed
        Channel names whose touches are removed (the rest, and every draw, is kept).

    Returns
    -------
    numpy.ndarray
        Shape ``(users,)``: conversions per user in the window, at most ``K``.
    """
    total = _total_intensity(world, _channel_codes(world, removed))
    counts = np.zeros(world.config.users, dtype=np.int64)
    counts[world.candidates] = (world.thresholds[world.candidates] <= total[:, None]).sum(axis=1)
    return counts


def conversion_seconds(
    world: World, users: NDArray[np.int64], thresholds: NDArray[np.float64]
) -> NDArray[np.int64]:
    """Second (from the window start) in which ``Lambda_u`` crosses each threshold.

    Bisection on integer seconds of the closed form: returns ``s`` with
    ``Lambda(s) < theta <= Lambda(s + 1)`` (``s = T - 1`` at the latest).
    """
    n_roots = users.shape[0]
    slots = np.searchsorted(world.candidates, users)
    starts = np.searchsorted(world.cand_slot, np.arange(world.candidates.shape[0] + 1))
    lengths = starts[slots + 1] - starts[slots]
    root = np.repeat(np.arange(n_roots, dtype=np.int64), lengths)
    first = np.repeat(starts[slots] - np.cumsum(lengths) + lengths, lengths)
    touches = world.cand_touch[np.arange(root.shape[0], dtype=np.int64) + first]
    amp = world.amplitudes(touches, frozenset())
    lo = np.zeros(n_roots, dtype=np.int64)
    hi = np.full(n_roots, world.seconds, dtype=np.int64)
    while n_roots and int((hi - lo).max()) > 1:
        mid = (lo + hi) // 2
        ads = np.bincount(
            root, weights=amp * world.decayed_mass(touches, mid[root]), minlength=n_roots
        )
        up = world.base_integral(users, mid) + ads >= thresholds
        hi = np.where(up, mid, hi)
        lo = np.where(up, lo, mid)
    return lo


def with_direct_sessions(
    world: World, conv_user: NDArray[np.int64], conv_time: NDArray[np.int64], seed: int
) -> Touches:
    """Add a ``direct`` touch to every conversion whose session no paid touch explains.

    A conversion gets one when no paid touch of its user lies in ``[lower, t]``, with ``t``
    the conversion second and ``lower`` the latest of ``t - direct_session_hours``,
    ``t - lookback`` and one second after the user's previous conversion (touches in an earlier
    conversion's second belong to that conversion). The touch is ``U{120, ..., 3600}`` seconds
    before ``t``, but not before ``lower``, so it always lands in the conversion's journey.
    The offsets come from their own stream (child ``4`` of the seed's ``SeedSequence``), so no
    other draw changes. Direct touches cost nothing and have no effect on conversions.

    Parameters
    ----------
    world
        The world (its paid touches).
    conv_user, conv_time
        Shape ``(n_conversions,)``: user and second of every conversion, sorted by user, time.
    seed
        The world's seed.

    Returns
    -------
    Touches
        The paid touches with the direct ones sorted in (the paid arrays themselves when
        ``direct_session_hours`` is 0).
    """
    config, plan = world.config, world.plan
    window = round(config.direct_session_hours * 3600)
    if window <= 0:
        return Touches(
            world.user,
            world.time,
            world.channel,
            world.campaign,
            world.cost_micros,
            config.channel_names,
            plan.campaign_names,
        )
    span = np.int64(world.seconds + 1)
    after_previous = np.zeros_like(conv_time)  # earliest second of the conversion's journey
    same_user = conv_user[1:] == conv_user[:-1]
    after_previous[1:][same_user] = conv_time[:-1][same_user] + 1
    reach = min(window, round(config.lookback_days * _DAY))
    lower = np.minimum(np.maximum(conv_time - reach, after_previous), conv_time)
    touch_key = world.user * span + world.time
    last = np.searchsorted(touch_key, conv_user * span + conv_time, side="right") - 1
    safe = np.maximum(last, 0)
    paid = (last >= 0) & (world.user[safe] == conv_user) & (world.time[safe] >= lower)
    need = np.flatnonzero(~paid)
    rng = as_generator(seed).spawn(_DIRECT_STREAM + 1)[_DIRECT_STREAM]
    offset = rng.integers(_DIRECT_OFFSET[0], _DIRECT_OFFSET[1] + 1, need.shape[0])
    d_user = conv_user[need]
    d_time = np.maximum(conv_time[need] - offset, lower[need])
    # after every paid touch of the same user and second: direct has the highest channel code
    pos = np.searchsorted(touch_key, d_user * span + d_time, side="right")
    n_ch, n_camp = len(config.channels), len(plan.campaign_names)
    return Touches(
        user=np.insert(world.user, pos, d_user),
        time=np.insert(world.time, pos, d_time),
        channel=np.insert(world.channel, pos, np.int64(n_ch)),
        campaign=np.insert(world.campaign, pos, np.int64(n_camp)),
        cost_micros=np.insert(world.cost_micros, pos, np.int64(0)),
        channel_names=(*config.channel_names, DIRECT),
        campaign_names=(*plan.campaign_names, DIRECT),
        n_direct=int(need.shape[0]),
    )


class Truth:
    """Per-user counterfactual counts, aggregated into truth tables.

    ``removed`` holds the counts without each paid channel; the channels of ``touches`` beyond
    them (``direct``) have no effect, so their incremental conversions and value are 0.
    """

    def __init__(
        self,
        world: World,
        touches: Touches,
        actual: NDArray[np.int64],
        removed: list[NDArray[np.int64]],
        baseline: NDArray[np.int64],
        journeys: JourneySet,
        conv_user: NDArray[np.int64],
    ) -> None:
        self.world = world
        self.touches = touches
        self.actual = actual
        self.removed = removed
        self.baseline = baseline
        cents = world.value_cents[world.candidates]
        self.cum_cents = np.concatenate(
            [np.zeros((cents.shape[0], 1), dtype=np.int64), np.cumsum(cents, axis=1)], axis=1
        )
        self.cand_region = world.region[world.candidates]
        conv_journeys = journeys.conversion >= 0
        last = journeys.last_touch()[conv_journeys]
        self.last_channel = touches.channel[last]
        self.last_region = world.region[touches.user[last]]
        self.touchless = int(conv_user.shape[0] - np.count_nonzero(conv_journeys))

    def value(self, counts: NDArray[np.int64]) -> NDArray[np.int64]:
        """Cents of the first ``counts`` conversions of each candidate."""
        out: NDArray[np.int64] = np.take_along_axis(self.cum_cents, counts[:, None], axis=1)[:, 0]
        return out

    def table(self, *, by_region: bool = False) -> pd.DataFrame:
        """Per-channel truth for all users, or per ``region, channel`` with ``by_region``."""
        w, tp = self.world, self.touches
        n_ch, n_paid = len(tp.channel_names), len(self.removed)
        n_groups = w.config.regions if by_region else 1
        cand = self.cand_region if by_region else np.zeros_like(self.actual)
        touch = w.region[tp.user] if by_region else np.zeros_like(tp.user)
        last = self.last_region if by_region else np.zeros_like(self.last_region)
        actual_value = self.value(self.actual)
        inc = np.stack(
            [np.bincount(cand, weights=self.actual - r, minlength=n_groups) for r in self.removed],
            axis=1,
        )  # (groups, C); integer-valued sums, exact in float64
        inc_cents = np.stack(
            [
                np.bincount(cand, weights=actual_value - self.value(r), minlength=n_groups)
                for r in self.removed
            ],
            axis=1,
        )
        no_effect = ((0, 0), (0, n_ch - n_paid))  # direct: 0 incremental conversions and value
        inc, inc_cents = np.pad(inc, no_effect), np.pad(inc_cents, no_effect)
        touches = np.bincount(touch * n_ch + tp.channel, minlength=n_groups * n_ch)
        cost = np.bincount(
            touch * n_ch + tp.channel, weights=tp.cost_micros, minlength=n_groups * n_ch
        )
        lasts = np.bincount(last * n_ch + self.last_channel, minlength=n_groups * n_ch)
        total = inc.sum(axis=1, keepdims=True)
        share = np.divide(inc, total, out=np.zeros_like(inc), where=total > 0)
        frame = pd.DataFrame(
            {
                "channel": list(tp.channel_names) * n_groups,
                "incremental_conversions": np.rint(inc).astype(np.int64).ravel(),
                "incremental_value": np.rint(inc_cents).ravel() / 100.0,
                "touches": touches.astype(np.int64),
                "cost": np.round(cost / 1e6, 6),
                "share": np.round(share, 10).ravel(),
                "last_touch_conversions": lasts.astype(np.int64),
            }
        )
        if by_region:
            regions = np.repeat(np.arange(n_groups, dtype=np.int64), n_ch)
            frame.insert(0, "region", [w.plan.region_names[r] for r in regions])
        return frame

    def totals(self) -> dict[str, int]:
        """Conversions and value (cents), actual and baseline."""
        return {
            "conversions": int(self.actual.sum()),
            "baseline_conversions": int(self.baseline.sum()),
            "value_cents": int(self.value(self.actual).sum()),
            "baseline_value_cents": int(self.value(self.baseline).sum()),
        }


def _labels(codes: NDArray[np.int64], names: tuple[str, ...]) -> pd.Categorical[Any]:
    """Return a categorical column of ``names[codes]``."""
    return pd.Categorical.from_codes(codes, dtype=pd.CategoricalDtype(categories=list(names)))


def observed_tables(
    world: World,
    touches: Touches,
    conv_user: NDArray[np.int64],
    conv_time: NDArray[np.int64],
    conv_cents: NDArray[np.int64],
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Build the touchpoints and conversions DataFrames."""
    config, plan = world.config, world.plan
    origin = np.datetime64(config.start.isoformat(), "s")
    touchpoints = pd.DataFrame(
        {
            "user_id": touches.user,
            "timestamp": origin + touches.time.astype("timedelta64[s]"),
            "channel": _labels(touches.channel, touches.channel_names),
            "campaign": _labels(touches.campaign, touches.campaign_names),
            "cost": touches.cost_micros / 1e6,
        }
    )
    conversions = pd.DataFrame(
        {
            "user_id": conv_user,
            "timestamp": origin + conv_time.astype("timedelta64[s]"),
            "value": conv_cents / 100.0,
            "conversion_id": np.arange(1, conv_user.shape[0] + 1, dtype=np.int64),
        }
    )
    if config.regions > 1:
        for frame, users in ((touchpoints, touches.user), (conversions, conv_user)):
            frame["region"] = _labels(world.region[users], plan.region_names)
            frame["business_unit"] = _labels(world.unit[users], _BUSINESS_UNITS)
    return touchpoints, conversions


def _jsonable(obj: dict[str, Any]) -> dict[str, Any]:
    """Return ``obj`` with tuple values as lists (as JSON will read them back)."""
    return {k: list(v) if isinstance(v, tuple) else v for k, v in obj.items()}


def world_summary(
    world: World,
    seed: int,
    truth: Truth,
    journeys: JourneySet,
) -> dict[str, Any]:
    """Totals and every parameter of the world, JSON-safe."""
    config, plan, touches = world.config, world.plan, truth.touches
    totals = truth.totals()
    channel_inc = sum(int((truth.actual - r).sum()) for r in truth.removed)
    channels = []
    for code, spec in enumerate(config.channels):
        mine = np.flatnonzero(plan.campaign_channel == code)
        channels.append(
            {
                **_jsonable(asdict(spec)),
                "campaigns": [
                    {
                        "name": plan.campaign_names[k],
                        "start": (
                            config.start + timedelta(days=int(plan.flight_start[k]))
                        ).isoformat(),
                        "last_day": (
                            config.start + timedelta(days=int(plan.flight_end[k]) - 1)
                        ).isoformat(),
                        "weight": round(float(plan.flight_weight[k]), 6),
                        "cost_factor": round(float(plan.cost_factor[k]), 6),
                    }
                    for k in mine
                ],
            }
        )
    summary: dict[str, Any] = {
        "model": "mixlens.journeys/1",
        "seed": int(seed),
        "users": config.users,
        "window": {
            "start": config.start.isoformat(),
            "end": config.end.isoformat(),
            "days": config.days,
        },
        "lookback_days": config.lookback_days,
        "direct_session_hours": config.direct_session_hours,
        "max_conversions_per_user": config.max_conversions_per_user,
        "touches": int(touches.user.shape[0]),
        "direct_touches": touches.n_direct,
        "cost": round(float(touches.cost_micros.sum()) / 1e6, 6),
        "users_touched": int(np.count_nonzero(np.bincount(touches.user, minlength=config.users))),
        "conversions": totals["conversions"],
        "converting_users": int(np.count_nonzero(truth.actual)),
        "baseline_conversions": totals["baseline_conversions"],
        "total_incremental": totals["conversions"] - totals["baseline_conversions"],
        "sum_channel_incremental": channel_inc,
        "conversion_value": totals["value_cents"] / 100.0,
        "baseline_value": totals["baseline_value_cents"] / 100.0,
        "total_incremental_value": (totals["value_cents"] - totals["baseline_value_cents"]) / 100.0,
        "touchless_conversions": truth.touchless,
        "journeys": journeys.n_journeys,
        "null_journeys": journeys.n_null,
        "channels": channels,
        "units": {
            "effect": "conversions per user-day added right after a touch",
            "half_life_days": "days",
            "frequency": "touches per audience member per day at z = 0",
            "cost_per_touch": "currency per touch",
            "base_rate": "conversions per user-day at z = 0 outside an in-market episode",
            "values": "currency",
        },
        "interactions": [_jsonable(asdict(i)) for i in config.interactions or ()],
        "population": _jsonable(asdict(config.population)),
    }
    if config.regions > 1:
        summary["regions"] = [
            {
                "region": name,
                "users": int(np.count_nonzero(world.region == r)),
                "base_factor": round(float(plan.region_base[r]), 6),
                "channel_factors": dict(
                    zip(
                        config.channel_names,
                        np.round(plan.region_channel[r], 6).tolist(),
                        strict=True,
                    )
                ),
                "conversions": int(truth.actual[truth.cand_region == r].sum()),
                "baseline_conversions": int(truth.baseline[truth.cand_region == r].sum()),
            }
            for r, name in enumerate(plan.region_names)
        ]
        summary["business_units"] = [
            {"business_unit": name, "value_factor": float(_UNIT_VALUE[i]),
             "users": int(np.count_nonzero(world.unit == i))}
            for i, name in enumerate(_BUSINESS_UNITS)
        ]  # fmt: skip
    return summary
