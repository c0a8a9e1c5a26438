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


def evaluate(name: str, world, weekly, params, *, draws: int, seed: int) -> tuple[list, list]:  # type: ignore[no-untyped-def]
    rows, fits = [], []
    estimates = {}
    timing = {}
    for model, rule in (("auto", "cap"), ("auto", "proportional"), ("linear", "cap")):
        started = time.perf_counter()
        res = fit_ima(
            weekly, params, world.daily_campaign, model=model, draws=draws, seed=seed, rule=rule
        )
        timing[rule] = time.perf_counter() - started
        camps = res.campaigns()
        label = f"ima_{rule}" if model == "auto" else "ima_linear"
        estimates[label] = camps.rename(columns={"contribution_mean": "contribution"})
        if model == "auto" and rule == "cap":
            base = camps
            fit = res.fit()
            fit["scenario"] = name
            fit["seconds"] = timing[rule]
            fit["model"] = fit["channel"].map(res.meta["model_by_channel"])
            fits.append(fit)
    inputs = prepare_inputs(weekly, params, world.daily_campaign)
    estimates["spend_share"] = spend_share_baseline(base)
    estimates["nnls"] = nnls_baseline(inputs.designs)
    scores = score_campaigns(estimates, world.daily_campaign_contributions)
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
    args = parser.parse_args()
    warnings.simplefilter("ignore")
    by_name = {c.name: c for c in DEFAULT_CHANNELS}
    big = tuple(
        dataclasses.replace(by_name[n], n_campaigns=40, n_families=8)
        for n in ("social", "online_video", "display")
    )
    scores, fits = [], []
    w3 = simulate_mmm(MMMWorldConfig(weeks=156, channels=big), seed=7)
    weekly, params = truth_mmm(w3)
    s, f = evaluate("3x40 truth", w3, weekly, params, draws=args.draws, seed=args.seed)
    scores += s
    fits += f
    w5 = simulate_mmm(MMMWorldConfig(weeks=156, n_channels=5), seed=1)
    weekly, params = truth_mmm(w5)
    s, f = evaluate("5ch truth", w5, weekly, params, draws=args.draws, seed=args.seed)
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
        s, f = evaluate("5ch ADVI MMM", w5, weekly, params, draws=args.draws, seed=args.seed)
        scores += s
        fits += f
    score = pd.concat(scores, ignore_index=True)
    fit = pd.concat(fits, ignore_index=True)
    wide = score.pivot_table(
        index=["scenario", "channel", "n_campaigns"], columns="method",
        values=["spearman", "total_error"], sort=False,
    )  # fmt: skip
    wide.columns = [f"{a}:{b}" for a, b in wide.columns]
    table = wide.reset_index().merge(fit[["scenario", "channel", "model", "weekly_mape", "r2"]])
    cols = ["scenario", "channel", "n_campaigns", "model", "weekly_mape", "r2"]
    methods = ["ima_cap", "ima_proportional", "ima_linear", "spend_share", "nnls"]
    cols += [f"spearman:{m}" for m in methods] + [f"total_error:{m}" for m in methods]
    table = table[cols]
    runtime = fit.groupby("scenario", sort=False)["seconds"].first().round(1)
    text = markdown(table)
    body = (
        "IMA (ADVI, 8000 steps, 200 draws; `--model auto`: per channel the saturating share "
        "model or the paper's linear regression, whichever fits the MMM's weekly series better, "
        "chosen model in `model`) on simulated worlds; `weekly_mape` (%) and `r2`: "
        "weekly sums of the daily regression prediction vs the MMM input; `spearman` and "
        "`total_error` (sum|est-true|/sum true) of campaign totals vs the simulator's "
        "campaign truth. `ima_cap`: default reconciliation (campaigns capped at the channel, "
        "remainder `unattributed`); `ima_proportional`: campaigns scaled to the channel every "
        "day; `ima_linear`: the paper's linear regression alone (cap rule). Baselines: spend "
        "share; unregularised NNLS on the same adstocked media.\n\n"
        f"{text}\n\nIMA runtime per scenario (s, whole `fit_ima` incl. compile): "
        + ", ".join(f"{k}: {v}" for k, v in runtime.items())
        + (f"; MMM ADVI fit: {mmm_seconds:.1f} s" if not args.skip_mmm else "")
        + f". Peak RSS {peak_rss_mib():.0f} MiB. IMA runtime is for the default `auto` model, "
        "which fits both models (two ADVI runs).\n\nPyMC-Marketing's credibility case: "
        "section `ima_credibility`."
    )
    sys.stdout.write(body + "\n")
    if args.write:
        update_section(
            "ima_accuracy", body, command="PYTHONPATH=src python benchmarks/ima_accuracy.py --write"
        )


if __name__ == "__main__":
    main()
