"""Sequential updating in IMA: carrying the posterior forward vs refitting each window.

Run: ``PYTHONPATH=src python benchmarks/ima_sequential.py [--write]``. On the simulator's
3-channel x 40-campaign x 3-year world (true weekly contributions as the MMM, as in
``ima_accuracy``), every channel's linear-Gaussian campaign regression
(:mod:`mixlens.ima.sequential`) is fitted over a rolling window moved by a week:

* ``carried``: :func:`~mixlens.ima.sequential.rolling_fit`, each window's posterior from
  the previous one plus the week that entered minus the week that left;
* ``conjugate refit``: :func:`~mixlens.ima.sequential.fit_window` from the prior on every
  window's days (the same posterior, computed from scratch);
* ``ADVI refit``: the package's regression fitter (:func:`~mixlens.ima.regression.
  fit_regression`, linear model, period likelihood, 8000 steps) on the first window of
  the first size, times the number of windows (what refitting every week would cost).

``max_rel_diff``: the largest difference between carried and refitted posterior means,
relative to the largest mean (the stated tolerance in the tests is 1e-8).

``--geo`` (section ``ima_geo_sequential``): the same at the geo level
(:mod:`mixlens.ima.geo_sequential`, campaign effects partially pooled across geos) on
``--geos`` regions x 3 channels x ``--campaigns`` campaigns x ``--weeks`` weeks, the true
per-geo weekly contributions and true adstock as the MMM (as in ``ima_geo``): carried vs
refitted time and difference, and every window's campaign credit scored against the
simulator's true campaign contributions inside the window, beside spend share (each
geo's channel total in the window split by the campaigns' spend in it) and independent
geos (``pooling="none"``).
"""

from __future__ import annotations

import argparse
import dataclasses
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
from ima_geo import world_inputs
from mixlens._blas import single_thread_blas
from mixlens.data.simulate.mmm import DEFAULT_CHANNELS, MMMWorldConfig, simulate_mmm
from mixlens.ima.fit import prepare_inputs
from mixlens.ima.geo import prepare_geo_inputs
from mixlens.ima.geo_regression import GeoChannelDesign, fit_geo_regression
from mixlens.ima.geo_sequential import (
    geo_fit_window,
    geo_gaussian_prior,
    geo_rolling_fit,
    geo_slice,
    geo_window_credit,
)
from mixlens.ima.regression import ChannelDesign, fit_regression
from mixlens.ima.sequential import fit_window, gaussian_prior, rolling_fit
from mixlens.mmm.geo import ALL_GEOS

GEO_CHANNELS = ("social", "online_video", "display")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--write", action="store_true")
    parser.add_argument("--step", type=int, default=7)
    parser.add_argument("--geo", action="store_true", help="the geo case (ima_geo_sequential)")
    parser.add_argument("--geos", type=int, default=6)
    parser.add_argument("--campaigns", type=int, default=20)
    parser.add_argument("--weeks", type=int, default=104)
    parser.add_argument("--windows", default="182,364", help="geo case: window lengths, days")
    parser.add_argument("--draws", type=int, default=200)
    parser.add_argument("--advi-steps", type=int, default=8000)
    parser.add_argument("--seed", type=int, default=5)
    args = parser.parse_args()
    warnings.simplefilter("ignore")
    if args.geo:
        body = geo_case(args)
        sys.stdout.write(body + "\n")
        if args.write:
            update_section(
                "ima_geo_sequential",
                body,
                command="PYTHONPATH=src python benchmarks/ima_sequential.py "
                + " ".join(sys.argv[1:]),
            )
        return
    by_name = {c.name: c for c in DEFAULT_CHANNELS}
    big = tuple(
        dataclasses.replace(by_name[n], n_campaigns=40, n_families=8)
        for n in ("social", "online_video", "display")
    )
    world = simulate_mmm(MMMWorldConfig(weeks=156, channels=big), seed=7)
    weekly, params = truth_mmm(world)
    designs = prepare_inputs(weekly, params, world.daily_campaign).designs
    rows = []
    for window in (182, 364, 728):
        first = [ChannelDesign(d.channel, d.campaigns, d.y[:window], d.x[:window]) for d in designs]
        priors = [gaussian_prior(d) for d in first]
        started = time.perf_counter()
        carried = [
            [f.posterior.mean for f in rolling_fit(d, p, window=window, step=args.step)]
            for d, p in zip(designs, priors, strict=True)
        ]
        carried_s = time.perf_counter() - started
        n_windows = len(carried[0])
        started = time.perf_counter()
        refit = [
            [
                fit_window(
                    ChannelDesign(d.channel, d.campaigns, d.y[s : s + window], d.x[s : s + window]),
                    p,
                ).mean
                for s in range(0, d.y.size - window + 1, args.step)
            ]
            for d, p in zip(designs, priors, strict=True)
        ]
        refit_s = time.perf_counter() - started
        diff = max(
            float(np.max(np.abs(a - b)) / np.max(np.abs(b)))
            for ca, cb in zip(carried, refit, strict=True)
            for a, b in zip(ca, cb, strict=True)
        )
        if not rows:  # one ADVI refit, on the first window size (its cost barely varies)
            started = time.perf_counter()
            fit_regression(first, model="linear", draws=100, period_days=7)
            advi_s = time.perf_counter() - started
        rows.append(
            {
                "window_days": window,
                "step_days": args.step,
                "windows": n_windows,
                "campaigns": sum(len(d.campaigns) for d in designs),
                "carried_s": carried_s,
                "conjugate_refit_s": refit_s,
                "advi_refit_one_window_s": advi_s,
                "advi_refit_all_windows_s_est": advi_s * n_windows,
                "max_rel_diff": diff,
            }
        )
    table = pd.DataFrame(rows)
    table["max_rel_diff"] = table["max_rel_diff"].map(lambda v: f"{v:.1e}")
    load = os.getloadavg()
    body = (
        "Rolling-window IMA (3 channels x 40 campaigns x 156 weeks, true weekly "
        "contributions as the MMM; linear-Gaussian regression of `mixlens.ima.sequential`). "
        "`carried_s`: every window's posterior (all channels) by carrying the previous "
        "one forward; `conjugate_refit_s`: the same posteriors refitted from the prior on "
        "each window; `advi_refit_one_window_s`: one ADVI fit of the default linear "
        "regression on one window (incl. compilation), `..._all_windows_s_est` that times "
        "the number of windows (estimated, not run); `max_rel_diff`: largest difference "
        "between carried and refitted posterior means relative to the largest mean. The "
        "conjugate refit is itself only milliseconds per window, so carrying forward saves "
        "little against it at this size (its work is O(step) instead of O(window) periods, "
        "plus the same solve); the saving is against refitting with the default fitter.\n\n"
        f"{markdown(table)}\n\nLoad average (1, 5, 15 min) {load[0]:.1f}, {load[1]:.1f}, "
        f"{load[2]:.1f} on a shared 2-core machine; peak RSS {peak_rss_mib():.0f} MiB."
    )
    sys.stdout.write(body + "\n")
    if args.write:
        update_section(
            "ima_sequential",
            body,
            command="PYTHONPATH=src python benchmarks/ima_sequential.py " + " ".join(sys.argv[1:]),
        )


def _errors(est: np.ndarray, true: np.ndarray) -> float:
    """``sum_k |est_k - true_k| / sum_k true_k`` over the campaigns."""
    return float(np.abs(est - true).sum() / max(true.sum(), 1e-12))


def _window_scores(
    design: GeoChannelDesign,
    credit: pd.DataFrame,
    truth: pd.DataFrame,
    spend: np.ndarray,
    label: str,
) -> list[dict[str, object]]:
    """Per geo (and ``all``): total error of IMA and of spend share in one window.

    ``truth`` is indexed by ``(geo, campaign)`` (the window's true campaign totals of the
    channel); ``spend`` is ``(G, K)``, the campaigns' spend in the window per geo.
    """
    rows = []
    names = list(design.campaigns)
    true_all = np.zeros(len(names))
    share_all = np.zeros(len(names))
    for g, geo in enumerate([*design.geos, ALL_GEOS]):
        part = credit[credit["geo"] == geo].set_index("campaign")
        est = part.loc[names, "contribution_mean"].to_numpy()
        if geo == ALL_GEOS:
            true, share = true_all, share_all
        else:
            true = truth.reindex([(geo, k) for k in names]).fillna(0.0).to_numpy()
            channel_total = float(part["contribution_mean"].sum())
            total_spend = spend[g].sum()
            share = spend[g] / total_spend * channel_total if total_spend > 0 else 0 * est
            true_all += true
            share_all += share
        rows.append(
            {
                "method": label,
                "geo": geo,
                "ima": _errors(est, true),
                "spend_share": _errors(share, true),
                "uncredited": 1.0 - est.sum() / max(true.sum(), 1e-12),
            }
        )
    return rows


def geo_case(args: argparse.Namespace) -> str:
    """Rolling windows at the geo level: carried vs refit, and campaign accuracy per window."""
    started = time.perf_counter()
    weekly, params, camp, truth = world_inputs(
        args.geos, args.campaigns, args.weeks, args.seed, channels=GEO_CHANNELS
    )
    inputs = prepare_geo_inputs(weekly, params, camp, adstock="daily")
    designs, days = inputs.designs, inputs.days
    prep_s = time.perf_counter() - started
    truth = truth.assign(day=(pd.to_datetime(truth["date"]) - days[0]).dt.days)
    spend_daily = camp.assign(day=(pd.to_datetime(camp["date"]) - days[0]).dt.days)
    timing_rows, score_rows = [], []
    advi_s = float("nan")
    for window in (int(w) for w in args.windows.split(",")):
        for memory in ("window", "all"):
            clock = time.process_time()
            models = [geo_gaussian_prior(geo_slice(d, 0, window)) for d in designs]
            prior_s = time.process_time() - clock
            clock = time.process_time()
            fits = [
                geo_rolling_fit(d, m, window=window, step=args.step, memory=memory)  # type: ignore[arg-type]
                for d, m in zip(designs, models, strict=True)
            ]
            carried = [[f.posterior.mean for f in fs] for fs in fits]
            carried_s = time.process_time() - clock
            clock = time.process_time()
            refit = [
                [
                    geo_fit_window(geo_slice(d, 0 if memory == "all" else f.start, f.stop), m).mean
                    for f in fs
                ]
                for d, m, fs in zip(designs, models, fits, strict=True)
            ]
            refit_s = time.process_time() - clock
            diff = max(
                float(np.max(np.abs(a - b)) / np.max(np.abs(b)))
                for ca, cb in zip(carried, refit, strict=True)
                for a, b in zip(ca, cb, strict=True)
            )
            clock = time.process_time()
            credits = [
                [geo_window_credit(d, m, f, draws=args.draws, seed=0) for f in fs]
                for d, m, fs in zip(designs, models, fits, strict=True)
            ]
            credit_s = time.process_time() - clock
            if memory == "window" and np.isnan(advi_s) and args.advi_steps > 0:
                # One ADVI refit (the package's geo regression, linear, period likelihood,
                # partial pooling) of the first window: what refitting every window costs.
                # BLAS single-threaded: on this busy machine threaded BLAS made it 3x
                # slower (32 vs 10.5 CPU s measured), which would flatter carrying forward.
                clock = time.process_time()
                with single_thread_blas():
                    fit_geo_regression(
                        [geo_slice(d, 0, window) for d in designs], model="linear",
                        draws=100, period_days=7, advi_steps=args.advi_steps,
                    )  # fmt: skip
                advi_s = time.process_time() - clock
            n_windows = len(fits[0])
            timing_rows.append(
                {
                    "window_days": window,
                    "step_days": args.step,
                    "memory": memory,
                    "windows": n_windows,
                    "params_per_channel": max(m.n_params for m in models),
                    "prior_cpu_s": prior_s,
                    "carried_cpu_s": carried_s,
                    "conjugate_refit_cpu_s": refit_s,
                    "credit_cpu_s": credit_s,
                    "advi_refit_one_window_cpu_s": advi_s,
                    "advi_refit_all_windows_cpu_s_est": advi_s * n_windows,
                    "max_rel_diff": f"{diff:.1e}",
                }
            )
            if memory != "window":
                continue
            none_models = [
                geo_gaussian_prior(geo_slice(d, 0, window), pooling="none") for d in designs
            ]
            for c, d in enumerate(designs):
                none_fits = geo_rolling_fit(d, none_models[c], window=window, step=args.step)
                for w, f in enumerate(fits[c]):
                    inside = truth[
                        (truth["day"] >= f.start)
                        & (truth["day"] < f.stop)
                        & (truth["channel"] == d.channel)
                    ]
                    true = inside.groupby(["geo", "campaign"])["contribution"].sum()
                    sp = spend_daily[
                        (spend_daily["day"] >= f.start)
                        & (spend_daily["day"] < f.stop)
                        & (spend_daily["channel"] == d.channel)
                    ]
                    by = sp.groupby(["geo", "campaign"])["spend"].sum()
                    spend = np.array(
                        [
                            by.reindex([(geo, k) for k in d.campaigns]).fillna(0.0).to_numpy()
                            for geo in d.geos
                        ]
                    )
                    independent = geo_window_credit(
                        d, none_models[c], none_fits[w], draws=args.draws, seed=0
                    )
                    for label, credit in (("pooled", credits[c][w]), ("independent", independent)):
                        for row in _window_scores(d, credit, true, spend, label):
                            row.update(window_days=window, channel=d.channel, window=w,
                                       last=w == len(fits[c]) - 1)  # fmt: skip
                            score_rows.append(row)
    timing = pd.DataFrame(timing_rows)
    scores = pd.DataFrame(score_rows)
    scores["level"] = np.where(scores["geo"] == ALL_GEOS, "all (sum over geos)", "per geo")
    keys = ["window_days", "method", "level"]
    metrics = ["ima", "spend_share", "uncredited"]
    every = scores.groupby(keys, sort=False)[metrics].mean().reset_index()
    last = scores[scores["last"]].groupby(keys, sort=False)[metrics].mean().reset_index()
    summary = pd.concat(
        [every.assign(windows="every window (mean)"), last.assign(windows="last window")],
        ignore_index=True,
    )[["window_days", "windows", "method", "level", *metrics]]
    summary = summary.rename(
        columns={"ima": "total_error IMA", "spend_share": "total_error spend share"}
    )
    per_channel = (
        scores[scores["last"] & (scores["method"] == "pooled")]
        .groupby(["window_days", "channel", "level"], sort=False)[metrics]
        .mean()
        .reset_index()
        .rename(columns={"ima": "total_error IMA", "spend_share": "total_error spend share"})
    )
    load = os.getloadavg()
    campaigns = sum(len(d.campaigns) for d in designs)
    return "\n\n".join(
        [
            f"Rolling-window IMA at the geo level: {args.geos} geos x {len(designs)} channels "
            f"({', '.join(d.channel for d in designs)}) x {args.campaigns} campaigns each "
            f"({campaigns} in all) x {args.weeks} weeks, world seed {args.seed}; the "
            "simulator's true weekly contribution per geo and true adstock as the MMM "
            "(daily grain), so only the campaign split is measured. Model: the "
            "linear-Gaussian geo regression of `mixlens.ima.geo_sequential` (campaign "
            "effects shared by the geos plus a geo deviation of prior sd 0.5 b0, noise "
            "scale per geo from the first window), window moved by "
            f"{args.step} days. Timings are CPU seconds (user + system) for all channels "
            f"and windows: `prior_cpu_s` the priors (noise scales) of the first window; "
            "`carried_cpu_s` every window's posterior by carrying the previous one forward; "
            "`conjugate_refit_cpu_s` the same posteriors from the prior on each window "
            "(memory `all`: on days 0..end); `credit_cpu_s` every window's campaign credit "
            f"({args.draws} draws, split and reconciled per geo, geo `all`); "
            "`advi_refit_one_window_cpu_s`: one ADVI fit of the package's geo regression "
            f"(linear, partial pooling, {args.advi_steps} steps, 100 draws, incl. "
            "compilation, BLAS single-threaded) on the first window, and "
            "`advi_refit_all_windows_cpu_s_est` that times the number of windows "
            "(estimated, not run); `max_rel_diff`: largest difference between carried "
            "and refitted posterior means relative to the largest mean. The conjugate "
            "refit is itself cheap at this size; the saving of carrying forward is "
            "against refitting with the package's default fitter. Most of the rolling "
            "run's time is the credit (draws split and reconciled day by day), the same "
            "for both.",
            markdown(timing),
            "Campaign accuracy per window against the simulator's truth inside the window: "
            "`total_error` = sum_k |est_k - true_k| / sum_k true_k over a channel's "
            "campaigns, averaged over channels and windows (every window) or channels (the "
            "last window); `per geo`: mean over geos, `all`: campaign totals summed over "
            "geos. Spend share splits the same window total (IMA's campaigns plus "
            "unattributed, i.e. the MMM's) by the campaigns' spend in the window. "
            '`pooled`: partial pooling; `independent`: `pooling="none"` (each geo its '
            "own effects). `uncredited` = 1 - campaigns' credit / their true total.",
            markdown(summary),
            "Last window, pooled, per channel:",
            markdown(per_channel),
            f"Data preparation (simulation, per-geo disaggregation, adstock) {prep_s:.1f} s "
            f"wall. Load average at the end (1, 5, 15 min) {load[0]:.1f}, {load[1]:.1f}, "
            f"{load[2]:.1f} on a shared 2-core machine; peak RSS {peak_rss_mib():.0f} MiB.",
        ]
    )


if __name__ == "__main__":
    main()
