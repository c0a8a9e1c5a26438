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

import pandas as pd

from mixlens.data.io import write_json, write_table
from mixlens.data.loaders import load_weekly
from mixlens.data.schemas import MediaPanel
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

    Returns
    -------
    dict
        The summary written to ``summary.json``: spec, diagnostics, timings (seconds),
        sampler, file names and ROI per channel.

    Raises
    ------
    DataError
        If the panel is invalid or does not fit the model (exit status 2 in the CLI).
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
    timings["load"] = time.perf_counter() - clock

    report(f"fit ({method})", 0.1)
    result = MMM(spec).fit(
        media_panel, method=method, draws=draws, tune=tune, chains=chains, seed=seed
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
    timings["write"] = time.perf_counter() - clock
    summary = {
        **result.summary(),
        "command": "mmm fit",
        "source": media_panel.source,
        "seed": seed,
        "timings_s": timings,
        "sampler": result.diagnostics.sampler,
        "roi": roi[["channel", "roi_mean", "roi_lo", "roi_hi", "mroi_mean"]].to_dict("records"),
        "files": sorted(path.name for path in [*files, out / "summary.json"]),
    }
    write_json(summary, out / "summary.json")
    report("done", 1.0)
    return summary
