"""Cross-channel interaction terms for IMA's campaign regression (optional, off by default).

A channel's campaigns can work better when another channel is active (search after a TV
burst, social while online video runs). IMA conserves every channel's MMM contribution,
so an interaction does not move credit between channels; it changes *which of the
target channel's campaigns* get it. Without the term, a campaign that happens to run
while the source channel is busy is credited with the source's lift on the whole
channel; with it, the regression explains that lift by the source's activity and
credits the campaigns by their own media.

For target channel ``c`` with source channels ``s in S(c)``, every campaign's media on
day ``t`` is multiplied by

    g_t = exp(sum_s gamma_{c,s} * u_{s,t}),   gamma_{c,s} ~ Normal(0, 1)

where ``u_s`` is the source's activity (its MMM contribution in the period containing
``t``) scaled to a maximum of one and centred over the window, so ``gamma = 0`` is the
model without interactions and the campaigns' effects keep their meaning at the
source's average activity. The multiplier acts on the whole channel on a day, so the
day's split over campaigns is unchanged; it changes the estimated effects, and so how
the days' credit adds up per campaign. Any MMM channel can be a source (it needs weekly
contributions, not campaigns).

:func:`interaction_share` reports the part of the target's contribution that the
sources account for: what the target would lose with its sources switched off
(``u_s = 0``, where ``g`` falls by ``exp(sum_s gamma_s v_{s,t})``, ``v_s`` the scaled
activity before centring), ``sum_t y_t (1 - exp(-sum_s gamma_s v_{s,t})) / sum_t y_t``
per draw.

Examples
--------
>>> parse_interactions("paid_search=tv+online_video, social=tv")
{'paid_search': ('tv', 'online_video'), 'social': ('tv',)}
"""

from __future__ import annotations

from collections.abc import Collection, Mapping, Sequence
from typing import Any

import numpy as np
import pandas as pd
from numpy.typing import NDArray

__all__ = [
    "centred_activity",
    "check_targets",
    "interaction_share",
    "interaction_summary",
    "parse_interactions",
    "scaled_activity",
    "source_activity",
    "validate_interactions",
]

FloatArray = NDArray[np.float64]


def parse_interactions(text: str) -> dict[str, tuple[str, ...]]:
    """Parse ``"target=source1+source2, target2=source"`` into target -> sources.

    Raises
    ------
    ValueError
        If an entry has no ``=``, an empty side, a target listed twice, or a channel
        that is its own source.

    Examples
    --------
    >>> parse_interactions("search=tv")
    {'search': ('tv',)}
    >>> parse_interactions("search")
    Traceback (most recent call last):
    ...
    ValueError: interaction 'search' must read target=source[+source...]
    """
    pairs: list[tuple[str, tuple[str, ...]]] = []
    for entry in filter(None, (part.strip() for part in text.split(","))):
        target, sep, rest = entry.partition("=")
        sources = tuple(s.strip() for s in rest.split("+") if s.strip())
        if not sep or not target.strip() or not sources:
            raise ValueError(f"interaction {entry!r} must read target=source[+source...]")
        pairs.append((target.strip(), sources))
    return validate_interactions(pairs)


def validate_interactions(
    pairs: Mapping[str, Sequence[str]] | Sequence[tuple[str, Sequence[str]]],
) -> dict[str, tuple[str, ...]]:
    """Check target -> sources pairs; return them as a dict of tuples.

    Raises
    ------
    ValueError
        If a target is listed twice, has no sources, is its own source, or lists a
        source twice.

    Examples
    --------
    >>> validate_interactions({"search": ["tv"]})
    {'search': ('tv',)}
    """
    items = list(pairs.items()) if isinstance(pairs, Mapping) else list(pairs)
    out: dict[str, tuple[str, ...]] = {}
    for target, given in items:
        sources = tuple(str(s) for s in given)
        if target in out:
            raise ValueError(f"interaction target {target!r} is listed twice")
        if not sources:
            raise ValueError(f"interaction target {target!r} has no sources")
        if target in sources:
            raise ValueError(f"channel {target!r} cannot interact with itself")
        if len(set(sources)) != len(sources):
            raise ValueError(f"interaction of {target!r} lists a source twice")
        out[str(target)] = sources
    return out


def check_targets(interactions: Mapping[str, Sequence[str]], channels: Collection[str]) -> None:
    """Raise ``ValueError`` if a target is not among ``channels`` (those with campaigns)."""
    for target in interactions:
        if target not in channels:
            raise ValueError(
                f"interaction target {target!r} has no campaigns to attribute "
                f"(channels with campaigns: {', '.join(sorted(channels))})"
            )


def interaction_summary(
    sources: Sequence[str], gamma: FloatArray, share: FloatArray, ci: float
) -> dict[str, Any]:
    """Posterior mean and central ``ci`` interval of each source's ``gamma`` and of the share.

    ``gamma`` is ``(n_draws, n_sources)``, ``share`` ``(n_draws,)``
    (:func:`interaction_share`).
    """
    q = [(1 - ci) / 2, (1 + ci) / 2]
    lo, hi = np.quantile(gamma, q, axis=0)
    share_lo, share_hi = np.quantile(share, q)
    return {
        "sources": list(sources),
        "gamma": {
            s: {"mean": float(gamma[:, i].mean()), "lo": float(lo[i]), "hi": float(hi[i])}
            for i, s in enumerate(sources)
        },
        "share": {"mean": float(share.mean()), "lo": float(share_lo), "hi": float(share_hi)},
    }


def source_activity(
    weekly: pd.DataFrame,
    interactions: Mapping[str, Sequence[str]],
    periods: pd.DatetimeIndex,
    period_days: int,
) -> dict[str, FloatArray]:
    """Each target's source activity per day: the sources' period contributions, repeated.

    Parameters
    ----------
    weekly
        ``date, channel, contribution``: the MMM's contribution per channel and period.
    interactions
        Target channel -> its source channels.
    periods
        First day of each period of the window (sorted).
    period_days
        Days per period.

    Returns
    -------
    dict
        Target -> array ``(n_periods * period_days, n_sources)``: each day carries its
        period's source contribution (target units per period).

    Raises
    ------
    ValueError
        If a source is not a channel of ``weekly`` or misses a period.
    """
    wide = weekly.assign(date=pd.to_datetime(weekly["date"])).pivot_table(
        index="date", columns="channel", values="contribution", aggfunc="sum"
    )
    out: dict[str, FloatArray] = {}
    for target, sources in interactions.items():
        columns = []
        for source in sources:
            if source not in wide.columns:
                raise ValueError(
                    f"interaction source {source!r} of {target!r} is not a channel of the MMM "
                    f"(channels: {', '.join(map(str, wide.columns))})"
                )
            values = wide[source].reindex(periods)
            if values.isna().any():
                raise ValueError(f"interaction source {source!r} misses periods of the window")
            columns.append(np.repeat(values.to_numpy(dtype=np.float64), period_days))
        out[target] = np.stack(columns, axis=1)
    return out


def scaled_activity(activity: FloatArray) -> FloatArray:
    """Scale each column to a maximum absolute value of one (a zero column stays zero).

    Examples
    --------
    >>> scaled_activity(np.array([[0.0, 5.0], [2.0, 5.0], [4.0, 5.0]])).tolist()
    [[0.0, 1.0], [0.5, 1.0], [1.0, 1.0]]
    """
    top = np.abs(activity).max(axis=0)
    out: FloatArray = activity / np.where(top > 0, top, 1.0)
    return out


def centred_activity(activity: FloatArray) -> FloatArray:
    """Scale each column as :func:`scaled_activity` does, then centre it over the rows.

    Examples
    --------
    >>> centred_activity(np.array([[0.0, 5.0], [2.0, 5.0], [4.0, 5.0]])).tolist()
    [[-0.5, 0.0], [0.0, 0.0], [0.5, 0.0]]
    """
    scaled = scaled_activity(activity)
    out: FloatArray = scaled - scaled.mean(axis=0)
    return out


def interaction_share(
    contribution: FloatArray, gamma: FloatArray, activity: FloatArray
) -> FloatArray:
    """Share of a channel's contribution that its sources account for, per draw.

    What the channel would lose with its sources switched off.

    Parameters
    ----------
    contribution
        Daily channel contribution, ``(n_days,)``, target units.
    gamma
        Interaction coefficients per draw and source, ``(n_draws, n_sources)``.
    activity
        The sources' activity per day, ``(n_days, n_sources)`` (as given to the fit).

    Returns
    -------
    numpy.ndarray
        ``(n_draws,)``: ``sum_t y_t (1 - exp(-sum_s gamma_s v_{s,t})) / sum_t y_t`` with
        ``v`` the scaled activity (negative where the sources dampen the channel; NaN if
        the channel sums to zero).

    Examples
    --------
    >>> share = interaction_share(np.array([1.0, 1.0]), np.array([[np.log(2.0)]]),
    ...                           np.array([[2.0], [0.0]]))
    >>> share.round(6).tolist()
    [0.25]
    """
    total = float(contribution.sum())
    if total == 0:
        return np.full(gamma.shape[0], np.nan)
    off = np.exp(-(scaled_activity(activity) @ gamma.T))  # (n_days, n_draws)
    out: FloatArray = (contribution[:, None] * (1.0 - off)).sum(axis=0) / total
    return out
