"""IMA's cross-channel interaction terms on simulated worlds with a known synergy.

Run: ``PYTHONPATH=src python benchmarks/ima_interactions.py [--write]``.

The simulator's MMM world has no cross-channel synergy, so this benchmark adds one to
its truth, as an MMM with an interaction would report it: the target channel's true
campaign contributions are multiplied every day by ``1 + strength * u_t``, with ``u``
the source channel's true weekly contribution over its maximum (a linear synergy, not
the exponential form IMA fits). The MMM input is the true weekly contributions (the
target's with the synergy), so the table isolates what the interaction term does to
the campaign split. Per world: IMA with its defaults (ADVI, ``model="auto"``,
``grain="auto"``) without and with ``interactions={target: (source,)}``; the split
error of the target's campaigns (:func:`mixlens.ima.evaluate.share_error` x 2, i.e.
``sum|est share - true share|``), their Spearman rank correlation with the truth, the
weekly fit, the spend- and media-share baselines, and for the interaction rows the
fitted ``gamma`` and the share of the target's contribution owed to the source, against
the true share ``sum_t y_t (1 - 1 / g_t) / sum_t y_t``. ``strength = 0`` checks that the
term does no harm where there is no synergy.
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
from ima_accuracy import markdown, truth_mmm
from mixlens.data.simulate.mmm import MMMWorldConfig, simulate_mmm
from mixlens.ima.evaluate import media_share_baseline, score_campaigns, spend_share_baseline
from mixlens.ima.fit import fit_ima, prepare_inputs


def synergy_world(seed: int, target: str, source: str, strength: float, weeks: int):  # type: ignore[no-untyped-def]
    """True weekly MMM input, adstock, target's campaigns and their truth, true share."""
    world = simulate_mmm(MMMWorldConfig(weeks=weeks, n_channels=5), seed=seed)
    weekly, params = truth_mmm(world)
    weekly = weekly.assign(date=pd.to_datetime(weekly["date"]))
    wide = weekly.pivot_table(index="date", columns="channel", values="contribution")
    g_week = 1.0 + strength * wide[source] / wide[source].max()
    truth = world.daily_campaign_contributions
    truth = truth[truth["channel"] == target].assign(date=lambda f: pd.to_datetime(f["date"]))
    start = wide.index[0]
    week_of = truth["date"] - pd.to_timedelta((truth["date"] - start).dt.days % 7, unit="D")
    truth = truth.assign(contribution=truth["contribution"] * week_of.map(g_week).to_numpy())
    by_week = truth.assign(week=week_of).groupby("week")["contribution"].sum()
    target_rows = weekly["channel"] == target
    weekly.loc[target_rows, "contribution"] = (
        weekly.loc[target_rows, "date"].map(by_week).fillna(0.0).to_numpy()
    )
    g = g_week.reindex(by_week.index)
    true_share = float((by_week * (1.0 - 1.0 / g)).sum() / by_week.sum())
    campaigns = world.daily_campaign[world.daily_campaign["channel"] == target]
    return weekly, params, campaigns, truth, true_share


def run(seeds: list[int], strengths: list[float], target: str, source: str, weeks: int):  # type: ignore[no-untyped-def]
    rows = []
    for seed in seeds:
        for strength in strengths:
            weekly, params, campaigns, truth, true_share = synergy_world(
                seed, target, source, strength, weeks
            )
            designs = prepare_inputs(weekly, params, campaigns, adstock="daily").designs
            for label, inter in (("without", None), ("with", {target: (source,)})):
                started = time.perf_counter()
                with warnings.catch_warnings():
                    warnings.simplefilter("ignore")
                    res = fit_ima(weekly, params, campaigns, interactions=inter, seed=0)
                seconds = time.perf_counter() - started
                camps = res.campaigns()
                est = {"ima": camps.rename(columns={"contribution_mean": "contribution"})}
                if label == "without":
                    est["spend share"] = spend_share_baseline(camps)
                    est["media share"] = media_share_baseline(camps, designs)
                scores = score_campaigns(est, truth).set_index("method")
                fit = res.fit().set_index("channel").loc[target]
                summary = res.meta["interactions"].get(target)
                row = {
                    "seed": seed,
                    "strength": strength,
                    "true share": round(true_share, 3),
                    "interaction": label,
                    "split_error": scores.loc["ima", "split_error"],
                    "spearman": scores.loc["ima", "spearman"],
                    "weekly_mape": fit["weekly_mape"],
                    "r2": fit["r2"],
                    "gamma [90%]": "-"
                    if summary is None
                    else "{mean:.2f} [{lo:.2f}, {hi:.2f}]".format(**summary["gamma"][source]),
                    "share [90%]": "-"
                    if summary is None
                    else "{mean:.3f} [{lo:.3f}, {hi:.3f}]".format(**summary["share"]),
                    "model": res.meta["model_by_channel"][target],
                    "seconds": seconds,
                }
                if label == "without":
                    row["split_error:spend_share"] = scores.loc["spend share", "split_error"]
                    row["split_error:media_share"] = scores.loc["media share", "split_error"]
                rows.append(row)
                print(row, flush=True)
    return pd.DataFrame(rows)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--seeds", default="1,2")
    parser.add_argument("--strengths", default="0,0.5,1")
    parser.add_argument("--target", default="social")
    parser.add_argument("--source", default="tv")
    parser.add_argument("--weeks", type=int, default=156)
    parser.add_argument("--write", action="store_true")
    args = parser.parse_args()
    seeds = [int(s) for s in args.seeds.split(",")]
    strengths = [float(s) for s in args.strengths.split(",")]
    table = run(seeds, strengths, args.target, args.source, args.weeks)
    table = table.fillna({"split_error:spend_share": np.nan, "split_error:media_share": np.nan})
    means = (
        table.groupby(["strength", "interaction"], sort=False)[
            ["split_error", "spearman", "weekly_mape", "r2"]
        ]
        .mean()
        .reset_index()
    )
    load = os.getloadavg()
    body = (
        f"Synergy worlds: the simulator's 5-channel world ({args.weeks} weeks, seeds "
        f"{args.seeds}) with {args.target}'s true campaign contributions multiplied every "
        f"day by `1 + strength * u_t`, `u` = {args.source}'s true weekly contribution over "
        "its maximum (a linear synergy; IMA fits an exponential one), fed as the MMM with "
        "the true adstock; only the target's campaigns attributed. IMA defaults (ADVI, "
        "`model=auto`, `grain=auto`, 200 draws) without and with "
        f"`--interactions {args.target}={args.source}`. `split_error` = sum|est share - "
        "true share| of the target's campaigns (the spend- and media-share baselines "
        "beside it); `gamma` and `share` (the part of the target's contribution owed to "
        f"{args.source}: what it would lose with {args.source} off) posterior mean [90%], "
        "against `true share` = sum_t y_t (1 - 1/g_t) / sum_t y_t. `strength = 0`: no "
        "synergy in the truth (the term should do no harm).\n\n"
        f"{markdown(table)}\n\nMeans over seeds:\n\n{markdown(means)}\n\n"
        f"Load average at the end (1, 5, 15 min): {load[0]:.1f}, {load[1]:.1f}, "
        f"{load[2]:.1f} on a shared 2-core machine; peak RSS {peak_rss_mib():.0f} MiB.\n"
    )
    print(body)
    if args.write:
        command = (
            "PYTHONPATH=src python benchmarks/ima_interactions.py "
            f"--seeds {args.seeds} --strengths {args.strengths} --target {args.target} "
            f"--source {args.source} --weeks {args.weeks} --write"
        )
        update_section("ima_interactions", body, command=command)


if __name__ == "__main__":
    main()
