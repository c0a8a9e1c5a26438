"""Campaign flighting: how media plans put daily spend on campaigns.

Campaigns come in families (one creative idea or audience cut many ways). A family
has one activity pattern, and its campaigns are variants of it: each runs for part of
the window, takes a share of the family's budget and adds a little daily noise. So
campaign series within a family are strongly correlated, as in real ad-platform exports,
which is exactly what makes campaign-level attribution hard.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import numpy as np
from numpy.typing import NDArray

FlightingKind = Literal["always_on", "burst", "pulsed"]
FLIGHTING_KINDS: tuple[FlightingKind, ...] = ("always_on", "burst", "pulsed")


@dataclass(frozen=True)
class CampaignPlan:
    """Daily spend plan of one channel's campaigns.

    Attributes
    ----------
    names
        Campaign names, shape ``(n_campaigns,)``.
    families
        Family name of each campaign, shape ``(n_campaigns,)``.
    kinds
        Flighting kind of each campaign's family, shape ``(n_campaigns,)``.
    spend
        Daily spend in currency units, shape ``(n_days, n_campaigns)``.
    """

    names: tuple[str, ...]
    families: tuple[str, ...]
    kinds: tuple[FlightingKind, ...]
    spend: NDArray[np.float64]


def family_pattern(
    kind: FlightingKind, n_days: int, *, rng: np.random.Generator, first_weekday: int = 0
) -> NDArray[np.float64]:
    """Relative daily activity of one family, mean about 1 over active days.

    Parameters
    ----------
    kind
        ``always_on`` (steady, weekday rhythm, slow drift), ``burst`` (a few flights of
        1 to 5 weeks a year with ramps) or ``pulsed`` (regular on/off weeks).
    n_days
        Length of the window in days.
    rng
        Random generator.
    first_weekday
        Weekday of day 0 (Monday=0).

    Returns
    -------
    numpy.ndarray
        Shape ``(n_days,)``, non-negative.
    """
    t = np.arange(n_days)
    weekday = (t + first_weekday) % 7
    if kind == "always_on":
        rhythm = np.where(weekday < 5, 1.08, 0.8)
        drift = np.exp(np.cumsum(rng.normal(0.0, 0.02, n_days)))
        drift /= drift.mean()
        season = 1.0 + 0.15 * np.sin(2 * np.pi * (t / 365.25 + rng.uniform()))
        return np.asarray(rhythm * drift * season, dtype=np.float64)
    if kind == "burst":
        pattern = np.zeros(n_days)
        n_flights = max(1, rng.poisson(3.0 * n_days / 365.25))
        for _ in range(n_flights):
            length = int(rng.integers(7, 36))
            start = int(rng.integers(-length // 2, n_days))
            ramp = np.minimum(1.0, (np.arange(length) + 1) / 4.0)
            shape = ramp * ramp[::-1] * rng.uniform(0.6, 1.6)
            lo, hi = max(start, 0), min(start + length, n_days)
            if hi > lo:
                pattern[lo:hi] += shape[lo - start : hi - start]
        return np.asarray(pattern / max(pattern[pattern > 0].mean(), 1e-12), dtype=np.float64)
    period = int(rng.choice([14, 21, 28]))
    on_days = period // 2 + int(rng.integers(0, 3))
    phase = int(rng.integers(0, period))
    on = ((t + phase) % period) < on_days
    level = np.repeat(rng.uniform(0.7, 1.3, n_days // period + 2), period)[:n_days]
    return np.asarray(on * level, dtype=np.float64)


def campaign_plan(
    channel: str,
    *,
    n_campaigns: int,
    n_families: int,
    kinds: tuple[FlightingKind, ...],
    n_days: int,
    daily_budget: float,
    rng: np.random.Generator,
    first_weekday: int = 0,
) -> CampaignPlan:
    """Draw a channel's campaigns and their daily spend.

    Parameters
    ----------
    channel
        Channel name, used as the campaign name prefix.
    n_campaigns, n_families
        Number of campaigns and of families they are grouped in (``n_families <= n_campaigns``).
    kinds
        Flighting kinds to cycle through over families.
    n_days
        Window length in days.
    daily_budget
        Mean daily channel spend (currency units) over the window.
    rng
        Random generator.
    first_weekday
        Weekday of day 0 (Monday=0).

    Returns
    -------
    CampaignPlan
        Spend of shape ``(n_days, n_campaigns)`` whose total is ``daily_budget * n_days``.
    """
    if not 1 <= n_families <= n_campaigns:
        raise ValueError(f"{channel}: need 1 <= n_families <= n_campaigns, got {n_families}")
    extra = rng.integers(0, n_families, n_campaigns - n_families)
    family_of = np.sort(np.concatenate([np.arange(n_families), extra]))
    family_kinds = [kinds[i % len(kinds)] for i in range(n_families)]
    family_budget = rng.dirichlet(np.full(n_families, 3.0))
    patterns = np.stack(
        [family_pattern(k, n_days, rng=rng, first_weekday=first_weekday) for k in family_kinds],
        axis=1,
    )
    spend = np.zeros((n_days, n_campaigns))
    names: list[str] = []
    families: list[str] = []
    campaign_kinds: list[FlightingKind] = []
    counters = np.zeros(n_families, dtype=int)
    for k in range(n_campaigns):
        fam = int(family_of[k])
        counters[fam] += 1
        names.append(f"{channel}_f{fam + 1:02d}_c{counters[fam]:02d}")
        families.append(f"{channel}_f{fam + 1:02d}")
        campaign_kinds.append(family_kinds[fam])
        active = np.ones(n_days, dtype=bool)
        if rng.uniform() < 0.6:  # most campaigns live for part of the window only
            length = int(rng.integers(max(28, n_days // 6), max(29, n_days // 2 + 1)))
            start = int(rng.integers(0, max(1, n_days - length + 1)))
            active[:] = False
            active[start : start + length] = True
        weight = rng.lognormal(0.0, 0.5)
        noise = rng.lognormal(-0.5 * 0.2**2, 0.2, n_days)
        spend[:, k] = patterns[:, fam] * active * weight * noise
        if spend[:, k].sum() == 0:  # its life fell in the family's dark weeks: run all window
            spend[:, k] = patterns[:, fam] * weight * noise
    # Share each family's budget over its campaigns, then scale the channel to its budget.
    for fam in range(n_families):
        cols = family_of == fam
        total = spend[:, cols].sum()
        if total > 0:
            spend[:, cols] *= family_budget[fam] / total
    spend *= daily_budget * n_days / max(spend.sum(), 1e-12)
    return CampaignPlan(tuple(names), tuple(families), tuple(campaign_kinds), spend)
