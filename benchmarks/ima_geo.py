"""IMA at the geo level: campaign effects pooled across geos vs independent geos.

Run: ``PYTHONPATH=src python benchmarks/ima_geo.py [--write]``. A simulated geo world
(``--geos`` regions x 2 channels x ``--campaigns`` campaigns x ``--weeks`` weeks of daily
data; campaigns share their effectiveness across regions, regions differ in size and in
weekly delivery noise) is attributed per geo. The MMM input is the simulator's **true**
per-geo weekly channel contributions and true adstock, so the campaign split is isolated
from MMM error. Two windows: the whole panel, and its last ``--short`` weeks (earlier media
only warms up the carryover), where each geo has few days and pooling should matter.

Methods (all on the same per-geo daily disaggregation, :func:`mixlens.ima.geo.
prepare_geo_inputs`; model ``saturating`` at the ``daily`` grain, the simulator's own
process; period likelihood; ADVI; reconciliation ``cap``):

* ``pooled``: :func:`~mixlens.ima.geo.fit_geo_ima`, ``pooling="partial"``;
* ``independent``: the same model with ``pooling="none"`` (one national model per geo);
* ``spend_share`` and ``nnls``: the national baselines of :mod:`mixlens.ima.evaluate`
  applied geo by geo (NNLS on the same adstocked daily media).

``total_error`` = sum_k |est_k - true_k| / sum_k true_k over a channel's campaigns;
``spearman`` of campaign totals. Per geo: the mean over geos (and the worst geo);
``national``: campaign totals summed over geos (geo ``all``).

``--mmm-world`` (section ``ima_geo_mmm``): the MMM stage is a real geo MMM fit
(``mixlens mmm fit`` on the simulated geo panel, NUTS; the run dir is cached under
``--mmm-cache``), and IMA reads its run dir three ways: the posterior-mean tables only;
its posterior (shared posterior-mean kernels, per-geo contribution draws propagated into
the campaign intervals) with the weeks taken as exact; and the same with ``mmm_error``
(each geo's weeks weighed by the posterior sd of its weekly shape, the default). Scored
against the simulator's campaign truth per geo and in total, beside spend share.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import sys
import time
import warnings
from pathlib import Path

import numpy as np
import pandas as pd

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _results import peak_rss_mib, update_section
from mixlens.data.schemas import validate_campaigns
from mixlens.data.simulate.mmm import DEFAULT_CHANNELS, MMMWorldConfig, simulate_mmm
from mixlens.ima.anchor import read_geo_mmm_posterior
from mixlens.ima.evaluate import nnls_baseline, score_campaigns, spend_share_baseline
from mixlens.ima.geo import GeoIMAResult, fit_geo_ima, prepare_geo_inputs
from mixlens.ima.results import UNATTRIBUTED
from mixlens.ima.run import read_mmm_dir
from mixlens.mmm.geo import ALL_GEOS
from mixlens.transforms.timescale import AdstockParams, DelayedParams

CHANNELS = ("social", "online_video")


def markdown(frame: pd.DataFrame) -> str:
    """A markdown table (floats to 3 decimals)."""

    def cell(v: object) -> str:
        return f"{v:.3f}" if isinstance(v, float) else str(v)

    head = "| " + " | ".join(map(str, frame.columns)) + " |"
    rule = "|" + "---|" * len(frame.columns)
    lines = ["| " + " | ".join(cell(v) for v in r) + " |" for r in frame.itertuples(index=False)]
    return "\n".join([head, rule, *lines])


def world_inputs(
    geos: int,
    campaigns: int,
    weeks: int,
    seed: int,
    channels: tuple[str, ...] = CHANNELS,
) -> tuple[pd.DataFrame, dict[str, AdstockParams | None], pd.DataFrame, pd.DataFrame]:
    """True per-geo weekly channel contributions, true adstock, campaign media and truth."""
    by_name = {c.name: c for c in DEFAULT_CHANNELS}
    specs = tuple(
        dataclasses.replace(by_name[n], n_campaigns=campaigns, n_families=max(2, campaigns // 4))
        for n in channels
    )
    world = simulate_mmm(MMMWorldConfig(weeks=weeks, channels=specs, regions=geos), seed=seed)
    wc = world.weekly_contributions
    weekly = wc[wc["component"].isin(channels)].rename(columns={"component": "channel"})
    params: dict[str, AdstockParams | None] = {
        str(r.channel): DelayedParams(
            theta=float(r.theta_weekly), peak=float(r.peak_weekly), l_max=int(r.l_max_weekly)
        )
        for r in world.channel_params.itertuples()
    }
    camp = validate_campaigns(world.daily_campaign)
    return weekly, params, camp, world.daily_campaign_contributions


def _estimates(result: GeoIMAResult) -> dict[str, pd.DataFrame]:
    camps = result.campaigns().rename(columns={"contribution_mean": "contribution"})
    return {str(g): part for g, part in camps.groupby("geo", sort=False)}


def baselines(
    weekly: pd.DataFrame,
    params: dict[str, AdstockParams | None],
    camp: pd.DataFrame,
    result: GeoIMAResult,
) -> dict[str, dict[str, pd.DataFrame]]:
    """Spend share and NNLS per geo (and summed over geos), same disaggregation."""
    inputs = prepare_geo_inputs(weekly, params, camp, adstock="daily")
    share: dict[str, pd.DataFrame] = {}
    nnls: dict[str, pd.DataFrame] = {}
    for geo, part in result.campaigns().groupby("geo", sort=False):
        if geo == ALL_GEOS:
            continue
        share[str(geo)] = spend_share_baseline(part)
        designs = [gd.designs[gd.geos.index(geo)] for gd in inputs.designs if geo in gd.geos]
        nnls[str(geo)] = nnls_baseline(designs, rule="cap")
    out = {"spend_share": share, "nnls": nnls}
    for method in out.values():
        method[ALL_GEOS] = (
            pd.concat(list(method.values()), ignore_index=True)
            .groupby(["channel", "campaign"], sort=False)["contribution"]
            .sum()
            .reset_index()
        )
    return out


def score(
    estimates: dict[str, dict[str, pd.DataFrame]], truth: pd.DataFrame, scenario: str
) -> pd.DataFrame:
    """Per method and channel: mean and worst per-geo error, mean Spearman, national."""
    rows = []
    for method, by_geo in estimates.items():
        per_geo = []
        for geo, est in by_geo.items():
            true = truth if geo == ALL_GEOS else truth[truth["geo"] == geo]
            named = est[est["campaign"] != UNATTRIBUTED]
            s = score_campaigns({method: named}, true)
            credited = named.groupby("channel")["contribution"].sum()
            truth_total = true.groupby("channel")["contribution"].sum()
            short = 1.0 - credited / truth_total
            per_geo.append(s.assign(geo=geo, unattributed=s["channel"].map(short)))
        frame = pd.concat(per_geo, ignore_index=True)
        for channel, part in frame.groupby("channel", sort=False):
            geos = part[part["geo"] != ALL_GEOS]
            nat = part[part["geo"] == ALL_GEOS].iloc[0]
            rows.append(
                {
                    "window": scenario,
                    "method": method,
                    "channel": channel,
                    "total_error (geo mean)": float(geos["total_error"].mean()),
                    "total_error (worst geo)": float(geos["total_error"].max()),
                    "spearman (geo mean)": float(geos["spearman"].mean()),
                    "total_error (national)": float(nat["total_error"]),
                    "spearman (national)": float(nat["spearman"]),
                    "uncredited (geo mean)": float(geos["unattributed"].mean()),
                }
            )
    return pd.DataFrame(rows)


def small_worlds(seeds: list[int]) -> pd.DataFrame:
    """The test's world (tests/ima/test_ima_geo.py) over several seeds: pooled vs independent.

    6 geos x 2 channels x 5 campaigns, the last 13 of 14 weeks fitted, ADVI 3000 steps,
    50 draws; error of campaign totals summed over geos and campaigns.
    """
    rows = []
    for seed in seeds:
        weekly, params, camp, truth = world_inputs(6, 5, 14, seed)
        first = sorted(weekly["date"].unique())[-13]
        weekly = weekly[weekly["date"] >= first]
        true = truth[truth["date"] >= first]
        true = true.groupby(["geo", "channel", "campaign"])["contribution"].sum()
        errors: dict[str, float] = {}
        for pooling, name in (("partial", "pooled"), ("none", "independent")):
            result = fit_geo_ima(
                weekly, params, camp, model="saturating", grain="daily", pooling=pooling,
                draws=50, advi_steps=3000, seed=0,
            )  # fmt: skip
            camps = result.campaigns()
            camps = camps[(camps["geo"] != ALL_GEOS) & (camps["campaign"] != UNATTRIBUTED)]
            est = camps.set_index(["geo", "channel", "campaign"])["contribution_mean"]
            both = pd.concat([est.rename("est"), true.rename("true")], axis=1).fillna(0.0)
            errors[name] = float((both["est"] - both["true"]).abs().sum() / both["true"].sum())
        rows.append(
            {
                "world seed": seed,
                "total_error pooled": errors["pooled"],
                "total_error independent": errors["independent"],
                "ratio": errors["pooled"] / errors["independent"],
            }
        )
    return pd.DataFrame(rows)


def _mmm_run_dir(
    args: argparse.Namespace, world_panel: pd.DataFrame, seed: int
) -> tuple[Path, float]:
    """The cached geo MMM run dir of the ``--mmm-world`` world (fitted if absent)."""
    name = (
        f"geo{args.mmm_geos}_c{args.mmm_campaigns}_w{args.mmm_weeks}_s{seed}"
        f"_nuts{args.mmm_chains}x{args.mmm_draws}t{args.mmm_tune}"
    )
    run_dir = Path(args.mmm_cache) / name
    if (run_dir / "posterior.nc").exists():
        return run_dir, float("nan")
    from mixlens.mmm.run import fit_to_dir as mmm_fit

    clock = time.perf_counter()
    mmm_fit(
        world_panel, out_dir=run_dir, controls=("price", "promotion"), method="nuts",
        draws=args.mmm_draws, tune=args.mmm_tune, chains=args.mmm_chains, seed=0,
    )  # fmt: skip
    return run_dir, time.perf_counter() - clock


def _campaign_scores(
    camps: pd.DataFrame, truth: pd.DataFrame, method: str, *, intervals: bool
) -> pd.DataFrame:
    """Per geo (and ``all``) and channel: total/split error, Spearman, coverage, width."""
    rows = []
    for geo, part in camps.groupby("geo", sort=False):
        true = truth if geo == ALL_GEOS else truth[truth["geo"] == geo]
        named = part[part["campaign"] != UNATTRIBUTED]
        est = named.rename(columns={"contribution_mean": "contribution"})
        scores = score_campaigns({method: est}, true).set_index("channel")
        totals = true.groupby(["channel", "campaign"])["contribution"].sum()
        for channel, group in named.groupby("channel", sort=False):
            t = totals.reindex(list(zip(group["channel"], group["campaign"], strict=True)))
            t = t.fillna(0.0).to_numpy()
            row = {
                "method": method,
                "geo": geo,
                "channel": channel,
                "total_error": float(scores.loc[channel, "total_error"]),
                "split_error": float(scores.loc[channel, "split_error"]),
                "spearman": float(scores.loc[channel, "spearman"]),
            }
            if intervals:
                lo, hi = group["contribution_lo"].to_numpy(), group["contribution_hi"].to_numpy()
                row["coverage"] = float(np.mean((t >= lo) & (t <= hi)))
                row["rel_width"] = float(np.median((hi - lo) / np.where(t > 0, t, np.nan)))
            rows.append(row)
    return pd.DataFrame(rows)


def _mmm_world_scores(args: argparse.Namespace, seed: int) -> tuple[pd.DataFrame, str]:
    """One world seed: per method, geo and channel, the scores and the weekly fit."""
    by_name = {c.name: c for c in DEFAULT_CHANNELS}
    specs = tuple(
        dataclasses.replace(
            by_name[n], n_campaigns=args.mmm_campaigns, n_families=max(2, args.mmm_campaigns // 4)
        )
        for n in CHANNELS
    )
    config = MMMWorldConfig(weeks=args.mmm_weeks, channels=specs, regions=args.mmm_geos)
    world = simulate_mmm(config, seed=seed)
    run_dir, mmm_seconds = _mmm_run_dir(args, world.weekly_channel, seed)
    diag = json.loads((run_dir / "summary.json").read_text()).get("diagnostics", {})
    weekly, params = read_mmm_dir(run_dir)
    clock = time.perf_counter()
    posterior = read_geo_mmm_posterior(run_dir, max_draws=args.draws)
    read_seconds = time.perf_counter() - clock
    camp = validate_campaigns(world.daily_campaign)
    dates = pd.to_datetime(weekly["date"])
    first, last = dates.min(), dates.max() + pd.Timedelta(days=6)
    truth = world.daily_campaign_contributions
    day = pd.to_datetime(truth["date"])
    truth = truth[(day >= first) & (day <= last)]
    # The MMM's own error of each geo's channel total (IMA conserves it, cannot correct it).
    wc = world.weekly_contributions
    true_weekly = wc[wc["component"].isin(CHANNELS)].rename(columns={"component": "channel"})
    true_channel = true_weekly.groupby(["geo", "channel"])["contribution"].sum()
    mmm_channel = weekly.groupby(["geo", "channel"])["contribution"].sum()
    national = mmm_channel.groupby("channel").sum() / true_channel.groupby("channel").sum()
    mmm_error = pd.concat(
        [
            (mmm_channel / true_channel - 1.0).reset_index(name="mmm_total_error"),
            (national - 1.0).reset_index(name="mmm_total_error").assign(geo=ALL_GEOS),
        ],
        ignore_index=True,
    )
    variants = {
        "tables only": (None, False),
        "posterior, exact weeks": (posterior, False),
        "posterior + mmm_error": (posterior, True),
    }
    scores, fits, timings = [], [], []
    spend_share: pd.DataFrame | None = None
    for label, (post, error) in variants.items():
        clock = time.perf_counter()
        result = fit_geo_ima(
            weekly, dict(params), camp, model=args.mmm_model, grain=args.mmm_grain, posterior=post,
            mmm_error=error, draws=args.draws, advi_steps=args.advi_steps, seed=seed,
        )  # fmt: skip
        timings.append(f"{label} {time.perf_counter() - clock:.1f}")
        camps = result.campaigns()
        scores.append(_campaign_scores(camps, truth, label, intervals=True))
        fits.append(result.fit().assign(method=label))
        if spend_share is None:
            share = [
                spend_share_baseline(part)
                .rename(columns={"contribution": "contribution_mean"})
                .assign(geo=geo)
                for geo, part in camps.groupby("geo", sort=False)
            ]
            spend_share = _campaign_scores(
                pd.concat(share, ignore_index=True), truth, "spend share", intervals=False
            )
        print(seed, scores[-1].to_string(), flush=True)
    assert spend_share is not None
    table = pd.concat([*scores, spend_share], ignore_index=True)
    fit = pd.concat(fits, ignore_index=True).rename(columns={"weekly_mape": "mape"})
    merged = table.merge(fit, on=["method", "geo", "channel"], how="left")
    merged = merged.merge(mmm_error, on=["geo", "channel"], how="left")
    mmm_note = f"fitted in {mmm_seconds:.0f} s" if np.isfinite(mmm_seconds) else "cached"
    info = (
        f"seed {seed}: MMM {mmm_note}, max R-hat {_fmt(diag.get('max_rhat'))}, min bulk "
        f"ESS {_fmt(diag.get('min_ess_bulk'))}, {diag.get('divergences', 'n/a')} "
        f"divergences; {posterior.n_draws} MMM draws read in {read_seconds:.1f} s; IMA fits "
        f"(s): {', '.join(timings)}"
    )
    return merged.assign(seed=seed), info


def geo_mmm_world(args: argparse.Namespace) -> str:
    """IMA on real geo MMM fits: tables only vs their posterior, with and without mmm_error."""
    seeds = [int(x) for x in args.mmm_seeds.split(",") if x]
    results = [_mmm_world_scores(args, seed) for seed in seeds]
    merged = pd.concat([r[0] for r in results], ignore_index=True)
    geos = merged[merged["geo"] != ALL_GEOS]
    metrics = ["total_error", "split_error", "spearman", "coverage", "rel_width", "mape", "r2"]
    summary = geos.groupby(["seed", "method", "channel"], sort=False)[metrics].mean().reset_index()
    national = merged[merged["geo"] == ALL_GEOS][
        ["seed", "method", "channel", "total_error", "split_error", "coverage", "mape", "r2"]
    ].rename(columns=lambda c: c if c in ("seed", "method", "channel") else f"{c} (all)")
    summary = summary.merge(national, on=["seed", "method", "channel"], how="left")
    overall = (
        merged.assign(level=np.where(merged["geo"] == ALL_GEOS, "all", "per geo"))
        .groupby(["level", "method"], sort=False)[metrics]
        .mean()
        .reset_index()
    )
    per_geo = merged[merged["method"] != "spend share"][
        ["seed", "geo", "channel", "method", "mmm_total_error", *metrics]
    ]
    share = merged[merged["method"] == "spend share"][
        ["seed", "geo", "channel", "total_error", "split_error"]
    ].rename(columns={"total_error": "share total_error", "split_error": "share split_error"})
    per_geo = per_geo.merge(share, on=["seed", "geo", "channel"], how="left")
    load = os.getloadavg()
    return "\n\n".join(
        [
            f"Worlds: {args.mmm_geos} geos x 2 channels ({', '.join(CHANNELS)}) x "
            f"{args.mmm_campaigns} campaigns x {args.mmm_weeks} weeks, world seeds "
            f"{', '.join(map(str, seeds))}. MMM stage: a real geo MMM, `mixlens mmm fit` on "
            "the simulated geo panel (controls price, promotion; NUTS "
            f"{args.mmm_chains} chains x {args.mmm_draws} draws after {args.mmm_tune} "
            "tuning steps, default spec). IMA: `fit_geo_ima` on the run dir, model "
            f"{args.mmm_model}, grain {args.mmm_grain}, period likelihood, partial pooling, ADVI "
            f"{args.advi_steps} steps, {args.draws} draws, rule cap, seed = world seed. "
            "Variants: `tables only` (contributions.csv and params.csv: the kernel at the "
            "posterior-mean parameters, no MMM draws); `posterior, exact weeks` "
            f"({args.draws} MMM draws from `read_geo_mmm_posterior`: the posterior-mean "
            "kernel, each geo's contribution draws propagated into its campaign intervals, "
            "as `--exact-mmm`); `posterior + mmm_error` (also each geo's weeks weighed by "
            "the posterior sd of its weekly shape: the default). `total_error` = "
            "sum|est-true|/sum true over a channel's campaigns; `split_error` the same "
            "after rescaling the estimates to the true channel total (IMA's own job: the "
            "channel total is the MMM's, conserved); `coverage`: share of campaigns whose "
            "true total lies in its 90% interval; `rel_width`: median interval width / "
            "true total; `mape` (%) and `r2`: weekly sums of the daily prediction vs the "
            "geo MMM's weekly contribution; `mmm_total_error`: the geo MMM's channel total "
            "/ true - 1 (what IMA conserves and cannot correct). Spend share splits the "
            "same MMM totals by campaign spend.",
            "Mean over seeds, channels and geos (`per geo`), or of the sums over geos "
            "(`all`, intervals of the sum, draw by draw):",
            markdown(overall),
            "Per seed and channel: mean over geos, and `(all)`:",
            markdown(summary),
            "Per geo:",
            markdown(per_geo),
            "; ".join(r[1] for r in results)
            + f". Load average at the end (1, 5, 15 min): {load[0]:.1f}, {load[1]:.1f}, "
            f"{load[2]:.1f} on a shared 2-core machine. Peak RSS {peak_rss_mib():.0f} MiB.",
        ]
    )


def _fmt(value: object) -> str:
    return f"{value:.3f}" if isinstance(value, float) else str(value)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--geos", type=int, default=6)
    parser.add_argument("--campaigns", type=int, default=10)
    parser.add_argument("--weeks", type=int, default=104)
    parser.add_argument("--short", type=int, default=13)
    parser.add_argument("--advi-steps", type=int, default=6000)
    parser.add_argument("--draws", type=int, default=200)
    parser.add_argument("--seed", type=int, default=4)
    parser.add_argument("--small-seeds", default="0,1,2,3", help="seeds of the test's world")
    parser.add_argument("--write", action="store_true")
    parser.add_argument(
        "--mmm-world", action="store_true", help="only the real geo MMM world (ima_geo_mmm)"
    )
    parser.add_argument("--mmm-geos", type=int, default=4)
    parser.add_argument("--mmm-campaigns", type=int, default=8)
    parser.add_argument("--mmm-weeks", type=int, default=104)
    parser.add_argument("--mmm-draws", type=int, default=300)
    parser.add_argument("--mmm-tune", type=int, default=300)
    parser.add_argument("--mmm-chains", type=int, default=2)
    parser.add_argument("--mmm-model", default="saturating")
    parser.add_argument("--mmm-grain", default="mmm")
    parser.add_argument("--mmm-cache", default="/tmp/mixlens_ima_geo_mmm")
    parser.add_argument("--mmm-seeds", default="4,5", help="world seeds of --mmm-world")
    args = parser.parse_args()
    warnings.simplefilter("ignore")
    if args.mmm_world:
        body = geo_mmm_world(args)
        print(body)
        if args.write:
            command = "PYTHONPATH=src python benchmarks/ima_geo.py " + " ".join(sys.argv[1:])
            update_section("ima_geo_mmm", body, command=command.strip())
        return
    weekly, params, camp, truth = world_inputs(args.geos, args.campaigns, args.weeks, args.seed)
    dates = pd.DatetimeIndex(sorted(pd.to_datetime(weekly["date"]).unique()))
    windows = {f"{args.weeks} weeks": dates[0], f"last {args.short} weeks": dates[-args.short]}
    scores, fits, timings = [], [], []
    for label, first in windows.items():
        wk = weekly[pd.to_datetime(weekly["date"]) >= first]
        true = truth[pd.to_datetime(truth["date"]) >= first]
        estimates: dict[str, dict[str, pd.DataFrame]] = {}
        for pooling, name in (("partial", "pooled"), ("none", "independent")):
            clock = time.perf_counter()
            result = fit_geo_ima(
                wk, params, camp, model="saturating", grain="daily", pooling=pooling,
                draws=args.draws, advi_steps=args.advi_steps, seed=args.seed,
            )  # fmt: skip
            timings.append(f"{label} {name}: {time.perf_counter() - clock:.1f}")
            estimates[name] = _estimates(result)
            fit = result.fit().assign(window=label, method=name)
            fits.append(fit)
            if pooling == "partial":
                sd = result.meta.get("geo_sd_mean", {})
                timings[-1] += (
                    " (geo spread tau: " + ", ".join(f"{c} {v:.3f}" for c, v in sd.items()) + ")"
                )
                estimates.update(baselines(wk, params, camp, result))
        scores.append(score(estimates, true, label))
        print(scores[-1].to_string(), flush=True)
    small = small_worlds([int(x) for x in args.small_seeds.split(",") if x])
    print(small.to_string(), flush=True)
    table = pd.concat(scores, ignore_index=True)
    fit_all = pd.concat(fits, ignore_index=True)
    fit_geo = fit_all[fit_all["geo"] != ALL_GEOS]
    fit_summary = (
        fit_geo.groupby(["window", "method", "channel"], sort=False)
        .agg(
            mape_mean=("weekly_mape", "mean"),
            mape_max=("weekly_mape", "max"),
            r2_mean=("r2", "mean"),
            r2_min=("r2", "min"),
        )
        .reset_index()
    )
    national = fit_all[fit_all["geo"] == ALL_GEOS][
        ["window", "method", "channel", "weekly_mape", "r2"]
    ].rename(columns={"weekly_mape": "mape_national", "r2": "r2_national"})
    fit_summary = fit_summary.merge(national, on=["window", "method", "channel"])
    per_geo = fit_geo[fit_geo["method"] == "pooled"][
        ["window", "geo", "channel", "weekly_mape", "r2"]
    ]
    load = os.getloadavg()
    body = "\n\n".join(
        [
            f"World: {args.geos} geos x 2 channels ({', '.join(CHANNELS)}) x "
            f"{args.campaigns} campaigns x {args.weeks} weeks, seed {args.seed}. The MMM "
            "input is the simulator's true weekly channel contribution per geo (and true "
            "adstock), so only the campaign split is measured. IMA: saturating model at "
            f"the daily grain, period likelihood, ADVI {args.advi_steps} steps, "
            f"{args.draws} draws, rule cap; `pooled`: campaign effects partially pooled "
            "across geos (`pooling=partial`), `independent`: one national model per geo "
            "(`pooling=none`); baselines per geo: spend share and unregularised NNLS on "
            "the same adstocked media. `total_error` = sum|est-true| / sum true over a "
            "channel's campaigns; per geo the mean (and worst) over geos; `national`: "
            "campaign totals summed over geos; `uncredited`: 1 - campaigns' credit / their true "
            "total (what the reconciliation left unattributed, or over-credited if < 0).",
            markdown(table),
            "Weekly fit of the daily prediction to each geo's MMM contribution "
            "(MAPE %, R²): mean / worst over geos, and of the sums over geos:",
            markdown(fit_summary),
            "The unit test's world (tests/ima/test_ima_geo.py: 6 geos x 2 channels x 5 "
            "campaigns, the last 13 of 14 weeks fitted, ADVI 3000 steps, 50 draws) over "
            "world seeds; `total_error` of campaign totals over all geos and campaigns:",
            markdown(small),
            "Per geo (pooled):",
            markdown(per_geo),
            "Wall time per fit (s, whole `fit_geo_ima` incl. disaggregation and compile): "
            + "; ".join(timings)
            + f". Load average at the end (1, 5, 15 min): {load[0]:.1f}, {load[1]:.1f}, "
            f"{load[2]:.1f} on a shared 2-core machine. Peak RSS {peak_rss_mib():.0f} MiB.",
        ]
    )
    print(body)
    if args.write:
        command = "PYTHONPATH=src python benchmarks/ima_geo.py " + " ".join(sys.argv[1:])
        update_section("ima_geo", body, command=command.strip())


if __name__ == "__main__":
    main()
