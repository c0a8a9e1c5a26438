"""NUTS backends for the MMM: nutpie versus PyMC's own NUTS, plus ADVI, on one simulated world.

Run: ``PYTHONPATH=src python benchmarks/mmm_samplers.py [--draws N --tune N --chains N]``.
Writes the ``mmm_samplers`` section of RESULTS.md. Each backend runs in a fresh process so
compile caches and peak memory are its own.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
import warnings
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _results import peak_rss_mib, update_section


def run_one(method: str, sampler: str, draws: int, tune: int, chains: int, seed: int) -> dict:
    import numpy as np

    from mixlens.data.simulate.mmm import MMMWorldConfig, simulate_mmm
    from mixlens.mmm import MMM, MMMSpec

    world = simulate_mmm(MMMWorldConfig(weeks=156, n_channels=6), seed=seed)
    spec = MMMSpec(channels=tuple(world.roi["channel"]), controls=("price", "promotion"))
    low_rank = sampler.startswith("nutpie-lowrank")
    target_accept = 0.98 if sampler.endswith("-0.98") else 0.95
    backend = "nutpie" if sampler.startswith("nutpie") else sampler
    started = time.perf_counter()
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        estimator = MMM(
            spec,
            nuts_sampler=backend,  # type: ignore[arg-type]
            low_rank_mass_matrix=low_rank,
            target_accept=target_accept,
        )
        result = estimator.fit(
            world.weekly_channel, method=method, draws=draws, tune=tune, chains=chains, seed=seed
        )
    fit_s = time.perf_counter() - started
    roi = result.roi().merge(world.roi[["channel", "roi"]], on="channel")
    err = (roi["roi_mean"] - roi["roi"]).abs() / roi["roi"]
    covered = ((roi["roi_lo"] <= roi["roi"]) & (roi["roi"] <= roi["roi_hi"])).sum()
    d = result.diagnostics
    stats = result.idata["sample_stats"] if "sample_stats" in result.idata.groups() else None
    steps = float(stats["n_steps"].mean()) if stats is not None and "n_steps" in stats else None
    label = d.sampler
    if method == "nuts" and d.sampler == "nutpie":
        metric = "low-rank metric" if low_rank else "diagonal metric, the default"
        label = f"nutpie ({metric}, target_accept {target_accept})"
    return {
        "method": method,
        "sampler": label,
        "steps": steps,
        "fit_s": fit_s,
        "peak_rss_mib": peak_rss_mib(),
        "max_rhat": d.max_rhat,
        "min_ess_bulk": d.min_ess_bulk,
        "divergences": d.divergences,
        "roi_err_mean": float(err.mean()),
        "roi_err_weighted": float((err * roi["spend"]).sum() / roi["spend"].sum()),
        "roi_covered": int(covered),
        "channels": len(roi),
        "ess_per_s": float(d.min_ess_bulk / fit_s) if np.isfinite(d.min_ess_bulk) else None,
        "warnings": len(caught),
    }


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--draws", type=int, default=1000)
    parser.add_argument("--tune", type=int, default=1000)
    parser.add_argument("--chains", type=int, default=2)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--one", nargs=2, metavar=("METHOD", "SAMPLER"))
    args = parser.parse_args()
    if args.one:
        out = run_one(args.one[0], args.one[1], args.draws, args.tune, args.chains, args.seed)
        sys.stdout.write(json.dumps(out) + "\n")
        return
    load = os.getloadavg()[0]
    rows = []
    variants = (
        ("nuts", "nutpie"),
        ("nuts", "nutpie-lowrank"),
        ("nuts", "nutpie-lowrank-0.98"),
        ("nuts", "pymc"),
        ("advi", "auto"),
    )
    for method, sampler in variants:
        cmd = [sys.executable, __file__, "--one", method, sampler]
        cmd += ["--draws", str(args.draws), "--tune", str(args.tune)]
        cmd += ["--chains", str(args.chains), "--seed", str(args.seed)]
        done = subprocess.run(cmd, capture_output=True, text=True, check=True)
        rows.append(json.loads(done.stdout.strip().splitlines()[-1]))
    lines = [
        f"156 weeks, 6 channels (simulator seed {args.seed}), {args.chains} chains x "
        f"{args.draws} draws after {args.tune} tuning steps (ADVI: 20,000 Adam steps, "
        f"{args.draws} draws). Fit time includes compilation (nutpie: numba; PyMC: C, cached "
        "between runs). ROI error is |estimated - true| / true per channel. Steps = mean "
        "leapfrog steps per draw. Load average at the start: "
        f"{load:.1f}, at the end {os.getloadavg()[0]:.1f} (2 cores; timings under load are "
        "indicative).",
        "",
        "| method | sampler | fit s | steps/draw | peak RSS MiB | max R-hat | min bulk ESS "
        "| ESS/s | divergences | ROI error mean | ROI error spend-weighted "
        "| 90% CI covers true ROI |",
        "|---|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for r in rows:
        ess_s = "-" if r["ess_per_s"] is None else f"{r['ess_per_s']:.1f}"
        rhat = (
            "-"
            if r["max_rhat"] is None or r["max_rhat"] != r["max_rhat"]
            else f"{r['max_rhat']:.3f}"
        )
        ess = "-" if r["min_ess_bulk"] != r["min_ess_bulk"] else f"{r['min_ess_bulk']:.0f}"
        div = "-" if r["divergences"] < 0 else str(r["divergences"])
        steps = "-" if r["steps"] is None else f"{r['steps']:.0f}"
        lines.append(
            f"| {r['method']} | {r['sampler']} | {r['fit_s']:.1f} | {steps} | "
            f"{r['peak_rss_mib']:.0f} | "
            f"{rhat} | {ess} | {ess_s} | {div} | {r['roi_err_mean']:.2f} | "
            f"{r['roi_err_weighted']:.2f} | {r['roi_covered']}/{r['channels']} |"
        )
    update_section("mmm_samplers", "\n".join(lines), command="python benchmarks/mmm_samplers.py")
    sys.stdout.write("\n".join(lines) + "\n")


if __name__ == "__main__":
    main()
