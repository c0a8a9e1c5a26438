"""In-sample fit and posterior predictive checks of ``mixlens mmm fit`` on the simulator.

Run: ``PYTHONPATH=src python benchmarks/mmm_checks.py [--seeds 1 2 3] [--json F]`` (writes
the ``mmm_checks`` section of RESULTS.md); ``--table F`` writes it again from the JSON
lines of such a run, without fitting.

Per seed, as a user would: ``mixlens simulate mmm --out DIR --seed S --channels 7`` (156
weeks), then ``mixlens mmm fit DIR/weekly_channel.csv --controls price,promotion --chains 2
--draws 500 --tune 500`` (NUTS, fit seed 0, the CLI's default). From its ``summary.json``:
the in-sample R², MAPE and 90% interval coverage of ``fit.csv``, the posterior predictive
p-values (:mod:`mixlens.mmm.checks`), the warnings, and the seconds the checks took inside
the fit (``timings_s.check``) beside the fit's. Then, in this process, the fitted result is
loaded and the checks run again under ``tracemalloc``: their seconds and peak traced memory
(numpy arrays included), beside the size of one full draws x weeks array, and whether they
reproduce the CLI's numbers (same seed). On the first seed, the loaded posterior is also
tiled 4 and 16 times along its draws (4,000 and 16,000 draws) to see how the checks'
seconds and peak memory grow with the draws.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
import tracemalloc
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _results import update_section

CHANNELS = 7
STAT_COLUMNS = ("mean", "sd", "min", "max", "acf1", "residual_acf1")
FIT_ARGS = ["--controls", "price,promotion", "--chains", "2", "--draws", "500", "--tune", "500"]


def _cli(*args: str) -> subprocess.CompletedProcess[str]:
    """Run ``mixlens ARGS`` in a fresh process (the user's command)."""
    command = [sys.executable, "-m", "mixlens.cli", *args]
    return subprocess.run(command, check=True, capture_output=True, text=True)


def _measure(result: Any, seed: int) -> tuple[Any, float, float]:
    """Run the checks: their output, seconds (untraced run) and peak traced MiB."""
    from mixlens.mmm.checks import check_fit

    clock = time.perf_counter()
    check_fit(result, seed=seed)
    seconds = time.perf_counter() - clock
    tracemalloc.start()
    out = check_fit(result, seed=seed)
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    return out, seconds, peak / 2**20


def _scaling(result: Any, seed: int) -> list[dict[str, float]]:
    """Seconds and peak memory of the checks on the posterior tiled 1, 4 and 16 times."""
    from dataclasses import replace

    import arviz as az
    import xarray as xr

    rows = []
    post = result.idata["posterior"]
    for times in (1, 4, 16):
        tiled = xr.concat([post] * times, dim="draw")
        tiled = tiled.assign_coords(draw=range(tiled.sizes["draw"]))
        bigger = replace(result, idata=az.InferenceData(posterior=tiled))
        _, seconds, peak = _measure(bigger, seed)
        n = bigger.n_samples
        rows.append(
            {
                "samples": n,
                "seconds": seconds,
                "peak_mib": peak,
                "full_mib": n * result.data.n_weeks * 8 / 2**20,
            }
        )
    return rows


def run_seed(seed: int, *, scaling: bool = False) -> dict[str, Any]:
    """Simulate, fit through the CLI, and re-run the checks in-process; one record."""
    from mixlens.mmm.results import MMMResult

    with tempfile.TemporaryDirectory() as tmp:
        world, fit_dir = Path(tmp) / "sim", Path(tmp) / "fit"
        _cli("simulate", "mmm", "--out", str(world), "--seed", str(seed), "--channels", "7")
        load = os.getloadavg()[0]
        started = time.perf_counter()
        done = _cli(
            "mmm", "fit", str(world / "weekly_channel.csv"), *FIT_ARGS, "--out", str(fit_dir)
        )
        wall = time.perf_counter() - started
        summary = json.loads((fit_dir / "summary.json").read_text())
        result = MMMResult.load(fit_dir)
        again, seconds, peak = _measure(result, summary["seed"])
        fit = summary["fit"]
        return {
            "seed": seed,
            "load": load,
            "wall_s": wall,
            "fit_s": summary["timings_s"]["fit"],
            "check_s": summary["timings_s"]["check"],
            "recheck_s": seconds,
            "peak_mib": peak,
            "full_mib": result.n_samples * result.data.n_weeks * 8 / 2**20,
            "samples": result.n_samples,
            "weeks": result.data.n_weeks,
            "reproduced": again.summary == fit,
            "fit": fit,
            "stderr_warnings": [
                line for line in done.stderr.splitlines() if "PredictiveCheckWarning" in line
            ],
            "diagnostics": summary["diagnostics"],
            "scaling": _scaling(result, summary["seed"]) if scaling else [],
        }


def _table(records: list[dict[str, Any]]) -> str:
    head = "| seed | R² | MAPE | coverage (90%) | " + " | ".join(f"p {s}" for s in STAT_COLUMNS)
    head += " | warnings | fit s | checks s (in fit) | checks s (again) | peak MiB | load |"
    lines = [head, "|" + "---|" * (head.count("|") - 1)]
    for r in records:
        fit = r["fit"]
        p = " | ".join(
            "n/a" if fit["p_values"][s] is None else f"{fit['p_values'][s]:.3f}"
            for s in STAT_COLUMNS
        )
        lines.append(
            f"| {r['seed']} | {fit['r2']:.3f} | {fit['mape']:.3f} | {fit['coverage']:.2f} | {p} "
            f"| {len(fit['warnings'])} | {r['fit_s']:.0f} | {r['check_s']:.2f} "
            f"| {r['recheck_s']:.2f} | {r['peak_mib']:.1f} | {r['load']:.1f} |"
        )
    return "\n".join(lines)


def _num(value: float | None, spec: str) -> str:
    return "n/a" if value is None else format(value, spec)


def render(records: list[dict[str, Any]]) -> str:
    """Markdown body of the section."""
    first = records[0]
    share = [r["check_s"] / r["fit_s"] for r in records]
    warned = [(r["seed"], w) for r in records for w in r["fit"]["warnings"]]
    body = [
        f"{len(records)} simulated worlds (156 weeks, {CHANNELS} channels), each fitted with "
        f"`mixlens mmm fit ... {' '.join(FIT_ARGS)}` ({first['diagnostics']['method'].upper()}, "
        f"{first['samples']} draws, "
        f"fit seed 0); fit.csv has {first['weeks']} weeks. *p* is the posterior predictive "
        "p-value (share of draws whose replicate's statistic is >= the observed one); "
        "`residual_acf1` compares the lag-1 autocorrelation of y - E[y | draw] with that of "
        "the replicate's noise, draw by draw.",
        "",
        _table(records),
        "",
        f"- The checks add {min(share):.2%} to {max(share):.2%} of the fit's seconds "
        f"(`timings_s.check`: {min(r['check_s'] for r in records):.2f} to "
        f"{max(r['check_s'] for r in records):.2f} s); re-run on the loaded result their "
        f"peak traced memory is {min(r['peak_mib'] for r in records):.1f} to "
        f"{max(r['peak_mib'] for r in records):.1f} MiB, against "
        f"{first['full_mib']:.1f} MiB for one draws x weeks array.",
        "- Re-running the checks on the loaded posterior with the fit's seed reproduces "
        f"summary.json's `fit` exactly: {all(r['reproduced'] for r in records)}.",
        "- Load: the 1-minute load average before each fit is in the table (the 2 cores are "
        "shared); seconds are indicative.",
    ]
    if warned:
        body.append("- Warnings raised (`PredictiveCheckWarning`):")
        body += [f"  - seed {seed}: {w}" for seed, w in warned]
    else:
        body.append(
            "- No p-value fell below 0.01 or above 0.99 and coverage stayed within 0.1 "
            "of 90%: no warning was raised."
        )
    if first["scaling"]:
        body += [
            "",
            f"Seed {first['seed']}'s posterior tiled along its draws (the checks alone, "
            "in-process):",
            "",
            "| draws | checks s | peak traced MiB | one draws x weeks array, MiB |",
            "|---|---|---|---|",
            *(
                f"| {row['samples']} | {row['seconds']:.2f} | {row['peak_mib']:.1f} "
                f"| {row['full_mib']:.1f} |"
                for row in first["scaling"]
            ),
            "",
        ]
        small, big = first["scaling"][0], first["scaling"][-1]
        body.append(
            f"- From {small['samples']} to {big['samples']} draws the checks' peak traced "
            f"memory grows {big['peak_mib'] / small['peak_mib']:.1f}x while one draws x weeks "
            f"array grows {big['full_mib'] / small['full_mib']:.0f}x; their seconds grow "
            f"{big['seconds'] / small['seconds']:.0f}x."
        )
    diag = [
        f"seed {r['seed']}: max R-hat {_num(r['diagnostics']['max_rhat'], '.3f')}, "
        f"min bulk ESS {_num(r['diagnostics']['min_ess_bulk'], '.0f')}, "
        f"{r['diagnostics']['divergences']} divergences"
        for r in records
    ]
    body.append("- Sampler diagnostics: " + "; ".join(diag) + ".")
    return "\n".join(body)


def main() -> None:
    """Run the seeds one after the other and write the section."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--seeds", type=int, nargs="+", default=[1, 2, 3])
    parser.add_argument("--json", type=Path, help="also write the records as JSON lines here")
    parser.add_argument("--table", type=Path, help="render the JSON lines of an earlier run")
    args = parser.parse_args()
    if args.table is not None:
        lines = args.table.read_text().splitlines()
        records = [json.loads(line) for line in lines if line.strip()]
    else:
        records = []
        for i, seed in enumerate(args.seeds):
            record = run_seed(seed, scaling=i == 0)
            records.append(record)
            print(json.dumps(record), flush=True)
        if args.json is not None:
            args.json.write_text("".join(json.dumps(r) + "\n" for r in records))
    seeds = " ".join(str(r["seed"]) for r in records)
    command = f"PYTHONPATH=src python benchmarks/mmm_checks.py --seeds {seeds} --json F"
    if args.table is not None:
        command += "; then --table F (re-rendered, no refit)"
    update_section("mmm_checks", render(records), command=command)


if __name__ == "__main__":
    main()
