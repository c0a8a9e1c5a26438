"""Markov parity: ChannelAttribution's simulated credit converges to mixlens's exact credit.

ChannelAttribution (CA) estimates removal effects by simulating paths through the fitted chain;
mixlens solves the same chain exactly. CA's ``markov_model`` simulates ``nsim_start / nfold``
paths in each of ``nfold`` folds (default 10; fold ``r`` uses random stream ``seed + r``), grows
``nsim_start`` by ``rate_step_sim`` until the folds agree within ``conv_par``, and returns the
one fold closest to the fold median: a run at the issue's setting (``nsim_start=1e6``) is an
estimate from about 1e5 simulated paths, and runs with seeds closer than ``nfold`` share
streams. With ``nfold=1`` one run is one estimate from ``nsim_start`` paths, which lets the
simulation size grow until CA's own noise is far below 1%.

For each path table and order this script runs CA (in its own environment, through this
script's ``--ca-worker`` mode; results cached in ``--data-dir``) at the issue's setting over
independent seeds, and with ``nfold=1`` at growing simulation sizes, and compares the mean of
CA's runs with mixlens's exact credit: unlimited (mixlens's default) and cut at CA's
``max_step`` (the longest observed path in states plus one; mixlens ``max_step=``).

    .venv/bin/python benchmarks/peers/mta_markov_parity.py [--big 1e8] [--orders 1,2,3]
    benchmarks/.envs/channelattribution/bin/python benchmarks/peers/mta_markov_parity.py \
        --ca-worker PATHS.csv JOBS.json OUT.jsonl
"""

from __future__ import annotations

import argparse
import contextlib
import io
import json
import math
import os
import re
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import pandas as pd

ROOT = Path(__file__).resolve().parents[2]
CA_ENV = ROOT / "benchmarks" / ".envs" / "channelattribution" / "bin" / "python"
CA_SAMPLE = ROOT.parent / "shared" / "data" / "external" / "channelattribution" / "Data.csv"
SPEC_SEEDS = (0, 10, 20, 30, 40)
"""Seeds of the issue-setting runs: 10 apart, so their 10 fold streams do not overlap."""
CALIBRATION = (100_000, tuple(range(100, 120)))
"""Simulation size and seeds of the runs that measure CA's noise per simulated path (20 runs,
seeds apart from every other run's)."""
MIN_SHARE = 0.01
"""Channels below this share of the conversions are left out of the max-over-channels cells."""

Job = tuple[int, int, int, int]
"""(order, nsim_start, nfold, seed) of one CA ``markov_model`` run."""


def ca_worker(paths: Path, jobs: list[Job], out: Path) -> None:
    """CA side (run in CA's environment): run every job not yet in ``out`` (JSON lines)."""
    with contextlib.redirect_stdout(io.StringIO()):  # its import prints a banner
        import ChannelAttribution as ca  # type: ignore[import-not-found]

    done = {tuple(json.loads(line)["job"]) for line in _lines(out)}
    data = pd.read_csv(paths)
    for job in jobs:
        if tuple(job) in done:
            continue
        order, nsim, nfold, seed = job
        log = io.StringIO()
        t = time.perf_counter()
        with contextlib.redirect_stdout(log):
            res = ca.markov_model(
                data,
                "path",
                "total_conversions",
                var_value="total_conversion_value",
                var_null="total_null",
                order=order,
                nsim_start=nsim,
                conv_par=0.01,
                nfold=nfold,
                seed=seed,
                ncore=1,
                sep=">",
                verbose=True,
                flg_pro=False,
            )
        seconds = time.perf_counter() - t
        text = log.getvalue()
        steps = re.search(r"maximum number of steps \((\d+)\)", text)
        sims = [int(x) for x in re.findall(r"Number of simulations: (\d+)", text)]
        row = {
            "job": list(job),
            "seconds": seconds,
            "max_step": int(steps.group(1)) if steps else None,
            "nsim_final": sims[-1] if sims else nsim,
            "iterations": len(sims),
            "load": os.getloadavg()[0],
            "conv": _named(res, "total_conversions"),
            "value": _named(res, "total_conversion_value"),
        }
        with out.open("a") as fh:
            fh.write(json.dumps(row) + "\n")


def ca_transitions(paths: Path, orders: list[int], out: Path) -> None:
    """CA side: its fitted transition matrix per order (``out_more=True``), states renamed.

    CA labels a state by its channels' integer codes (first appearance in the table, from 1)
    joined by spaces; they are mapped back to names joined by ``" > "`` as mixlens labels them.
    """
    with contextlib.redirect_stdout(io.StringIO()):
        import ChannelAttribution as ca

    data = pd.read_csv(paths)
    codes: dict[str, str] = {}
    for path in data["path"]:
        for token in str(path).split(">"):
            name = token.strip()
            if name and name not in codes.values():
                codes[str(len(codes) + 1)] = name
    result = {}
    for order in orders:
        with contextlib.redirect_stdout(io.StringIO()):
            res = ca.markov_model(
                data,
                "path",
                "total_conversions",
                var_value="total_conversion_value",
                var_null="total_null",
                order=order,
                nsim_start=1000,
                nfold=1,
                seed=0,
                out_more=True,
                verbose=False,
                flg_pro=False,
            )
        tm = res["transition_matrix"]

        def label(s: str) -> str:
            return s if s.startswith("(") else " > ".join(codes[c] for c in s.split(" "))

        result[str(order)] = [
            [label(a), label(b), float(x)]
            for a, b, x in zip(
                tm["channel_from"], tm["channel_to"], tm["transition_probability"], strict=True
            )
        ]
    out.write_text(json.dumps(result))


def compare_transitions(paths: Path, order: int, theirs: list[list[Any]]) -> dict[str, Any]:
    """mixlens's :func:`markov_transitions` against CA's transition matrix."""
    from mixlens.data.loaders import load_paths
    from mixlens.mta import JourneyTable, markov_transitions

    mine = markov_transitions(JourneyTable.from_paths(load_paths(paths)), order=order)
    ours = {(str(a), str(b)): float(x) for a, b, x in mine[["from", "to", "probability"]].values}
    ca = {(str(a), str(b)): float(x) for a, b, x in theirs}
    keys = set(ours) | set(ca)
    return {
        "ours": len(ours),
        "theirs": len(ca),
        "only_one": len(set(ours) ^ set(ca)),
        "max_diff": max(abs(ours.get(k, 0.0) - ca.get(k, 0.0)) for k in keys),
    }


def _named(res: pd.DataFrame, column: str) -> dict[str, float]:
    return {str(c): float(x) for c, x in zip(res["channel_name"], res[column], strict=True)}


def _lines(file: Path) -> list[str]:
    return [x for x in file.read_text().splitlines() if x.strip()] if file.exists() else []


def paths_per_run(row: dict[str, Any]) -> int:
    """Simulated paths behind one CA result: one fold, over all convergence iterations.

    Each iteration re-seeds the folds, so a later iteration repeats the earlier paths and adds
    new ones; the distinct paths are those of the last iteration.
    """
    _, _, nfold, _ = row["job"]
    return int(row["nsim_final"]) // int(nfold)


def mixlens_exact(paths: Path, order: int, max_step: str | None) -> dict[str, Any]:
    """Exact mixlens credit (conversions and value per channel) and its meta.

    ``max_step="observed"`` cuts the chain as CA's default does; None leaves it uncut.
    """
    from mixlens.data.loaders import load_paths
    from mixlens.mta import JourneyTable, markov_attribution

    jt = JourneyTable.from_paths(load_paths(paths))
    res = markov_attribution(jt, order=order, max_step="observed" if max_step else None)
    frame = res.credit
    return {
        "conv": dict(zip(frame["channel"], map(float, frame["conversions"]), strict=True)),
        "value": dict(zip(frame["channel"], map(float, frame["value"]), strict=True)),
        "meta": {
            "max_path_states": int(res.meta["max_path_states"]),
            "max_step": res.meta["max_step"],
            "p_conversion": float(res.meta["p_conversion"]),
        },
    }


def compare(
    runs: list[dict[str, Any]],
    exact: dict[str, float],
    key: str,
    unit_sd: dict[str, float] | None = None,
) -> dict[str, float]:
    """CA runs versus ``exact``, over channels holding >= ``MIN_SHARE`` of the credit.

    Returns ``dev``: the largest |mean of runs - exact| / exact; ``sd``: the largest
    run-to-run standard deviation relative to the mean; ``z``: the largest |mean - exact| /
    (sd / sqrt(runs)), or with ``unit_sd`` (a channel's sd for one simulated path, see
    :func:`pooled_unit_sd`) over the standard error ``unit_sd / sqrt(paths * runs)``;
    ``one``: the median over runs of the largest |exact - run| / run (how far mixlens is from
    a single CA run); ``pair``: the median over pairs of runs of the largest |run_i - run_j| /
    run_j (how far one CA run is from another); ``dev_all``: ``dev`` over every channel.
    Spread statistics are nan for a single run.
    """
    total = sum(exact.values())
    big = [ch for ch, x in exact.items() if x >= MIN_SHARE * total]
    k = len(runs)
    out = {"dev": 0.0, "sd": math.nan, "z": math.nan, "dev_all": 0.0}
    sds, zs = [], []
    for ch, x in exact.items():
        xs = [r[key].get(ch, 0.0) for r in runs]
        mean = sum(xs) / k
        dev = abs(mean - x) / x if x else (math.inf if mean else 0.0)
        out["dev_all"] = max(out["dev_all"], dev)
        if ch not in big:
            continue
        out["dev"] = max(out["dev"], dev)
        if k > 1:
            sd = math.sqrt(sum((v - mean) ** 2 for v in xs) / (k - 1))
            sds.append(sd / mean)
        if unit_sd is not None:
            se = unit_sd[ch] / math.sqrt(sum(paths_per_run(r) for r in runs))
        else:
            se = sd / math.sqrt(k) if k > 1 else math.nan
        if not math.isnan(se):
            zs.append(abs(mean - x) / se if se > 0 else math.inf)
    if sds:
        out["sd"] = max(sds)
    if zs:
        out["z"] = max(zs)

    def worst(a: dict[str, float], b: dict[str, float]) -> float:
        return max(abs(a.get(ch, 0.0) - b[ch]) / b[ch] for ch in big if b.get(ch))

    one = sorted(worst(exact, r[key]) for r in runs)
    pairs = sorted(worst(a[key], b[key]) for i, a in enumerate(runs) for b in runs[i + 1 :])
    out["one"] = _median(one)
    out["pair"] = _median(pairs) if pairs else math.nan
    return out


def pooled_unit_sd(groups: list[list[dict[str, Any]]], key: str) -> dict[str, float] | None:
    """Per channel, CA's standard deviation for one simulated path, pooled over groups.

    A run of N independent simulated paths has sd ``unit_sd / sqrt(N)``; each group (runs of
    one N, at least two) gives ``N * var`` with ``runs - 1`` degrees of freedom.
    """
    num: dict[str, float] = {}
    dof = 0
    for runs in groups:
        k = len(runs)
        if k < 2:
            continue
        n = paths_per_run(runs[0])
        for ch in runs[0][key]:
            xs = [r[key].get(ch, 0.0) for r in runs]
            mean = sum(xs) / k
            num[ch] = num.get(ch, 0.0) + n * sum((v - mean) ** 2 for v in xs)
        dof += k - 1
    return {ch: math.sqrt(v / dof) for ch, v in num.items()} if dof else None


def _median(xs: list[float]) -> float:
    n = len(xs)
    return xs[n // 2] if n % 2 else (xs[n // 2 - 1] + xs[n // 2]) / 2


def jobs_for(orders: list[int], big: int, big_orders: list[int]) -> list[Job]:
    """CA runs, cheap ones first and order 1's ladder early: a cut-short run (results are
    cached per run) still gives whole rows of the table."""
    jobs: list[Job] = [(k, 1_000_000, 10, s) for k in orders for s in SPEC_SEEDS]
    jobs += [(k, CALIBRATION[0], 1, s) for k in orders for s in CALIBRATION[1]]
    jobs += [(k, 1_000_000, 1, s) for k in orders for s in range(4)]
    for k in sorted(orders, key=lambda k: (k not in big_orders, k)):
        jobs += [(k, 10_000_000, 1, s) for s in range(3)]
        if big and k in big_orders:
            jobs += [(k, big, 1, s) for s in range(2)]
    return jobs


def run_ca(paths: Path, jobs: list[Job], out: Path) -> None:
    """Run :func:`ca_worker` in CA's environment (skips jobs already cached in ``out``)."""
    spec = out.with_suffix(".jobs.json")
    spec.write_text(json.dumps(jobs))
    cmd = [str(CA_ENV), __file__, "--ca-worker", str(paths), str(spec), str(out)]
    subprocess.run(cmd, check=True)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--ca-worker", nargs=3, type=Path, metavar=("PATHS", "JOBS", "OUT"))
    parser.add_argument("--ca-transitions", nargs=2, type=Path, metavar=("PATHS", "OUT"))
    parser.add_argument("--orders", default="1,2,3,4")
    parser.add_argument("--big", type=float, default=4e7, help="largest nfold=1 simulation")
    parser.add_argument("--big-orders", default="1,2,3", help="orders run at --big")
    parser.add_argument("--users", type=int, default=100_000)
    parser.add_argument("--skip-ca", action="store_true", help="table from cached CA runs only")
    parser.add_argument(
        "--data-dir", type=Path, default=Path(tempfile.gettempdir()) / "mixlens_peers"
    )
    args = parser.parse_args()
    if args.ca_transitions:
        src, dst = args.ca_transitions
        ca_transitions(src, [int(k) for k in args.orders.split(",")], dst)
        return
    if args.ca_worker:
        src, spec, out = args.ca_worker
        ca_worker(src, [tuple(j) for j in json.loads(spec.read_text())], out)
        return
    sys.path.insert(0, str(ROOT / "benchmarks"))
    sys.path.insert(0, str(Path(__file__).parent))
    from mta_channelattribution import simulate

    orders = [int(k) for k in args.orders.split(",")]
    big_orders = [int(k) for k in args.big_orders.split(",")]
    args.data_dir.mkdir(parents=True, exist_ok=True)
    cases: list[tuple[str, Path]] = []
    if CA_SAMPLE.exists():
        sample = args.data_dir / "ca_sample.csv"
        pd.read_csv(CA_SAMPLE, sep=";").to_csv(sample, index=False)
        cases.append(("ChannelAttribution Data.csv", sample))
    sim, _ = simulate(args.users, args.data_dir)
    cases.append((f"simulated {args.users:,} users", sim))
    jobs = jobs_for(orders, int(args.big), big_orders)
    load = [os.getloadavg()[0]]
    blocks = []
    for name, paths in cases:
        cache = args.data_dir / f"parity_{paths.parent.name}_{paths.stem}.jsonl"
        if not args.skip_ca:
            if not CA_ENV.exists():
                sys.exit("ChannelAttribution environment missing: bash benchmarks/peers/setup.sh")
            sys.stderr.write(f"[mta parity] {name}: {len(jobs)} CA runs (cached: {cache})\n")
            run_ca(paths, jobs, cache)
            load.append(os.getloadavg()[0])
        tm_file = cache.with_suffix(".transitions.json")
        if CA_ENV.exists() and (not args.skip_ca or not tm_file.exists()):
            cmd = [str(CA_ENV), __file__, "--ca-transitions", str(paths), str(tm_file)]
            subprocess.run([*cmd, "--orders", args.orders], check=True)
        transitions = json.loads(tm_file.read_text()) if tm_file.exists() else {}
        rows = [json.loads(x) for x in _lines(cache)]
        blocks.append((name, paths, rows, transitions))
    body = report(blocks, orders, load)
    sys.stdout.write(body + "\n")
    from _results import update_section

    update_section(
        "mta_markov_parity", body, command="python benchmarks/peers/mta_markov_parity.py"
    )


Block = tuple[str, Path, list[dict[str, Any]], dict[str, list[list[Any]]]]
"""(name, path table, CA runs, CA transition matrices by order) of one path table."""


def report(blocks: list[Block], orders: list[int], load: list[float]) -> str:
    """Markdown: convergence table, truncation effect, per-channel detail."""
    lines = [
        "ChannelAttribution 2.2.5 `markov_model` (`var_null='total_null'`, `conv_par=0.01`, "
        "`ncore=1`, value from `total_conversion_value`, default `max_step`) against mixlens's "
        "exact Markov credit on the same path table. `CA run`: `spec` is the issue's setting "
        "(`nsim_start=1e6`, default `nfold=10`), whose result is one fold of about 1e5 "
        "simulated paths, more when its convergence loop grows `nsim_start` (seeds "
        f"{', '.join(map(str, SPEC_SEEDS))}: 10 apart, so no fold stream is shared); "
        "`nfold=1, N` runs are one estimate from N simulated paths each (seeds 0, 1, ...). "
        f"Every cell is the largest over the channels holding >= {MIN_SHARE:.0%} of the "
        "conversions, by conversions (by value in brackets): `CA sd` the run-to-run standard "
        "deviation relative to the mean (CA's noise in one run); `mixlens vs one CA run` "
        "|mixlens - run| / run, median over the runs; `CA run vs CA run` the same between "
        "two CA runs, median over pairs; `CA mean vs mixlens` |mean of the runs - mixlens| / "
        "mixlens; `max abs z` that difference in standard errors of the mean, which "
        "simulation noise alone keeps at about 2 or less (over up to 10 channels, rarely above "
        "3): for `nfold=1` rows the standard error is s / sqrt(paths per run x runs), with s "
        "one simulated path's sd, measured per channel from the 20 runs of 1e5 paths "
        f"(seeds {CALIBRATION[1][0]}-{CALIBRATION[1][-1]}, no stream shared with another "
        "row; a run of N independent paths has sd s / sqrt(N)); for `spec` rows sd / "
        "sqrt(runs). Rows of one table and order share seeds 0, 1, ..., so a bigger run "
        "repeats a smaller one's paths as its first ones. "
        "`all channels` is `CA mean vs mixlens` over every "
        "channel, the tiny ones (a few conversions) included.",
        "",
        "| path table | order | CA run | runs | paths per run | CA sd | mixlens vs one CA run "
        "| CA run vs CA run | CA mean vs mixlens | max abs z | all channels | mean within 1% |",
        "|---|---:|---|---:|---:|---:|---:|---:|---:|---:|---:|---|",
    ]
    trunc_lines: list[str] = []
    detail: list[str] = []
    tm_lines: list[str] = []
    stats: list[Stat] = []
    for name, paths, rows, transitions in blocks:
        for k in orders:
            if str(k) in transitions:
                t = compare_transitions(paths, k, transitions[str(k)])
                tm_lines.append(
                    f"| {name} | {k} | {t['theirs']:,} | {t['ours']:,} | {t['only_one']} "
                    f"| {t['max_diff']:.1e} |"
                )
            mine = [r for r in rows if r["job"][0] == k]
            if not mine:
                continue
            exact = mixlens_exact(paths, k, None)
            exact_cut = mixlens_exact(paths, k, "observed")
            cut = exact_cut["meta"]["max_step"]
            ca_cut = {r["max_step"] for r in mine}
            trunc = max(
                abs(exact_cut["conv"][c] - x) / x for c, x in exact["conv"].items() if x > 0
            )
            trunc_lines.append(
                f"| {name} | {k} | {exact['meta']['max_path_states']} | {cut} "
                f"| {', '.join(map(str, sorted(ca_cut)))} | {trunc:.1e} |"
            )
            groups: dict[tuple[int, int], list[dict[str, Any]]] = {}
            for r in mine:
                groups.setdefault((r["job"][1], r["job"][2]), []).append(r)
            calib = groups.get((CALIBRATION[0], 1), [])
            sims = [calib] if len(calib) > 2 else [g for (_, f), g in groups.items() if f == 1]
            unit = {key: pooled_unit_sd(sims, key) for key in ("conv", "value")}
            for (nsim, nfold), runs in sorted(groups.items(), key=lambda g: (-g[0][1], g[0][0])):
                pooled = nfold == 1 and unit["conv"] is not None
                c = compare(runs, exact["conv"], "conv", unit["conv"] if pooled else None)
                v = compare(runs, exact["value"], "value", unit["value"] if pooled else None)
                setting = "spec" if nfold == 10 and nsim == 1_000_000 else f"nfold=1, {nsim:.0e}"
                ppr = sorted({paths_per_run(r) for r in runs})
                ppr_txt = f"{ppr[0]:.2g}" if len(ppr) == 1 else f"{ppr[0]:.2g}-{ppr[-1]:.2g}"
                ok = "yes" if max(c["dev"], v["dev"]) <= 0.01 else "**no**"
                stats.append((name, k, setting, nsim, c, v))
                lines.append(
                    f"| {name} | {k} | {setting} | {len(runs)} | {ppr_txt} "
                    f"| {_pct(c['sd'])} ({_pct(v['sd'])}) | {_pct(c['one'])} ({_pct(v['one'])}) "
                    f"| {_pct(c['pair'])} ({_pct(v['pair'])}) "
                    f"| {_pct(c['dev'])} ({_pct(v['dev'])}) | {c['z']:.1f} ({v['z']:.1f}) "
                    f"| {_pct(c['dev_all'])} ({_pct(v['dev_all'])}) | {ok} |"
                )
            if k == 1 and not detail:
                detail = channel_detail(name, exact, exact_cut, cut, groups)
    lines[1:1] = ["", *summary(stats)]
    lines += [
        "",
        "The fitted chains are the same: CA's transition matrix (`markov_model(..., "
        "out_more=True)`, states relabelled from its channel codes) against mixlens's "
        "`markov_transitions` (null handling as `var_null`, repeated states merged, states of "
        "`order` channels, a path shorter than `order` one state):",
        "",
        "| path table | order | CA transitions | mixlens transitions | in one only "
        "| largest probability difference |",
        "|---|---:|---:|---:|---:|---:|",
        *tm_lines,
        "",
        "CA cuts every simulated path after `max_step` channel states (default: the longest "
        "observed path in states plus one) and counts a cut path as not converting; mixlens's "
        'default is the uncut chain, and `markov_attribution(..., max_step="observed")` '
        "computes CA's cut chain exactly (N sparse products; `max_step=N` for any N). The cut "
        "moves a channel's credit by at most (relative change; `CA max_step` as CA's verbose "
        "output reports it):",
        "",
        "| path table | order | longest path (states) | mixlens max_step | CA max_step "
        "| largest relative credit change |",
        "|---|---:|---:|---:|---:|---:|",
        *trunc_lines,
        *detail,
        "",
        f"1-minute load average {min(load):.1f} to {max(load):.1f} when this table was "
        f"written; {run_load_note(blocks)} CA's runs are cached one by one in `--data-dir`. "
        "No timings are reported here: accuracy figures do not depend on load.",
    ]
    return "\n".join(lines)


Stat = tuple[str, int, str, int, dict[str, float], dict[str, float]]
"""(table, order, CA setting, nsim_start, conversions comparison, value comparison)."""


def run_load_note(blocks: list[Block]) -> str:
    """The load average recorded at the end of each CA run, where recorded."""
    loads = [r["load"] for b in blocks for r in b[2] if "load" in r]
    runs = sum(len(b[2]) for b in blocks)
    if not loads:
        return "the CA runs did not record it (older cache)."
    return (
        f"{len(loads)} of {runs} CA runs recorded it at their end: {min(loads):.1f} to "
        f"{max(loads):.1f}."
    )


def summary(stats: list[Stat]) -> list[str]:
    """Markdown bullets: per table and order, the issue's setting against CA's largest run."""
    out = ["Summary (channels holding >= 1% of the conversions; value in brackets):", ""]
    spec_one, spec_pair, big_dev = [], [], []
    for name, k in dict.fromkeys((s[0], s[1]) for s in stats):
        mine = [s for s in stats if (s[0], s[1]) == (name, k)]
        spec = next((s for s in mine if s[2] == "spec"), None)
        big = max((s for s in mine if s[2] != "spec"), key=lambda s: s[3], default=None)
        if spec is None or big is None:
            continue
        sc, sv, bc, bv = spec[4], spec[5], big[4], big[5]
        spec_one.append(sc["one"])
        spec_pair.append(sc["pair"])
        big_dev.append(max(bc["dev"], bv["dev"]))
        out.append(
            f"- {name}, order {k}: at the issue's setting mixlens is {_pct(sc['one'])} "
            f"({_pct(sv['one'])}) from a CA run, CA runs {_pct(sc['pair'])} "
            f"({_pct(sv['pair'])}) from each other; with {big[3]:.0e} simulated paths per "
            f"run CA's mean is {_pct(bc['dev'])} ({_pct(bv['dev'])}) from mixlens, its "
            f"run-to-run sd {_pct(bc['sd'])} ({_pct(bv['sd'])})."
        )
    if big_dev:
        out += [
            "",
            f"Over every table and order, CA's mean at its largest simulation lies within "
            f"{_pct(max(big_dev))} of mixlens's exact credit on every channel holding >= 1%, "
            "by conversions and by value, and the gap shrinks with CA's own noise. At the "
            "issue's setting (one CA run from about 1e5 simulated paths) a single run is a "
            f"noisy target: two CA runs differ by {_pct(min(spec_pair))} to "
            f"{_pct(max(spec_pair))} (median over pairs), mixlens differs from a run by "
            f"{_pct(min(spec_one))} to {_pct(max(spec_one))} (less than CA from itself in "
            f"{sum(a < b for a, b in zip(spec_one, spec_pair, strict=True))} of "
            f"{len(spec_one)} cases), and no fixed answer can be within 1% of two runs that "
            "differ by more than 2%.",
        ]
    return out


def channel_detail(
    name: str,
    exact: dict[str, Any],
    exact_cut: dict[str, Any],
    cut: int,
    groups: dict[tuple[int, int], list[dict[str, Any]]],
) -> list[str]:
    """Markdown: per-channel conversions at order 1, exact and CA means at each setting."""
    keys = sorted(groups, key=lambda g: (-g[1], g[0]))
    head = " | ".join(
        f"CA {'spec' if nf == 10 else f'{n:.0e}'} mean ({len(groups[(n, nf)])})" for n, nf in keys
    )
    out = [
        "",
        f"Per-channel conversions on {name}, order 1: mixlens exact, mixlens cut at "
        f"`max_step={cut}` as CA, and the mean of CA's runs at each setting (runs in brackets):",
        "",
        f"| channel | mixlens exact | mixlens max_step={cut} | {head} |",
        "|---|---:|---:|" + "---:|" * len(keys),
    ]
    for ch, x in sorted(exact["conv"].items(), key=lambda kv: -kv[1]):
        cells = []
        for key in keys:
            xs = [r["conv"].get(ch, 0.0) for r in groups[key]]
            cells.append(f"{sum(xs) / len(xs):,.2f}")
        out.append(f"| {ch} | {x:,.2f} | {exact_cut['conv'][ch]:,.2f} | {' | '.join(cells)} |")
    return out


def _pct(x: float) -> str:
    return "-" if math.isnan(x) else f"{100 * x:.2f}%"


if __name__ == "__main__":
    main()
