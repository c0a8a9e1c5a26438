"""Accuracy of the geo-experiment estimators over many simulated experiments, and speed.

Scenarios, each a set of simulated experiments with an exact truth (the effect of the
intervention: observed minus business-as-usual sales in the treated geos over the window):

- ``weekly``: ``--runs`` experiments with lift (40 geos, 10 treated, 104 weeks, 8-week
  holdout, tested media worth 5% of sales) and ``--runs`` A/A worlds (no effect);
- ``daily``: the same worlds with daily rows (728 days, 56-day holdout), ``--daily-runs`` each;
- ``spillover``: the first ``--spill-runs`` weekly lift worlds again, with control geos losing
  a share of the treated geos' lost sales (the same seeds, so the rows are paired).

Every method estimates the effect; bias, RMSE and 90% interval coverage are against the truth,
and the A/A false-positive rate is the share of A/A intervals that exclude 0. Then the time to
analyse a 200-geo, 3-year daily panel with ``analyze_to_dir`` (all three methods, placebos
included). ``--dry-run`` prints the section instead of writing ``RESULTS.md``.
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time

import numpy as np
from numpy.typing import NDArray
from scipy import stats

from _results import peak_rss_mib, update_section
from mixlens.data.simulate.geo_experiment import GeoExperimentConfig, simulate_geo_experiment
from mixlens.experiments import analyze_geo, analyze_to_dir, geo_experiment_data

METHODS = ("did", "synthetic_control", "bayesian_ts", "recommended")
# Columns of a run's record: error, truth, covered, rejects 0, width, predicted spill bias.
Runs = dict[str, NDArray[np.float64]]


def _run(config: GeoExperimentConfig, runs: int, seed0: int) -> Runs:
    """Analyse ``runs`` simulated experiments; one row per run and method."""
    out: dict[str, list[tuple[float, ...]]] = {m: [] for m in METHODS}
    for i in range(runs):
        sim = simulate_geo_experiment(config, seed=seed0 + i)
        data = geo_experiment_data(sim.panel, treated=sim.treated, start=sim.start, end=sim.end)
        analysis = analyze_geo(data, seed=i)
        results = {r.method: r for r in analysis.results}
        results["recommended"] = analysis.recommendation.result
        # Spillover moves every control geo by the same share of its size, so a counterfactual
        # built from the controls moves by that share too: the estimate shrinks toward zero by
        # spillover * (treated BAU sales / control BAU sales) of the true effect.
        truth = sim.truth
        bau_t = truth.loc[truth["treated"], "sales_bau"].sum()
        bau_c = truth.loc[~truth["treated"], "sales_bau"].sum()
        predicted = -config.spillover * sim.effect * bau_t / bau_c
        for name, r in results.items():
            out[name].append(
                (
                    r.estimate - sim.effect,
                    sim.effect,
                    float(r.lo <= sim.effect <= r.hi),
                    float(not r.lo <= 0.0 <= r.hi),
                    r.hi - r.lo,
                    predicted,
                )
            )
    return {m: np.array(v, dtype=np.float64) for m, v in out.items()}


def _ci(rate: float, n: int) -> str:
    """A rate with its binomial 95% margin."""
    return f"{rate:.1%} ± {1.96 * np.sqrt(max(rate * (1 - rate), 1e-12) / n):.1%}"


def _accuracy_table(lift: Runs, aa: Runs) -> list[str]:
    n, n_aa = len(lift["did"]), len(aa["did"])
    truth = float(np.mean(np.abs(lift["did"][:, 1])))
    rows = [
        f"Mean true |effect| {truth:,.0f} over {n} lift worlds; {n_aa} A/A worlds. "
        "Coverage and false-positive rates with their binomial 95% margins.",
        "",
        "| method | bias | RMSE | RMSE / mean true effect | 90% coverage (lift) "
        "| 90% coverage (lift + A/A) | mean 90% width | power (lift) | A/A false-positive rate |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for m in METHODS:
        a, b = lift[m], aa[m]
        rmse = float(np.sqrt(np.mean(a[:, 0] ** 2)))
        pooled = float(np.mean(np.concatenate([a[:, 2], b[:, 2]])))
        rows.append(
            f"| {m} | {a[:, 0].mean():,.0f} | {rmse:,.0f} | {rmse / truth:.1%} | "
            f"{_ci(float(a[:, 2].mean()), n)} | {_ci(pooled, n + n_aa)} | {a[:, 4].mean():,.0f} "
            f"| {a[:, 3].mean():.1%} | {_ci(float(b[:, 3].mean()), n_aa)} |"
        )
    return rows


def _verdict(lift: Runs, aa: Runs) -> str:
    """Which methods meet the issue's goals on these runs, with the misses' figures.

    A calibrated 90% interval excludes 0 in 10% of A/A tests on average, exactly the goal's
    bound, so the rate alone lands above it about half the time; the verdict also gives the
    one-sided binomial p-value of "the true rate is at most 10%".
    """
    met, missed, tests = [], [], []
    for m in METHODS:
        cov, hits = float(lift[m][:, 2].mean()), int(aa[m][:, 3].sum())
        n_aa = len(aa[m])
        fp = hits / n_aa
        p_fp = float(stats.binom.sf(hits - 1, n_aa, 0.10))
        tests.append(f"{m} {p_fp:.2f}")
        misses = []
        if not 0.85 <= cov <= 0.95:
            misses.append(f"coverage {cov:.1%} outside 85-95%")
        if fp > 0.10:
            misses.append(f"A/A false-positive rate {fp:.1%} above 10%")
        if misses:
            missed.append(f"{m} ({'; '.join(misses)})")
        else:
            met.append(m)
    text = (
        "Goals (90% coverage 85-95%, A/A false positives at most 10%): met by "
        f"{', '.join(met) or 'none'}"
    )
    text += f"; missed by {', '.join(missed)}." if missed else "."
    return text + (
        " One-sided binomial p-value of an A/A false-positive rate at most 10% "
        f"(small = significantly above): {', '.join(tests)}."
    )


def _spillover_table(base: Runs, spilled: dict[float, Runs]) -> list[str]:
    rows = [
        "| spillover | method | mean true effect | mean estimate | bias / mean true effect "
        "| shift from 0% / mean true effect (paired) | predicted shift | 90% coverage |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for share, runs in [(0.0, base), *spilled.items()]:
        for m in METHODS:
            a = runs[m]
            n = len(a)
            truth = abs(float(a[:, 1].mean()))
            shift = float(np.mean(a[:, 0] - base[m][:n, 0])) / truth
            rows.append(
                f"| {share:.0%} | {m} | {-truth:,.0f} | {float((a[:, 0] + a[:, 1]).mean()):,.0f} "
                f"| {a[:, 0].mean() / truth:+.1%} | {shift:+.1%} | {a[:, 5].mean() / truth:+.1%} "
                f"| {_ci(float(a[:, 2].mean()), n)} |"
            )
    return rows


def _speed() -> list[str]:
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
    load = ", ".join(f"{v:.2f}" for v in os.getloadavg())
    return [
        "| speed | value |",
        "|---|---|",
        f"| 200 geos x 1092 days (40 treated, 56-day window): `analyze_to_dir` from CSV, "
        f"3 methods, 100 SC placebos, best of 3 | {min(timings):.2f} s |",
        f"| load average (1, 5, 15 min) after the timing | {load} |",
        f"| peak RSS | {peak_rss_mib():.0f} MiB |",
    ]


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=1000, help="weekly lift and A/A worlds")
    parser.add_argument("--daily-runs", type=int, default=200, help="daily lift and A/A worlds")
    parser.add_argument("--spill-runs", type=int, default=200, help="worlds per spillover share")
    parser.add_argument("--dry-run", action="store_true", help="print instead of writing")
    args = parser.parse_args()

    t0 = time.perf_counter()
    weekly = GeoExperimentConfig()
    lift = _run(weekly, args.runs, 10_000)
    aa = _run(GeoExperimentConfig(effect=0.0), args.runs, 20_000)
    t_weekly = time.perf_counter() - t0
    daily = GeoExperimentConfig(daily=True)
    t0 = time.perf_counter()
    d_lift = _run(daily, args.daily_runs, 30_000)
    d_aa = _run(GeoExperimentConfig(daily=True, effect=0.0), args.daily_runs, 40_000)
    t_daily = time.perf_counter() - t0
    spill_base = {m: v[: args.spill_runs] for m, v in lift.items()}
    spilled = {
        share: _run(GeoExperimentConfig(spillover=share), args.spill_runs, 10_000)
        for share in (0.25, 0.5)
    }

    se_cov = np.sqrt(0.9 * 0.1 / args.runs)
    rows = [
        "Effect = observed - counterfactual sales in the treated geos over the window (negative "
        "for a holdout); every world is simulated with its exact truth "
        "(`mixlens.data.simulate.geo_experiment`, tested media worth 5% of sales, 40 geos, 10 "
        "treated). Intervals: DiD t with the effective degrees of freedom of overlapping "
        "placebo windows; synthetic control the finite-sample rank quantile of 100 placebos in "
        "space, each placebo's window error divided by its pre-period RMSPE (post/pre ratio), "
        "times the treated aggregate's own RMSPE; Bayesian time series the Student-t mixture "
        "posterior predictive (local level, 8 control components, independent noise, grid "
        "over the level-innovation ratio); "
        "`recommended` the per-world recommendation (synthetic control unless its pre-period "
        "fit is poor, then the Bayesian time series, then DiD).",
        "",
        f"### Weekly panel (104 weeks, 8-week holdout; {args.runs} lift + {args.runs} A/A, "
        f"{t_weekly:.0f} s)",
        "",
        *_accuracy_table(lift, aa),
        "",
        _verdict(lift, aa),
        "",
        f"Binomial standard error of a 90% coverage with {args.runs} runs: {se_cov:.1%}. "
        f"The first {args.spill_runs} lift worlds alone (the 0% spillover rows below) cover "
        f"{spill_base['did'][:, 2].mean():.1%} (DiD) and "
        f"{spill_base['synthetic_control'][:, 2].mean():.1%} (synthetic control): a few "
        "hundred runs leave a couple of points of noise.",
        "",
        f"### Daily panel (728 days, 56-day holdout; {args.daily_runs} lift + "
        f"{args.daily_runs} A/A, {t_daily:.0f} s)",
        "",
        *_accuracy_table(d_lift, d_aa),
        "",
        _verdict(d_lift, d_aa),
        "",
        f"### Spillover into control geos (weekly, the first {args.spill_runs} lift worlds, "
        "same seeds)",
        "",
        "Control geos lose the stated share of the treated geos' lost sales, in proportion to "
        "their size. Every method builds its counterfactual from the control geos, so none is "
        "protected: the estimate shrinks toward zero by about spillover x treated / control "
        "sales (the predicted column). Coverage is of the true effect in the treated geos.",
        "",
        *_spillover_table(spill_base, spilled),
        "",
        *_speed(),
    ]
    body = "\n".join(rows)
    command = (
        f"python benchmarks/experiments_accuracy.py --runs {args.runs} "
        f"--daily-runs {args.daily_runs} --spill-runs {args.spill_runs}"
    )
    if args.dry_run:
        print(body)
    else:
        update_section("experiments_accuracy", body, command=command)


if __name__ == "__main__":
    main()
