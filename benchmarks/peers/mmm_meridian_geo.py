"""The geo MMM side by side with Google Meridian on Meridian's own geo panel.

``geo_full_funnel_data.csv`` from google/meridian (20 geos x 156 weeks, 3 paid channels,
outcome ``conversions``, controls ``BrandedGQV_control`` and ``GenericGQV_control``; read
from ``../shared/data/external/meridian``, never copied) is fitted by

* mixlens: ``mixlens mmm fit PANEL --target conversions --controls ...`` (the CLI, with the
  ``geo`` column, so the hierarchical geo model), media = spend;
* Meridian (own environment from ``bash benchmarks/peers/setup.sh``, driven by
  ``_meridian_runner.py``): ``ModelSpec()`` defaults, geo model with population, KPI type
  non-revenue with ``revenue_per_conversion`` as in Meridian's own example, media =
  impressions (``--meridian-media spend`` gives it spend instead), spend = spend.

Each tool runs in a fresh process, one after the other, with the same chains/draws/tuning
steps (Meridian: ``n_adapt = tune``, ``n_burnin = 0``, ``n_keep = draws``). The file has no
ground truth, so the table compares ROI (conversions per unit of spend, all geos) with its
90% interval, in-sample R² (national weekly and geo x week), wall time of the whole
process, and its peak RSS.

    bash benchmarks/peers/setup.sh && .venv/bin/python benchmarks/peers/mmm_meridian_geo.py \
        --chains 2 --draws 300 --tune 300

``--tools mixlens,mixlens-linear,meridian`` (any subset; ``mixlens`` is the default geo model
with its time-varying baseline, ``mixlens-linear`` the same with ``--time-knots 0``),
``--keep`` (keep the saved rows of tools not re-run), ``--from-json`` (table from saved
results).
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "benchmarks"))

from _results import update_section  # noqa: E402

MERIDIAN_ENV = ROOT / "benchmarks" / ".envs" / "meridian" / "bin" / "python"
MERIDIAN_RUNNER = Path(__file__).with_name("_meridian_runner.py")
MIXLENS_CLI = Path(sys.executable).with_name("mixlens")
DATA = ROOT.parent / "shared" / "data" / "external" / "meridian" / "geo_full_funnel_data.csv"
CHANNELS = ["AwarenessVideo", "PerformanceDisplay", "PerformanceNative"]
CONTROLS = ["BrandedGQV_control", "GenericGQV_control"]
TOOLS = ("mixlens", "mixlens-40knots", "mixlens-linear", "meridian")

#: ``--time-knots`` of each mixlens row: the default (one knot per week on a geo panel)
#: and the model without a time-varying baseline (linear trend only).
MIXLENS_KNOTS = {"mixlens": "auto", "mixlens-40knots": "40", "mixlens-linear": "0"}


def run(cmd: list[str]) -> dict[str, float]:
    """Run a command (niced) in a fresh process; wall seconds, its own peak RSS and CPU."""
    load0 = os.getloadavg()[0]
    t = time.perf_counter()
    proc = subprocess.Popen(
        ["nice", "-n", "5", *cmd], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True
    )
    assert proc.stderr is not None
    err = proc.stderr.read()
    _, status, usage = os.wait4(proc.pid, 0)
    wall = time.perf_counter() - t
    proc.returncode = os.waitstatus_to_exitcode(status)
    if proc.returncode:
        sys.stderr.write(err[-3000:])
        raise RuntimeError(f"failed: {' '.join(cmd)}")
    return {
        "wall_s": wall,
        "peak_rss_mib": usage.ru_maxrss / 1024.0,
        "cpu_s": usage.ru_utime + usage.ru_stime,
        "load": (load0 + os.getloadavg()[0]) / 2,
    }


def _r2(obs: np.ndarray, fitted: np.ndarray) -> float:
    return float(1 - ((obs - fitted) ** 2).sum() / ((obs - obs.mean()) ** 2).sum())


def fit_mixlens(
    work: Path, frame: pd.DataFrame, settings: dict[str, int], knots: str = "auto"
) -> dict[str, Any]:
    """``mixlens mmm fit --time-knots KNOTS`` on the geo panel (media = spend)."""
    panel = frame[["geo", "time", "conversions", *CONTROLS, *(f"{c}_spend" for c in CHANNELS)]]
    panel = panel.rename(columns={"time": "date"})
    csv, out = work / "panel_mixlens.csv", work / f"mixlens_knots_{knots}"
    panel.to_csv(csv, index=False)
    cmd = [str(MIXLENS_CLI), "mmm", "fit", str(csv), "--target", "conversions"]
    cmd += ["--controls", ",".join(CONTROLS), "--out", str(out)]
    cmd += ["--chains", str(settings["chains"]), "--draws", str(settings["draws"])]
    cmd += ["--tune", str(settings["tune"]), "--seed", str(settings["seed"])]
    cmd += ["--time-knots", knots]
    info: dict[str, Any] = run(cmd)
    summary = json.loads((out / "summary.json").read_text())
    info["steps_per_draw"] = steps_per_draw(out / "posterior.nc")
    info["knots"] = summary.get("time_knots", {}).get("knots", 0)
    info["dropped"] = summary.get("time_knots", {}).get("dropped", [])
    d = summary.get("diagnostics", {})
    info.update(
        {
            "divergences": d.get("divergences", -1),
            "max_rhat": d.get("max_rhat", float("nan")),
            "min_ess_bulk": d.get("min_ess_bulk", float("nan")),
        }
    )
    roi = pd.read_csv(out / "roi.csv")
    roi = roi[roi["geo"].astype(str) == "all"].set_index("channel")
    contrib = pd.read_csv(out / "contributions.csv")
    fitted = contrib.groupby(["geo", "date"])["mean"].sum()
    obs = panel.groupby(["geo", "date"])["conversions"].sum()
    nat = obs.groupby("date").sum()
    info["r2"] = _r2(nat.to_numpy(float), fitted.loc["all"].reindex(nat.index).to_numpy(float))
    per_geo = fitted.drop(index="all", level="geo").reindex(obs.index)
    info["r2_geo"] = _r2(obs.to_numpy(float), per_geo.to_numpy(float))
    return {
        "info": info,
        "roi": {
            c: [float(roi.at[c, k]) for k in ("roi_mean", "roi_lo", "roi_hi")] for c in CHANNELS
        },
    }


def steps_per_draw(posterior: Path) -> float:
    """Mean leapfrog steps per posterior draw (nutpie's ``n_steps``) of a saved fit."""
    import xarray as xr

    if not posterior.exists():
        return float("nan")
    with xr.open_dataset(posterior, group="sample_stats", engine="h5netcdf") as stats:
        return float(stats["n_steps"].mean()) if "n_steps" in stats else float("nan")


def fit_meridian(
    work: Path, frame: pd.DataFrame, settings: dict[str, int], media: str
) -> dict[str, Any]:
    """Meridian's geo model in its own environment."""
    csv, out = work / "panel_meridian.csv", work / "meridian"
    frame.to_csv(csv, index=False)
    out.mkdir(parents=True, exist_ok=True)
    cfg = {
        "csv": str(csv),
        "time": "time",
        "kpi": "conversions",
        "kpi_type": "non_revenue",
        "revenue_per_kpi": "revenue_per_conversion",
        "channels": [f"{c}_spend" for c in CHANNELS],
        "media": [f"{c}_{media}" for c in CHANNELS],
        "names": CHANNELS,
        "controls": CONTROLS,
        "geo": "geo",
        "population": "population",
        "out": str(out),
        "chains": settings["chains"],
        "adapt": settings["tune"],
        "burnin": 0,
        "keep": settings["draws"],
        "seed": settings["seed"],
    }
    (work / "meridian.json").write_text(json.dumps(cfg))
    info: dict[str, Any] = run(
        [str(MERIDIAN_ENV), str(MERIDIAN_RUNNER), str(work / "meridian.json")]
    )
    inner = json.loads((out / "info.json").read_text())
    info.update({k: v for k, v in inner.items() if k not in info})
    draws = pd.read_csv(out / "roi_draws.csv")
    roi = {
        c: [float(draws[c].mean()), float(draws[c].quantile(0.05)), float(draws[c].quantile(0.95))]
        for c in CHANNELS
    }
    return {"info": info, "roi": roi}


def _fmt(x: Any, spec: str = ".3f") -> str:
    try:
        v = float(x)
    except (TypeError, ValueError):
        return "-"
    return "-" if not np.isfinite(v) else format(v, spec)


def report(results: dict[str, Any], settings: dict[str, int], media: str) -> str:
    """Markdown table for the RESULTS.md section."""
    loads = [float(r["info"]["load"]) for r in results.values()]
    version = results.get("meridian", {}).get("info", {}).get("version", "")
    head = [
        "Meridian's published `geo_full_funnel_data.csv` (20 geos x 156 weeks, 3 channels, "
        "outcome conversions, controls BrandedGQV_control and GenericGQV_control; no ground "
        "truth). mixlens: `mixlens mmm fit` with the `geo` column (hierarchical geo model, "
        f"media = spend). Meridian {version}: `ModelSpec()` defaults (ROI prior, JAX "
        "backend), geo model with population, KPI type non-revenue with "
        f"revenue_per_conversion as in its own example, media = {media}. Both at "
        f"{settings['chains']} chains x {settings['draws']} draws after {settings['tune']} "
        "tuning steps (Meridian: n_adapt = tune, n_burnin = 0), each in a fresh process, one "
        "after the other (`--keep` re-uses saved rows of tools not re-run). ROI = "
        "conversions per unit of spend over all geos, posterior mean "
        "[90% interval]; R² in-sample on national weekly totals and on geo x week cells; wall "
        "and peak RSS of the whole process (CPU s = user + system of that process). The 2 "
        "cores were shared with other jobs (1-minute load average during the fits "
        f"{min(loads):.1f} to {max(loads):.1f}), so times are indicative only. Meridian's "
        "geo default has one knot per week (a free time effect each week, shared by the "
        "geos); `mixlens` is the default geo model, which has the same (`--time-knots auto`: "
        "one knot per week, a centred random walk across knots shared by the geos, with "
        "controls; the shared linear trend, Fourier seasonality and holidays, which the "
        "weekly knots span, are dropped as Meridian drops them, and listed in summary.json "
        "`time_knots.dropped`); `mixlens-linear` is the model without knots "
        "(`--time-knots 0`: linear trend, seasonality, holidays); `mixlens-40knots` "
        "has one knot per about 4 weeks (`--time-knots 40`; the trend, which any knots "
        "span, dropped). An in-sample national "
        "R² near 1 says the time effects absorb the national weekly variation, not that the "
        "media effects are better. "
        "The tools' ROI intervals disagree on AwarenessVideo and PerformanceNative "
        "(media = impressions for Meridian, spend for mixlens; no truth to settle it).",
        "",
        "| tool | " + " | ".join(f"ROI {c}" for c in CHANNELS) + " | R² national | R² geo x week "
        "| divergences | max R-hat | min ESS | steps/draw | wall s | CPU s | peak RSS MiB |",
        "|---|" + "---:|" * (len(CHANNELS) + 9),
    ]
    for tool, r in results.items():
        i = r["info"]
        cells = [f"{a[0]:.3g} [{a[1]:.3g}, {a[2]:.3g}]" for a in (r["roi"][c] for c in CHANNELS)]
        head.append(
            f"| {tool} | " + " | ".join(cells) + f" | {i['r2']:.3f} | {i['r2_geo']:.3f} "
            f"| {i.get('divergences', '-')} | {_fmt(i.get('max_rhat'))} "
            f"| {_fmt(i.get('min_ess_bulk'), '.0f')} | {_fmt(i.get('steps_per_draw'), '.0f')} "
            f"| {i['wall_s']:.0f} | {i['cpu_s']:.0f} | {i['peak_rss_mib']:,.0f} |"
        )
    return "\n".join(head)


def main() -> None:
    """Command line entry point (see the module docstring)."""
    parser = argparse.ArgumentParser()
    parser.add_argument("--chains", type=int, default=2)
    parser.add_argument("--draws", type=int, default=300)
    parser.add_argument("--tune", type=int, default=300)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--tools", default=",".join(TOOLS))
    parser.add_argument("--meridian-media", default="impression", choices=("impression", "spend"))
    parser.add_argument("--from-json", action="store_true")
    parser.add_argument("--keep", action="store_true", help="keep saved rows of other tools")
    parser.add_argument("--note", default="", help="paragraph appended to the section")
    parser.add_argument("--section", default="peers_mmm_geo", help="RESULTS.md section")
    parser.add_argument(
        "--work", type=Path, default=Path(tempfile.gettempdir()) / "mixlens_peers_mmm_geo"
    )
    args = parser.parse_args()
    settings = {"chains": args.chains, "draws": args.draws, "tune": args.tune, "seed": args.seed}
    tools = [t for t in args.tools.split(",") if t]
    if set(tools) - set(TOOLS):
        sys.exit(f"unknown tools; choose from {', '.join(TOOLS)}")
    saved = args.work / "results.json"
    if args.from_json:
        results = json.loads(saved.read_text())
    else:
        if not DATA.exists():
            sys.exit(f"missing {DATA}")
        if "meridian" in tools and not MERIDIAN_ENV.exists():
            sys.exit("Meridian environment missing: run bash benchmarks/peers/setup.sh")
        args.work.mkdir(parents=True, exist_ok=True)
        frame = pd.read_csv(DATA)
        results = json.loads(saved.read_text()) if args.keep and saved.exists() else {}
        for tool in tools:
            sys.stderr.write(f"[mmm geo peers] {tool}\n")
            if tool in MIXLENS_KNOTS:
                results[tool] = fit_mixlens(args.work, frame, settings, MIXLENS_KNOTS[tool])
            else:
                results[tool] = fit_meridian(args.work, frame, settings, args.meridian_media)
            saved.write_text(json.dumps(results))
    body = report(results, settings, args.meridian_media)
    if args.note:
        body += "\n\n" + args.note
    sys.stdout.write(body + "\n")
    cmd = (
        f"python benchmarks/peers/mmm_meridian_geo.py --chains {args.chains} "
        f"--draws {args.draws} --tune {args.tune} --tools {','.join(tools)} "
        f"--meridian-media {args.meridian_media}" + (" --keep" if args.keep else "")
    )
    if args.section != "peers_mmm_geo":
        cmd += f" --section {args.section} --work {args.work}"
    update_section(args.section, body, command=cmd)


if __name__ == "__main__":
    main()
