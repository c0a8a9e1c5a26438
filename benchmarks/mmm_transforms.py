"""ROI recovery when the channels' true transforms differ: default, matched, PyMC-Marketing form.

Run: ``PYTHONPATH=src:benchmarks python benchmarks/mmm_transforms.py --seeds 1,2,3
--out /tmp/transforms.jsonl`` fits each variant (:data:`VARIANTS`) on each mixed-transform
world (156 weeks, 7 channels of the simulator's ``"mixed"`` preset, controls price and
promotion) and appends one JSON line per fit; ``--table FILE [FILE ...]`` writes the
``mmm_transforms`` section of RESULTS.md from such files (one row per variant with means
over seeds, one row per variant and seed, and per-channel ROI errors); ``--check FILE ..``
adds fits on more seeds as a second table (per seed, and means over every seed).

Variants, on top of the default spec:

* ``default``: delayed adstock and Hill saturation for every channel;
* ``matched``: each channel's adstock and saturation of the simulator's true kind
  (:func:`matched_transforms`, read from the world's ``channel_params``), with the
  components' default configuration and priors;
* ``geometric-logistic``: geometric adstock and logistic saturation for every channel
  (PyMC-Marketing's default form), default priors.

Fits run one after the other in this process; wall and CPU seconds are those of the fit
call (building, compiling, sampling, diagnostics; CPU = this process's user + system time,
all its threads).
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
from mmm_variants import per_channel_lines
from peers.mmm_pymc_marketing import score

#: Variant name -> description.
VARIANTS: dict[str, str] = {
    "default": "delayed adstock + Hill for every channel (the default spec)",
    "matched": "each channel's true adstock and saturation kind, default configuration and priors",
    "geometric-logistic": "geometric adstock + logistic saturation for every channel "
    "(PyMC-Marketing's default form)",
}

WEEKS, N_CHANNELS, CONTROLS = 156, 7, ("price", "promotion")


def world_config() -> Any:
    """The mixed-transform world of this benchmark."""
    from mixlens.data.simulate.mmm import MMMWorldConfig
    from mixlens.data.simulate.mmm_channels import preset_channels

    return MMMWorldConfig(
        weeks=WEEKS, n_channels=N_CHANNELS, channels=preset_channels("mixed", N_CHANNELS)
    )


def matched_transforms(channel_params: Any) -> tuple[dict[str, Any], dict[str, Any], list[str]]:
    """Per-channel adstock and saturation of the true kinds, and notes on ``l_max``.

    ``channel_params`` is the simulator's truth table (``channel, adstock, saturation,
    l_max_weekly``). Components keep their default configuration and priors, except that
    an adstock kind's ``l_max`` becomes the longest true kernel of its channels where that
    is longer than the component's default (one configuration per kind).
    """
    from mixlens.mmm.components import ADSTOCK_KINDS, SATURATION_KINDS

    notes: list[str] = []
    adstock_kinds: dict[str, Any] = {}
    for kind, rows in channel_params.groupby("adstock", sort=False):
        default = ADSTOCK_KINDS[str(kind)]()
        longest = int(rows["l_max_weekly"].max())
        if longest > default.l_max:
            adstock_kinds[str(kind)] = ADSTOCK_KINDS[str(kind)](l_max=longest)
            notes.append(
                f"{kind} l_max {longest} (true kernel of "
                f"{', '.join(rows.loc[rows['l_max_weekly'] == longest, 'channel'])}; "
                f"component default {default.l_max})"
            )
        else:
            adstock_kinds[str(kind)] = default
    adstock = {str(r.channel): adstock_kinds[str(r.adstock)] for r in channel_params.itertuples()}
    saturation = {
        str(r.channel): SATURATION_KINDS[str(r.saturation)]() for r in channel_params.itertuples()
    }
    return adstock, saturation, notes


def spec_for(variant: str, world: Any) -> tuple[Any, list[str]]:
    """The :class:`~mixlens.mmm.MMMSpec` of ``variant`` on ``world``, and notes."""
    from mixlens.mmm import MMMSpec
    from mixlens.mmm.components import GeometricAdstock, LogisticSaturation

    channels = tuple(world.roi["channel"])
    if variant == "default":
        return MMMSpec(channels=channels, controls=CONTROLS), []
    if variant == "matched":
        adstock, saturation, notes = matched_transforms(world.channel_params)
        spec = MMMSpec(channels=channels, controls=CONTROLS, adstock=adstock, saturation=saturation)
        return spec, notes
    if variant == "geometric-logistic":
        spec = MMMSpec(
            channels=channels,
            controls=CONTROLS,
            adstock=GeometricAdstock(),
            saturation=LogisticSaturation(),
        )
        return spec, []
    raise ValueError(f"unknown variant {variant!r}; known: {', '.join(VARIANTS)}")


def run_one(variant: str, seed: int, draws: int, tune: int, chains: int) -> dict[str, Any]:
    """Fit one variant on one world; ROI, mROI and contribution recovery, fit and timing."""
    from mixlens.data.simulate.mmm import simulate_mmm
    from mixlens.mmm import MMM

    world = simulate_mmm(world_config(), seed=seed)
    spec, notes = spec_for(variant, world)
    load0 = os.getloadavg()[0]
    cpu0, started = time.process_time(), time.perf_counter()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        result = MMM(spec).fit(
            world.weekly_channel, draws=draws, tune=tune, chains=chains, seed=seed
        )
    fit_s, cpu_s = time.perf_counter() - started, time.process_time() - cpu0
    load1 = os.getloadavg()[0]
    fitted = result.predict(world.weekly_channel, seed=seed)
    obs, mean = fitted["actual"].to_numpy(float), fitted["mean"].to_numpy(float)
    r2 = 1 - ((obs - mean) ** 2).sum() / ((obs - obs.mean()) ** 2).sum()
    roi = result.roi()
    names = list(spec.channels)
    weekly = result.contributions().pivot(index="date", columns="component", values="mean")
    weekly_truth = world.weekly_contributions.pivot(
        index="date", columns="component", values="contribution"
    )
    by_channel = roi.set_index("channel")
    res = {
        "roi": {n: by_channel.loc[n, ["roi_mean", "roi_lo", "roi_hi"]].tolist() for n in names},
        "mroi": {n: by_channel.loc[n, ["mroi_mean", "mroi_lo", "mroi_hi"]].tolist() for n in names},
        "weekly": {n: weekly[n].tolist() for n in names},
    }
    scores = score(res, world.roi.set_index("channel"), weekly_truth)
    total = result.media_total()
    true_total = float(world.roi["contribution"].sum())
    d = result.diagnostics
    return {
        "variant": variant,
        "seed": seed,
        "notes": notes,
        "fit_s": fit_s,
        "cpu_s": cpu_s,
        "load": (load0 + load1) / 2,
        "load_range": [load0, load1],
        "peak_rss_mib": peak_rss_mib(),
        "max_rhat": d.max_rhat,
        "min_ess_bulk": d.min_ess_bulk,
        "divergences": d.divergences,
        "r2": float(r2),
        "channels": len(names),
        "corr": scores["corr"],
        "mroi_err": scores["mroi_err"],
        "mroi_covered": scores["mroi_covered"],
        "total_err": abs(total["mean"] - true_total) / true_total,
        "total_covered": bool(total["lo"] <= true_total <= total["hi"]),
        **roi_scores(roi, world.roi),
    }


_HEADER = (
    "| variant | seeds | ROI error mean | spend-weighted | 90% coverage | median width / ROI "
    "| weekly corr | mROI error | mROI coverage | media total error (covered) | R² "
    "| divergences | max R-hat | fit wall s | fit CPU s | load |"
)
_RULE = "|---|---|" + "---:|" * 14


def _row(label: str, rows: list[dict[str, Any]]) -> str:
    def avg(key: str) -> float:
        return float(np.mean([float(r[key]) for r in rows]))

    seeds = ",".join(str(r["seed"]) for r in rows)
    cov = sum(r["covered"] for r in rows)
    mcov = sum(r["mroi_covered"] for r in rows)
    tot = sum(r["channels"] for r in rows)
    total_cov = sum(r["total_covered"] for r in rows)
    loads = [x for r in rows for x in r["load_range"]]
    return (
        f"| {label} | {seeds} | {avg('roi_err_mean'):.2f} | {avg('roi_err_weighted'):.2f} "
        f"| {cov}/{tot} | {avg('width_median'):.2f} | {avg('corr'):.3f} | {avg('mroi_err'):.2f} "
        f"| {mcov}/{tot} | {avg('total_err'):.2f} ({total_cov}/{len(rows)}) | {avg('r2'):.3f} "
        f"| {avg('divergences'):.1f} | {max(r['max_rhat'] for r in rows):.3f} "
        f"| {avg('fit_s'):.0f} | {avg('cpu_s'):.0f} | {min(loads):.1f}-{max(loads):.1f} |"
    )


def _read(files: list[str]) -> list[dict[str, Any]]:
    return [json.loads(line) for f in files for line in Path(f).read_text().splitlines() if line]


def _table(files: list[str], note: str, check: list[str] | None = None) -> str:
    rows = _read(files)
    settings = rows[0].get("settings", "")
    notes = sorted({n for r in rows for n in r["notes"]})
    lines = [
        f"Simulator worlds with the `mixed` transform preset ({WEEKS} weeks, {N_CHANNELS} "
        "channels: every channel's true adstock is delayed, geometric or Weibull and its "
        "saturation Hill or logistic, `mixed_transform_channels`), controls price and "
        f"promotion; NUTS via nutpie ({settings}), one fit at a time. Variants: "
        + "; ".join(f"`{v}` = {d}" for v, d in VARIANTS.items())
        + (f" (`matched`: {'; '.join(notes)})" if notes else "")
        + ". ROI error = |posterior mean - true| / true per channel (plain mean, "
        "spend-weighted); coverage = channels whose 90% interval holds the true ROI; width = "
        "median over channels of the 90% interval width / true ROI; weekly corr = mean over "
        "channels of the correlation of the posterior-mean weekly contribution with the "
        "truth; mROI error and coverage likewise against the simulator's marginal ROI; media "
        "total error = |posterior mean - true| / true of all channels' total contribution "
        "(fits whose 90% interval holds it); R² of the posterior-mean fit in sample. Wall "
        "and CPU s of the fit call (build, compile, sample, diagnostics; CPU = user + system "
        "of the process, all threads); load = 1-minute load average at the fits' starts and "
        "ends (2 shared cores).",
        "",
        "Means over seeds:",
        "",
        _HEADER,
        _RULE,
    ]
    variants = list(dict.fromkeys(r["variant"] for r in rows))
    for v in variants:
        lines.append(_row(v, [r for r in rows if r["variant"] == v]))
    lines += ["", "Per seed:", "", _HEADER, _RULE]
    for v in variants:
        for r in rows:
            if r["variant"] == v:
                lines.append(_row(v, [r]))
    channels = list(rows[0]["per_channel"])
    lines += [
        "",
        "Per-channel ROI error (mean over seeds) and coverage; true kinds in the header:",
        "",
        "| variant | " + " | ".join(channels) + " |",
        "|---|" + "---:|" * len(channels),
    ]
    kinds = rows[0].get("kinds", {})
    if kinds:
        lines.append("| (truth) | " + " | ".join(kinds[c] for c in channels) + " |")
    lines += per_channel_lines(rows, variants, channels)
    if check:
        extra = _read(check)
        both = rows + extra
        seeds = ", ".join(str(s) for s in sorted({r["seed"] for r in extra}))
        lines += [
            "",
            f"**Check on more worlds**: the same fits on seeds {seeds}, per seed, then means "
            "over all seeds:",
            "",
            _HEADER,
            _RULE,
        ]
        for v in variants:
            lines += [_row(v, [r]) for r in extra if r["variant"] == v]
        for v in variants:
            lines.append(_row(v, [r for r in both if r["variant"] == v]))
    if note:
        lines += ["", note]
    return "\n".join(lines)


def main() -> None:
    """Command line entry point (see the module docstring)."""
    parser = argparse.ArgumentParser()
    parser.add_argument("--variants", default=",".join(VARIANTS))
    parser.add_argument("--seeds", default="1,2,3")
    parser.add_argument("--draws", type=int, default=1000)
    parser.add_argument("--tune", type=int, default=1000)
    parser.add_argument("--chains", type=int, default=4)
    parser.add_argument("--out", default="/tmp/mmm_transforms.jsonl")
    parser.add_argument("--table", nargs="+", metavar="FILE")
    parser.add_argument("--note", default="")
    parser.add_argument("--check", nargs="+", metavar="FILE", help="fits on more seeds (--table)")
    args = parser.parse_args()
    if args.table:
        body = _table(args.table, args.note, args.check)
        rows = _read(args.table)
        first = rows[0]
        variants = ",".join(dict.fromkeys(r["variant"] for r in rows))

        def seeds(rows: list[dict[str, Any]]) -> str:
            return ",".join(str(s) for s in sorted({r["seed"] for r in rows}))

        command = (
            f"PYTHONPATH=src:benchmarks python benchmarks/mmm_transforms.py --variants "
            f"{variants} --seeds {seeds(rows)} --chains {first['chains']} --draws "
            f"{first['draws']} --tune {first['tune']} --out A"
        )
        if args.check:
            command += f"; the same with --seeds {seeds(_read(args.check))} --out B"
        command += "; then --table A" + (" --check B" if args.check else "")
        update_section("mmm_transforms", body, command=command)
        sys.stdout.write(body + "\n")
        return
    from mixlens.data.simulate.mmm import simulate_mmm

    settings = f"{args.chains} chains x {args.draws} draws after {args.tune} tuning steps"
    for seed in (int(s) for s in args.seeds.split(",")):
        params = simulate_mmm(world_config(), seed=seed).channel_params
        kinds = {str(r.channel): f"{r.adstock}/{r.saturation}" for r in params.itertuples()}
        for variant in args.variants.split(","):
            row = run_one(variant, seed, args.draws, args.tune, args.chains)
            row.update(
                settings=settings,
                chains=args.chains,
                draws=args.draws,
                tune=args.tune,
                kinds=kinds,
            )
            with open(args.out, "a") as handle:
                handle.write(json.dumps(row) + "\n")
            sys.stdout.write(
                f"{variant} seed {seed}: err {row['roi_err_mean']:.2f} / "
                f"{row['roi_err_weighted']:.2f}, cov {row['covered']}/{row['channels']}, "
                f"corr {row['corr']:.3f}, R2 {row['r2']:.3f}, div {row['divergences']}, "
                f"rhat {row['max_rhat']:.3f}, {row['fit_s']:.0f} s wall, {row['cpu_s']:.0f} s "
                f"CPU, load {row['load']:.1f}\n"
            )
            sys.stdout.flush()


if __name__ == "__main__":
    main()
