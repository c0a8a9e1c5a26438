"""``mixlens mta fit``: load inputs, build journeys, run models, write ``attribution.csv``.

Writes, atomically, under ``out_dir``:

* ``attribution.csv``: ``model, channel, conversions, value, share`` (docs/design.md); each
  model's rows sum to the conversions observed, conversions no channel gets as ``baseline``.
  With ``bootstrap > 0``, 95 % intervals follow: ``conversions_lo, conversions_hi, value_lo,
  value_hi`` (bootstrap over users, :mod:`mixlens.mta.bootstrap`).
* ``summary.json``: inputs, journeys, conversions and value, and per model its settings,
  diagnostics and seconds; the hazard models (``logistic``, ``incremental``) report the
  held-out ``auc`` and ``log_loss`` of the daily hazard at ``models.<name>``.
* ``transitions.csv`` (order-1 ``from, to, count, probability``), ``path_lengths.csv``
  (``touches, converting, null``) and, from logs, ``paths.csv`` (the aggregated path table of
  docs/design.md) and ``time_to_conversion.csv`` (``days_from, days_to, conversions,
  value``): see :mod:`mixlens.mta.describe`.
"""

from __future__ import annotations

import importlib.util
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import pandas as pd

from mixlens.data.io import write_json, write_table
from mixlens.data.loaders import load_conversions, load_paths, load_touchpoints
from mixlens.errors import DataError
from mixlens.mta.bootstrap import INTERVAL_COLUMNS, bootstrap_hazard, bootstrap_journeys
from mixlens.mta.describe import path_lengths, time_to_conversion, transitions
from mixlens.mta.hazard import HazardFit, credit_arrays, fit_hazard, hazard_attribution
from mixlens.mta.heuristics import (
    first_touch,
    last_non_direct,
    last_touch,
    linear,
    position_based,
    time_decay,
)
from mixlens.mta.incremental import (
    MmmShare,
    incremental_attribution,
    read_lift_tests,
    read_mmm_share,
)
from mixlens.mta.journeys import JourneyTable, build_journeys, path_table
from mixlens.mta.markov import check_order, markov_attribution
from mixlens.mta.result import ATTRIBUTION_COLUMNS, AttributionResult, make_result
from mixlens.mta.shapley import shapley_attribution

__all__ = [
    "AVAILABLE_MODELS",
    "PLANNED_MODELS",
    "describe_journeys",
    "fit_to_dir",
    "resolve_models",
    "run_models",
]

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
    "logistic",
    "incremental",
    "neural",
)
"""Models this version runs, in ``attribution.csv`` order."""

PLANNED_MODELS: tuple[str, ...] = ()
"""Models named by the CLI contract that are not available yet."""

NEURAL_MODELS = frozenset({"neural"})
"""Models trained on the logs with the optional torch extra (``mixlens[neural]``)."""

HAZARD_MODELS = frozenset({"logistic", "incremental"})
"""Models fitted on the touchpoint and conversion logs themselves (the daily hazard)."""

TIMED_MODELS = frozenset({"time_decay"}) | HAZARD_MODELS | NEURAL_MODELS
"""Models that need touch timestamps (not available from a path table)."""


def resolve_models(
    models: Sequence[str] | str | None, *, has_timing: bool = True, has_logs: bool | None = None
) -> list[str]:
    """Check model names; ``None`` means every available model that the input supports.

    Parameters
    ----------
    models
        Names, or one comma-separated string, or ``None``.
    has_timing
        Whether the input has touch timestamps (logs) or not (a path table).
    has_logs
        Whether the touchpoint and conversion logs themselves are at hand (the hazard models
        fit on them); defaults to ``has_timing``.

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
    logs = has_timing if has_logs is None else has_logs

    def supported(name: str) -> bool:
        if name in HAZARD_MODELS or name in NEURAL_MODELS:
            return logs
        return has_timing or name not in TIMED_MODELS

    if models is None:
        return [
            m
            for m in AVAILABLE_MODELS
            if supported(m) and (m not in NEURAL_MODELS or _torch_installed())
        ]
    names = models.split(",") if isinstance(models, str) else list(models)
    out: list[str] = []
    for raw in names:
        name = str(raw).strip()
        if name in PLANNED_MODELS:
            raise DataError(f"model {name!r} is not available yet; available models: {available}")
        if name not in AVAILABLE_MODELS:
            raise DataError(f"unknown model {name!r}; available models: {available}")
        if name in NEURAL_MODELS and not _torch_installed():
            raise DataError(f"model {name!r} needs torch: pip install 'mixlens[neural]'")
        if not supported(name):
            raise DataError(
                f"model {name!r} needs touch timestamps; give --touchpoints and --conversions "
                "instead of a path table"
            )
        if name not in out:
            out.append(name)
    if not out:
        raise DataError(f"no model given; available models: {available}")
    return out


def _torch_installed() -> bool:
    """Whether the optional torch extra is importable (without importing it)."""
    return importlib.util.find_spec("torch") is not None


def _journey_runner(
    name: str, *, order: int, seed: int
) -> Callable[[JourneyTable], AttributionResult]:
    """Return the function running journey model ``name`` on a journey table."""
    runners: dict[str, Callable[[JourneyTable], AttributionResult]] = {
        "first": first_touch,
        "last": last_touch,
        "last_non_direct": last_non_direct,
        "linear": linear,
        "time_decay": time_decay,
        "position": position_based,
        "markov": lambda jt: markov_attribution(jt, order=order),
        "shapley": lambda jt: shapley_attribution(jt, seed=seed),
    }
    return runners[name]


def run_models(
    journeys: JourneyTable,
    models: Sequence[str] | None = None,
    *,
    order: int = 1,
    seed: int = 0,
    logs: tuple[pd.DataFrame, pd.DataFrame] | None = None,
    lift_tests: pd.DataFrame | None = None,
    mmm: MmmShare | None = None,
    bootstrap: int = 0,
    progress: Progress | None = None,
    artifact_dir: Path | None = None,
) -> list[tuple[AttributionResult, float]]:
    """Run models on journeys; return each result with its wall time in seconds.

    Parameters
    ----------
    journeys
        The journeys (every model but the hazard ones).
    models
        Model names; ``None`` runs every one the input supports.
    order
        Markov order.
    seed
        Seed of the stochastic parts (Shapley sampling, hazard subsampling, bootstrap).
    logs
        ``(touchpoints, conversions)`` the journeys came from: the hazard models
        (``logistic``, ``incremental``) fit on them.
    lift_tests, mmm
        Calibration of ``incremental`` (:func:`mixlens.mta.incremental.read_lift_tests`,
        :func:`mixlens.mta.incremental.read_mmm_share`).
    bootstrap
        Replicates of the bootstrap over users; with ``> 0`` each result's ``meta`` holds
        ``"intervals"``, a frame of ``model, channel`` and the interval columns (not for
        ``neural``, whose refits would each train a network).
    progress
        Optional callback ``progress(stage, fraction)``.
    artifact_dir
        Where ``neural`` saves its trained model (weights and config), if anywhere.
    """
    names = resolve_models(models, has_timing=journeys.has_timing, has_logs=logs is not None)
    order = check_order(order)
    if bootstrap < 0:
        raise DataError(f"bootstrap={bootstrap} must be >= 0 replicates")
    fitted: list[HazardFit] = []

    def hazard() -> HazardFit:
        if not fitted:
            assert logs is not None
            fitted.append(fit_hazard(*logs, seed=seed))
        return fitted[0]

    out = []
    for i, name in enumerate(names):
        if progress is not None:
            progress(name, i / len(names))
        start = time.perf_counter()
        intervals: pd.DataFrame | None = None
        if name in HAZARD_MODELS:
            fit = hazard()
            if name == "logistic":
                result = hazard_attribution(fit)

                def credit(
                    coef: Any, rows: Any, rng: Any, fit: HazardFit = fit
                ) -> AttributionResult:
                    del rng
                    conv, val, bc, bv = credit_arrays(fit, coef, rows)
                    return make_result("logistic", fit.channels, conv, val, baseline=(bc, bv))

            else:
                result = incremental_attribution(fit, lift_tests=lift_tests, mmm=mmm)

                def credit(
                    coef: Any, rows: Any, rng: Any, fit: HazardFit = fit
                ) -> AttributionResult:
                    tests = None
                    if lift_tests is not None:
                        tests = read_lift_tests(lift_tests)
                        noise = rng.normal(size=len(tests)) * tests["se"].to_numpy()
                        tests["incremental_conversions"] += noise
                    return incremental_attribution(
                        fit, lift_tests=tests, mmm=mmm, coef=coef, rows=rows
                    )

            if bootstrap:
                intervals = bootstrap_hazard(result, fit, credit, replicates=bootstrap, seed=seed)
        elif name in NEURAL_MODELS:
            from mixlens.mta.neural import neural_attribution

            assert logs is not None

            def sub(stage: str, fraction: float, i: int = i) -> None:
                if progress is not None:
                    progress(f"neural {stage}", (i + fraction) / len(names))

            result = neural_attribution(*logs, seed=seed, artifact_dir=artifact_dir, progress=sub)
        else:
            run = _journey_runner(name, order=order, seed=seed)
            result = run(journeys)
            if bootstrap:
                intervals = bootstrap_journeys(
                    result, journeys, run, replicates=bootstrap, seed=seed
                )
        if intervals is not None:
            result = AttributionResult(
                model=result.model,
                credit=result.credit,
                meta={**result.meta, "intervals": intervals},
            )
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
    lift_tests: PathLike | None = None,
    mmm_dir: PathLike | None = None,
    bootstrap: int = 0,
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
        Seed of every stochastic part (Shapley sampling, hazard subsampling, bootstrap).
    lift_tests
        Lift tests calibrating ``incremental`` (``channel, incremental_conversions, se``
        [, ``incremental_value``], or the ``lift_tests.csv`` of ``mixlens experiment analyze``).
    mmm_dir
        An MMM run (``roi.csv``, ``contributions.csv``) constraining ``incremental``'s total.
    bootstrap
        Bootstrap replicates over users for credit intervals (0: none).
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
    if bootstrap < 0:
        raise DataError(f"bootstrap={bootstrap} must be >= 0 replicates")
    tests = read_lift_tests(lift_tests) if lift_tests is not None else None
    mmm = read_mmm_share(mmm_dir) if mmm_dir is not None else None
    log_frames: tuple[pd.DataFrame, pd.DataFrame] | None = None
    if touchpoints is not None and conversions is not None:
        tp = load_touchpoints(touchpoints)
        cv = load_conversions(conversions, touchpoints=tp)
        load_s = time.perf_counter() - started
        t0 = time.perf_counter()
        journeys = build_journeys(tp, cv, lookback_days=lookback_days)
        log_frames = (tp, cv)
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

    results = run_models(
        journeys,
        models,
        order=order,
        seed=seed,
        logs=log_frames,
        lift_tests=tests,
        mmm=mmm,
        bootstrap=bootstrap,
        progress=step,
        artifact_dir=Path(out_dir) / "neural_model",
    )
    frame = pd.concat([r.to_frame() for r, _ in results], ignore_index=True)
    frame = frame.loc[:, list(ATTRIBUTION_COLUMNS)]
    if bootstrap:
        intervals = pd.concat(
            [r.meta["intervals"] for r, _ in results if "intervals" in r.meta], ignore_index=True
        )
        frame = frame.merge(intervals, on=["model", "channel"], how="left", validate="1:1")
        frame = frame.loc[:, [*ATTRIBUTION_COLUMNS, *INTERVAL_COLUMNS]]
    if tests is not None:
        inputs["lift_tests"] = str(lift_tests)
    if mmm is not None:
        inputs["mmm"] = str(mmm_dir)
    out = Path(out_dir)
    write_table(frame, out / "attribution.csv", float_format="%.10g")
    described = describe_journeys(journeys)
    for name, table in described.items():
        write_table(table, out / name, float_format="%.10g")
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
        "models": {r.model: _model_summary(r, s) for r, s in results},
        "bootstrap": int(bootstrap),
        "seconds": {
            "load": round(load_s, 4),
            "journeys": round(journeys_s, 4),
            "total": round(time.perf_counter() - started, 4),
        },
        "files": ["attribution.csv", *described, "summary.json"],
    }
    if any(r.model in NEURAL_MODELS for r, _ in results):
        summary["files"] += ["neural_model/neural_model.pt", "neural_model/neural_config.json"]
    write_json(summary, out / "summary.json")
    if progress is not None:
        progress("done", 1.0)
    return summary


def describe_journeys(journeys: JourneyTable) -> dict[str, pd.DataFrame]:
    """Return the descriptive tables ``mta fit`` writes, by file name.

    ``paths.csv`` (the aggregated path table, from logs only), ``transitions.csv``,
    ``path_lengths.csv`` and ``time_to_conversion.csv`` (from logs only); see
    :mod:`mixlens.mta.describe`.
    """
    tables: dict[str, pd.DataFrame] = {}
    if journeys.has_timing:
        tables["paths.csv"] = path_table(journeys)
    tables["transitions.csv"] = transitions(journeys)
    tables["path_lengths.csv"] = path_lengths(journeys)
    timing = time_to_conversion(journeys)
    if timing is not None:
        tables["time_to_conversion.csv"] = timing
    return tables


def _model_summary(result: AttributionResult, seconds: float) -> dict[str, Any]:
    """JSON-safe per-model summary: seconds, meta, and the hazard fit's held-out scores."""
    meta = {k: v for k, v in result.meta.items() if k != "intervals"}
    out: dict[str, Any] = {"seconds": round(seconds, 4)}
    for key in ("auc", "log_loss", "reliability"):
        if key in meta:
            out[key] = meta[key]
    out["meta"] = meta
    return out
