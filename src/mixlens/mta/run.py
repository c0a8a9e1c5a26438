"""``mixlens mta fit``: load inputs, build journeys, run models, write ``attribution.csv``.

Writes, atomically, under ``out_dir``:

* ``attribution.csv``: ``model, channel, conversions, value, share`` (docs/design.md); each
  model's rows sum to the conversions observed, conversions no channel gets as ``baseline``.
* ``summary.json``: inputs, journeys, conversions and value, and per model its settings,
  diagnostics and seconds.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import pandas as pd

from mixlens.data.io import write_json, write_table
from mixlens.data.loaders import load_conversions, load_paths, load_touchpoints
from mixlens.errors import DataError
from mixlens.mta.heuristics import (
    first_touch,
    last_non_direct,
    last_touch,
    linear,
    position_based,
    time_decay,
)
from mixlens.mta.journeys import JourneyTable, build_journeys
from mixlens.mta.markov import check_order, markov_attribution
from mixlens.mta.result import ATTRIBUTION_COLUMNS, AttributionResult
from mixlens.mta.shapley import shapley_attribution

__all__ = ["AVAILABLE_MODELS", "PLANNED_MODELS", "fit_to_dir", "resolve_models", "run_models"]

Progress = Callable[[str, float], None]
PathLike = str | Path

AVAILABLE_MODELS = (
    "first",
    "last",
    "last_non_direct",
    "linear",
    "time_decay",
    "position",
    "markov",
    "shapley",
)
"""Models this version runs, in ``attribution.csv`` order."""

PLANNED_MODELS = ("logistic", "incremental", "neural")
"""Models named by the CLI contract that are not available yet."""

TIMED_MODELS = frozenset({"time_decay"})
"""Models that need touch timestamps (not available from a path table)."""


def resolve_models(models: Sequence[str] | str | None, *, has_timing: bool = True) -> list[str]:
    """Check model names; ``None`` means every available model that the input supports.

    Parameters
    ----------
    models
        Names, or one comma-separated string, or ``None``.
    has_timing
        Whether the input has touch timestamps (logs) or not (a path table).

    Raises
    ------
    DataError
        Naming an unknown or not-yet-available model and listing the available ones, or a
        model that needs timestamps when the input is a path table.

    Examples
    --------
    >>> resolve_models("last, markov")
    ['last', 'markov']
    """
    available = ", ".join(AVAILABLE_MODELS)
    if models is None:
        return [m for m in AVAILABLE_MODELS if has_timing or m not in TIMED_MODELS]
    names = models.split(",") if isinstance(models, str) else list(models)
    out: list[str] = []
    for raw in names:
        name = str(raw).strip()
        if name in PLANNED_MODELS:
            raise DataError(f"model {name!r} is not available yet; available models: {available}")
        if name not in AVAILABLE_MODELS:
            raise DataError(f"unknown model {name!r}; available models: {available}")
        if name in TIMED_MODELS and not has_timing:
            raise DataError(
                f"model {name!r} needs touch timestamps; give --touchpoints and --conversions "
                "instead of a path table"
            )
        if name not in out:
            out.append(name)
    if not out:
        raise DataError(f"no model given; available models: {available}")
    return out


def run_models(
    journeys: JourneyTable,
    models: Sequence[str] | None = None,
    *,
    order: int = 1,
    seed: int = 0,
    progress: Progress | None = None,
) -> list[tuple[AttributionResult, float]]:
    """Run models on journeys; return each result with its wall time in seconds."""
    names = resolve_models(models, has_timing=journeys.has_timing)
    order = check_order(order)
    runners: dict[str, Callable[[], AttributionResult]] = {
        "first": lambda: first_touch(journeys),
        "last": lambda: last_touch(journeys),
        "last_non_direct": lambda: last_non_direct(journeys),
        "linear": lambda: linear(journeys),
        "time_decay": lambda: time_decay(journeys),
        "position": lambda: position_based(journeys),
        "markov": lambda: markov_attribution(journeys, order=order),
        "shapley": lambda: shapley_attribution(journeys, seed=seed),
    }
    out = []
    for i, name in enumerate(names):
        if progress is not None:
            progress(name, i / len(names))
        start = time.perf_counter()
        result = runners[name]()
        out.append((result, time.perf_counter() - start))
    return out


def fit_to_dir(
    *,
    touchpoints: PathLike | None = None,
    conversions: PathLike | None = None,
    paths: PathLike | None = None,
    models: Sequence[str] | None = None,
    order: int = 1,
    lookback_days: float = 30.0,
    out_dir: PathLike,
    seed: int = 0,
    progress: Progress | None = None,
) -> dict[str, Any]:
    """Run attribution models from files and write ``attribution.csv`` and ``summary.json``.

    Parameters
    ----------
    touchpoints, conversions
        Touchpoint and conversion logs (CSV, Parquet or DuckDB), given together.
    paths
        Or a ChannelAttribution path table (then ``time_decay`` is not available).
    models
        Model names (see :data:`AVAILABLE_MODELS`); ``None`` runs every one the input supports.
    order
        Markov order, 1 to 4.
    lookback_days
        Journey lookback, days (logs only).
    out_dir
        Output folder (created if needed).
    seed
        Seed of every stochastic model (Shapley's permutation sampling).
    progress
        Optional callback ``progress(stage, fraction)``.

    Returns
    -------
    dict
        The summary written to ``summary.json``.

    Raises
    ------
    DataError
        On bad input files, an unknown or unavailable model, an order outside 1..4, or a
        wrong combination of inputs.
    """
    logs = touchpoints is not None or conversions is not None
    if logs == (paths is not None):
        raise DataError("give either touchpoints and conversions, or a path table (not both)")
    if logs and (touchpoints is None or conversions is None):
        raise DataError("touchpoints and conversions must be given together")
    check_order(order)
    started = time.perf_counter()
    if progress is not None:
        progress("load", 0.0)
    resolve_models(models, has_timing=logs)
    if touchpoints is not None and conversions is not None:
        tp = load_touchpoints(touchpoints)
        cv = load_conversions(conversions, touchpoints=tp)
        load_s = time.perf_counter() - started
        t0 = time.perf_counter()
        journeys = build_journeys(tp, cv, lookback_days=lookback_days)
        inputs: dict[str, Any] = {
            "touchpoints": str(touchpoints),
            "conversions": str(conversions),
            "touchpoint_rows": len(tp),
            "conversion_rows": len(cv),
        }
    else:
        assert paths is not None
        table = load_paths(paths)
        load_s = time.perf_counter() - started
        t0 = time.perf_counter()
        journeys = JourneyTable.from_paths(table)
        inputs = {"paths": str(paths), "path_rows": len(table)}
    journeys_s = time.perf_counter() - t0

    def step(stage: str, fraction: float) -> None:
        if progress is not None:
            progress(stage, 0.1 + 0.85 * fraction)

    results = run_models(journeys, models, order=order, seed=seed, progress=step)
    frame = pd.concat([r.to_frame() for r, _ in results], ignore_index=True)
    frame = frame.loc[:, list(ATTRIBUTION_COLUMNS)]
    out = Path(out_dir)
    write_table(frame, out / "attribution.csv", float_format="%.10g")
    j = journeys.journeys
    summary: dict[str, Any] = {
        "command": "mta fit",
        "inputs": inputs,
        "journeys": {
            **journeys.meta,
            "journeys": len(j),
            "converting_journeys": int(j["converted"].sum()),
            "touchless_conversions": float(
                j.loc[j["converted"] & (j["n_touches"] == 0), "weight"].sum()
            ),
            "touches": len(journeys.touches),
            "channels": list(journeys.channels),
        },
        "conversions": journeys.conversions,
        "value": journeys.value,
        "models": {r.model: {"seconds": round(s, 4), "meta": dict(r.meta)} for r, s in results},
        "seconds": {
            "load": round(load_s, 4),
            "journeys": round(journeys_s, 4),
            "total": round(time.perf_counter() - started, 4),
        },
        "files": ["attribution.csv", "summary.json"],
    }
    write_json(summary, out / "summary.json")
    if progress is not None:
        progress("done", 1.0)
    return summary
