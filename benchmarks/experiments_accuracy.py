"""Accuracy of the geo-experiment estimators over many simulated experiments, and speed.

For each of ``--runs`` simulated experiments (40 geos, 10 treated, 104 weeks, 8-week holdout,
media worth 5% of sales) every method estimates the effect; bias, RMSE and 90% interval
coverage are against the exact truth. The same over A/A worlds (no effect) gives the
false-positive rate (interval excludes 0). Then the time to analyse a 200-geo, 3-year daily
panel with ``analyze_to_dir`` (all three methods, placebos included).
"""

from __future__ import annotations

import argparse
import tempfile
import time

import numpy as np

from _results import peak_rss_mib, update_section
from mixlens.data.simulate.geo_experiment import GeoExperimentConfig, simulate_geo_experiment
from mixlens.experiments import analyze_geo, analyze_to_dir, geo_experiment_data

METHODS = ("did", "synthetic_control", "bayesian_ts", "recommended")


def _run(runs: int, effect: float, seed0: int) -> dict[str, np.ndarray]:
    out: dict[str, list[tuple[float, float, bool, bool, float]]] = {m: [] for m in METHODS}
    for i in range(runs):
        sim = simulate_geo_experiment(GeoExperimentConfig(effect=effect), seed=seed0 + i)
        data = geo_experiment_data(sim.panel, treated=sim.treated, start=sim.start, end=sim.end)
        analysis = analyze_geo(data, seed=i)
        results = {r.method: r for r in analysis.results}
        results["recommended"] = analysis.recommendation.result
        for name, r in results.items():
            out[name].append(
                (
                    r.estimate - sim.effect,
                    sim.effect,
                    r.lo <= sim.effect <= r.hi,
                    not r.lo <= 0.0 <= r.hi,
                    r.hi - r.lo,
                )
            )
    return {m: np.array(v, dtype=float) for m, v in out.items()}


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=200)
    args = parser.parse_args()
    t0 = time.perf_counter()
    lift = _run(args.runs, 0.05, 10_000)
    aa = _run(args.runs, 0.0, 20_000)
    accuracy_s = time.perf_counter() - t0
    truth = float(np.mean(np.abs(lift["did"][:, 1])))
    rows = [
        f"Simulated experiments: {args.runs} with lift (40 geos, 10 treated, 104 weeks, 8-week "
        f"holdout, tested media = 5% of sales; mean true |effect| {truth:,.0f}) and {args.runs} "
        "A/A. Effect = observed - counterfactual in treated geos over the window.",
        "",
        "| method | bias | RMSE | RMSE / mean true effect | 90% coverage | mean 90% width "
        "| power (lift) | A/A false-positive rate |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for m in METHODS:
        a, b = lift[m], aa[m]
        rmse = float(np.sqrt(np.mean(a[:, 0] ** 2)))
        rows.append(
            f"| {m} | {a[:, 0].mean():,.0f} | {rmse:,.0f} | {rmse / truth:.1%} | "
            f"{a[:, 2].mean():.1%} | {a[:, 4].mean():,.0f} | {a[:, 3].mean():.1%} | "
            f"{b[:, 3].mean():.1%} |"
        )
    se_cov = np.sqrt(0.9 * 0.1 / args.runs)
    rows += [
        "",
        f"Binomial standard error of a coverage at 90% with {args.runs} runs: {se_cov:.1%}. "
        f"Accuracy runs took {accuracy_s:.1f} s.",
    ]

    cfg = GeoExperimentConfig(geos=200, treated=40, weeks=156, daily=True)
    sim = simulate_geo_experiment(cfg, seed=7)
    with tempfile.TemporaryDirectory() as tmp:
        sim.write(tmp)
        timings = []
        for _ in range(3):
            t = time.perf_counter()
            analyze_to_dir(
                f"{tmp}/panel.csv",
                treated=sim.treated,
                start=sim.start,
                end=sim.end,
                out_dir=f"{tmp}/out",
            )
            timings.append(time.perf_counter() - t)
    rows += [
        "",
        "| speed | value |",
        "|---|---|",
        f"| 200 geos x 1092 days (40 treated, 56-day window): `analyze_to_dir` from CSV, "
        f"3 methods, 100 SC placebos, best of 3 | {min(timings):.2f} s |",
        f"| peak RSS | {peak_rss_mib():.0f} MiB |",
    ]
    update_section(
        "experiments_accuracy",
        "\n".join(rows),
        command=f"python benchmarks/experiments_accuracy.py --runs {args.runs}",
    )


if __name__ == "__main__":
    main()
