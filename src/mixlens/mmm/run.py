"""``mixlens mmm fit``: load a weekly panel, fit the MMM and write its files.

Writes, atomically, under ``out_dir`` (design.md's table): ``roi.csv``,
``contributions.csv``, ``params.csv``, ``posterior.nc`` (with ``spec.json`` beside it,
so :meth:`MMMResult.load` restores the result) and ``summary.json``.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from mixlens.data.io import write_json, write_table
from mixlens.data.loaders import load_weekly
from mixlens.data.schemas import MediaPanel
from mixlens.errors import DataError
from mixlens.mmm.fit import MMM, FitMethod
from mixlens.mmm.spec import MMMSpec

__all__ = ["ProgressCallback", "fit_to_dir"]

ProgressCallback = Callable[[str, float], None]


def fit_to_dir(
    panel: str | Path | pd.DataFrame | MediaPanel,
    *,
    out_dir: str | Path,
    target: str = "sales",
    controls: Sequence[str] = (),
    method: FitMethod = "nuts",
    draws: int = 1000,
    tune: int = 1000,
    chains: int = 4,
    seed: int = 0,
    progress: ProgressCallback | None = None,
    lift_tests: str | Path | pd.DataFrame | None = None,
    holdout_weeks: int = 0,
) -> dict[str, Any]:
    """Fit the default MMM to a weekly panel and write its outputs.

    Parameters
    ----------
    panel
        Path of a weekly channel panel (CSV, Parquet or ``file.duckdb::table``), a wide
        DataFrame or a validated :class:`~mixlens.data.schemas.MediaPanel`.
    out_dir
        Output folder (created if absent).
    target, controls
        Outcome column and control columns.
    method, draws, tune, chains, seed
        Inference settings, see :meth:`mixlens.mmm.fit.MMM.fit`.
    progress
        Optional callback ``(stage, fraction_done)``.
    lift_tests
        Lift tests to calibrate with (path of a ``lift_tests.csv`` or a DataFrame; see
        :mod:`mixlens.mmm.calibration`). The summary's ``lift_tests`` lists each test
        beside the model's implied lift.
    holdout_weeks
        If positive, fit on all but the last ``holdout_weeks`` weeks and report the
        out-of-sample fit of the held-out weeks (summary's ``holdout``: MAPE, R² and
        the coverage of the predictive interval; ``holdout.csv`` has the predictions).

    Returns
    -------
    dict
        The summary written to ``summary.json``: spec, diagnostics, timings (seconds),
        sampler, file names, ROI per channel, lift tests and holdout fit.

    Raises
    ------
    DataError
        If the panel or a lift test is invalid or does not fit the model, or
        ``holdout_weeks`` leaves fewer than 26 weeks to fit on (exit status 2 in the CLI).
    """
    report = progress or (lambda stage, fraction: None)
    timings: dict[str, float] = {}
    clock = time.perf_counter()
    report("load", 0.0)
    if isinstance(panel, MediaPanel):
        media_panel = panel
    elif isinstance(panel, pd.DataFrame):
        media_panel = MediaPanel.from_frame(panel, target=target, controls=controls)
    else:
        media_panel = load_weekly(panel, target=target, controls=controls)
    spec = MMMSpec(channels=media_panel.channels, target=target, controls=tuple(controls))
    fit_frame = media_panel.frame
    if holdout_weeks:
        fit_frame = _training_weeks(media_panel, holdout_weeks)
    timings["load"] = time.perf_counter() - clock

    report(f"fit ({method})", 0.1)
    result = MMM(spec).fit(
        fit_frame if holdout_weeks else media_panel,
        method=method,
        draws=draws,
        tune=tune,
        chains=chains,
        seed=seed,
        lift_tests=lift_tests,
    )
    timings["fit"] = result.diagnostics.seconds

    report("write", 0.9)
    clock = time.perf_counter()
    out = Path(out_dir)
    roi = result.roi()
    contributions = result.contributions()
    contributions["date"] = pd.DatetimeIndex(contributions["date"]).strftime("%Y-%m-%d")
    files = [
        write_table(roi, out / "roi.csv"),
        write_table(contributions, out / "contributions.csv"),
        write_table(result.params(), out / "params.csv"),
        *result.save(out),
    ]
    holdout: dict[str, Any] | None = None
    if holdout_weeks:
        predicted = result.predict(media_panel.frame, seed=seed).iloc[-holdout_weeks:]
        holdout = _holdout_metrics(predicted, result.ci)
        predicted = predicted.assign(date=pd.DatetimeIndex(predicted["date"]).strftime("%Y-%m-%d"))
        files.append(write_table(predicted, out / "holdout.csv"))
    timings["write"] = time.perf_counter() - clock
    summary = {
        **result.summary(),
        "command": "mmm fit",
        "source": media_panel.source,
        "seed": seed,
        "timings_s": timings,
        "sampler": result.diagnostics.sampler,
        "roi": roi[["channel", "roi_mean", "roi_lo", "roi_hi", "mroi_mean"]].to_dict("records"),
        "holdout": holdout,
        "files": sorted(path.name for path in [*files, out / "summary.json"]),
    }
    write_json(summary, out / "summary.json")
    report("done", 1.0)
    return summary


#: Fewest weeks a holdout split may leave to fit on (half a year).
MIN_FIT_WEEKS = 26


def _training_weeks(panel: MediaPanel, holdout_weeks: int) -> pd.DataFrame:
    """Return the panel without its last ``holdout_weeks`` weeks (checked)."""
    n = len(panel.frame)
    if isinstance(holdout_weeks, bool) or not isinstance(holdout_weeks, int) or holdout_weeks < 0:
        raise DataError(f"holdout_weeks must be a whole number >= 0, got {holdout_weeks!r}")
    if n - holdout_weeks < MIN_FIT_WEEKS:
        raise DataError(
            f"holdout_weeks={holdout_weeks} leaves {n - holdout_weeks} of {n} weeks to fit "
            f"on; keep at least {MIN_FIT_WEEKS}",
            file=panel.source,
        )
    return panel.frame.iloc[: n - holdout_weeks].reset_index(drop=True)


def _holdout_metrics(predicted: pd.DataFrame, ci: float) -> dict[str, Any]:
    """Out-of-sample MAPE, R² and predictive-interval coverage of held-out weeks."""
    actual = predicted["actual"].to_numpy(dtype=float)
    mean = predicted["mean"].to_numpy(dtype=float)
    residual = actual - mean
    total = float(((actual - actual.mean()) ** 2).sum())
    covered = (predicted["lo"] <= predicted["actual"]) & (predicted["actual"] <= predicted["hi"])
    return {
        "weeks": len(predicted),
        "first_week": pd.Timestamp(predicted["date"].iloc[0]).date().isoformat(),
        "mape": float(np.mean(np.abs(residual) / np.abs(actual))),
        "r2": float(1.0 - (residual**2).sum() / total) if total > 0 else None,
        "coverage": float(covered.mean()),
        "ci": ci,
    }
