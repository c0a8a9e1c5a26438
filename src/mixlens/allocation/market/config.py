"""Configuration of the simulated advertising market (typed, frozen, JSON-safe)."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any, Literal

from mixlens.errors import DataError

__all__ = ["ChannelSpec", "MarketConfig", "RewardKind", "default_channels"]

#: How per-period rewards are paid: profit (they add up to the market's profit), ROI, or
#: profit plus the discounted long-term value of the ad stock built (potential shaping).
RewardKind = Literal["profit", "roi", "ltv"]


@dataclass(frozen=True)
class ChannelSpec:
    """One channel's auction market and effect on users.

    Parameters
    ----------
    name
        Channel name (the channel agent is ``bidder_{name}``).
    auctions
        Impression auctions per period.
    competitors
        Scripted competitor advertisers per auction; each bids a lognormal amount.
    competitor_log_mean, competitor_log_sd
        Parameters of the competitors' lognormal bids (currency per impression).
    reserve
        Reserve price: no sale below it; the winner pays at least this.
    effect
        Ad stock an impression adds to the exposed user.
    decay
        Share of a user's ad stock from this channel carried to the next period.
    targeting
        Exposure weight ``propensity ** targeting`` (0: anyone, 1: in-market users).
    """

    name: str
    auctions: int
    competitors: int
    competitor_log_mean: float
    competitor_log_sd: float
    reserve: float
    effect: float
    decay: float
    targeting: float


def default_channels() -> tuple[ChannelSpec, ...]:
    """Search (targeted, dear), social (mid) and display (cheap, broad, short-lived)."""
    return (
        ChannelSpec("search", 250, 3, 0.4, 0.5, 0.2, 0.60, 0.50, 1.0),
        ChannelSpec("social", 400, 4, -0.2, 0.5, 0.1, 0.40, 0.70, 0.4),
        ChannelSpec("display", 750, 5, -1.0, 0.6, 0.05, 0.16, 0.40, 0.0),
    )


@dataclass(frozen=True)
class MarketConfig:
    """The market: channels, users, budget, horizon and rewards.

    Parameters
    ----------
    channels
        Channel specifications.
    users
        Size of the user population (fixed per config; drawn with ``population_seed``).
    periods
        Periods per episode (52: weekly for a year).
    budget
        Budget per period, currency; the portfolio agent splits it across channels.
    static_shares
        The historical split of the budget (the ``static`` baseline).
    static_bids
        The historical bid per impression per channel.
    max_bid
        Largest bid a channel agent may place.
    base_rate, lift
        Per-period conversion probability ``propensity * (base_rate + lift * (1 - exp(-A)))``
        where ``A`` is the user's total ad stock.
    propensity_a, propensity_b
        Beta distribution of users' in-market propensity.
    value_log_mean, value_log_sd
        Lognormal value of a user's conversion (gross profit, currency).
    reward
        ``"profit"``, ``"roi"`` or ``"ltv"`` (see :data:`RewardKind`).
    discount
        Discount of the long-term value reward.
    population_seed
        Seed of the user population (the market itself); episodes are seeded at reset.
    """

    channels: tuple[ChannelSpec, ...] = field(default_factory=default_channels)
    users: int = 2000
    periods: int = 52
    budget: float = 300.0
    static_shares: tuple[float, ...] = (0.6, 0.3, 0.1)
    static_bids: tuple[float, ...] = (2.0, 1.0, 0.4)
    max_bid: float = 8.0
    base_rate: float = 0.04
    lift: float = 0.5
    propensity_a: float = 1.0
    propensity_b: float = 6.0
    value_log_mean: float = 3.6
    value_log_sd: float = 0.5
    reward: RewardKind = "profit"
    discount: float = 0.95
    population_seed: int = 0

    def __post_init__(self) -> None:
        n = len(self.channels)
        if n == 0:
            raise DataError("the market needs at least one channel")
        if len(self.static_shares) != n or len(self.static_bids) != n:
            raise DataError(f"static_shares and static_bids need one value per channel ({n})")
        if abs(sum(self.static_shares) - 1.0) > 1e-9 or min(self.static_shares) < 0:
            raise DataError("static_shares must be >= 0 and sum to 1")
        if self.budget <= 0 or self.users < 1 or self.periods < 1:
            raise DataError("budget, users and periods must be positive")
        if self.reward not in ("profit", "roi", "ltv"):
            raise DataError(f"reward must be profit, roi or ltv, got {self.reward!r}")
        if not 0 < self.discount <= 1:
            raise DataError("discount must lie in (0, 1]")
        for ch in self.channels:
            if not (0 <= ch.decay < 1 and ch.auctions > 0 and ch.competitors >= 0):
                raise DataError(f"channel {ch.name!r}: need 0 <= decay < 1 and auctions > 0")

    @property
    def channel_names(self) -> tuple[str, ...]:
        """Channel names, the order of every per-channel vector."""
        return tuple(ch.name for ch in self.channels)

    def to_dict(self) -> dict[str, Any]:
        """JSON-safe dictionary (round-trips through :meth:`from_dict`)."""
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> MarketConfig:
        """Rebuild a config written by :meth:`to_dict`."""
        values = dict(data)
        values["channels"] = tuple(ChannelSpec(**ch) for ch in values.get("channels", ()))
        for key in ("static_shares", "static_bids"):
            if key in values:
                values[key] = tuple(values[key])
        return cls(**values)
