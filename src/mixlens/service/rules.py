"""Credit of one conversion's path: the per-request attribution rules of the service.

The service credits one conversion at a time, so the rules work on one short path in plain
Python (a 20-touch path takes microseconds; numpy's per-call overhead would dominate). The
heuristics follow :mod:`mixlens.mta.heuristics` exactly (a conformance test checks that summing
these per-path credits over journeys gives ``mta``'s per-channel credit):

* ``linear``: every touch ``1 / n``.
* ``first`` / ``last``: everything to the first / last touch.
* ``position``: 0.4 to the first touch, 0.4 to the last, the rest split over the middle; a
  two-touch path splits 50/50, a one-touch path gives its touch everything.
* ``time_decay``: weight ``2 ** (-seconds_before_conversion / half_life)``, half-life 7 days.
* ``markov``: a fitted Markov model (:class:`FittedWeights`) applied per conversion. Each
  distinct channel ``c`` on the path gets the share ``w_c / sum(w over the path's distinct
  channels)``, where ``w_c`` is the channel's removal effect in the fitted chain; a channel's
  share is split equally over its touches on the path. Channels the fit never saw have weight
  0; when no channel of the path has a positive weight the path is credited linearly (the
  fallback is reported as ``"fallback": "linear"``). Summed over the fitted journeys this is
  not the chain's global credit (the global credit is not a sum of per-path terms), but it
  gives every conversion the chain's relative channel importance, restricted to its own path.

Every rule returns one share per touch, non-negative and summing to 1 (an empty path returns
no shares: the conversion goes to ``baseline``).

Examples
--------
>>> credit_shares("linear", [0.0, 10.0, 20.0])
[0.3333333333333333, 0.3333333333333333, 0.3333333333333333]
>>> [round(s, 9) for s in credit_shares("position", [0.0, 1.0, 2.0, 3.0])]
[0.4, 0.1, 0.1, 0.4]
>>> w = FittedWeights("markov", {"tv": 3.0, "search": 1.0})
>>> credit_shares("markov", [0.0, 0.0, 0.0], channels=["tv", "search", "tv"], weights=w)
[0.375, 0.25, 0.375]
"""

from __future__ import annotations

import csv
import json
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from mixlens.errors import DataError

__all__ = [
    "DEFAULT_RULE",
    "HALF_LIFE_DAYS",
    "RULES",
    "FittedWeights",
    "credit_shares",
    "load_run_dir",
    "weights_from_attribution_csv",
]

DEFAULT_RULE = "linear"
"""Rule the service uses until a model is set."""

RULES = ("linear", "first", "last", "position", "time_decay", "markov")
"""Rules the service can apply per conversion (``markov`` needs fitted weights)."""

HALF_LIFE_DAYS = 7.0
"""Half-life of ``time_decay``, days (as :func:`mixlens.mta.time_decay`'s default)."""

_POSITION_FIRST = 0.4
_POSITION_LAST = 0.4


@dataclass(frozen=True)
class FittedWeights:
    """Per-channel weights of a fitted model (removal effects for Markov).

    Attributes
    ----------
    model
        Fitted model name (``"markov"``).
    weights
        Channel to non-negative weight.
    source
        Where they were read from (a run dir or ``"inline"``), for ``GET /v1/model``.
    meta
        Fit settings worth showing (e.g. the Markov order), JSON-safe.
    """

    model: str
    weights: Mapping[str, float]
    source: str = "inline"
    meta: Mapping[str, object] = field(default_factory=dict)


def _linear(n: int) -> list[float]:
    return [1.0 / n] * n


def _position(n: int) -> list[float]:
    if n == 1:
        return [1.0]
    if n == 2:
        total = _POSITION_FIRST + _POSITION_LAST
        return [_POSITION_FIRST / total, _POSITION_LAST / total]
    middle = (1.0 - _POSITION_FIRST - _POSITION_LAST) / (n - 2)
    return [_POSITION_FIRST, *([middle] * (n - 2)), _POSITION_LAST]


def _time_decay(seconds_before: Sequence[float]) -> list[float]:
    scale = HALF_LIFE_DAYS * 86_400.0
    nearest = min(seconds_before)
    raw = [math.exp2(-(s - nearest) / scale) for s in seconds_before]
    total = sum(raw)
    return [r / total for r in raw]


def _markov(channels: Sequence[str], weights: FittedWeights) -> list[float] | None:
    w = weights.weights
    distinct = dict.fromkeys(channels)
    total = sum(max(float(w.get(c, 0.0)), 0.0) for c in distinct)
    if not total > 0:
        return None
    count: dict[str, int] = {}
    for c in channels:
        count[c] = count.get(c, 0) + 1
    return [max(float(w.get(c, 0.0)), 0.0) / total / count[c] for c in channels]


def credit_shares(
    rule: str,
    seconds_before: Sequence[float],
    *,
    channels: Sequence[str] | None = None,
    weights: FittedWeights | None = None,
) -> list[float]:
    """Share of one conversion credited to each touch of its path.

    Parameters
    ----------
    rule
        One of :data:`RULES`.
    seconds_before
        Shape ``(n,)``: seconds from each touch to the conversion, in path order.
    channels
        Shape ``(n,)``: each touch's channel (needed by ``markov``).
    weights
        Fitted weights (needed by ``markov``).

    Returns
    -------
    list of float
        Shape ``(n,)``, non-negative, summing to 1 (empty for an empty path). A ``markov``
        path whose channels all have weight 0 is credited linearly.

    Raises
    ------
    DataError
        For an unknown rule, or ``markov`` without weights or channels.
    """
    n = len(seconds_before)
    if rule not in RULES:
        raise DataError(f"unknown model {rule!r}; available: {', '.join(RULES)}")
    if n == 0:
        return []
    if rule == "linear":
        return _linear(n)
    if rule == "first":
        return [1.0] + [0.0] * (n - 1)
    if rule == "last":
        return [0.0] * (n - 1) + [1.0]
    if rule == "position":
        return _position(n)
    if rule == "time_decay":
        return _time_decay(seconds_before)
    if weights is None or channels is None:
        raise DataError("model 'markov' needs fitted weights: set one with PUT /v1/model")
    shares = _markov(channels, weights)
    return _linear(n) if shares is None else shares


def weights_from_attribution_csv(
    text: str, *, model: str = "markov", source: str = "inline"
) -> FittedWeights:
    r"""Read a model's per-channel weights from the text of an ``attribution.csv``.

    The weight of a channel is its ``conversions`` credit in the model's rows (``baseline``
    left out): Markov credit is ``conversions * RE_c / sum RE``, so these are the removal
    effects up to one common factor, which the per-path normalisation cancels.

    Raises
    ------
    DataError
        If the columns are missing, the model has no rows, or a weight is not a finite number
        >= 0.

    Examples
    --------
    >>> rows = ["model,channel,conversions,value,share", "markov,tv,3,30,0.75",
    ...         "markov,search,1,5,0.25"]
    >>> dict(weights_from_attribution_csv("\n".join(rows)).weights)
    {'tv': 3.0, 'search': 1.0}
    """
    rows = list(csv.DictReader(text.splitlines()))
    if not rows or not {"model", "channel", "conversions"} <= set(rows[0]):
        raise DataError(
            "attribution.csv needs the columns model, channel, conversions", file=source
        )
    weights: dict[str, float] = {}
    for i, row in enumerate(rows, start=1):
        if row["model"] != model or row["channel"] == "baseline":
            continue
        try:
            value = float(row["conversions"])
        except ValueError:
            value = math.nan
        if not (math.isfinite(value) and value >= 0):
            raise DataError(
                f"weight {row['conversions']!r} is not a number >= 0",
                file=source,
                column="conversions",
                row=i,
            )
        weights[row["channel"]] = value
    if not weights:
        raise DataError(f"no rows of model {model!r} (run `mixlens mta fit`)", file=source)
    return FittedWeights(model, weights, source)


def load_run_dir(run_dir: str | Path, *, model: str = "markov") -> FittedWeights:
    """Load a fitted model's weights from a ``mixlens mta fit`` run dir.

    Reads ``attribution.csv``; when ``summary.json`` holds the Markov removal effects they are
    used instead (same ratios, without round-off from the CSV).

    Raises
    ------
    DataError
        If the folder has no usable ``attribution.csv``.
    """
    root = Path(run_dir)
    path = root / "attribution.csv"
    if not path.is_file():
        raise DataError("no attribution.csv here; run `mixlens mta fit` first", file=str(root))
    fitted = weights_from_attribution_csv(path.read_text(), model=model, source=str(path))
    summary = root / "summary.json"
    if summary.is_file():
        try:
            meta = json.loads(summary.read_text())["models"][model]["meta"]
            effects = {str(k): float(v) for k, v in meta["removal_effects"].items()}
        except (KeyError, TypeError, ValueError):
            return fitted
        if effects and all(math.isfinite(v) and v >= 0 for v in effects.values()):
            return FittedWeights(model, effects, str(root), {"order": meta.get("order")})
    return fitted
