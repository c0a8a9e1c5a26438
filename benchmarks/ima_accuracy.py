"""IMA accuracy and speed on simulated worlds with campaign-level truth.

Run: ``PYTHONPATH=src python benchmarks/ima_accuracy.py [--write]``. Scenarios:

* ``3x40 truth``: 3 channels x 40 campaigns x 156 weeks, the simulator's true weekly
  channel contributions and true adstock fed as the MMM (isolates IMA's own error);
  the runtime target (< 60 s with ADVI) is measured here.
* ``5ch truth``: the default 5-channel, 156-week world, truth as the MMM.
* ``5ch ADVI MMM`` / ``5ch NUTS MMM``: the same world through a real ``mixlens mmm fit``
  run dir (ADVI; NUTS with ``--nuts``), read as ``mixlens ima fit --mmm`` does: the
  posterior-mean tables plus the posterior (posterior-mean kernels, contribution draws
  propagated into the campaign intervals). ``--mmm-cache DIR`` reuses run dirs fitted
  by an earlier run of this script (``DIR/advi``, ``DIR/nuts``; fitted there if absent).

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
from mixlens.ima.anchor import read_mmm_posterior
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
    name: str, world, weekly, params, *, draws: int, seed: int, methods: list[str], posterior=None
) -> tuple[list, list]:
    rows, fits = [], []
    estimates = {}
    truth = world.daily_campaign_contributions
    for method in methods:
        started = time.perf_counter()
        res = fit_ima(
            weekly, params, world.daily_campaign, method=method, draws=draws, seed=seed,
            posterior=posterior,
        )  # fmt: skip
        seconds = time.perf_counter() - started
        camps = res.campaigns()
        estimates[f"ima_{method}"] = camps.rename(columns={"contribution_mean": "contribution"})
        fit = res.fit().merge(coverage(camps, truth), left_on="channel", right_index=True)
        fit["scenario"] = name
        fit["method"] = method
        fit["seconds"] = seconds
        fit["model"] = fit["channel"].map(res.meta["model_by_channel"])
        fit["grain"] = fit["channel"].map(res.meta["grain_by_channel"])
        fits.append(fit)
        if method == methods[0]:
            base = camps
    inputs = prepare_inputs(weekly, params, world.daily_campaign, adstock="daily")
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
    parser.add_argument("--nuts", action="store_true", help="also a NUTS MMM (slow)")
    parser.add_argument("--mmm-cache", default="", help="folder to keep/reuse MMM run dirs")
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
    mmm_seconds: dict[str, float] = {}
    if not args.skip_mmm:
        from mixlens.mmm.run import fit_to_dir as mmm_fit

        cache = Path(args.mmm_cache) if args.mmm_cache else None
        with tempfile.TemporaryDirectory() as tmp:
            for kind in ["advi", *(["nuts"] if args.nuts else [])]:
                run_dir = (cache or Path(tmp)) / kind
                if not (run_dir / "posterior.nc").exists():
                    started = time.perf_counter()
                    settings = (
                        {"draws": 200}
                        if kind == "advi"
                        else {"draws": 300, "tune": 500, "chains": 2}
                    )
                    mmm_fit(
                        w5.weekly_channel, out_dir=run_dir, controls=("price", "promotion"),
                        method=kind, seed=0, **settings,
                    )  # fmt: skip
                    mmm_seconds[kind] = time.perf_counter() - started
                weekly, params = read_mmm_dir(run_dir)
                posterior = read_mmm_posterior(run_dir)
                s, f = evaluate(
                    f"5ch {kind.upper()} MMM", w5, weekly, params, draws=args.draws,
                    seed=args.seed, methods=methods, posterior=posterior,
                )  # fmt: skip
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
        .merge(first[["scenario", "channel", "model", "grain", "weekly_mape", "r2"]])
        .merge(per.reset_index())
    )
    cols = ["scenario", "channel", "n_campaigns", "model", "grain", "weekly_mape", "r2"]
    cols += [f"coverage:{m}" for m in methods] + [f"rel_width:{m}" for m in methods]
    names = [f"ima_{m}" for m in methods] + ["spend_share", "nnls"]
    cols += [f"spearman:{m}" for m in names] + [f"total_error:{m}" for m in names]
    table = table[cols]
    runtime = fit.groupby(["scenario", "method"], sort=False)["seconds"].first().round(1)
    text = markdown(table)
    body = (
        f"IMA (default settings: `--model auto --grain auto`, period likelihood, cap "
        f"reconciliation; {args.draws} draws; ADVI 8000 steps) on simulated worlds; `model` "
        f"and `grain`: what `auto` kept per channel (saturating share model or the paper's "
        f"linear regression; `mmm`: campaigns' adstock summing to the MMM's weekly adstock "
        f"and the curve on weekly pressure, `daily`: the kernel converted to days and a "
        f"daily curve); MMM scenarios read the MMM's posterior (posterior-mean kernels; "
        f"contribution draws propagated into the campaign intervals); "
        f"`weekly_mape` (%) and `r2`: weekly sums of the daily regression prediction vs the "
        f"MMM input, for `{methods[0]}` (MAPE over weeks with at least 1% of the channel's "
        "mean weekly contribution); `coverage:<method>`: share of the channel's campaigns "
        "whose true total lies inside its 90% interval, `rel_width`: median interval width "
        "/ true total; `spearman` and `total_error` (sum|est-true|/sum true) of campaign "
        "totals vs the simulator's campaign truth. Baselines: spend share; unregularised "
        "NNLS on the same adstocked media.\n\n"
        f"{text}\n\nIMA runtime per scenario and method (s, whole `fit_ima` incl. compile, "
        "`--model auto --grain auto` fits two models at two grains, four fits, for a weekly MMM): "
        + ", ".join(f"{k[0]} {k[1]}: {v}" for k, v in runtime.items())
        + (
            "".join(f"; MMM {k} fit: {v:.1f} s" for k, v in mmm_seconds.items())
            + ("; MMM run dirs reused from `--mmm-cache`" if args.mmm_cache else "")
            if not args.skip_mmm
            else " (run with `--skip-mmm`: the scenarios through a fitted MMM were not run)"
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
