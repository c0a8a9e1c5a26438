"""Geo MMM: how the geo intercepts are modelled and sampled, scored against the truth.

The geo model sampled each geo's mean level centred around a shared mean with a learnt
spread (``intercept_geo_sd``); at 4 chains x 1000 draws on Meridian's 20-geo panel one
chain stuck in the funnel that spread makes (``peers_mmm_geo_4x1000``). This benchmark
fits the same simulated geo worlds (known ROI) with the package at ``--baseline-ref``
and with the working tree's (``--baseline-label`` and ``--label`` name them), each fit
in a fresh process, and scores the national ROI against the truth::

    PYTHONPATH=src python benchmarks/mmm_geo_intercepts.py --baseline-ref HEAD \\
        --seeds 1,2,3 --regions 6 --weeks 104 --channels 5 --chains 2 --draws 500

Columns: ROI error (|posterior mean - true| / true per channel, plain and spend-weighted
means), channels whose 90% interval covers the true ROI, median interval width relative
to the true ROI, sampler diagnostics, and CPU seconds of the fit's process (user +
system, compilation included).
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import warnings
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "benchmarks"))

from _results import baseline_src, update_section  # noqa: E402


def _world(seed: int, regions: int, weeks: int, channels: int) -> Any:
    from mixlens.data.simulate.mmm import MMMWorldConfig, simulate_mmm

    config = MMMWorldConfig(weeks=weeks, n_channels=channels, regions=regions)
    return simulate_mmm(config, seed=seed)


def child(cfg: dict[str, Any]) -> None:
    """Fit one world with the package on ``PYTHONPATH``; summary JSON to ``cfg['out']``."""
    import xarray as xr

    from mixlens.mmm.run import fit_to_dir

    world = _world(cfg["seed"], cfg["regions"], cfg["weeks"], cfg["channels"])
    with tempfile.TemporaryDirectory() as out, warnings.catch_warnings():
        warnings.simplefilter("ignore")
        summary = fit_to_dir(
            world.weekly_channel,
            out_dir=out,
            controls=("price", "promotion"),
            draws=cfg["draws"],
            tune=cfg["draws"],
            chains=cfg["chains"],
            seed=cfg["seed"],
        )
        stats = xr.open_dataset(Path(out) / "posterior.nc", group="sample_stats")
        steps = float(stats["n_steps"].mean()) if "n_steps" in stats else float("nan")
    Path(cfg["out"]).write_text(json.dumps({**summary, "steps_per_draw": steps}, default=str))


def fit(src: Path, cfg: dict[str, Any], work: Path) -> dict[str, Any]:
    """Run :func:`child` with the package at ``src``; its summary and CPU seconds."""
    path = work / f"cfg_{cfg['label']}_{cfg['seed']}.json"
    path.write_text(json.dumps(cfg))
    env = {**os.environ, "PYTHONPATH": str(src)}
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    cmd = [sys.executable, __file__, "--child", str(path)]
    subprocess.run(["nice", "-n", "5", *cmd], check=True, env=env)
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    result: dict[str, Any] = json.loads(Path(cfg["out"]).read_text())
    return {**result, "cpu_s": cpu, "load": os.getloadavg()[0]}


def score(summary: dict[str, Any], world: Any) -> dict[str, float]:
    """ROI error, coverage and width of the national (``all``) ROI against the truth."""
    import numpy as np
    import pandas as pd

    roi = pd.DataFrame(summary["roi"])
    if "geo" in roi.columns:
        roi = roi[roi["geo"] == "all"]
    truth = world.roi[["channel", "roi", "spend"]].rename(
        columns={"roi": "roi_true", "spend": "spend_true"}
    )
    roi = roi.merge(truth, on="channel")
    true = roi["roi_true"].to_numpy()
    err = np.abs(roi["roi_mean"].to_numpy() - true) / true
    spend = roi["spend_true"].to_numpy()
    inside = (roi["roi_lo"] <= roi["roi_true"]) & (roi["roi_true"] <= roi["roi_hi"])
    d = summary["diagnostics"]
    return {
        "error": float(err.mean()),
        "weighted": float((err * spend).sum() / spend.sum()),
        "covered": int(inside.sum()),
        "n": len(roi),
        "width": float(np.median((roi["roi_hi"] - roi["roi_lo"]).to_numpy() / true)),
        "max_rhat": float(d["max_rhat"]),
        "min_ess": float(d["min_ess_bulk"]),
        "divergences": int(d["divergences"]),
        "steps": float(summary.get("steps_per_draw", float("nan"))),
    }


def main() -> None:
    """Command line entry point (see the module docstring)."""
    parser = argparse.ArgumentParser()
    parser.add_argument("--child", type=Path)
    parser.add_argument("--baseline-ref", default="HEAD")
    parser.add_argument("--seeds", default="1,2,3")
    parser.add_argument("--regions", type=int, default=6)
    parser.add_argument("--weeks", type=int, default=104)
    parser.add_argument("--channels", type=int, default=5)
    parser.add_argument("--chains", type=int, default=2)
    parser.add_argument("--draws", type=int, default=500)
    parser.add_argument("--note", default="", help="paragraph appended to the section")
    parser.add_argument("--baseline-label", default="centred pooled intercepts")
    parser.add_argument("--label", default="conditional pooled intercepts")
    args = parser.parse_args()
    if args.child is not None:
        child(json.loads(args.child.read_text()))
        return
    import numpy as np

    seeds = [int(s) for s in args.seeds.split(",") if s]
    rows: list[dict[str, Any]] = []
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        versions = {
            f"{args.baseline_label} ({args.baseline_ref})": baseline_src(args.baseline_ref, work),
            f"{args.label} (this version)": ROOT / "src",
        }
        for seed in seeds:
            world = _world(seed, args.regions, args.weeks, args.channels)
            for label, src in versions.items():
                tag = "base" if src != ROOT / "src" else "this"
                cfg = {
                    "label": tag,
                    "seed": seed,
                    "regions": args.regions,
                    "weeks": args.weeks,
                    "channels": args.channels,
                    "chains": args.chains,
                    "draws": args.draws,
                    "out": str(work / f"out_{tag}_{seed}.json"),
                }
                sys.stderr.write(f"[geo intercepts] seed {seed}: {label}\n")
                result = fit(src, cfg, work)
                rows.append(
                    {"version": label, "seed": seed, "cpu_s": result["cpu_s"]}
                    | {"load": result["load"]}
                    | score(result, world)
                )
    lines = [
        f"Simulated geo worlds (`simulate_mmm`, {args.regions} regions x {args.weeks} weeks x "
        f"{args.channels} channels, controls price and promotion; seeds {args.seeds}), the "
        f"default geo model (`fit_to_dir`, NUTS via nutpie, {args.chains} chains x "
        f"{args.draws} draws after {args.draws} tuning steps), each fit in a fresh process. "
        "ROI error = |posterior mean - true| / true of the national "
        "(`all`) ROI per channel; coverage of the 90% intervals; width = median 90% "
        "interval width / true ROI; CPU s of the fit's process (compilation included; the "
        "first fit of each version compiles its graph). Versions: "
        f"`{args.baseline_label}` is the package at `{args.baseline_ref}`, `{args.label}` "
        "this version.",
        "",
        "| version | seed | ROI error mean | spend-weighted | 90% coverage | median width "
        "| max R-hat | min bulk ESS | divergences | steps/draw | CPU s |",
        "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for r in rows:
        lines.append(
            f"| {r['version']} | {r['seed']} | {r['error']:.2f} | {r['weighted']:.2f} "
            f"| {r['covered']}/{r['n']} | {r['width']:.2f} | {r['max_rhat']:.3f} "
            f"| {r['min_ess']:.0f} | {r['divergences']} | {r['steps']:.0f} | {r['cpu_s']:.0f} |"
        )
    for label in dict.fromkeys(r["version"] for r in rows):
        mine = [r for r in rows if r["version"] == label]
        lines.append(
            f"| **{label}** | mean | {np.mean([r['error'] for r in mine]):.2f} "
            f"| {np.mean([r['weighted'] for r in mine]):.2f} "
            f"| {sum(r['covered'] for r in mine)}/{sum(r['n'] for r in mine)} "
            f"| {np.mean([r['width'] for r in mine]):.2f} "
            f"| {max(r['max_rhat'] for r in mine):.3f} | {min(r['min_ess'] for r in mine):.0f} "
            f"| {sum(r['divergences'] for r in mine)} | {np.mean([r['steps'] for r in mine]):.0f} "
            f"| {np.mean([r['cpu_s'] for r in mine]):.0f} |"
        )
    loads = [r["load"] for r in rows]
    lines += ["", f"1-minute load average after the fits: {min(loads):.1f} to {max(loads):.1f}."]
    if args.note:
        lines += ["", args.note]
    body = "\n".join(lines)
    sys.stdout.write(body + "\n")
    command = (
        f"PYTHONPATH=src python benchmarks/mmm_geo_intercepts.py --baseline-ref "
        f"{args.baseline_ref} --seeds {args.seeds} --regions {args.regions} --weeks "
        f"{args.weeks} --channels {args.channels} --chains {args.chains} --draws {args.draws}"
        f" --baseline-label '{args.baseline_label}' --label '{args.label}'"
    )
    update_section("mmm_geo_intercepts", body, command=command)


if __name__ == "__main__":
    main()
