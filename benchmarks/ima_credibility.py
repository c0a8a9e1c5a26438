"""IMA on PyMC-Marketing's published campaign-split case (the ``credibility_*`` files).

Run: ``PYTHONPATH=src python benchmarks/ima_credibility.py [--write]``. Reads the files
from ``../shared/data/external/pymc-marketing/`` (never copied into this repo):

* ``credibility_mmm_input_data.csv``: a daily two-channel MMM input (``social``, ``search``);
* ``credibility_campaign_daily_metrics.csv``: the social channel's 7 campaigns per day
  (spend, impressions, reach, clicks); their spend sums to ``social`` every day;
* ``credibility_ground_truth_campaign_contributions.csv``: each campaign's true daily
  contribution (grading only).

The MMM stage is daily, so IMA's stage 2 is the identity. mixlens' MMM is weekly today,
so the channel-level input here is the *true* daily social contribution (the sum of
the campaigns' truth): the table isolates IMA's campaign split from MMM error, for IMA
and for the two naive baselines alike. Campaign totals are scored by Spearman rank
correlation and total error ``sum|est - true| / sum true``; daily series by the mean
over campaigns of the correlation between estimated and true daily contributions.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
import warnings
from pathlib import Path

import numpy as np
import pandas as pd

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _results import peak_rss_mib, update_section
from ima_accuracy import markdown
from mixlens.ima.evaluate import nnls_baseline, score_campaigns, spend_share_baseline
from mixlens.ima.fit import fit_ima, prepare_inputs

DATA = Path(__file__).resolve().parents[2] / "shared" / "data" / "external" / "pymc-marketing"


def load(data: Path = DATA) -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame]:
    """Daily social contribution (truth), campaign table, long daily truth."""
    metrics = pd.read_csv(data / "credibility_campaign_daily_metrics.csv", parse_dates=["date"])
    wide = pd.read_csv(
        data / "credibility_ground_truth_campaign_contributions.csv", parse_dates=["date"]
    )
    truth = wide.melt(id_vars="date", var_name="campaign", value_name="contribution")
    truth["channel"] = "social"
    daily = truth.groupby("date", as_index=False)["contribution"].sum()
    daily["channel"] = "social"
    campaigns = metrics.assign(channel="social")
    return daily[["date", "channel", "contribution"]], campaigns, truth


def daily_correlation(est: pd.DataFrame, truth: pd.DataFrame) -> float:
    est = est[est["campaign"] != "unattributed"].assign(date=lambda f: pd.to_datetime(f["date"]))
    merged = est.merge(truth, on=["date", "campaign"], suffixes=("_est", "_true"))
    cors = [
        np.corrcoef(p["contribution_est"], p["contribution_true"])[0, 1]
        for _, p in merged.groupby("campaign")
        if p["contribution_true"].std() > 0 and p["contribution_est"].std() > 0
    ]
    return float(np.mean(cors))


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--draws", type=int, default=200)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--write", action="store_true")
    args = parser.parse_args()
    if not DATA.exists():
        print(f"skipped: {DATA} not found")
        return
    warnings.simplefilter("ignore")
    daily, campaigns, truth = load()
    rows = []
    variants = [
        ("auto", "cap", "spend", "advi"),
        ("auto", "proportional", "spend", "advi"),
        ("saturating", "cap", "spend", "advi"),
        ("linear", "cap", "spend", "advi"),
        ("linear", "proportional", "spend", "advi"),
        ("auto", "cap", "impressions", "advi"),
        ("auto", "cap", "spend", "laplace"),
    ]
    true_totals = truth.groupby("campaign")["contribution"].sum()
    for model, rule, media, method in variants:
        started = time.perf_counter()
        res = fit_ima(
            daily,
            {"social": None},
            campaigns,
            media=media,
            model=model,
            rule=rule,
            method=method,
            draws=args.draws,
            seed=args.seed,
        )
        seconds = time.perf_counter() - started
        est = res.campaigns().rename(columns={"contribution_mean": "contribution"})
        score = score_campaigns({"m": est}, truth).iloc[0]
        fit = res.fit().iloc[0]
        camps = res.campaigns().set_index("campaign").loc[true_totals.index]
        inside = (camps["contribution_lo"] <= true_totals) & (
            true_totals <= camps["contribution_hi"]
        )
        rows.append(
            {
                "method": f"IMA {method} {model} ({media}, {rule})",
                "chosen": res.meta["model_by_channel"]["social"],
                "spearman": score["spearman"],
                "total_error": score["total_error"],
                "coverage_90": float(inside.mean()),
                "daily_corr": daily_correlation(res.campaign_daily(), truth),
                "weekly_mape_%": fit["weekly_mape"],
                "r2": fit["r2"],
                "seconds": seconds,
            }
        )
        if (model, rule, media, method) == variants[0]:
            base = res.campaigns()
    inputs = prepare_inputs(daily, {"social": None}, campaigns, media="spend")
    for name, est in (
        ("spend share", spend_share_baseline(base)),
        ("NNLS (spend)", nnls_baseline(inputs.designs)),
    ):
        score = score_campaigns({"m": est}, truth).iloc[0]
        rows.append(
            {
                "method": name,
                "chosen": "",
                "spearman": score["spearman"],
                "total_error": score["total_error"],
                "coverage_90": float("nan"),
                "daily_corr": float("nan"),
                "weekly_mape_%": float("nan"),
                "r2": float("nan"),
                "seconds": float("nan"),
            }
        )
    table = pd.DataFrame(rows)
    text = markdown(table)
    body = (
        "PyMC-Marketing's `credibility_*` case (7 social campaigns, 120 days; files read from "
        "`../shared/data/external/pymc-marketing/`). Channel input: the true daily social "
        "contribution (mixlens' MMM is weekly, so this isolates the campaign split; stage 2 "
        "is the identity). No adstock given (carryover not modelled). Campaign totals vs "
        "truth; coverage_90 = share of the 7 campaigns whose true total lies in its 90% "
        "interval; daily_corr = mean per-campaign correlation of daily credit with truth; "
        f"`chosen`: the model `auto` kept.\n\n{text}\n\n"
        f"Peak RSS {peak_rss_mib():.0f} MiB; {args.draws} draws, seed {args.seed}; load "
        f"average at the end {os.getloadavg()[0]:.1f} (shared 2-core machine)."
    )
    print(body)
    if args.write:
        command = "PYTHONPATH=src python benchmarks/ima_credibility.py --write"
        update_section("ima_credibility", body, command=command)


if __name__ == "__main__":
    main()
