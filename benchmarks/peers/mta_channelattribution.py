"""MTA parity and speed against ChannelAttribution, side by side in the same run.

ChannelAttribution runs in its own environment (``bash benchmarks/peers/setup.sh``) through
``_ca_runner.py``; mixlens runs in this interpreter's environment, each in a fresh process so
wall time and peak RSS are the whole process's. Path tables: ChannelAttribution's own sample
(``Data.csv``, semicolon separated) and ``mixlens simulate journeys`` path tables.

    .venv/bin/python benchmarks/peers/mta_channelattribution.py [--users 100000,1000000]
    .venv/bin/python benchmarks/peers/mta_channelattribution.py --worker PATHS.csv --orders 1,2
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import pandas as pd

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "benchmarks"))

from _results import peak_rss_mib, update_section  # noqa: E402

CA_ENV = ROOT / "benchmarks" / ".envs" / "channelattribution" / "bin" / "python"
RUNNER = Path(__file__).with_name("_ca_runner.py")
CA_SAMPLE = ROOT.parent / "shared" / "data" / "external" / "channelattribution" / "Data.csv"
HEURISTICS = {"first": "first_touch", "last": "last_touch", "linear": "linear_touch"}


def worker(paths: Path, orders: list[int]) -> dict[str, Any]:
    """mixlens side: read, validate, build journeys, heuristics and exact Markov; JSON out."""
    from mixlens.data.loaders import load_paths
    from mixlens.mta import JourneyTable, markov_attribution
    from mixlens.mta.heuristics import first_touch, last_touch, linear

    out: dict[str, Any] = {}
    t = time.perf_counter()
    table = load_paths(paths)
    out["read_s"] = time.perf_counter() - t
    t = time.perf_counter()
    jt = JourneyTable.from_paths(table)
    out["from_paths_s"] = time.perf_counter() - t
    credit: dict[str, dict[str, list[float]]] = {}
    t = time.perf_counter()
    for name, fn in (("first", first_touch), ("last", last_touch), ("linear", linear)):
        credit[name] = _credit(fn(jt))
    out["heuristic_s"] = time.perf_counter() - t
    for k in orders:
        t = time.perf_counter()
        res = markov_attribution(jt, order=k)
        out[f"markov{k}_s"] = time.perf_counter() - t
        credit[f"markov{k}"] = _credit(res)
    out["credit"] = credit
    out["peak_rss_mib"] = peak_rss_mib()
    return out


def _credit(result: Any) -> dict[str, list[float]]:
    frame = result.to_frame()
    frame = frame[frame["channel"] != "baseline"]
    return {str(r.channel): [float(r.conversions), float(r.value)] for r in frame.itertuples()}


def run_mixlens(paths: Path, orders: list[int]) -> dict[str, Any]:
    """Run :func:`worker` in a fresh process; add whole-process wall seconds."""
    cmd = [sys.executable, __file__, "--worker", str(paths), "--orders", _csv(orders)]
    t = time.perf_counter()
    done = subprocess.run(cmd, check=True, capture_output=True, text=True)
    out: dict[str, Any] = json.loads(done.stdout.strip().splitlines()[-1])
    out["wall_s"] = time.perf_counter() - t
    return out


def run_peer(paths: Path, orders: list[int], work: Path, seeds: list[int]) -> dict[str, Any]:
    """Run ChannelAttribution in its environment; return timings and credit per channel.

    Markov runs once per seed in ``seeds`` (its Monte Carlo spread); the first is timed.
    """
    work.mkdir(parents=True, exist_ok=True)
    cmd = [str(CA_ENV), str(RUNNER), str(paths), str(work), *map(str, orders)]
    env = {**os.environ, "CA_SEEDS": _csv(seeds)}
    t = time.perf_counter()
    subprocess.run(cmd, check=True, capture_output=True, text=True, env=env)
    out: dict[str, Any] = json.loads((work / "timings.json").read_text())
    out["wall_s"] = time.perf_counter() - t
    heur = pd.read_csv(work / "heuristic.csv")
    credit: dict[str, dict[str, list[float]]] = {}
    for ours, theirs in HEURISTICS.items():
        credit[ours] = {
            str(r["channel_name"]): [
                float(r[f"{theirs}_conversions"]),
                float(r[f"{theirs}_value"]),
            ]
            for _, r in heur.iterrows()
        }
    out["seeds"] = {}
    for k in orders:
        runs = [_markov_csv(work / f"markov{k}_seed{s}.csv") for s in seeds]
        credit[f"markov{k}"] = runs[0]
        out["seeds"][f"markov{k}"] = runs
    out["credit"] = credit
    return out


def _markov_csv(file: Path) -> dict[str, list[float]]:
    m = pd.read_csv(file)
    return {
        str(r["channel_name"]): [float(r["total_conversions"]), float(r["total_conversion_value"])]
        for _, r in m.iterrows()
    }


def mean_credit(runs: list[dict[str, list[float]]]) -> dict[str, list[float]]:
    """Per-channel mean over ChannelAttribution runs with different seeds."""
    chans = set().union(*runs)
    return {
        ch: [sum(r.get(ch, [0.0, 0.0])[i] for r in runs) / len(runs) for i in (0, 1)]
        for ch in chans
    }


def seed_spread(runs: list[dict[str, list[float]]], i: int, min_share: float = 0.0) -> float:
    """Largest (max - min) / mean over seeds, across channels with at least ``min_share``."""
    mean = mean_credit(runs)
    total = sum(v[i] for v in mean.values())
    worst = 0.0
    for ch, v in mean.items():
        if v[i] <= 0 or v[i] < min_share * total:
            continue
        xs = [r.get(ch, [0.0, 0.0])[i] for r in runs]
        worst = max(worst, (max(xs) - min(xs)) / v[i])
    return worst


def max_rel_diff(
    ours: dict[str, list[float]],
    theirs: dict[str, list[float]],
    i: int,
    min_share: float = 0.0,
) -> float:
    """Largest |ours - theirs| / theirs over channels (index 0 conversions, 1 value).

    Channels with less than ``min_share`` of the peer's total are left out.
    """
    worst = 0.0
    total = sum(v[i] for v in theirs.values())
    for ch in set(ours) | set(theirs):
        a, b = ours.get(ch, [0.0, 0.0])[i], theirs.get(ch, [0.0, 0.0])[i]
        if b < min_share * total:
            continue
        if b != 0:
            worst = max(worst, abs(a - b) / abs(b))
        elif a != 0:
            worst = float("inf")
    return worst


def _csv(xs: list[int]) -> str:
    return ",".join(str(x) for x in xs)


def simulate(users: int, data_dir: Path) -> tuple[Path, float]:
    """``mixlens simulate journeys`` (cached in ``data_dir``); return paths.csv and seconds."""
    out = data_dir / f"journeys_{users}"
    paths = out / "paths.csv"
    if paths.exists():
        return paths, float("nan")
    exe = Path(sys.executable).with_name("mixlens")
    cmd = [str(exe), "simulate", "journeys", "--users", str(users), "--seed", "0"]
    t = time.perf_counter()
    subprocess.run([*cmd, "--out", str(out)], check=True, capture_output=True)
    return paths, time.perf_counter() - t


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--worker", type=Path)
    parser.add_argument("--orders", default="1,2,3")
    parser.add_argument("--users", default="100000,1000000")
    parser.add_argument("--big-orders", default="1", help="Markov orders at 1M users and more")
    parser.add_argument("--from-json", action="store_true", help="table from saved results only")
    parser.add_argument(
        "--ca-seeds", default="0,1,2,3,4", help="ChannelAttribution seeds below 1M users"
    )
    parser.add_argument(
        "--data-dir", type=Path, default=Path(tempfile.gettempdir()) / "mixlens_peers"
    )
    args = parser.parse_args()
    orders = [int(k) for k in args.orders.split(",")]
    if args.worker:
        sys.stdout.write(json.dumps(worker(args.worker, orders)) + "\n")
        return
    if args.from_json:
        rows = json.loads((args.data_dir / "mta_peers.json").read_text())
        _write(rows)
        return
    if not CA_ENV.exists():
        sys.exit("ChannelAttribution environment missing: run bash benchmarks/peers/setup.sh")
    args.data_dir.mkdir(parents=True, exist_ok=True)
    cases: list[tuple[str, Path, list[int]]] = []
    seeds = [int(x) for x in args.ca_seeds.split(",")]
    if CA_SAMPLE.exists():
        sample = args.data_dir / "ca_sample.csv"
        pd.read_csv(CA_SAMPLE, sep=";").to_csv(sample, index=False)  # mixlens reads commas only
        cases.append(("ChannelAttribution Data.csv", sample, orders))
    for users in (int(u) for u in args.users.split(",") if u):
        paths, _ = simulate(users, args.data_dir)
        name = f"simulated {users:,} users"
        cases.append(
            (
                name,
                paths,
                orders if users < 1_000_000 else [int(k) for k in args.big_orders.split(",")],
            )
        )
    rows = []
    for name, paths, ks in cases:
        sys.stderr.write(f"[mta peers] {name}: orders {ks}\n")
        ours = run_mixlens(paths, ks)
        work = args.data_dir / f"ca_{paths.parent.name}_{paths.stem}"
        big = "1,000,000" in name or "0,000,000" in name
        theirs = run_peer(paths, ks, work, seeds[:1] if big else seeds)
        n_paths = len(pd.read_csv(paths, usecols=["path"]))
        rows.append({"name": name, "paths": n_paths, "ours": ours, "theirs": theirs, "orders": ks})
        (args.data_dir / "mta_peers.json").write_text(json.dumps(rows))
    _write(rows)


def _write(rows: list[dict[str, Any]]) -> None:
    body = report(rows)
    sys.stdout.write(body + "\n")
    update_section("peers_mta", body, command="python benchmarks/peers/mta_channelattribution.py")


def report(rows: list[dict[str, Any]]) -> str:
    """Markdown: parity per model and dataset, speed, per-channel detail on the sample."""
    version = rows[0]["theirs"].get("version", "") if rows else ""
    lines = [
        f"ChannelAttribution {version} (own venv, Python 3.11) versus mixlens on the same path "
        "tables. ChannelAttribution `markov_model` with `nsim_start=1e6, conv_par=0.01, "
        "var_null='total_null', seed=0, ncore=1`; mixlens Markov is exact (sparse solves). "
        "Parity = max over channels of |mixlens - CA| / CA, for conversions (value in "
        "brackets): over all channels, and over channels holding at least 1% of the "
        "conversions; `vs CA mean` compares with the mean of CA runs over seeds; `CA spread` is "
        "CA's own seed-to-seed (max - min) / mean over those runs (channels >= 1%), the Monte "
        "Carlo noise a comparison with one CA run cannot beat.",
        "",
        "| path table | paths | model | all channels | channels >= 1% | vs CA mean (>= 1%) "
        "| CA spread (>= 1%), seeds | within 1% (>= 1%, vs CA mean) |",
        "|---|---:|---|---:|---:|---:|---:|---|",
    ]
    for r in rows:
        for model in ["first", "last", "linear"] + [f"markov{k}" for k in r["orders"]]:
            a, b = r["ours"]["credit"][model], r["theirs"]["credit"][model]
            runs = r["theirs"].get("seeds", {}).get(model, [b])
            m = mean_credit(runs)
            cells = []
            for ref, share in ((b, 0.0), (b, 0.01), (m, 0.01)):
                dc, dv = max_rel_diff(a, ref, 0, share), max_rel_diff(a, ref, 1, share)
                cells.append(f"{100 * dc:.2f}% ({100 * dv:.2f}%)")
            worst = max(max_rel_diff(a, m, 0, 0.01), max_rel_diff(a, m, 1, 0.01))
            if model.startswith("markov"):
                label = f"markov order {model[6:]}"
                spread = (
                    f"{100 * seed_spread(runs, 0, 0.01):.2f}% "
                    f"({100 * seed_spread(runs, 1, 0.01):.2f}%), {len(runs)}"
                )
            else:
                label, spread = model, "-"
            ok = "yes" if worst <= 0.01 else "**no**"
            lines.append(
                f"| {r['name']} | {r['paths']:,} | {label} | {' | '.join(cells)} | {spread} "
                f"| {ok} |"
            )
    lines += [
        "",
        "Speed (seconds of the call; wall = whole process incl. interpreter start, imports, "
        "reading the CSV and every Markov run it made (`runs`: orders x CA seeds; the timed "
        "Markov columns are the first seed's call); peak RSS of each process). The 2 cores "
        "were shared with other jobs (load average 6 to 8), so absolute times are noisy:",
        "",
        "| path table | tool | read s | heuristics s | markov o1 s | o2 s | o3 s | runs | wall s "
        "| peak RSS MiB |",
        "|---|---|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for r in rows:
        for tool, d in (("mixlens", r["ours"]), ("ChannelAttribution", r["theirs"])):
            read = d["read_s"] + d.get("from_paths_s", 0.0)
            mk = [f"{d[f'markov{k}_s']:.2f}" if f"markov{k}_s" in d else "-" for k in (1, 2, 3)]
            runs = sum(len(v) for v in d.get("seeds", {}).values()) or len(r["orders"])
            lines.append(
                f"| {r['name']} | {tool} | {read:.2f} | {d['heuristic_s']:.2f} "
                f"| {' | '.join(mk)} | {runs} | {d['wall_s']:.2f} | {d['peak_rss_mib']:,.0f} |"
            )
    if rows:
        r = rows[0]
        lines += ["", f"Per-channel conversions on {r['name']} (Markov):", ""]
        ks = r["orders"]
        head = " | ".join(f"mixlens o{k} | CA o{k} (seed 0)" for k in ks)
        lines += [f"| channel | {head} |", "|---|" + "---:|" * (2 * len(ks))]
        chans = sorted(r["theirs"]["credit"][f"markov{ks[0]}"])
        for ch in chans:
            cells = " | ".join(
                f"{r['ours']['credit'][f'markov{k}'].get(ch, [0.0])[0]:.2f} | "
                f"{r['theirs']['credit'][f'markov{k}'].get(ch, [0.0])[0]:.2f}"
                for k in ks
            )
            lines.append(f"| {ch} | {cells} |")
    return "\n".join(lines)


if __name__ == "__main__":
    main()
