"""Where the MMM's ROI error comes from: noise and short windows, or the model's form.

Run: ``PYTHONPATH=src python benchmarks/mmm_consistency.py``. Writes the ``mmm_consistency``
section of RESULTS.md.

Two checks on the simulator's 7-channel world (seed 1):

1. **Consistency**: fit the default MMM on 3 years at the default noise and on 10 years at
   a third of it. If the error were sampling noise or prior pull, it would shrink towards
   zero with ten years of cleaner data; what stays is bias from the model's form.
2. **Form**: for each channel alone, the best least-squares fit of the true weekly
   contribution by the MMM's own form (delayed adstock + Hill on weekly spend). Its R²
   bounds how well any weekly spend model can represent the channel: the simulator drives
   each channel through its campaigns' daily, effectiveness-weighted impressions, so a
   changing campaign mix moves the response without moving spend.
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

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _results import peak_rss_mib, update_section

#: (label, weeks, noise_cv) of the consistency worlds.
WORLDS: tuple[tuple[str, int, float], ...] = (
    ("3 years, noise 6%", 156, 0.06),
    ("10 years, noise 2%", 520, 0.02),
)


def fit_one(weeks: int, noise: float, seed: int, draws: int, tune: int, chains: int) -> dict:
    from mixlens.data.simulate.mmm import MMMWorldConfig, simulate_mmm
    from mixlens.mmm import MMM, MMMSpec

    world = simulate_mmm(MMMWorldConfig(weeks=weeks, n_channels=7, noise_cv=noise), seed=seed)
    spec = MMMSpec(channels=tuple(world.roi["channel"]), controls=("price", "promotion"))
    started = time.perf_counter()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        result = MMM(spec).fit(
            world.weekly_channel, draws=draws, tune=tune, chains=chains, seed=seed
        )
    roi = result.roi().merge(world.roi[["channel", "roi"]], on="channel")
    err = (roi["roi_mean"] - roi["roi"]).abs() / roi["roi"]
    return {
        "fit_s": time.perf_counter() - started,
        "peak_rss_mib": peak_rss_mib(),
        "max_rhat": result.diagnostics.max_rhat,
        "roi_err_mean": float(err.mean()),
        "roi_err_weighted": float((err * roi["spend"]).sum() / roi["spend"].sum()),
        "channels": {
            str(r.channel): [float(r.roi), float(r.roi_mean), float(r.roi_lo), float(r.roi_hi)]
            for r in roi.itertuples()
        },
    }


def form_fit(seed: int) -> dict[str, float]:
    """R² of the best single-channel fit of each channel's true weekly contribution."""
    from scipy.optimize import least_squares

    from mixlens.data.simulate.mmm import MMMWorldConfig, simulate_mmm
    from mixlens.transforms.adstock import adstock, delayed_weights
    from mixlens.transforms.saturation import hill

    world = simulate_mmm(MMMWorldConfig(weeks=156, n_channels=7), seed=seed)
    truth = world.weekly_contributions.pivot(
        index="date", columns="component", values="contribution"
    )
    panel = world.weekly_channel.set_index("date")
    out: dict[str, float] = {}
    for channel in world.roi["channel"]:
        spend = panel[f"{channel}_spend"].to_numpy(float)
        y = truth[channel].to_numpy(float)
        x = spend / spend[spend > 0].mean()

        def predict(p: np.ndarray, x: np.ndarray = x) -> np.ndarray:
            theta = 1.0 / (1.0 + np.exp(-p[0]))
            kernel = delayed_weights(np.array(theta), peak=np.array(np.exp(p[1])), l_max=8)
            stock = adstock(x, kernel.reshape(-1), axis=0)
            return np.exp(p[4]) * hill(stock, half_saturation=np.exp(p[2]), slope=np.exp(p[3]))

        best = -np.inf
        # several starts: the Hill/adstock least-squares surface has local optima
        for start in ([0, -1, 0, 0], [1, 0, 0.5, 0.5], [-1, -2, -0.5, -0.3], [0, 0, 1, 1]):
            fit = least_squares(lambda p, y=y: predict(p) - y, x0=[*start, np.log(y.max())])
            resid = y - predict(fit.x)
            best = max(best, 1.0 - (resid**2).sum() / ((y - y.mean()) ** 2).sum())
        out[str(channel)] = float(best)
    return out


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--draws", type=int, default=500)
    parser.add_argument("--tune", type=int, default=500)
    parser.add_argument("--chains", type=int, default=2)
    parser.add_argument("--one", nargs=2, type=float, metavar=("WEEKS", "NOISE"))
    args = parser.parse_args()
    if args.one:
        weeks, noise = int(args.one[0]), float(args.one[1])
        out = fit_one(weeks, noise, args.seed, args.draws, args.tune, args.chains)
        sys.stdout.write(json.dumps(out) + "\n")
        return
    load = os.getloadavg()[0]
    fits = []
    for _, weeks, noise in WORLDS:
        cmd = [sys.executable, __file__, "--one", str(weeks), str(noise), "--seed", str(args.seed)]
        cmd += ["--draws", str(args.draws), "--tune", str(args.tune), "--chains", str(args.chains)]
        done = subprocess.run(cmd, capture_output=True, text=True, check=True)
        fits.append(json.loads(done.stdout.strip().splitlines()[-1]))
    form = form_fit(args.seed)
    channels = list(fits[0]["channels"])
    header = (
        "| channel | true ROI | "
        + " | ".join(f"{label}: ROI [90%] | error" for label, _, _ in WORLDS)
        + " | form R² (weekly spend) |"
    )
    lines = [
        f"Simulator seed {args.seed}, 7 channels, default MMM (NUTS via nutpie, "
        f"{args.chains} chains x {args.draws} draws after {args.tune} tuning steps). "
        "ROI error = |posterior mean - true| / true. Form R² = best least-squares fit of the "
        "channel's true weekly contribution by delayed adstock + Hill on its weekly spend "
        f"(4 starts). Load average at the start {load:.1f} (2 cores).",
        "",
        header,
        "|---|---:|" + "---:|---:|" * len(WORLDS) + "---:|",
    ]
    for channel in channels:
        true = fits[0]["channels"][channel][0]
        cells = []
        for fit in fits:
            _, mean, lo, hi = fit["channels"][channel]
            cells.append(f"{mean:.2f} [{lo:.2f}, {hi:.2f}] | {abs(mean - true) / true:.2f}")
        lines.append(
            f"| {channel} | {true:.2f} | " + " | ".join(cells) + f" | {form[channel]:.3f} |"
        )
    summary = " | ".join(f"{f['roi_err_mean']:.2f} / {f['roi_err_weighted']:.2f}" for f in fits)
    lines.append(f"| **mean / spend-weighted** | | {summary.replace(' | ', ' | | ')} | | |")
    lines += [
        "",
        "| world | fit s | max R-hat | peak RSS MiB |",
        "|---|---:|---:|---:|",
    ]
    for (label, _, _), fit in zip(WORLDS, fits, strict=True):
        lines.append(
            f"| {label} | {fit['fit_s']:.0f} | {fit['max_rhat']:.3f} | {fit['peak_rss_mib']:.0f} |"
        )
    update_section(
        "mmm_consistency", "\n".join(lines), command="python benchmarks/mmm_consistency.py"
    )
    sys.stdout.write("\n".join(lines) + "\n")


if __name__ == "__main__":
    main()
