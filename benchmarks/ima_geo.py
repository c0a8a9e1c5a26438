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
"""

from __future__ import annotations

import argparse
import dataclasses
import os
import sys
import time
import warnings
from pathlib import Path

import pandas as pd

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _results import peak_rss_mib, update_section
from mixlens.data.schemas import validate_campaigns
from mixlens.data.simulate.mmm import DEFAULT_CHANNELS, MMMWorldConfig, simulate_mmm
from mixlens.ima.evaluate import nnls_baseline, score_campaigns, spend_share_baseline
from mixlens.ima.geo import GeoIMAResult, fit_geo_ima, prepare_geo_inputs
from mixlens.ima.results import UNATTRIBUTED
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
    geos: int, campaigns: int, weeks: int, seed: int
) -> tuple[pd.DataFrame, dict[str, AdstockParams | None], pd.DataFrame, pd.DataFrame]:
    """True per-geo weekly channel contributions, true adstock, campaign media and truth."""
    by_name = {c.name: c for c in DEFAULT_CHANNELS}
    specs = tuple(
        dataclasses.replace(by_name[n], n_campaigns=campaigns, n_families=max(2, campaigns // 4))
        for n in CHANNELS
    )
    world = simulate_mmm(MMMWorldConfig(weeks=weeks, channels=specs, regions=geos), seed=seed)
    wc = world.weekly_contributions
    weekly = wc[wc["component"].isin(CHANNELS)].rename(columns={"component": "channel"})
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
    args = parser.parse_args()
    warnings.simplefilter("ignore")
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
