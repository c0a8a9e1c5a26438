"""IMA's daily carryover tuned from the channel's contributions (``mixlens.ima.tuning``).

Run: ``PYTHONPATH=src python benchmarks/ima_tuning.py [--write]``. Writes the
``ima_tuning`` section of RESULTS.md.

Worlds:

* ``3x40`` (the ``ima_accuracy`` world: 3 channels x 40 campaigns x 156 weeks, seed 7)
  and ``5x52`` (5 channels, 52 weeks, seed 1, the IMA tests' world), with the
  simulator's true weekly channel contributions as the MMM, so only stage 2's kernel
  and the split are measured. Each is given the true kernel, no kernel (a
  bring-your-own table without adstock), and the true kernel at half and at twice its
  length (a wrong kernel from elsewhere); for each, IMA (defaults: ADVI, ``auto``) with
  the given kernel and with the kernel :func:`~mixlens.ima.tuning.tune_adstock` kept.
* PyMC-Marketing's ``credibility_*`` case (daily, no adstock given), read from
  ``../shared/data/external/pymc-marketing/`` when present.
"""

from __future__ import annotations

import argparse
import dataclasses
import os
import sys
import time
import warnings
from fractions import Fraction
from pathlib import Path
from typing import Any

import pandas as pd

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _results import peak_rss_mib, update_section
from ima_accuracy import markdown, truth_mmm
from ima_credibility import DATA as CREDIBILITY
from ima_credibility import load as load_credibility
from mixlens.data.simulate.mmm import DEFAULT_CHANNELS, MMMWorldConfig, simulate_mmm
from mixlens.ima.evaluate import score_campaigns
from mixlens.ima.fit import fit_ima
from mixlens.ima.tuning import median_lag, tune_adstock
from mixlens.transforms.timescale import AdstockParams, rescale, to_daily


def _ima(
    weekly: pd.DataFrame,
    params: dict[str, AdstockParams | None],
    campaigns: pd.DataFrame,
    truth: pd.DataFrame,
    *,
    media: str,
    seed: int,
) -> tuple[pd.DataFrame, float]:
    started = time.perf_counter()
    res = fit_ima(weekly, params, campaigns, media=media, draws=200, seed=seed)
    seconds = time.perf_counter() - started
    est = res.campaigns().rename(columns={"contribution_mean": "contribution"})
    scores = score_campaigns({"ima": est}, truth).set_index("channel")
    fit = res.fit().set_index("channel")
    out = scores[["spearman", "split_error"]].join(fit[["weekly_mape", "r2"]])
    return out, seconds


def world_rows(name: str, world: Any, *, seed: int) -> list[dict[str, Any]]:
    weekly, true = truth_mmm(world)
    campaigns = world.daily_campaign
    truth = world.daily_campaign_contributions
    givens: dict[str, dict[str, AdstockParams | None]] = {
        "true kernel": dict(true),
        "no kernel": dict.fromkeys(true),
        "true kernel x 0.5": {c: rescale(p, Fraction(1, 2)) for c, p in true.items()},
        "true kernel x 2": {c: rescale(p, Fraction(2)) for c, p in true.items()},
    }
    rows: list[dict[str, Any]] = []
    for label, given in givens.items():
        started = time.perf_counter()
        tuning = tune_adstock(weekly, given, campaigns)
        tune_s = time.perf_counter() - started
        summary = tuning.summary()
        before, before_s = _ima(weekly, given, campaigns, truth, media="impressions", seed=seed)
        if tuning.tuned_channels:
            after, after_s = _ima(
                weekly, tuning.params(given), campaigns, truth, media="impressions", seed=seed
            )
        else:
            after, after_s = before, 0.0
        for channel, s in summary.items():
            rows.append(
                {
                    "world": name,
                    "given": label,
                    "channel": channel,
                    "true_median_lag_d": median_lag(to_daily(true[channel])),
                    "given_median_lag_d": s["given_median_lag_days"],
                    "tuned": s["tuned"],
                    "kept": _kept(s),
                    "kept_median_lag_d": s["median_lag_days"],
                    "bic_gain": s["bic_gain"],
                    "split_error_given": before.loc[channel, "split_error"],
                    "split_error_tuned": after.loc[channel, "split_error"],
                    "spearman_given": before.loc[channel, "spearman"],
                    "spearman_tuned": after.loc[channel, "spearman"],
                    "weekly_mape_given": before.loc[channel, "weekly_mape"],
                    "weekly_mape_tuned": after.loc[channel, "weekly_mape"],
                    "r2_given": before.loc[channel, "r2"],
                    "r2_tuned": after.loc[channel, "r2"],
                    "tune_s": tune_s,
                    "ima_s": before_s + after_s,
                }
            )
        sys.stderr.write(f"{name} / {label}: tuned {tuning.tuned_channels}\n")
    return rows


def _kept(s: dict[str, Any]) -> str:
    if not s["tuned"]:
        return "given"
    if s["candidate"] == "stretched":
        return f"given x {s['stretch']:.2f}"
    return f"geometric {s['retention_per_day']:.2f}/day"


def credibility_rows(*, seed: int) -> list[dict[str, Any]]:
    daily, campaigns, truth = load_credibility()
    rows = []
    for media in ("spend", "impressions"):
        given: dict[str, AdstockParams | None] = {"social": None}
        tuning = tune_adstock(daily, given, campaigns, media=media)
        s = tuning.summary()["social"]
        best = tuning.channels[0].scores
        top = best.iloc[int(best["bic"].to_numpy().argmin())]
        before, before_s = _ima(daily, given, campaigns, truth, media=media, seed=seed)
        rows.append(
            {
                "media": media,
                "tuned": s["tuned"],
                "best_candidate": f"geometric {top['retention_per_day']:.2f}/day",
                "best_bic_gain": float(best["bic"].iloc[0] - top["bic"]),
                "split_error_given": before.loc["social", "split_error"],
                "spearman_given": before.loc["social", "spearman"],
                "weekly_mape_given": before.loc["social", "weekly_mape"],
                "r2_given": before.loc["social", "r2"],
                "ima_s": before_s,
            }
        )
    return rows


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--worlds", default="3x40,5x52")
    parser.add_argument("--write", action="store_true")
    args = parser.parse_args()
    warnings.simplefilter("ignore")
    wanted = set(args.worlds.split(","))
    by_name = {c.name: c for c in DEFAULT_CHANNELS}
    rows: list[dict[str, Any]] = []
    if "3x40" in wanted:
        big = tuple(
            dataclasses.replace(by_name[n], n_campaigns=40, n_families=8)
            for n in ("social", "online_video", "display")
        )
        w3 = simulate_mmm(MMMWorldConfig(weeks=156, channels=big), seed=7)
        rows += world_rows("3x40", w3, seed=args.seed)
    if "5x52" in wanted:
        w5 = simulate_mmm(MMMWorldConfig(weeks=52, n_channels=5), seed=1)
        rows += world_rows("5x52", w5, seed=args.seed)
    table = pd.DataFrame(rows)
    cred = pd.DataFrame(credibility_rows(seed=args.seed)) if CREDIBILITY.exists() else None
    load = ", ".join(f"{v:.1f}" for v in os.getloadavg())
    means = (
        table.groupby(["world", "given"], sort=False)[
            [
                "split_error_given",
                "split_error_tuned",
                "weekly_mape_given",
                "weekly_mape_tuned",
                "r2_given",
                "r2_tuned",
            ]
        ]
        .mean()
        .reset_index()
    )
    means.insert(2, "tuned", table.groupby(["world", "given"], sort=False)["tuned"].sum().values)
    body = [
        "IMA's stage-2 kernel tuned from the channel's own contributions "
        "(`mixlens.ima.tuning.tune_adstock`, `mixlens ima fit --tune-adstock`). Candidates per "
        "channel: the given kernel (converted to days), the given kernel stretched to 0.5, "
        "0.7, 1.43 and 2 times its lags (its shape kept), and daily geometric kernels of "
        "retention 0 to 0.95; each scored by non-negative least squares of the channel's "
        "contribution per MMM period on the campaigns' adstocked media summed over the "
        "period, with an intercept per day; a candidate replaces the given kernel only with "
        "a BIC gain of at least 10. MMM input: the simulator's true weekly channel "
        "contributions; IMA at its defaults (ADVI, `auto` model and grain, 200 draws, seed "
        f"{args.seed}) with the given kernel and with the kernel kept. `split_error`: "
        "sum |est share - true share| over the channel's campaigns (`score_campaigns`); "
        "`weekly_mape` (%) and `r2`: IMA's weekly fit to the MMM input; median lag: the day "
        "by which half of the (normalised) daily kernel's mass is delivered.",
        "",
        "Means over the channels (`tuned`: channels whose kernel was replaced):",
        "",
        markdown(means),
        "",
        "Per channel:",
        "",
        markdown(table),
    ]
    if cred is not None:
        body += [
            "",
            "PyMC-Marketing's credibility case (daily contributions, no kernel given, the "
            "true daily social contribution as the MMM; `best_candidate` and "
            "`best_bic_gain`: the best-scoring candidate and its gain over no carryover, "
            "kept only from a gain of 10):",
            "",
            markdown(cred),
        ]
    body += ["", f"Load average (1, 5, 15 min) {load}; peak RSS {peak_rss_mib():.0f} MiB."]
    text = "\n".join(body)
    if args.write:
        update_section(
            "ima_tuning", text, command="PYTHONPATH=src python benchmarks/ima_tuning.py --write"
        )
    sys.stdout.write(text + "\n")


if __name__ == "__main__":
    main()
