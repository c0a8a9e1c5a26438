"""Configuration of the simulated advertising market (typed, frozen, JSON-safe).

The market's users, channels' effects and conversion process are those of a journey world
(:class:`~mixlens.data.simulate.journeys.JourneyWorldConfig`): ``MarketConfig.world``. The
market adds what the journey world does not model: each channel's impression auctions
(:class:`ChannelSpec`), the budget, the horizon in periods and the historical plan.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field
from datetime import date
from typing import Any, Literal

from mixlens.data.simulate.journeys import (
    CHANNEL_LIBRARY,
    InteractionSpec,
    JourneyWorldConfig,
    PopulationSpec,
)
from mixlens.data.simulate.journeys import ChannelSpec as WorldChannel
from mixlens.errors import DataError

__all__ = [
    "ChannelSpec",
    "MarketConfig",
    "RewardKind",
    "default_channels",
    "market_world",
    "world_from_dict",
]

#: How per-period rewards are paid: profit (they add up to the market's profit), ROI, or
#: profit plus the discounted long-term value of the ad stock built (potential shaping).
RewardKind = Literal["profit", "roi", "ltv"]

#: The journey-world channels the default market buys.
DEFAULT_CHANNELS = ("paid_search_generic", "social", "display")


@dataclass(frozen=True)
class ChannelSpec:
    """One channel's impression auctions (its effect on users comes from the journey world).

    Parameters
    ----------
    name
        Channel name, a channel of the market's journey world (the agent is
        ``bidder_{name}``).
    auctions
        Impression auctions per period; a won impression is one journey-world touch.
    competitors
        Scripted competitor advertisers per auction; each bids a lognormal amount.
    competitor_log_mean, competitor_log_sd
        Parameters of the competitors' lognormal bids (currency per impression).
    reserve
        Reserve price: no sale below it; the winner pays at least this.
    max_bid
        Largest bid the channel's agent may place (its action space is ``[0, max_bid]``).
    """

    name: str
    auctions: int
    competitors: int
    competitor_log_mean: float
    competitor_log_sd: float
    reserve: float
    max_bid: float


def default_channels() -> tuple[ChannelSpec, ...]:
    """Auctions of generic search, social and display, priced from the journey world.

    Competitors bid lognormally with median ``cost_per_touch * exp(-sd)`` (the journey
    world's price per touch), so the highest of them clears near that price; the reserve is
    30% and the largest bid 8 times that price.

    Examples
    --------
    >>> [c.name for c in default_channels()]
    ['paid_search_generic', 'social', 'display']
    """
    library = {c.name: c for c in CHANNEL_LIBRARY}
    layout = {  # auctions per period, competitors, log sd, reserve as a share of the price
        "paid_search_generic": (400, 3, 0.5, 0.3),
        "social": (800, 4, 0.5, 0.3),
        "display": (1500, 5, 0.6, 0.3),
    }
    out = []
    for name in DEFAULT_CHANNELS:
        auctions, competitors, sd, reserve = layout[name]
        cost = library[name].cost_per_touch
        out.append(
            ChannelSpec(
                name, auctions, competitors, math.log(cost) - sd, sd, reserve * cost, 8.0 * cost
            )
        )
    return tuple(out)


def market_world(users: int, days: int, channels: tuple[str, ...]) -> JourneyWorldConfig:
    """Return the default journey world of a market: its users, the library's channels.

    Parameters
    ----------
    users
        Number of users.
    days
        Length of the world's window (the market's horizon), days.
    channels
        Names of :data:`~mixlens.data.simulate.journeys.CHANNEL_LIBRARY` channels.

    Examples
    --------
    >>> world = market_world(100, 28, ("display", "social"))
    >>> world.channel_names, world.population.value_mean
    (('display', 'social'), 80.0)
    """
    library = {c.name: c for c in CHANNEL_LIBRARY}
    unknown = sorted(set(channels) - set(library))
    if unknown:
        raise DataError(
            f"channels {unknown} are not journey-world channels: pass MarketConfig(world=...)"
        )
    specs = tuple(library[name] for name in channels)
    return JourneyWorldConfig(users=users, days=days, n_channels=len(specs), channels=specs)


def world_from_dict(data: dict[str, Any]) -> JourneyWorldConfig:
    """Rebuild a journey-world config from ``JourneyWorldConfig.to_dict()``.

    Examples
    --------
    >>> world = market_world(50, 14, ("display",))
    >>> world_from_dict(world.to_dict()) == world
    True
    """
    values = dict(data)
    values["start"] = date.fromisoformat(str(values["start"]))
    values["channels"] = tuple(
        WorldChannel(**{**ch, "campaigns": tuple(ch["campaigns"])}) for ch in values["channels"]
    )
    if values.get("interactions") is not None:
        values["interactions"] = tuple(
            InteractionSpec(**{**i, "targets": tuple(i["targets"]), "sources": tuple(i["sources"])})
            for i in values["interactions"]
        )
    values["population"] = PopulationSpec(**values["population"])
    return JourneyWorldConfig(**values)


@dataclass(frozen=True)
class MarketConfig:
    """The market: the journey world's users, channel auctions, budget, horizon and rewards.

    Parameters
    ----------
    channels
        Auction specifications, one per channel the market buys.
    users
        Number of users (the journey world's ``users``).
    periods
        Periods per episode (52: weekly for a year).
    period_days
        Length of a period, days.
    budget
        Budget per period, currency; the portfolio agent splits it across channels.
    static_shares
        The historical split of the budget (the ``static`` baseline).
    static_bids
        The historical bid per impression per channel (within each channel's ``max_bid``).
    reward
        ``"profit"``, ``"roi"`` or ``"ltv"`` (see :data:`RewardKind`).
    discount
        Discount of the long-term value reward.
    reward_scale
        Every reward is multiplied by this (1: currency; ``1 / budget`` suits learners
        whose value functions expect rewards near 1, such as RLlib's PPO).
    population_seed
        Seed of the journey world whose users populate the market (fixed per market);
        episodes are seeded at reset.
    world
        The journey world (``None``: :func:`market_world` with ``users``, a window of
        ``periods * period_days`` days and the market's channels). Its users, channel effects,
        half-lives, audiences, synergies, base rates, in-market episodes and conversion
        values drive the market; it must hold every market channel and last the horizon.
    """

    channels: tuple[ChannelSpec, ...] = field(default_factory=default_channels)
    users: int = 2000
    periods: int = 52
    period_days: int = 7
    budget: float = 300.0
    static_shares: tuple[float, ...] = (0.6, 0.3, 0.1)
    static_bids: tuple[float, ...] = (0.9, 0.08, 0.15)
    reward: RewardKind = "profit"
    discount: float = 0.95
    reward_scale: float = 1.0
    population_seed: int = 0
    world: JourneyWorldConfig | None = None

    def __post_init__(self) -> None:
        n = len(self.channels)
        if n == 0:
            raise DataError("the market needs at least one channel")
        if len(self.static_shares) != n or len(self.static_bids) != n:
            raise DataError(f"static_shares and static_bids need one value per channel ({n})")
        if abs(sum(self.static_shares) - 1.0) > 1e-9 or min(self.static_shares) < 0:
            raise DataError("static_shares must be >= 0 and sum to 1")
        if self.budget <= 0 or self.users < 1 or self.periods < 1 or self.period_days < 1:
            raise DataError("budget, users, periods and period_days must be positive")
        if self.reward not in ("profit", "roi", "ltv"):
            raise DataError(f"reward must be profit, roi or ltv, got {self.reward!r}")
        if not 0 < self.discount <= 1:
            raise DataError("discount must lie in (0, 1]")
        if not (self.reward_scale > 0 and math.isfinite(self.reward_scale)):
            raise DataError(f"reward_scale must be positive, got {self.reward_scale}")
        for ch in self.channels:
            if not (ch.auctions > 0 and ch.competitors >= 0 and ch.competitor_log_sd >= 0):
                raise DataError(f"channel {ch.name!r}: need auctions > 0 and competitors >= 0")
        for ch, bid in zip(self.channels, self.static_bids, strict=True):
            if not 0 <= bid <= ch.max_bid:
                raise DataError(f"channel {ch.name!r}: static bid {bid} is outside [0, max_bid]")
        days = self.periods * self.period_days
        world = self.world or market_world(self.users, days, self.channel_names)
        if world.users != self.users:
            raise DataError(f"world.users={world.users} but the market has users={self.users}")
        if world.days < days:
            raise DataError(f"world.days={world.days} is shorter than the horizon ({days} days)")
        specs = {c.name: c for c in world.channels}
        for name in self.channel_names:
            if name not in specs:
                raise DataError(f"channel {name!r} is not a channel of the journey world")
            if specs[name].requires_prior_touch:
                raise DataError(f"channel {name!r}: retargeting channels cannot be auctioned")
        object.__setattr__(self, "world", world)

    @property
    def channel_names(self) -> tuple[str, ...]:
        """Channel names, the order of every per-channel vector."""
        return tuple(ch.name for ch in self.channels)

    @property
    def max_bids(self) -> tuple[float, ...]:
        """Largest bid per channel."""
        return tuple(ch.max_bid for ch in self.channels)

    @property
    def journey_world(self) -> JourneyWorldConfig:
        """The journey world (always set after construction)."""
        assert self.world is not None
        return self.world

    def to_dict(self) -> dict[str, Any]:
        """JSON-safe dictionary (round-trips through :meth:`from_dict`)."""
        out = asdict(self)
        out["world"] = self.journey_world.to_dict()
        return out

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> MarketConfig:
        """Rebuild a config written by :meth:`to_dict`.

        Examples
        --------
        >>> cfg = MarketConfig(users=100, periods=3)
        >>> MarketConfig.from_dict(cfg.to_dict()) == cfg
        True
        """
        values = dict(data)
        values["channels"] = tuple(ChannelSpec(**ch) for ch in values.get("channels", ()))
        for key in ("static_shares", "static_bids"):
            if key in values:
                values[key] = tuple(values[key])
        if values.get("world") is not None:
            values["world"] = world_from_dict(values["world"])
        return cls(**values)
