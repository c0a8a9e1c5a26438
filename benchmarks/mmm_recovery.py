"""ROI recovery of the default MMM over several simulated worlds (seeds, sizes).

Run: ``PYTHONPATH=src python benchmarks/mmm_recovery.py --label after --out /tmp/rec.jsonl``
fits every world (each in a fresh process) and appends one JSON line per world to
``--out``; ``--table FILE [FILE ...]`` writes the ``mmm_recovery`` section of RESULTS.md
from such files (one row per label and world, plus a mean row per label).
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time
import warnings
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _results import peak_rss_mib, update_section

#: (seed, weeks, channels) of the worlds; seeds are not the recovery test's (3).
WORLDS: tuple[tuple[int, int, int], ...] = ((1, 156, 6), (2, 104, 5), (3, 156, 7), (4, 104, 6))


def run_one(seed: int, weeks: int, n_channels: int, draws: int, tune: int, chains: int) -> dict:
    from mixlens.data.simulate.mmm import MMMWorldConfig, simulate_mmm
    from mixlens.mmm import MMM, MMMSpec

    world = simulate_mmm(MMMWorldConfig(weeks=weeks, n_channels=n_channels), seed=seed)
    spec = MMMSpec(channels=tuple(world.roi["channel"]), controls=("price", "promotion"))
    started = time.perf_counter()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        result = MMM(spec).fit(
            world.weekly_channel, draws=draws, tune=tune, chains=chains, seed=seed
        )
    fit_s = time.perf_counter() - started
    d = result.diagnostics
    return {
        "seed": seed,
        "weeks": weeks,
        "channels": n_channels,
        "fit_s": fit_s,
        "peak_rss_mib": peak_rss_mib(),
        "max_rhat": d.max_rhat,
        "min_ess_bulk": d.min_ess_bulk,
        "divergences": d.divergences,
        **roi_scores(result.roi(), world.roi),
    }


def roi_scores(roi: Any, truth: Any) -> dict[str, Any]:
    """ROI recovery of one fit: plain and spend-weighted relative error, 90% coverage count,
    median interval width relative to the true ROI, and per channel [true, mean, lo, hi].

    ``roi`` is ``MMMResult.roi()``; ``truth`` the simulator's ``roi`` table (``channel, roi``).
    """
    import numpy as np

    roi = roi.merge(truth[["channel", "roi"]], on="channel")
    err = (roi["roi_mean"] - roi["roi"]).abs() / roi["roi"]
    covered = (roi["roi_lo"] <= roi["roi"]) & (roi["roi"] <= roi["roi_hi"])
    width = (roi["roi_hi"] - roi["roi_lo"]) / roi["roi"]
    return {
        "roi_err_mean": float(err.mean()),
        "roi_err_weighted": float((err * roi["spend"]).sum() / roi["spend"].sum()),
        "covered": int(covered.sum()),
        "width_median": float(np.median(width)),
        "per_channel": {
            str(r.channel): [float(r.roi), float(r.roi_mean), float(r.roi_lo), float(r.roi_hi)]
            for r in roi.itertuples()
        },
    }


def _table(files: list[str], draws: int, tune: int, chains: int) -> str:
    rows = [json.loads(line) for f in files for line in Path(f).read_text().splitlines() if line]
    lines = [
        f"Default `MMMSpec` (channels, controls price and promotion), NUTS via nutpie, {chains} "
        f"chains x {draws} draws after {tune} tuning steps, one fresh process per world (fit "
        "time includes numba compilation). ROI error is |estimated - true| / true per channel "
        "(plain mean and spend-weighted); coverage counts channels whose 90% interval holds "
        "the true ROI; width is the median over channels of the 90% interval width / true ROI. "
        "`before` is the model as it stood (beta parameterisation); `after` the ROI "
        "parameterisation.",
        "",
        "| model | seed | weeks | channels | fit s | divergences | max R-hat | min bulk ESS "
        "| ROI error mean | ROI error spend-weighted | 90% coverage | median width / ROI |",
        "|---|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    labels = list(dict.fromkeys(r["label"] for r in rows))
    for label in labels:
        mine = [r for r in rows if r["label"] == label]
        for r in mine:
            lines.append(
                f"| {label} | {r['seed']} | {r['weeks']} | {r['channels']} | {r['fit_s']:.0f} | "
                f"{r['divergences']} | {r['max_rhat']:.3f} | {r['min_ess_bulk']:.0f} | "
                f"{r['roi_err_mean']:.2f} | {r['roi_err_weighted']:.2f} | "
                f"{r['covered']}/{r['channels']} | {r['width_median']:.2f} |"
            )
        n = len(mine)

        def avg(key: str, rows: list[dict] = mine, n: int = n) -> float:
            return sum(float(r[key]) for r in rows) / n

        cov = sum(r["covered"] for r in mine)
        tot = sum(r["channels"] for r in mine)
        lines.append(
            f"| **{label} mean** | | | | {avg('fit_s'):.0f} | {avg('divergences'):.1f} | "
            f"{max(r['max_rhat'] for r in mine):.3f} (max) | "
            f"{min(r['min_ess_bulk'] for r in mine):.0f} (min) | "
            f"{avg('roi_err_mean'):.2f} | {avg('roi_err_weighted'):.2f} | {cov}/{tot} | "
            f"{avg('width_median'):.2f} |"
        )
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--draws", type=int, default=1000)
    parser.add_argument("--tune", type=int, default=1000)
    parser.add_argument("--chains", type=int, default=2)
    parser.add_argument("--label", default="after")
    parser.add_argument("--out", default="/tmp/mmm_recovery.jsonl")
    parser.add_argument("--worlds", default="", help="comma-separated indices into WORLDS")
    parser.add_argument("--one", nargs=3, type=int, metavar=("SEED", "WEEKS", "CHANNELS"))
    parser.add_argument("--table", nargs="+", metavar="FILE")
    parser.add_argument("--note", default="")
    args = parser.parse_args()
    if args.one:
        out = run_one(*args.one, args.draws, args.tune, args.chains)
        sys.stdout.write(json.dumps(out) + "\n")
        return
    if args.table:
        body = _table(args.table, args.draws, args.tune, args.chains)
        if args.note:
            body += "\n\n" + args.note
        update_section(
            "mmm_recovery", body, command="python benchmarks/mmm_recovery.py --label after"
        )
        sys.stdout.write(body + "\n")
        return
    picks = [int(i) for i in args.worlds.split(",")] if args.worlds else range(len(WORLDS))
    for i in picks:
        seed, weeks, channels = WORLDS[i]
        cmd = [sys.executable, __file__, "--one", str(seed), str(weeks), str(channels)]
        cmd += ["--draws", str(args.draws), "--tune", str(args.tune), "--chains", str(args.chains)]
        done = subprocess.run(cmd, capture_output=True, text=True, check=True)
        row = json.loads(done.stdout.strip().splitlines()[-1])
        row["label"] = args.label
        with open(args.out, "a") as handle:
            handle.write(json.dumps(row) + "\n")
        sys.stdout.write(json.dumps(row) + "\n")
        sys.stdout.flush()


if __name__ == "__main__":
    main()
