"""IMA accuracy and speed on simulated worlds with campaign-level truth.

Run: ``PYTHONPATH=src python benchmarks/ima_accuracy.py [--write]``. Scenarios:

* ``3x40 truth``: 3 channels x 40 campaigns x 156 weeks, the simulator's true weekly
  channel contributions and true adstock fed as the MMM (isolates IMA's own error);
  the runtime target (< 60 s with ADVI) is measured here.
* ``5ch truth``: the default 5-channel, 156-week world, truth as the MMM.
* ``5ch ADVI MMM``: the same world through a real ``mixlens mmm fit`` (ADVI) run dir.

Per scenario and channel: weekly MAPE and R² of the regression versus the MMM input,
campaign-total Spearman rank correlation and total error (``sum|est-true| / sum true``)
for IMA (both reconciliation rules) and the two naive baselines (spend share; NNLS).
"""

from __future__ import annotations

import argparse
import dataclasses
import os
import sys
import tempfile
import time
import warnings
from pathlib import Path

import pandas as pd

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _results import peak_rss_mib, update_section
from mixlens.data.simulate.mmm import DEFAULT_CHANNELS, MMMWorldConfig, simulate_mmm
from mixlens.ima.evaluate import nnls_baseline, score_campaigns, spend_share_baseline
from mixlens.ima.fit import fit_ima, prepare_inputs
from mixlens.ima.run import read_mmm_dir
from mixlens.transforms.timescale import DelayedParams


def truth_mmm(world):  # type: ignore[no-untyped-def]
    cp = world.channel_params
    weekly = world.weekly_contributions
    weekly = weekly[weekly["component"].isin(list(cp["channel"]))]
    params = {
        r.channel: DelayedParams(r.theta_weekly, r.peak_weekly, int(r.l_max_weekly))
        for r in cp.itertuples()
    }
    return weekly.rename(columns={"component": "channel"}), params


def coverage(camps: pd.DataFrame, truth: pd.DataFrame) -> pd.DataFrame:
    """Per channel: share of campaigns whose true total lies in the interval, median width."""
    true = truth.groupby(["channel", "campaign"])["contribution"].sum().rename("true")
    m = camps.merge(true.reset_index(), on=["channel", "campaign"])
    m["inside"] = (m["true"] >= m["contribution_lo"]) & (m["true"] <= m["contribution_hi"])
    m["width"] = (m["contribution_hi"] - m["contribution_lo"]) / m["true"].abs()
    g = m.groupby("channel", sort=False)
    return pd.DataFrame({"coverage": g["inside"].mean(), "rel_width": g["width"].median()})


def evaluate(  # type: ignore[no-untyped-def]
    name: str, world, weekly, params, *, draws: int, seed: int, methods: list[str]
) -> tuple[list, list]:
    rows, fits = [], []
    estimates = {}
    truth = world.daily_campaign_contributions
    for method in methods:
        started = time.perf_counter()
        res = fit_ima(weekly, params, world.daily_campaign, method=method, draws=draws, seed=seed)
        seconds = time.perf_counter() - started
        camps = res.campaigns()
        estimates[f"ima_{method}"] = camps.rename(columns={"contribution_mean": "contribution"})
        fit = res.fit().merge(coverage(camps, truth), left_on="channel", right_index=True)
        fit["scenario"] = name
        fit["method"] = method
        fit["seconds"] = seconds
        fit["model"] = fit["channel"].map(res.meta["model_by_channel"])
        fits.append(fit)
        if method == methods[0]:
            base = camps
    inputs = prepare_inputs(weekly, params, world.daily_campaign)
    estimates["spend_share"] = spend_share_baseline(base)
    estimates["nnls"] = nnls_baseline(inputs.designs)
    scores = score_campaigns(estimates, truth)
    scores["scenario"] = name
    rows.append(scores)
    return rows, fits


def markdown(frame: pd.DataFrame) -> str:
    def cell(v: object) -> str:
        return f"{v:.3f}" if isinstance(v, float) else str(v)

    head = "| " + " | ".join(map(str, frame.columns)) + " |"
    rule = "|" + "---|" * len(frame.columns)
    lines = [
        "| " + " | ".join(cell(v) for v in row) + " |" for row in frame.itertuples(index=False)
    ]
    return "\n".join([head, rule, *lines])


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--draws", type=int, default=200)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--write", action="store_true")
    parser.add_argument("--skip-mmm", action="store_true")
    parser.add_argument("--methods", default="advi,laplace", help="IMA inference methods")
    args = parser.parse_args()
    warnings.simplefilter("ignore")
    methods = args.methods.split(",")
    by_name = {c.name: c for c in DEFAULT_CHANNELS}
    big = tuple(
        dataclasses.replace(by_name[n], n_campaigns=40, n_families=8)
        for n in ("social", "online_video", "display")
    )
    scores, fits = [], []
    w3 = simulate_mmm(MMMWorldConfig(weeks=156, channels=big), seed=7)
    weekly, params = truth_mmm(w3)
    s, f = evaluate(
        "3x40 truth", w3, weekly, params, draws=args.draws, seed=args.seed, methods=methods
    )
    scores += s
    fits += f
    w5 = simulate_mmm(MMMWorldConfig(weeks=156, n_channels=5), seed=1)
    weekly, params = truth_mmm(w5)
    s, f = evaluate(
        "5ch truth", w5, weekly, params, draws=args.draws, seed=args.seed, methods=methods
    )
    scores += s
    fits += f
    if not args.skip_mmm:
        from mixlens.mmm.run import fit_to_dir as mmm_fit

        with tempfile.TemporaryDirectory() as tmp:
            started = time.perf_counter()
            mmm_fit(
                w5.weekly_channel,
                out_dir=tmp,
                controls=("price", "promotion"),
                method="advi",
                draws=200,
                seed=0,
            )
            mmm_seconds = time.perf_counter() - started
            weekly, params = read_mmm_dir(tmp)
        s, f = evaluate(
            "5ch ADVI MMM", w5, weekly, params, draws=args.draws, seed=args.seed, methods=methods
        )
        scores += s
        fits += f
    score = pd.concat(scores, ignore_index=True)
    fit = pd.concat(fits, ignore_index=True)
    wide = score.pivot_table(
        index=["scenario", "channel", "n_campaigns"], columns="method",
        values=["spearman", "total_error"], sort=False,
    )  # fmt: skip
    wide.columns = [f"{a}:{b}" for a, b in wide.columns]
    per = fit.pivot_table(
        index=["scenario", "channel"], columns="method",
        values=["coverage", "rel_width"], sort=False,
    )  # fmt: skip
    per.columns = [f"{a}:{b}" for a, b in per.columns]
    first = fit[fit["method"] == methods[0]]
    table = (
        wide.reset_index()
        .merge(first[["scenario", "channel", "model", "weekly_mape", "r2"]])
        .merge(per.reset_index())
    )
    cols = ["scenario", "channel", "n_campaigns", "model", "weekly_mape", "r2"]
    cols += [f"coverage:{m}" for m in methods] + [f"rel_width:{m}" for m in methods]
    names = [f"ima_{m}" for m in methods] + ["spend_share", "nnls"]
    cols += [f"spearman:{m}" for m in names] + [f"total_error:{m}" for m in names]
    table = table[cols]
    runtime = fit.groupby(["scenario", "method"], sort=False)["seconds"].first().round(1)
    text = markdown(table)
    body = (
        f"IMA (default settings: `--model auto`, period likelihood, cap reconciliation; "
        f"{args.draws} draws; ADVI 8000 steps) on simulated worlds; `model`: the model "
        f"`auto` kept per channel (saturating share model or the paper's linear regression), "
        f"`weekly_mape` (%) and `r2`: weekly sums of the daily regression prediction vs the "
        f"MMM input, for `{methods[0]}` (MAPE over weeks with at least 1% of the channel's "
        "mean weekly contribution); `coverage:<method>`: share of the channel's campaigns "
        "whose true total lies inside its 90% interval, `rel_width`: median interval width "
        "/ true total; `spearman` and `total_error` (sum|est-true|/sum true) of campaign "
        "totals vs the simulator's campaign truth. Baselines: spend share; unregularised "
        "NNLS on the same adstocked media.\n\n"
        f"{text}\n\nIMA runtime per scenario and method (s, whole `fit_ima` incl. compile, "
        "`auto` fits two models): "
        + ", ".join(f"{k[0]} {k[1]}: {v}" for k, v in runtime.items())
        + (
            f"; MMM ADVI fit: {mmm_seconds:.1f} s"
            if not args.skip_mmm
            else " (run with `--skip-mmm`: the scenario through a fitted ADVI MMM was not run)"
        )
        + f". Load average at the end (1, 5, 15 min): {os.getloadavg()[0]:.1f}, "
        f"{os.getloadavg()[1]:.1f}, {os.getloadavg()[2]:.1f} on a shared 2-core machine. "
        f"Peak RSS {peak_rss_mib():.0f} MiB.\n\nPyMC-Marketing's credibility case: "
        "section `ima_credibility`."
    )
    sys.stdout.write(body + "\n")
    if args.write:
        update_section(
            "ima_accuracy",
            body,
            command="PYTHONPATH=src python benchmarks/ima_accuracy.py " + " ".join(sys.argv[1:]),
        )


if __name__ == "__main__":
    main()
