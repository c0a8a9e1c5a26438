"""IMA accuracy and speed on simulated worlds with campaign-level truth.

Run: ``PYTHONPATH=src python benchmarks/ima_accuracy.py [--write]``. Scenarios:

* ``3x40 truth``: 3 channels x 40 campaigns x 156 weeks, the simulator's true weekly
  channel contributions and true adstock fed as the MMM (isolates IMA's own error);
  the runtime target (< 60 s with ADVI) is measured here.
* ``3x40 noisy truth``: the same world, each week's true channel contribution with
  independent relative noise (``--noise``, 5%) as the MMM, and draws of the same law
  as its posterior (an honest MMM whose error the likelihood models exactly): the
  calibration of the split is IMA's own there.
* ``5ch truth``: the default 5-channel, 156-week world, truth as the MMM.
* ``5ch ADVI MMM`` / ``5ch NUTS MMM``: the same world through a real ``mixlens mmm fit``
  run dir (ADVI; NUTS with ``--nuts``), read as ``mixlens ima fit --mmm`` does: the
  posterior-mean tables plus the posterior (posterior-mean kernels, contribution draws
  propagated into the campaign intervals). ``--mmm-cache DIR`` reuses run dirs fitted
  by an earlier run of this script (``DIR/advi``, ``DIR/nuts``; fitted there if absent).

Per scenario, channel, inference method and reconciliation rule: weekly MAPE and R² of
the regression versus the MMM input, coverage of the campaigns' 90% intervals, their
median relative width and the median |error| / posterior sd, the same three for the
campaigns' *shares* of their channel (:func:`mixlens.ima.evaluate.score_split`: IMA's
own job, free of the MMM's channel total), the unattributed share,
campaign-total Spearman rank correlation and total error (``sum|est-true| / sum true``),
beside the two naive baselines (spend share; NNLS). The regression fits are shared
between the rules (they differ only in the reconciliation after the fit).
``--scenarios`` picks scenarios (``3x40,3x40_noisy,5ch,advi_mmm,nuts_mmm``; the last
needs ``--nuts``); ``--methods advi,nuts --reuse-choice`` adds NUTS rows at the cost of
one NUTS fit per scenario (the model and grain ADVI's ``auto`` kept).
"""

from __future__ import annotations

import argparse
import dataclasses
import hashlib
import itertools
import os
import sys
import tempfile
import time
import warnings
from pathlib import Path

import numpy as np
import pandas as pd

sys.path.insert(0, str(Path(__file__).resolve().parent))

import mixlens.ima.fit as ima_fit
from _results import peak_rss_mib, update_section
from mixlens.data.simulate.mmm import DEFAULT_CHANNELS, MMMWorldConfig, simulate_mmm
from mixlens.ima.anchor import MMMPosterior, read_mmm_posterior
from mixlens.ima.evaluate import (
    media_share_baseline,
    nnls_baseline,
    score_campaigns,
    score_split,
    spend_share_baseline,
)
from mixlens.ima.fit import fit_ima, prepare_inputs
from mixlens.ima.regression import fit_regression, reconcile
from mixlens.ima.results import UNATTRIBUTED
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


def noisy_truth(world, *, noise: float, n_draws: int = 400, seed: int = 11):  # type: ignore[no-untyped-def]
    """The true MMM with independent weekly noise, and a posterior of the same law.

    Each week's true channel contribution times ``1 + noise * e`` (``e`` standard
    normal) is the MMM's estimate, and ``n_draws`` draws of the same law around the
    truth its posterior: the MMM's error is honest (the truth is a draw of it) and
    independent over weeks, as the regression's likelihood assumes, and the daily-grain
    saturating model contains the truth. Calibration of the split is then IMA's own.
    """
    weekly, params = truth_mmm(world)
    weekly = weekly.sort_values(["channel", "date"]).reset_index(drop=True)
    rng = np.random.default_rng(seed)
    draws = {}
    for channel, part in weekly.groupby("channel", sort=False):
        true = part["contribution"].to_numpy(dtype=np.float64)
        draws[str(channel)] = true[None, :] * (
            1 + noise * rng.standard_normal((n_draws, true.size))
        )
        weekly.loc[part.index, "contribution"] = true * (1 + noise * rng.standard_normal(true.size))
    return weekly, params, MMMPosterior(kernels={}, draws=draws)


def coverage(camps: pd.DataFrame, truth: pd.DataFrame, draws=None) -> pd.DataFrame:  # type: ignore[no-untyped-def]
    """Per channel: interval coverage of the true totals, median width, |error| / sd."""
    true = truth.groupby(["channel", "campaign"])["contribution"].sum().rename("true")
    m = camps.reset_index(drop=True).merge(true.reset_index(), on=["channel", "campaign"])
    m["inside"] = (m["true"] >= m["contribution_lo"]) & (m["true"] <= m["contribution_hi"])
    m["width"] = (m["contribution_hi"] - m["contribution_lo"]) / m["true"].abs()
    if draws is not None:
        sd = pd.Series(draws.std(axis=0), index=camps.index)
        keyed = camps.assign(sd=sd)[["channel", "campaign", "sd"]]
        m = m.merge(keyed, on=["channel", "campaign"])
        m["z"] = (m["contribution_mean"] - m["true"]).abs() / m["sd"].where(m["sd"] > 0)
    else:
        m["z"] = float("nan")
    g = m.groupby("channel", sort=False)
    total = camps.groupby("channel", sort=False)["contribution_mean"].sum()
    unattr = camps[camps["campaign"] == UNATTRIBUTED].set_index("channel")["contribution_mean"]
    return pd.DataFrame(
        {
            "coverage": g["inside"].mean(),
            "rel_width": g["width"].median(),
            "abs_z": g["z"].median(),
            "unattributed": unattr / total,
        }
    )


def shared_fits() -> dict:  # type: ignore[type-arg]
    """Memoise the regression fits inside ``fit_ima``: the rules share them."""
    cache: dict = {}  # type: ignore[type-arg]

    def fit(designs, **kwargs):  # type: ignore[no-untyped-def]
        digest = hashlib.sha1()
        for d in designs:
            digest.update(d.channel.encode())
            digest.update(d.x.tobytes())
            digest.update(d.y.tobytes())
        key = (digest.hexdigest(), tuple(sorted((k, repr(v)) for k, v in kwargs.items())))
        if key not in cache:
            cache[key] = fit_regression(designs, **kwargs)
        return cache[key]

    ima_fit.fit_regression = fit  # type: ignore[assignment]
    return cache


def true_shares_error(world) -> float:  # type: ignore[no-untyped-def]
    """Max error of the campaign truth's daily shares rebuilt from IMA's daily design.

    Zero up to rounding: each campaign's true share of its channel is its effectiveness
    times its adstocked daily media (the kernel converted to days) over the channel's sum,
    so the daily-grain saturating model contains the simulator's truth exactly.
    """
    weekly, params = truth_mmm(world)
    inputs = prepare_inputs(weekly, params, world.daily_campaign, adstock="daily")
    eff = world.campaign_params.set_index("campaign")["effectiveness"]
    truth = world.daily_campaign_contributions
    worst = 0.0
    for d in inputs.designs:
        pressure = d.x * eff.reindex(list(d.campaigns)).to_numpy()[None, :]
        total = pressure.sum(axis=1, keepdims=True)
        share = pressure / (total + (total == 0))
        part = truth[truth["channel"] == d.channel]
        wide = part.pivot_table(
            index="date", columns="campaign", values="contribution", aggfunc="sum"
        )
        wide.index = pd.to_datetime(wide.index)
        true = wide.reindex(index=inputs.days, columns=list(d.campaigns)).fillna(0.0)
        y = true.to_numpy().sum(axis=1, keepdims=True)
        err = np.abs(share * y - true.to_numpy()).max() / max(float(np.abs(y).max()), 1e-12)
        worst = max(worst, float(err))
    return worst


def evaluate(  # type: ignore[no-untyped-def]
    name: str,
    world,
    weekly,
    params,
    *,
    draws: int,
    seed: int,
    methods: list[str],
    rules: list[str],
    posterior=None,
    compare_exact: bool = False,
    reuse_choice: bool = False,
) -> tuple[list, list]:
    rows, fits = [], []
    estimates = {}
    truth = world.daily_campaign_contributions
    shared_fits()
    # With the MMM's posterior: its weekly sd in the likelihood (fit_ima's default), and
    # on request the contributions taken as exact (mmm_error=False), the previous default.
    errors = [True, False] if posterior is not None and compare_exact else [True]
    choice: dict[str, str] = {"model": "auto", "grain": "auto"}
    for method, mmm_error, rule in itertools.product(methods, errors, rules):
        started = time.perf_counter()
        # With --reuse-choice, methods after the first fit only the model and grain that
        # the first method's `auto` kept (when the same for every channel): one NUTS fit
        # instead of four.
        settings = choice if reuse_choice and method != methods[0] else {}
        res = fit_ima(
            weekly, params, world.daily_campaign, method=method, draws=draws, seed=seed,
            posterior=posterior, rule=rule, mmm_error=mmm_error, **settings,
        )  # fmt: skip
        if method == methods[0]:
            for key in ("model", "grain"):
                kept = set(res.meta[f"{key}_by_channel"].values())
                choice[key] = kept.pop() if len(kept) == 1 else "auto"
        seconds = time.perf_counter() - started
        camps = res.campaigns()
        label = f"{method}/{rule}" + ("" if mmm_error else ", exact MMM")
        estimates[label] = camps.rename(columns={"contribution_mean": "contribution"})
        cov = coverage(camps, truth, res.total_draws)
        split = score_split(res.rows, res.total_draws, truth, ci=res.ci).drop(columns="n_campaigns")
        fit = res.fit().merge(cov, left_on="channel", right_index=True)
        fit = fit.merge(split, on="channel")
        fit["scenario"] = name
        fit["method"] = label
        fit["seconds"] = seconds
        fit["model"] = fit["channel"].map(res.meta["model_by_channel"])
        fit["grain"] = fit["channel"].map(res.meta["grain_by_channel"])
        fits.append(fit)
        if method == methods[0] and rule == rules[0]:
            base = camps
    inputs = prepare_inputs(weekly, params, world.daily_campaign, adstock="daily")
    estimates["spend_share"] = spend_share_baseline(base)
    estimates["media_share"] = media_share_baseline(base, inputs.designs)
    estimates["nnls"] = nnls_baseline(inputs.designs)
    scores = score_campaigns(estimates, truth, spend=base[["channel", "campaign", "spend"]])
    scores["scenario"] = name
    rows.append(scores)
    return rows, fits


def diagnose(world, *, draws: int, seed: int) -> pd.DataFrame:  # type: ignore[no-untyped-def]
    """Coverage against how far the approximation runs (true MMM, daily saturating model).

    The model contains the truth and the anchor is exact, so the posterior piles up at
    zero noise: the longer the approximation runs, the better the weekly fit and the
    narrower the intervals, whatever its error along the ridge of campaigns.
    """
    weekly, params = truth_mmm(world)
    designs = prepare_inputs(weekly, params, world.daily_campaign, adstock="daily").designs
    true = world.daily_campaign_contributions.groupby(["channel", "campaign"])["contribution"]
    true = true.sum()
    rows = []
    for method, knob in [
        ("advi", 2000), ("advi", 8000), ("advi", 16000),
        ("laplace", 1000), ("laplace", 2500), ("laplace", 5000),
    ]:  # fmt: skip
        started = time.perf_counter()
        fitted = fit_regression(
            designs, method=method, model="saturating", draws=draws, seed=seed,
            period_days=7, advi_steps=knob, laplace_iterations=knob,
        )  # fmt: skip
        seconds = time.perf_counter() - started
        for d in designs:
            parts = fitted.campaign_parts(d)
            scaled, _ = reconcile(d.y, parts, rule="cap")
            totals = scaled.sum(axis=1)
            truth = true.loc[d.channel].reindex(list(d.campaigns)).fillna(0.0).to_numpy()
            lo, hi = np.quantile(totals, [0.05, 0.95], axis=0)
            mean, sd = totals.mean(axis=0), totals.std(axis=0)
            pred = fitted.predict(d).reshape(-1, 7).sum(axis=1)
            obs = d.y.reshape(-1, 7).sum(axis=1)
            rows.append(
                {
                    "method": method,
                    "steps_or_iterations": knob,
                    "channel": d.channel,
                    "weekly_mape": float(np.mean(np.abs(pred - obs) / np.abs(obs))) * 100,
                    "coverage": float(np.mean((truth >= lo) & (truth <= hi))),
                    "rel_width": float(np.median((hi - lo) / truth)),
                    "abs_z": float(np.median(np.abs(mean - truth) / np.where(sd > 0, sd, np.nan))),
                    "total_error": float(np.abs(mean - truth).sum() / truth.sum()),
                    "seconds": seconds,
                }
            )
    return pd.DataFrame(rows)


#: The naive baselines scored beside IMA (``media_share``: IMA's own prior centre).
BASELINES = ["spend_share", "media_share", "nnls"]


def split_summary(table: pd.DataFrame, rule: str) -> pd.DataFrame:
    """Per scenario and method (one rule): split-interval figures averaged over channels."""
    part = table[table["method/rule"].str.split(",").str[0].str.endswith(f"/{rule}")]
    return (
        part.groupby(["scenario", "method/rule"], sort=False)
        .agg(
            weekly_mape=("weekly_mape", "mean"), min_r2=("r2", "min"),
            split_coverage=("split_coverage", "mean"), split_rel_width=("split_rel_width", "mean"),
            split_abs_z=("split_abs_z", "mean"), split_error=("split_error", "mean"),
            split_error_spend_share=("split_error:spend_share", "mean"),
            split_error_media_share=("split_error:media_share", "mean"),
        )
        .rename(columns={
            "split_error_spend_share": "split_error:spend_share",
            "split_error_media_share": "split_error:media_share",
        })
        .reset_index()
    )  # fmt: skip


def roi_summary(table: pd.DataFrame, rule: str) -> pd.DataFrame:
    """Per scenario and method (one rule): campaign-ROI scores averaged over channels."""
    part = table[table["method/rule"].str.split(",").str[0].str.endswith(f"/{rule}")]
    columns = [
        f"{v}{b}" for v in ("roi_spearman", "roi_error")
        for b in ("", ":spend_share", ":media_share", ":nnls")
    ]  # fmt: skip
    return part.groupby(["scenario", "method/rule"], sort=False)[columns].mean().reset_index()


#: What the split-interval figures say, with the separate measurements behind the cause.
READING = (
    "Reading (split intervals). Judged on the split, IMA's default intervals (mean-field "
    "ADVI) are far too narrow in every world. In `3x40 noisy truth`, where the model "
    "contains the truth and the likelihood models the MMM's honest, independent weekly "
    "error exactly, ADVI's split coverage is well under 0.9 with errors of several "
    "posterior sd: the approximation, not the model, is at fault there. NUTS on the "
    "same posterior (`nuts/...` rows) comes near nominal on social and online_video at "
    "wider intervals and the same split error, and falls short on display (its weekly fit "
    "to the noisy MMM is the weakest, R² 0.92, for both methods). In `3x40 truth` (exact "
    "anchor, improper posterior: see below) NUTS about halves ADVI's split error, but its "
    "intervals' width is still set by where the sampler stops. In `5ch NUTS MMM`, NUTS "
    "is no better calibrated than ADVI: the split's error there comes from the MMM's weekly "
    "shape, which the MMM's own posterior understates (its 90% intervals of each week's "
    "contribution, every draw rescaled to the posterior-mean total, cover the true weekly "
    "shape in 28% (online_video) to 78% (tv) of the weeks), and IMA's split can only be as "
    "honest as the weekly shape it splits. Measured separately on that world (saturating "
    "model at the MMM's grain, ADVI, seed 0; not in the tables): the true adstock with the "
    "MMM's contributions leaves the split where it is (split error 0.254, coverage 0.20), "
    "the true contributions with the MMM's adstock halve the split error (0.131, coverage "
    "0.43); propagating the MMM's shape uncertainty harder does not calibrate the split "
    "either: the full covariance of the MMM's weekly shape in the likelihood ruins the "
    "weekly fit (MAPE 19%, R² down to 0.06) at coverage 0.14, and multiple imputation "
    "(the regression fitted to 4 of the MMM's draws, posteriors pooled) reaches coverage "
    "0.36 at weekly MAPE 3.6% and R² 0.85; the Laplace approximation (3x40 noisy truth) "
    "covers 0.99 only because L-BFGS stops at a poor mode (weekly MAPE 18%). For honest "
    "campaign-split intervals use `--method nuts` (one NUTS fit took 4 to 8 times one "
    "ADVI fit of the same model in the separate runs) on an "
    "MMM whose weekly shape is itself calibrated; ADVI's split intervals understate the "
    "split's uncertainty."
)


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
    parser.add_argument("--rules", default="cap,residual", help="reconciliation rules")
    parser.add_argument("--scenarios", default="3x40,3x40_noisy,5ch,advi_mmm,nuts_mmm")
    parser.add_argument("--nuts", action="store_true", help="also a NUTS MMM (slow)")
    parser.add_argument(
        "--compare-exact", action="store_true",
        help="MMM scenarios: also fit with the MMM's contributions taken as exact",
    )  # fmt: skip
    parser.add_argument("--mmm-cache", default="", help="folder to keep/reuse MMM run dirs")
    parser.add_argument(
        "--reuse-choice", action="store_true",
        help="methods after the first fit only the model and grain the first one's auto kept",
    )  # fmt: skip
    parser.add_argument(
        "--noise", type=float, default=0.05, help="3x40_noisy: relative weekly noise of the MMM"
    )
    parser.add_argument(
        "--first-method-only", default="",
        help="scenarios fitted with the first of --methods only (e.g. 3x40: NUTS on an "
        "improper posterior)",
    )  # fmt: skip
    parser.add_argument(
        "--diagnose", action="store_true", help="only the coverage diagnosis (own section)"
    )
    args = parser.parse_args()
    warnings.simplefilter("ignore")
    if args.diagnose:
        run_diagnosis(args)
        return
    methods = args.methods.split(",")
    rules = args.rules.split(",")
    scenarios = set(args.scenarios.split(","))
    by_name = {c.name: c for c in DEFAULT_CHANNELS}
    big = tuple(
        dataclasses.replace(by_name[n], n_campaigns=40, n_families=8)
        for n in ("social", "online_video", "display")
    )
    scores, fits = [], []
    run = {
        "draws": args.draws, "seed": args.seed, "methods": methods, "rules": rules,
        "reuse_choice": args.reuse_choice,
    }  # fmt: skip
    only_first = set(filter(None, args.first_method_only.split(",")))

    def run_for(scenario: str) -> dict:  # type: ignore[type-arg]
        return {**run, "methods": methods[:1]} if scenario in only_first else run

    w3 = simulate_mmm(MMMWorldConfig(weeks=156, channels=big), seed=7)
    share_error = true_shares_error(w3)
    if "3x40" in scenarios:
        weekly, params = truth_mmm(w3)
        s, f = evaluate("3x40 truth", w3, weekly, params, **run_for("3x40"))
        scores += s
        fits += f
    if "3x40_noisy" in scenarios:
        weekly, params, posterior = noisy_truth(w3, noise=args.noise)
        s, f = evaluate(
            "3x40 noisy truth", w3, weekly, params, posterior=posterior, **run_for("3x40_noisy")
        )
        scores += s
        fits += f
    w5 = simulate_mmm(MMMWorldConfig(weeks=156, n_channels=5), seed=1)
    if "5ch" in scenarios:
        weekly, params = truth_mmm(w5)
        s, f = evaluate("5ch truth", w5, weekly, params, **run_for("5ch"))
        scores += s
        fits += f
    mmm_seconds: dict[str, float] = {}
    kinds = [k for k in ("advi", "nuts") if f"{k}_mmm" in scenarios and (k == "advi" or args.nuts)]
    if not args.skip_mmm and kinds:
        from mixlens.mmm.run import fit_to_dir as mmm_fit

        cache = Path(args.mmm_cache) if args.mmm_cache else None
        with tempfile.TemporaryDirectory() as tmp:
            for kind in kinds:
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
                    f"5ch {kind.upper()} MMM", w5, weekly, params, posterior=posterior,
                    compare_exact=args.compare_exact, **run_for(f"{kind}_mmm"),
                )  # fmt: skip
                scores += s
                fits += f
    score = pd.concat(scores, ignore_index=True)
    fit = pd.concat(fits, ignore_index=True)
    base = score[score["method"].isin(BASELINES)].pivot_table(
        index=["scenario", "channel"], columns="method",
        values=["spearman", "total_error", "split_error", "roi_spearman", "roi_error"],
        sort=False, dropna=False,
    )  # fmt: skip
    base.columns = [f"{a}:{b}" for a, b in base.columns]
    ima = score[~score["method"].isin(BASELINES)]
    table = (
        fit.merge(ima, on=["scenario", "channel", "method"])
        .merge(base.reset_index(), on=["scenario", "channel"])
        .rename(columns={"method": "method/rule"})
    )
    cols = [
        "scenario", "channel", "n_campaigns", "method/rule", "model", "grain", "weekly_mape",
        "r2", "coverage", "rel_width", "abs_z", "split_coverage", "split_rel_width",
        "split_abs_z", "unattributed", "spearman", "total_error",
        "spearman:spend_share", "spearman:nnls", "total_error:spend_share", "total_error:nnls",
        "split_error", "split_error:spend_share", "split_error:media_share", "split_error:nnls",
    ]  # fmt: skip
    roi = markdown(roi_summary(table, rules[0]))
    table = table[cols]
    runtime = fit.groupby(["scenario", "method"], sort=False)["seconds"].first().round(1)
    text = markdown(table)
    summary = markdown(split_summary(table, rules[0]))
    load = os.getloadavg()
    body = (
        f"IMA (`--model auto --grain auto`, period likelihood; {args.draws} draws; ADVI "
        "8000 steps; Laplace: L-BFGS to the mode from the model's initial point, at most "
        "5000 iterations, and a Gaussian with the full inverse Hessian) on simulated "
        "worlds; `method/rule`: inference and reconciliation rule (`cap`: campaigns capped "
        "at the channel, the rest unattributed; `residual`: only the regression's "
        "intercept is unattributed, campaigns share the rest pro rata, residual included). "
        "`model` and `grain`: what `auto` kept per channel (saturating share model or the "
        "paper's linear regression; `mmm`: campaigns' adstock summing to the MMM's weekly "
        "adstock and the curve on weekly pressure, `daily`: the kernel converted to days and "
        "a daily curve); MMM scenarios read the MMM's posterior (posterior-mean kernels; "
        "contribution draws propagated into the campaign intervals). `weekly_mape` (%) and "
        "`r2`: weekly sums of the daily regression prediction vs the MMM input (MAPE over "
        "weeks with at least 1% of the channel's mean weekly contribution); `coverage`: "
        "share of the channel's campaigns whose true total lies inside its 90% interval; "
        "`rel_width`: median interval width / true total; `abs_z`: median over campaigns "
        "of |estimate - true| / posterior sd; `unattributed`: the unattributed row's share "
        "of the channel (the truth has none); `spearman` and `total_error` "
        "(sum|est-true|/sum true) of campaign totals vs the simulator's campaign truth. "
        "Baselines: spend share; media share (`split_error:media_share`: the campaigns' "
        "share of the channel's adstocked media over the window, in the units IMA "
        "regresses on, impressions: IMA's own prior centre, one effectiveness shared by "
        "the channel's campaigns, so the bar IMA's regression must clear to show that the "
        "MMM's weekly contributions told it something about the campaigns); "
        "unregularised NNLS on the same adstocked media. "
        "`split_error`: IMA's own job, the split of the channel over its campaigns: the "
        "total error after rescaling each method's campaign totals to the true channel "
        "total (= sum|est share - true share|, shares of the campaigns' sum), free of the "
        "channel total, which IMA conserves from the MMM (as spend share does) and cannot "
        "correct. MMM scenarios: the regression's likelihood adds to its noise the MMM's "
        "posterior sd of each week's channel contribution, of its shape only (each draw "
        "rescaled to the posterior mean's total: IMA conserves the total) (`mmm_error`, "
        "the default with a posterior)"
        + (
            "; `, exact MMM` rows take the MMM's contributions as exact (the previous default)"
            if args.compare_exact
            else ""
        )
        + ". `split_coverage`: share of the channel's campaigns whose true share of the "
        "channel (its true total over the channel's) lies inside the central 90% interval "
        "of its share draws (draw by draw, the campaign's total over the sum of the "
        "channel's campaigns in that draw, `unattributed` left out; "
        "`mixlens.ima.evaluate.score_split`): the intervals of IMA's own job, the split, "
        "free of the MMM's channel total; `split_rel_width`: median interval width / true "
        "share; `split_abs_z`: median |mean share - true share| / sd of the share draws. "
        "`3x40 noisy truth`: the true MMM with independent 5% weekly noise and a "
        "posterior of 400 draws of the same law (the truth is one of them; IMA's "
        "likelihood models that error exactly and the daily saturating model contains "
        "the truth), so its split intervals' calibration is IMA's own."
        + (
            " NUTS rows (2 chains x "
            f"{args.draws} draws after 500 tuning steps) fit only the model and grain "
            "that ADVI's `auto` kept in the scenario."
            if args.reuse_choice
            else ""
        )
        + (
            f" Scenarios fitted with {methods[0]} only: {args.first_method_only}."
            if args.first_method_only
            else ""
        )
        + "\n\n"
        f"{text}\n\nSplit intervals per scenario and method ({rules[0]} rule; means over "
        "the channels, `min_r2` the lowest channel's; `split_error:spend_share` and "
        f"`split_error:media_share` the baselines'):\n\n{summary}\n\n{READING}\n\n"
        f"Campaign ROI per scenario and method ({rules[0]} rule; means over the channels; "
        "`roi_spearman`: rank correlation of campaign ROI (contribution / spend) with the "
        "true ROI, NaN where a method gives every campaign the same ROI, as spend share "
        "does; `roi_error`: median relative error of campaign ROI after rescaling the "
        "campaigns to the true channel total; `mixlens.ima.evaluate.score_campaigns`):"
        f"\n\n{roi}\n\n"
        "The daily-grain saturating model contains the simulator's truth: "
        "each campaign's true daily share of its channel rebuilt from IMA's daily design "
        f"(true effectiveness x adstocked media) is exact to {share_error:.1e} (3x40 "
        "world). With the true MMM the anchor is exact, so the posterior's noise scale "
        "goes to zero and, with more weeks than parameters, the posterior is improper "
        "there: every interval's width is set by where the approximation stops, and "
        "coverage measures computational accuracy, not calibration.\n\n"
        "IMA runtime per scenario and method/rule (s, whole `fit_ima` incl. compile; "
        "`auto` fits two models at two grains, four fits, for a weekly MMM; the second "
        "rule reuses the first rule's fits): "
        + ", ".join(f"{k[0]} {k[1]}: {v}" for k, v in runtime.items())
        + (
            "".join(f"; MMM {k} fit: {v:.1f} s" for k, v in mmm_seconds.items())
            + ("; MMM run dirs reused from `--mmm-cache`" if args.mmm_cache else "")
            if not args.skip_mmm
            else " (run with `--skip-mmm`: the scenarios through a fitted MMM were not run)"
        )
        + f". Load average at the end (1, 5, 15 min): {load[0]:.1f}, {load[1]:.1f}, "
        f"{load[2]:.1f} on a shared 2-core machine. Peak RSS {peak_rss_mib():.0f} MiB."
        "\n\nPyMC-Marketing's credibility case: section `ima_credibility`."
    )
    sys.stdout.write(body + "\n")
    if args.write:
        update_section(
            "ima_accuracy",
            body,
            command="PYTHONPATH=src python benchmarks/ima_accuracy.py " + " ".join(sys.argv[1:]),
        )


def run_diagnosis(args: argparse.Namespace) -> None:
    by_name = {c.name: c for c in DEFAULT_CHANNELS}
    big = tuple(
        dataclasses.replace(by_name[n], n_campaigns=40, n_families=8)
        for n in ("social", "online_video", "display")
    )
    world = simulate_mmm(MMMWorldConfig(weeks=156, channels=big), seed=7)
    frame = diagnose(world, draws=args.draws, seed=args.seed)
    table = frame.groupby(["method", "steps_or_iterations"], sort=False).agg(
        weekly_mape=("weekly_mape", "mean"), coverage=("coverage", "mean"),
        rel_width=("rel_width", "mean"), abs_z=("abs_z", "mean"),
        total_error=("total_error", "mean"), seconds=("seconds", "first"),
    )  # fmt: skip
    load = os.getloadavg()
    body = (
        "Why IMA's intervals miss the truth with the true MMM: the `3x40 truth` world, "
        "the daily-grain saturating model alone (what `auto` keeps there; it contains the "
        f"simulator's truth exactly), cap rule, {args.draws} draws; each row one "
        "regression fit (all three channels), figures averaged over the channels "
        "(`seconds`: the fit, incl. compile). The anchor is exact, so the posterior piles "
        "up at zero noise: the longer an approximation runs, the closer its weekly fit "
        "and the narrower its intervals, while its campaign error stays several posterior "
        "sd (`abs_z`: median |estimate - true| / sd) along the ridge of campaigns flighted "
        "together. Mean-field ADVI's error hardly falls with more steps (its mean stays "
        "near the pooled start along the ridge); the Laplace approximation's mode is far "
        "closer, but no run length gives calibrated intervals.\n\n"
        f"{markdown(table.reset_index())}\n\nLoad average at the end (1, 5, 15 min): "
        f"{load[0]:.1f}, {load[1]:.1f}, {load[2]:.1f} on a shared 2-core machine."
    )
    sys.stdout.write(body + "\n")
    if args.write:
        update_section(
            "ima_accuracy_diagnosis",
            body,
            command="PYTHONPATH=src python benchmarks/ima_accuracy.py " + " ".join(sys.argv[1:]),
        )


if __name__ == "__main__":
    main()
