"""IMA inside campaign families: the split where campaigns are flighted together.

Run: ``PYTHONPATH=src python benchmarks/ima_families.py [--worlds 7,8,...] [--nuts
3x40_noisy,nuts_mmm] [--save PREFIX] [--write]`` (``--worlds``: seeds of the 3x40 worlds,
pooled, so that the rare strongly correlated families add up; ``--nuts``: scenarios whose
first world is also fitted with NUTS; ``--save``: per-family scores as CSV). The simulator groups
each channel's campaigns into families that share one flighting pattern
(:mod:`mixlens.data.simulate.flighting`), so their daily media move together and a
regression on them is near-collinear: issue #4 asks IMA to beat the naive baselines
"especially inside strongly correlated campaign families". The worlds, MMM inputs, IMA
fits and baselines are those of ``benchmarks/ima_accuracy.py`` (section ``ima_accuracy``):

* ``3x40 truth``: 3 channels x 40 campaigns (8 families each) x 156 weeks, the
  simulator's true weekly channel contributions and adstock as the MMM;
* ``3x40 noisy truth``: the same world, each week's true contribution with 5% independent
  relative noise as the MMM, and 400 draws of the same law as its posterior;
* ``5ch NUTS MMM``: the default 5-channel world through a real ``mixlens mmm fit`` NUTS
  run dir (read from ``--mmm-cache DIR/nuts``; fitted there as ``ima_accuracy`` does if
  absent).

Per family of at least two campaigns (:func:`mixlens.ima.families.score_families`):
``mean_corr``, the mean pairwise correlation of the campaigns' daily impressions over the
window (days without spend count as zero; what IMA regresses on, before adstock), the
within-family split error (campaign totals rescaled to the family's true total:
``sum |est share - true share|``, shares of the family, in ``[0, 2]``) and the Spearman
rank correlation of the family's campaign totals with the truth, for IMA and the
baselines (spend share, media share: IMA's own prior centre, NNLS). For IMA, also the
coverage of the within-family share intervals (:func:`score_family_split`).
"""

from __future__ import annotations

import argparse
import dataclasses
import os
import resource
import sys
import time
import warnings
from pathlib import Path

import numpy as np
import pandas as pd

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _results import peak_rss_mib, update_section
from ima_accuracy import markdown, noisy_truth, truth_mmm
from mixlens.data.simulate.mmm import DEFAULT_CHANNELS, MMMWorldConfig, simulate_mmm
from mixlens.ima.anchor import MMMPosterior, read_mmm_posterior
from mixlens.ima.evaluate import (
    media_share_baseline,
    nnls_baseline,
    rank_correlation,
    spend_share_baseline,
)
from mixlens.ima.families import (
    family_correlations,
    score_families,
    score_family_split,
    summarise_families,
)
from mixlens.ima.fit import fit_ima, prepare_inputs
from mixlens.ima.run import read_mmm_dir

BASELINES = ("spend_share", "media_share", "nnls")
EDGES = (0.5, 0.8)


def campaign_truth(world) -> pd.DataFrame:  # type: ignore[no-untyped-def]
    """``channel, campaign, family, contribution``: true totals over the daily truth."""
    totals = (
        world.daily_campaign_contributions.groupby(["channel", "campaign"], sort=False)[
            "contribution"
        ]
        .sum()
        .reset_index()
    )
    families = world.campaign_params[["channel", "campaign", "family"]]
    return totals.merge(families, on=["channel", "campaign"], how="left", validate="1:1")


def adstocked_media(inputs) -> pd.DataFrame:  # type: ignore[no-untyped-def]
    """The regression designs' adstocked daily media as a long table (``adstocked``)."""
    frames = []
    for d in inputs.designs:
        wide = pd.DataFrame(d.x, index=inputs.days, columns=list(d.campaigns))
        long = wide.rename_axis("date").reset_index().melt("date", var_name="campaign")
        frames.append(long.rename(columns={"value": "adstocked"}).assign(channel=d.channel))
    return pd.concat(frames, ignore_index=True)


def evaluate(  # type: ignore[no-untyped-def]
    name: str,
    world,
    weekly: pd.DataFrame,
    params,
    *,
    posterior: MMMPosterior | None,
    methods: list[str],
    draws: int,
    seed: int,
) -> tuple[pd.DataFrame, pd.DataFrame, dict[str, float]]:
    """Family scores of IMA (each method) and the baselines, IMA's family intervals, CPU s."""
    truth = campaign_truth(world)
    estimates: dict[str, pd.DataFrame] = {}
    splits = []
    seconds: dict[str, float] = {}
    settings: dict[str, str] = {}
    base = None
    for method in methods:
        cpu = time.process_time()
        res = fit_ima(
            weekly, params, world.daily_campaign, method=method, draws=draws, seed=seed,
            posterior=posterior, **settings,
        )  # fmt: skip
        seconds[method] = time.process_time() - cpu
        if base is None:
            base = res.campaigns()
            # Later methods fit only the model and grain the first one's `auto` kept.
            for key in ("model", "grain"):
                kept = set(res.meta[f"{key}_by_channel"].values())
                settings[key] = kept.pop() if len(kept) == 1 else "auto"
        label = f"ima_{method}"
        estimates[label] = res.campaigns().rename(columns={"contribution_mean": "contribution"})
        split = score_family_split(res.rows, res.total_draws, truth, ci=res.ci)
        splits.append(split.assign(method=label))
    assert base is not None
    inputs = prepare_inputs(weekly, params, world.daily_campaign, adstock="daily")
    estimates["spend_share"] = spend_share_baseline(base)
    estimates["media_share"] = media_share_baseline(base, inputs.designs)
    estimates["nnls"] = nnls_baseline(inputs.designs)
    scores = score_families(estimates, truth, world.daily_campaign, column="impressions")
    adstocked = family_correlations(truth, adstocked_media(inputs), column="adstocked")
    scores = scores.merge(
        adstocked.rename(columns={"mean_corr": "corr_adstocked"}).drop(columns="n_campaigns"),
        on=["channel", "family"],
        how="left",
    )
    scores["scenario"] = name
    split = pd.concat(splits, ignore_index=True)
    split["scenario"] = name
    return scores, split, seconds


def wide_summary(scores: pd.DataFrame, split: pd.DataFrame, *, pooled: bool) -> pd.DataFrame:
    """Per scenario, channel (or all channels pooled) and band: every method side by side.

    Campaign-weighted means over the band's families (:func:`summarise_families`).
    """
    frames = []
    for scenario, part in scores.groupby("scenario", sort=False):
        if pooled:
            part = part.assign(channel="all")
        s = summarise_families(part, edges=EDGES).assign(scenario=scenario)
        frames.append(s)
    s = pd.concat(frames, ignore_index=True)
    keys = ["scenario", "channel", "band"]
    first = s.drop_duplicates(keys)[[*keys, "n_families", "n_campaigns", "mean_corr"]]
    methods = list(dict.fromkeys(s["method"]))
    out = first
    for metric in ("split_error", "spearman"):
        wide = s.pivot_table(index=keys, columns="method", values=metric, dropna=False)
        wide = wide.reindex(columns=methods)
        wide.columns = [f"{metric}:{m}" for m in methods]
        out = out.merge(wide.reset_index(), on=keys, how="left")
    # IMA's within-family interval coverage, campaign-weighted (= share of the band's
    # campaigns whose true family share lies inside their 90% interval).
    cov = split.merge(
        scores[["scenario", "world", "channel", "family", "mean_corr"]].drop_duplicates(),
        on=["scenario", "world", "channel", "family"],
    )
    cov = cov.assign(split_error=cov["split_coverage"], spearman=np.nan)
    for method, part in cov.groupby("method", sort=False):
        frames = []
        for scenario, sub in part.groupby("scenario", sort=False):
            if pooled:
                sub = sub.assign(channel="all")
            frames.append(summarise_families(sub, edges=EDGES).assign(scenario=scenario))
        c = pd.concat(frames, ignore_index=True)[[*keys, "split_error"]]
        out = out.merge(c.rename(columns={"split_error": f"coverage:{method}"}), on=keys)
    return out


def wins(scores: pd.DataFrame, ima: str) -> pd.DataFrame:
    """Per scenario and band: families where IMA's split error is below each baseline's."""
    keys = ["scenario", "world", "channel", "family"]
    wide = scores.pivot_table(
        index=keys, columns="method", values="split_error", sort=False
    ).reset_index()
    corr = scores.drop_duplicates(keys).set_index(keys)["mean_corr"]
    wide["band"] = [
        "corr >= 0.8" if r >= EDGES[-1] else "corr < 0.8"
        for r in corr.reindex(pd.MultiIndex.from_frame(wide[keys]))
    ]
    rows = []
    for (scenario, band), part in wide.groupby(["scenario", "band"], sort=False):
        row: dict[str, object] = {"scenario": scenario, "band": band, "families": len(part)}
        for b in BASELINES:
            row[f"{ima} < {b}"] = int((part[ima] < part[b]).sum())
        rows.append(row)
    return pd.DataFrame(rows)


def measured(pooled: pd.DataFrame, ima: str) -> str:
    """Sentences with the pooled figures (generated from the numbers)."""
    parts = []
    for r in pooled.itertuples(index=False):
        d = r._asdict()
        if d["band"] not in ("all", "corr >= 0.8"):
            continue
        base = ", ".join(f"{b} {d[f'split_error_{b}']:.3f}" for b in BASELINES)
        parts.append(
            f"{d['scenario']}, {d['band']} ({d['n_families']} families, {d['n_campaigns']} "
            f"campaigns): IMA ({ima}) {d[f'split_error_{ima}']:.3f} against {base}"
        )
    return "; ".join(parts) + "."


def advantage_trend(scores: pd.DataFrame, ima: str) -> str:
    """Per scenario: rank correlation over families of ``mean_corr`` with IMA's advantage."""
    keys = ["scenario", "world", "channel", "family", "mean_corr"]
    wide = scores.pivot_table(index=keys, columns="method", values="split_error").reset_index()
    parts = []
    for scenario, part in wide.groupby("scenario", sort=False):
        gain = part["media_share"] - part[ima]
        r = rank_correlation(part["mean_corr"].to_numpy(), gain.to_numpy())
        parts.append(f"{scenario} {r:+.2f} ({len(part)} families)")
    return ", ".join(parts)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--draws", type=int, default=200)
    parser.add_argument("--seed", type=int, default=0, help="IMA seed")
    parser.add_argument("--worlds", default="7", help="3x40 world seeds (7: ima_accuracy's)")
    parser.add_argument("--scenarios", default="3x40,3x40_noisy,nuts_mmm")
    parser.add_argument(
        "--nuts", default="", help="scenarios also fitted with NUTS, first world only"
    )
    parser.add_argument("--mmm-cache", default="/tmp/ima_work/cache")
    parser.add_argument("--noise", type=float, default=0.05)
    parser.add_argument("--write", action="store_true")
    parser.add_argument("--save", default="", help="CSV path prefix for the per-family scores")
    args = parser.parse_args()
    warnings.simplefilter("ignore")
    scenarios = args.scenarios.split(",")
    nuts = set(filter(None, args.nuts.split(",")))
    seeds = [int(s) for s in args.worlds.split(",")]
    by_name = {c.name: c for c in DEFAULT_CHANNELS}
    big = tuple(
        dataclasses.replace(by_name[n], n_campaigns=40, n_families=8)
        for n in ("social", "online_video", "display")
    )
    all_scores, all_splits, cpu, notes = [], [], {}, []
    worlds = {
        seed: simulate_mmm(MMMWorldConfig(weeks=156, channels=big), seed=seed) for seed in seeds
    }
    w5 = simulate_mmm(MMMWorldConfig(weeks=156, n_channels=5), seed=1)
    for scenario in scenarios:
        runs = []
        if scenario == "3x40":
            for seed, w in worlds.items():
                runs.append(("3x40 truth", seed, w, *truth_mmm(w), None))
        elif scenario == "3x40_noisy":
            for seed, w in worlds.items():
                runs.append(("3x40 noisy truth", seed, w, *noisy_truth(w, noise=args.noise)))
        elif scenario == "nuts_mmm":
            run_dir = Path(args.mmm_cache) / "nuts"
            if not (run_dir / "posterior.nc").exists():
                from mixlens.mmm.run import fit_to_dir as mmm_fit

                mmm_fit(
                    w5.weekly_channel, out_dir=run_dir, controls=("price", "promotion"),
                    method="nuts", seed=0, draws=300, tune=500, chains=2,
                )  # fmt: skip
                notes.append(f"NUTS MMM fitted into {run_dir}")
            else:
                notes.append(f"NUTS MMM run dir reused from {run_dir}")
            weekly, params = read_mmm_dir(run_dir)
            runs.append(("5ch NUTS MMM", 1, w5, weekly, params, read_mmm_posterior(run_dir)))
        else:
            raise SystemExit(f"unknown scenario {scenario!r}")
        for i, (name, seed, world, weekly, params, posterior) in enumerate(runs):
            methods = ["advi", "nuts"] if scenario in nuts and i == 0 else ["advi"]
            scores, split, seconds = evaluate(
                name, world, weekly, params, posterior=posterior, methods=methods,
                draws=args.draws, seed=args.seed,
            )  # fmt: skip
            all_scores.append(scores.assign(world=seed))
            all_splits.append(split.assign(world=seed))
            cpu.update({(name, seed, m): s for m, s in seconds.items()})
            sys.stderr.write(f"{name} world {seed}: {seconds}\n")
    scores = pd.concat(all_scores, ignore_index=True)
    split = pd.concat(all_splits, ignore_index=True)
    if args.save:
        scores.to_csv(f"{args.save}_scores.csv", index=False)
        split.to_csv(f"{args.save}_intervals.csv", index=False)
    ima = "ima_advi"
    main_scores = scores[scores["method"] != "ima_nuts"]
    main_split = split[split["method"] == ima]
    per_channel = wide_summary(main_scores, main_split, pooled=False)
    pooled = wide_summary(main_scores, main_split, pooled=True).drop(columns="channel")
    detail = main_scores.pivot_table(
        index=["scenario", "world", "channel", "family", "n_campaigns", "mean_corr",
               "corr_adstocked"],
        columns="method", values="split_error", sort=False,
    ).reset_index()  # fmt: skip
    detail = detail[detail["mean_corr"] >= EDGES[-1]].sort_values(
        ["scenario", "mean_corr"], ascending=[True, False]
    )
    nuts_text = ""
    if "ima_nuts" in set(scores["method"]):
        fitted = scores[scores["method"] == "ima_nuts"][["scenario", "world"]].drop_duplicates()
        sub = scores.merge(fitted, on=["scenario", "world"])
        sub_split = split.merge(fitted, on=["scenario", "world"])
        table = wide_summary(sub, sub_split, pooled=True).drop(columns="channel")
        nuts_text = (
            "NUTS beside ADVI (IMA's NUTS fit of the model and grain ADVI's `auto` kept, "
            f"2 chains x {args.draws} draws after 500 tuning steps), on the first world of "
            f"{', '.join(sorted(set(fitted['scenario'])))} only, pooled over channels:"
            f"\n\n{markdown(table)}\n\n"
        )
    load = os.getloadavg()
    usage = resource.getrusage(resource.RUSAGE_SELF)
    n_worlds = len(seeds)
    body = (
        f"IMA (ADVI; `fit_ima` defaults: `--model auto --grain auto`, period "
        f"likelihood, cap rule, {args.draws} draws, seed {args.seed}) inside the "
        "simulator's campaign families, on the worlds and MMM inputs of section "
        "`ima_accuracy`: `3x40 truth` and `3x40 noisy truth` (3 channels x 40 campaigns in "
        f"8 families each, 156 weeks; {n_worlds} simulated worlds, seeds "
        f"{', '.join(map(str, seeds))}, seed 7 being `ima_accuracy`'s; figures pool the "
        "families of every world) and `5ch NUTS MMM` (the default 5-channel world, seed 1, "
        "through a cached `mixlens mmm fit` NUTS run dir). Per family of at least two "
        "campaigns (`mixlens.ima.families.score_families`): `mean_corr`, the mean pairwise "
        "Pearson correlation of its campaigns' daily impressions over the window (days "
        "without spend count as zero: how hard the family is to split; campaigns of a "
        "family share one flighting pattern but most run for part of the window only, so "
        "few families reach 0.8); `split_error`, the error of the family's split (each "
        "method's campaign totals rescaled to the family's true total: "
        "sum |est share - true share| over the family, shares of the family, in [0, 2]); "
        "`spearman`, the rank correlation of the family's campaign totals with the truth "
        "(NaN where undefined, left out of the means). Figures per band of `mean_corr` are "
        "campaign-weighted means over the band's families (`summarise_families`); "
        "`coverage:ima_advi`: share of the band's campaigns whose true share of its family "
        "lies inside the central 90% interval of its share draws (`score_family_split`). "
        "Baselines as in `ima_accuracy`: spend share, media share (the campaigns' "
        "adstocked impressions: IMA's prior centre) and unregularised NNLS. Within a "
        "family, spend share and media share differ only by the campaigns' CPMs.\n\n"
        f"Pooled over the channels (and worlds) of each scenario:\n\n{markdown(pooled)}\n\n"
        f"Families where IMA's split error is below each baseline's (band by "
        f"`mean_corr`):\n\n{markdown(wins(main_scores, ima))}\n\n"
        f"{nuts_text}"
        f"Per channel (families of every world pooled):\n\n{markdown(per_channel)}\n\n"
        f"Families with `mean_corr` >= {EDGES[-1]}, one by one (`corr_adstocked`: the same "
        "on the adstocked daily impressions IMA regresses on; cells: split error):"
        f"\n\n{markdown(detail)}\n\n"
        f"Measured (split error, pooled): {measured(pooled_flat(pooled), ima)} Rank "
        "correlation over families of `mean_corr` with IMA's advantage over media share "
        f"(its split error minus IMA's): {advantage_trend(main_scores, ima)}.\n\n"
        f"{READING}\n\n"
        "CPU seconds (user + system, this process) of the IMA fits: "
        + ", ".join(f"{k[0]} (world {k[1]}) {k[2]}: {v:.0f}" for k, v in cpu.items())
        + f"; whole run {usage.ru_utime + usage.ru_stime:.0f} CPU s. "
        + "".join(f"{n}. " for n in notes)
        + f"Load average at the end (1, 5, 15 min): {load[0]:.1f}, {load[1]:.1f}, "
        f"{load[2]:.1f} on a shared 2-core machine; peak_rss_mib {peak_rss_mib():.0f}."
    )
    sys.stdout.write(body + "\n")
    if args.write:
        update_section(
            "ima_families",
            body,
            command="PYTHONPATH=src .venv/bin/python benchmarks/ima_families.py "
            + " ".join(sys.argv[1:]),
        )


def pooled_flat(pooled: pd.DataFrame) -> pd.DataFrame:
    """Column names usable as attributes (``split_error:x`` -> ``split_error_x``)."""
    return pooled.rename(columns=lambda c: c.replace(":", "_"))


#: Written by hand from the measured numbers of the run recorded here.
READING = (
    "Reading (written by hand from the run recorded here). (1) Where the MMM input "
    "carries the campaigns' effects (`3x40 truth`, `3x40 noisy truth`: 7 worlds, 165 "
    "families), IMA's split inside families beats all three baselines on average: "
    "within-family split error 0.127 (true MMM) and 0.207 (noisy MMM) against 0.240 for "
    "media share (IMA's own prior centre), 0.294 for spend share and 0.80 and 0.89 for "
    "NNLS; it is below media share in 154 and 120 of the 165 families, below spend share "
    "in 152 and 130. Its within-family rank correlation is 0.90 and 0.85 against media "
    "share's 0.83. (2) In the strongly correlated families (mean pairwise correlation of "
    "daily impressions >= 0.8) IMA still wins, by less and on a thin sample: only 7 of "
    "the 165 families (24 campaigns, 2 to 7 each) reach 0.8, since most of a family's "
    "campaigns run for part of the window only. There IMA's error is 0.157 with the true "
    "MMM (0.232 media share, 0.219 spend share; IMA below media share in 7 of 7 families, "
    "below spend share in 6) and 0.206 with the noisy MMM (0.232 and 0.219; below media "
    "share in 6 of 7, below spend share in only 4). IMA's margin over media share narrows "
    "as correlation rises (true MMM 0.122, 0.098, 0.075 in the bands < 0.5, 0.5-0.8, "
    ">= 0.8; noisy MMM 0.037, 0.028, 0.026), though family by family the margin hardly "
    "tracks `mean_corr` (rank correlation -0.14 and -0.08). Collinearity is what breaks "
    "NNLS: its split error in the correlated families is 0.96 and 1.01 (half of each "
    "family's credit on the wrong campaigns) and its rank correlation there negative. "
    "(3) With a real channel-level MMM (`5ch NUTS MMM`, no family at 0.8), IMA ties media "
    "share inside families (0.198 both, better in 11 of 22 families) and beats spend "
    "share (0.249) and NNLS (0.536); in its 0.5-0.8 band 0.214 against media share's "
    "0.237 (6 families). As `ima_accuracy` found across whole channels, an MMM fitted on "
    "channel spend carries no campaign information beyond the media units, inside "
    "families too. (4) The within-family share intervals are far too narrow with ADVI: "
    "coverage of the nominal 90% is 0.39 and 0.42 in the 3x40 scenarios (0.13 and 0.33 in "
    "the correlated band) and 0.14 with the real MMM. NUTS on the same posterior (first "
    "world only) reaches 0.76 with the noisy MMM (0.50 on the 8 campaigns of its two "
    "correlated families) and 0.22 with the real MMM, at ADVI's split error (0.219 "
    "against 0.220; 0.196 against 0.198). Verdict on issue #4's \"especially inside "
    'strongly correlated campaign families": IMA beats both naive baselines there when '
    "the MMM's weekly shape is right, by a margin that shrinks with correlation, and its "
    "intervals there are not to be trusted with ADVI; with a spend-fitted MMM it does not "
    "beat media share, in families or across them; and the simulator's defaults make few "
    "strongly correlated families, so that band rests on 7 families."
)


if __name__ == "__main__":
    main()
