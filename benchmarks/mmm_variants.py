"""ROI recovery of model variants on the simulator: same worlds, one change at a time.

Run: ``PYTHONPATH=src python benchmarks/mmm_variants.py --variants linear,knots7
--seeds 1,2,3 --out /tmp/variants.jsonl`` fits each variant on each world (156 weeks, 7
channels, controls price and promotion; the worlds of ``peers_mmm``) and appends one JSON
line per fit; ``--table FILE`` writes the ``mmm_variants`` section of RESULTS.md from such
files (one row per variant with means over seeds, and per-channel errors). With ``--form``
the section also gets, per world and channel, how well each media input can track the
channel's true weekly contribution (:func:`form_r2`; no MMM fit, seconds).

Every variant is :class:`~mixlens.mmm.MMMSpec` keyword arguments on top of the default
spec (see :data:`VARIANTS`).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
import warnings
from pathlib import Path
from typing import Any

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _results import peak_rss_mib, update_section
from mmm_recovery import roi_scores

#: Variant name -> (MMMSpec keyword arguments, description).
VARIANTS: dict[str, tuple[dict[str, Any], str]] = {
    "linear": ({"time_knots": 0}, "default baseline: intercept + linear trend (no knots)"),
    "unpooled": (
        {"time_knots": 0, "pooled": ()},
        "the default before `mmm_variants` 2026-11-24: no pooled shape priors",
    ),
    "knots7": ({"time_knots": 7}, "+ time-varying baseline, 7 knots (one per half year)"),
    "knots13": ({"time_knots": 13}, "+ time-varying baseline, 13 knots (one per quarter)"),
    "knots40": ({"time_knots": 40}, "+ time-varying baseline, 40 knots (one per 4 weeks)"),
    "slope1": (
        {"time_knots": 0, "priors": {"slope": ("LogNormal", {"mu": 0.0, "sigma": 0.05})}},
        "Hill slope held near 1 (Meridian's fixed slope): prior LogNormal(0, 0.05)",
    ),
    "halfsat_wide": (
        {"time_knots": 0, "priors": {"half_saturation": ("LogNormal", {"mu": 0.0, "sigma": 1.0})}},
        "half-saturation prior twice as wide: LogNormal(0, 1) typical weeks",
    ),
    "impressions": (
        {"time_knots": 0, "media_input": "impressions"},
        "media input impressions (converted to spend at each channel's cost per impression)",
    ),
    "clicks": (
        {"time_knots": 0, "media_input": "clicks"},
        "media input clicks (converted to spend at each channel's cost per click)",
    ),
    "pool_slope": (
        {"time_knots": 0, "pooled": ("slope",)},
        "only the Hill slope prior partially pooled across channels (`MMMSpec.pooled`)",
    ),
    "pool_shapes": (
        {"time_knots": 0, "pooled": ("half_saturation", "slope")},
        "Hill half-saturation and slope priors partially pooled across channels "
        "(`pooled='auto'`, the default since 2026-11-24)",
    ),
}


#: Media inputs compared by :func:`form_r2` (the panel's ``{channel}_{input}`` columns).
FORM_INPUTS = ("spend", "impressions", "clicks")


def form_r2(seed: int) -> dict[str, dict[str, float]]:
    """R² of the best fit of each channel's true weekly contribution by its own media.

    For each media input, delayed adstock (``l_max`` 8) then Hill on the weekly series
    (scaled by its mean over weeks with media), times a coefficient, fitted by least
    squares to the channel's true weekly contribution from several starts (the surface
    has local optima); the best R² per channel and input. It bounds what the MMM's form
    can recover of a channel from that input, before noise, baseline and other channels.
    ``cpm_cv`` is the coefficient of variation of the weekly cost per impression over
    weeks with spend (how far impressions can depart from spend at all).
    """
    from scipy.optimize import least_squares

    from mixlens.data.simulate.mmm import MMMWorldConfig, simulate_mmm
    from mixlens.transforms.adstock import adstock, delayed_weights
    from mixlens.transforms.saturation import hill

    world = simulate_mmm(MMMWorldConfig(weeks=156, n_channels=7), seed=seed)
    truth = world.weekly_contributions.pivot(
        index="date", columns="component", values="contribution"
    )
    panel = world.weekly_channel.set_index("date")
    starts = ([0, -1, 0, 0], [1, 0, 0.5, 0.5], [-1, -2, -0.5, -0.3], [0, 0, 1, 1], [2, 0.5, 0, 0.7])
    out: dict[str, dict[str, float]] = {}
    for channel in world.roi["channel"]:
        y = truth[channel].to_numpy(float)
        row: dict[str, float] = {}
        for kind in FORM_INPUTS:
            raw = panel[f"{channel}_{kind}"].to_numpy(float)
            x = raw / raw[raw > 0].mean()

            def predict(p: np.ndarray, x: np.ndarray = x) -> np.ndarray:
                theta = 1.0 / (1.0 + np.exp(-p[0]))
                kernel = delayed_weights(np.array(theta), peak=np.array(np.exp(p[1])), l_max=8)
                stock = adstock(x, kernel.reshape(-1), axis=0)
                curve = hill(stock, half_saturation=np.exp(p[2]), slope=np.exp(p[3]))
                return np.asarray(np.exp(p[4]) * curve)

            best = -np.inf
            for start in starts:
                fit = least_squares(lambda p, y=y: predict(p) - y, x0=[*start, np.log(y.max())])
                resid = y - predict(fit.x)
                best = max(best, 1.0 - (resid**2).sum() / ((y - y.mean()) ** 2).sum())
            row[kind] = float(best)
        spend = panel[f"{channel}_spend"].to_numpy(float)
        impressions = panel[f"{channel}_impressions"].to_numpy(float)
        cost = spend[spend > 0] / impressions[spend > 0]
        row["cpm_cv"] = float(cost.std() / cost.mean())
        out[str(channel)] = row
    return out


def truth_shape_rois(seed: int) -> dict[str, dict[str, float]]:
    """What the data say about each channel's ROI when the curve shapes are known.

    Each channel's feature is its weekly spend (scaled by its mean over weeks with spend)
    through the simulator's *true* delayed adstock and Hill curve (no fitted shape, no
    prior); sales are regressed by least squares on an intercept, a baseline and the
    seven features, and each coefficient gives an ROI (``coef * sum(feature) / spend``).
    Rows: ``design`` (the MMM's own baseline columns: trend, Fourier, holidays, controls),
    ``design, no noise`` (sales minus the simulator's noise), ``true baseline`` (the
    simulator's exact baseline + controls as one column), ``true baseline, no noise``.
    ``own`` regresses each channel's true weekly contribution on an intercept and its own
    feature: the ROI its variation alone implies (an intercept-free fit gives the true
    ROI to within the form's error). ``pressure_corr`` is the correlation over weeks of
    the channel's effectiveness-weighted impressions per unit spend with its spend.
    """
    import pandas as pd

    from mixlens.data.simulate.mmm import MMMWorldConfig, simulate_mmm
    from mixlens.mmm import MMMSpec
    from mixlens.mmm.data import MMMData
    from mixlens.mmm.model import baseline_design
    from mixlens.transforms.adstock import adstock, delayed_weights
    from mixlens.transforms.saturation import hill

    config = MMMWorldConfig(weeks=156, n_channels=7)
    world = simulate_mmm(config, seed=seed)
    truth = world.weekly_contributions.pivot(
        index="date", columns="component", values="contribution"
    )
    panel = world.weekly_channel.set_index("date")
    specs = config.channel_specs
    names = [c.name for c in specs]
    spend = np.array([panel[f"{n}_spend"].sum() for n in names])
    features = []
    for c in specs:
        raw = panel[f"{c.name}_spend"].to_numpy(float)
        kernel = delayed_weights(np.array(c.theta), peak=np.array(c.peak), l_max=8)
        stock = adstock(raw / raw[raw > 0].mean(), kernel.reshape(-1), axis=0)
        features.append(hill(stock, half_saturation=c.half_saturation, slope=c.slope))
    feat = np.array(features).T
    spec = MMMSpec(channels=tuple(names), controls=("price", "promotion"))
    design = baseline_design(MMMData.from_panel(world.weekly_channel, spec), spec)
    sales = panel["sales"].to_numpy(float)
    noise = truth["noise"].to_numpy(float)
    base = (truth["baseline"] + truth["price"] + truth["promotion"]).to_numpy(float)

    def rois(y: np.ndarray, x: np.ndarray) -> dict[str, float]:
        full = np.c_[np.ones(len(y)), x, feat]
        coef = np.linalg.lstsq(full, y, rcond=None)[0][-len(names) :]
        return dict(zip(names, (coef * feat.sum(axis=0) / spend).tolist(), strict=True))

    out = {
        "design": rois(sales, design),
        "design, no noise": rois(sales - noise, design),
        "true baseline": rois(sales, base[:, None]),
        "true baseline, no noise": rois(sales - noise, base[:, None]),
    }
    own: dict[str, float] = {}
    for i, n in enumerate(names):
        x = np.c_[np.ones(len(feat)), feat[:, i]]
        coef = np.linalg.lstsq(x, truth[n].to_numpy(float), rcond=None)[0][1]
        own[n] = float(coef * feat[:, i].sum() / spend[i])
    out["own"] = own
    daily = world.daily_campaign.merge(
        world.campaign_params[["campaign", "effectiveness"]], on="campaign"
    )
    daily["pressure"] = daily["impressions"] / 1000 * daily["effectiveness"]
    daily["week"] = (pd.to_datetime(daily["date"]) - pd.Timestamp(config.start)).dt.days // 7
    corr: dict[str, float] = {}
    for n in names:
        weekly = daily[daily["channel"] == n].groupby("week")[["spend", "pressure"]].sum()
        per_unit = weekly["pressure"] / weekly["spend"]
        corr[n] = float(np.corrcoef(per_unit, weekly["spend"])[0, 1])
    out["pressure_corr"] = corr
    out["true"] = dict(zip(names, world.roi.set_index("channel").loc[names, "roi"], strict=True))
    return out


def _truth_shape_table(seeds: list[int]) -> str:
    per_seed = {seed: truth_shape_rois(seed) for seed in seeds}
    channels = list(per_seed[seeds[0]]["true"])
    lines = [
        "**With the true curve shapes (`truth_shape_rois`, least squares, no prior).** ROI "
        "implied by regressing sales on the baseline and each channel's spend through its "
        "true adstock and Hill curve; `own` = the ROI the channel's own true contribution "
        "implies when its level is free (as the MMM's intercept leaves it); `pressure` = "
        "correlation over weeks of effectiveness-weighted impressions per unit spend with "
        "spend (the campaign mix):",
        "",
        "| seed | regression | " + " | ".join(channels) + " |",
        "|---|---|" + "---:|" * len(channels),
    ]
    for seed in seeds:
        for row, values in per_seed[seed].items():
            fmt = "{:+.2f}" if row == "pressure_corr" else "{:.2f}"
            cells = " | ".join(fmt.format(values[c]) for c in channels)
            label = row.replace("_corr", "")
            lines.append(f"| {seed} | {label} | {cells} |")
    return "\n".join(lines)


def _form_table(seeds: list[int]) -> str:
    per_seed = {seed: form_r2(seed) for seed in seeds}
    channels = list(per_seed[seeds[0]])
    lines = [
        "**Step 1: can the media input track the truth?** R² of the best fit of each "
        "channel's true weekly contribution by delayed adstock + Hill on its own weekly "
        f"{', '.join(FORM_INPUTS)} (`form_r2`, least squares, 5 starts; no noise, no "
        "baseline, no other channels), per seed:",
        "",
        "| seed | input | " + " | ".join(channels) + " |",
        "|---|---|" + "---:|" * len(channels),
    ]
    for seed in seeds:
        for kind in FORM_INPUTS:
            cells = " | ".join(f"{per_seed[seed][c][kind]:.3f}" for c in channels)
            lines.append(f"| {seed} | {kind} | {cells} |")
    cv = " | ".join(
        f"{min(per_seed[s][c]['cpm_cv'] for s in seeds):.2f}-"
        f"{max(per_seed[s][c]['cpm_cv'] for s in seeds):.2f}"
        for c in channels
    )
    lines.append(f"| all | weekly cost per impression CV | {cv} |")
    lines += ["", "Unexplained share (1 - R²), mean over seeds:", ""]
    lines += ["| input | " + " | ".join(channels) + " |", "|---|" + "---:|" * len(channels)]
    for kind in FORM_INPUTS:
        cells = " | ".join(
            f"{np.mean([1 - per_seed[s][c][kind] for s in seeds]):.3f}" for c in channels
        )
        lines.append(f"| {kind} | {cells} |")
    return "\n".join(lines)


def _spec_kwargs(name: str) -> dict[str, Any]:
    from mixlens.mmm import Prior

    kwargs = dict(VARIANTS[name][0])
    if "priors" in kwargs:
        kwargs["priors"] = {k: Prior(d, p) for k, (d, p) in kwargs["priors"].items()}
    return kwargs


def run_one(variant: str, seed: int, draws: int, tune: int, chains: int) -> dict[str, Any]:
    """Fit one variant on one world; ROI recovery, fit and timing figures."""
    from mixlens.data.simulate.mmm import MMMWorldConfig, simulate_mmm
    from mixlens.mmm import MMM, MMMSpec

    world = simulate_mmm(MMMWorldConfig(weeks=156, n_channels=7), seed=seed)
    channels = tuple(world.roi["channel"])
    spec = MMMSpec(channels=channels, controls=("price", "promotion"), **_spec_kwargs(variant))
    load = os.getloadavg()[0]
    started = time.perf_counter()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        result = MMM(spec).fit(
            world.weekly_channel, draws=draws, tune=tune, chains=chains, seed=seed
        )
    fit_s = time.perf_counter() - started
    fitted = result.predict(world.weekly_channel, seed=seed)
    obs, mean = fitted["actual"].to_numpy(float), fitted["mean"].to_numpy(float)
    r2 = 1 - ((obs - mean) ** 2).sum() / ((obs - obs.mean()) ** 2).sum()
    d = result.diagnostics
    return {
        "variant": variant,
        "seed": seed,
        "knots": result.data.n_knots,
        "fit_s": fit_s,
        "load": (load + os.getloadavg()[0]) / 2,
        "peak_rss_mib": peak_rss_mib(),
        "max_rhat": d.max_rhat,
        "divergences": d.divergences,
        "r2": float(r2),
        "channels": len(channels),
        **roi_scores(result.roi(), world.roi),
    }


def per_channel_lines(
    rows: list[dict[str, Any]], variants: list[str], channels: list[str]
) -> list[str]:
    """Table rows, one per variant: each channel's ROI error (mean over seeds) and coverage.

    ``rows[i]["per_channel"][channel]`` is ``(true, mean, lo, hi)``.
    """
    lines = []
    for v in variants:
        mine = [r for r in rows if r["variant"] == v]
        cells = []
        for c in channels:
            true, mean, lo, hi = zip(*(r["per_channel"][c][:4] for r in mine), strict=True)
            errs = [abs(m - t) / t for t, m in zip(true, mean, strict=True)]
            hits = sum(a <= t <= b for t, a, b in zip(true, lo, hi, strict=True))
            cells.append(f"{np.mean(errs):.2f} ({hits}/{len(mine)})")
        lines.append(f"| {v} | " + " | ".join(cells) + " |")
    return lines


def _table(files: list[str], note: str) -> str:
    rows = [json.loads(line) for f in files for line in Path(f).read_text().splitlines() if line]
    settings = rows[0].get("settings", "")
    lines = [
        "Simulator worlds of `peers_mmm` (156 weeks, 7 channels, controls price and promotion), "
        f"default `MMMSpec` plus one change per variant, NUTS via nutpie ({settings}). ROI "
        "error = |posterior mean - true| / true per channel (plain mean, spend-weighted); "
        "coverage = channels whose 90% interval holds the true ROI; width = median over "
        "channels of the 90% interval width / true ROI; R² of the posterior-mean fit in "
        "sample. Means over the seeds listed.",
        "",
        "| variant | change | seeds | ROI error mean | spend-weighted | 90% coverage "
        "| median width / ROI | R² | divergences | max R-hat | fit s (load) |",
        "|---|---|---|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    variants = list(dict.fromkeys(r["variant"] for r in rows))
    for v in variants:
        mine = [r for r in rows if r["variant"] == v]

        def avg(key: str, rows: list[dict[str, Any]] = mine) -> float:
            return sum(float(r[key]) for r in rows) / len(rows)

        seeds = ",".join(str(r["seed"]) for r in mine)
        cov = sum(r["covered"] for r in mine)
        tot = sum(r["channels"] for r in mine)
        lines.append(
            f"| {v} | {VARIANTS.get(v, ({}, '?'))[1]} | {seeds} | {avg('roi_err_mean'):.2f} | "
            f"{avg('roi_err_weighted'):.2f} | {cov}/{tot} | {avg('width_median'):.2f} | "
            f"{avg('r2'):.3f} | {avg('divergences'):.1f} | "
            f"{max(r['max_rhat'] for r in mine):.3f} | {avg('fit_s'):.0f} ({avg('load'):.1f}) |"
        )
    channels = list(rows[0]["per_channel"])
    lines += [
        "",
        "Per-channel ROI error (mean over seeds) and coverage:",
        "",
        "| variant | " + " | ".join(channels) + " |",
        "|---|" + "---:|" * len(channels),
    ]
    lines += per_channel_lines(rows, variants, channels)
    if note:
        lines += ["", note]
    return "\n".join(lines)


def main() -> None:
    """Command line entry point (see the module docstring)."""
    parser = argparse.ArgumentParser()
    parser.add_argument("--variants", default="linear,knots7")
    parser.add_argument("--seeds", default="1,2,3")
    parser.add_argument("--draws", type=int, default=500)
    parser.add_argument("--tune", type=int, default=500)
    parser.add_argument("--chains", type=int, default=2)
    parser.add_argument("--out", default="/tmp/mmm_variants.jsonl")
    parser.add_argument("--table", nargs="+", metavar="FILE")
    parser.add_argument("--note", default="")
    parser.add_argument("--form", action="store_true", help="add the form R² tables (--table)")
    parser.add_argument(
        "--shapes", action="store_true", help="add the true-shape ROI table (--table)"
    )
    args = parser.parse_args()
    if args.table:
        body = _table(args.table, args.note)
        if args.shapes:
            body += "\n\n" + _truth_shape_table([int(s) for s in args.seeds.split(",")])
        if args.form:
            body += "\n\n" + _form_table([int(s) for s in args.seeds.split(",")])
        rows = [json.loads(x) for f in args.table for x in Path(f).read_text().splitlines() if x]
        variants = ",".join(dict.fromkeys(r["variant"] for r in rows))
        seeds = ",".join(str(s) for s in sorted({r["seed"] for r in rows}))
        command = f"python benchmarks/mmm_variants.py --variants {variants} --seeds {seeds}"
        if args.shapes:
            command += " --shapes"
        if args.form:
            command += " --form"
        update_section("mmm_variants", body, command=command)
        sys.stdout.write(body + "\n")
        return
    settings = f"{args.chains} chains x {args.draws} draws after {args.tune} tuning steps"
    for seed in (int(s) for s in args.seeds.split(",")):
        for variant in args.variants.split(","):
            row = run_one(variant, seed, args.draws, args.tune, args.chains)
            row["settings"] = settings
            with open(args.out, "a") as handle:
                handle.write(json.dumps(row) + "\n")
            sys.stdout.write(
                f"{variant} seed {seed}: err {row['roi_err_mean']:.2f} / "
                f"{row['roi_err_weighted']:.2f}, cov {row['covered']}/{row['channels']}, "
                f"width {row['width_median']:.2f}, R2 {row['r2']:.3f}, {row['fit_s']:.0f} s\n"
            )
            sys.stdout.flush()


if __name__ == "__main__":
    main()
