"""MTA speed, memory and accuracy against the journey simulator's causal truth.

Each size runs in a fresh process (so peak RSS is its own): simulate, validate, build journeys
from the logs with DuckDB, aggregate the path table, run every model on the log journeys, and
order-1 Markov from the path table (parse + solve). Then an accuracy table at 100k users.

    python benchmarks/mta_speed.py            # all sizes, writes the RESULTS.md section
    python benchmarks/mta_speed.py --worker N # one size, prints JSON (used by the above)
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time
from typing import Any

import pandas as pd

from _results import peak_rss_mib, update_section
from mixlens.data.schemas import validate_conversions, validate_touchpoints
from mixlens.data.simulate.journeys import JourneyWorldConfig, simulate_journeys
from mixlens.mta import (
    AVAILABLE_MODELS,
    JourneyTable,
    build_journeys,
    markov_attribution,
    path_table,
    run_models,
)
from mixlens.mta.evaluate import accuracy_against_truth

SIZES = (100_000, 1_000_000, 1_300_000)
ACCURACY_USERS = 100_000
SEED = 0


def worker(users: int, *, models: bool) -> dict[str, Any]:
    out: dict[str, Any] = {"users": users}
    t = time.perf_counter()
    world = simulate_journeys(JourneyWorldConfig(users=users), seed=SEED)
    out["simulate_s"] = time.perf_counter() - t
    t = time.perf_counter()
    tp = validate_touchpoints(world.touchpoints)
    cv = validate_conversions(world.conversions)
    out["validate_s"] = time.perf_counter() - t
    out["touchpoints"] = len(tp)
    out["conversions"] = len(cv)
    t = time.perf_counter()
    jt = build_journeys(tp, cv, lookback_days=30)
    out["journeys_s"] = time.perf_counter() - t
    out["journeys"] = len(jt.journeys)
    t = time.perf_counter()
    table = path_table(jt)
    out["path_table_s"] = time.perf_counter() - t
    out["paths"] = len(table)
    out["paths_exact"] = bool(table.equals(world.paths))
    t = time.perf_counter()
    from_paths = JourneyTable.from_paths(world.paths)
    out["from_paths_s"] = time.perf_counter() - t
    t = time.perf_counter()
    markov_attribution(from_paths, order=1)
    out["markov_paths_s"] = time.perf_counter() - t
    out["models_s"] = {}
    if models:
        for result, seconds in run_models(jt, AVAILABLE_MODELS, order=1, seed=SEED, logs=(tp, cv)):
            out["models_s"][result.model] = seconds
        for order in (2, 3, 4):
            t = time.perf_counter()
            markov_attribution(from_paths, order=order)
            out["models_s"][f"markov{order}"] = time.perf_counter() - t
        if users == ACCURACY_USERS:
            out["accuracy"] = accuracy(jt, world.channel_truth, (tp, cv))
    out["peak_rss_mib"] = peak_rss_mib()
    return out


def accuracy(jt: JourneyTable, truth: Any, logs: Any) -> dict[str, dict[str, float]]:
    runs = [r for r, _ in run_models(jt, AVAILABLE_MODELS, order=1, seed=SEED, logs=logs)]
    runs += [markov_attribution(jt, order=k) for k in (2, 3)]
    frames = []
    for result in runs:
        frame = result.to_frame()
        if result.model == "markov":
            frame["model"] = f"markov (order {result.meta['order']})"
        frames.append(frame)
    table = accuracy_against_truth(pd.concat(frames, ignore_index=True), truth)
    return {
        str(row["model"]): {k: float(row[k]) for k in table.columns if k != "model"}
        for _, row in table.iterrows()
    }


def table(rows: list[dict[str, Any]]) -> str:
    lines = [
        "| users | touchpoints | journeys | paths | build journeys s | path table s "
        "| from_paths s | markov-1 on path table s | peak RSS MiB |",
        "|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for r in rows:
        lines.append(
            f"| {r['users']:,} | {r['touchpoints']:,} | {r['journeys']:,} | {r['paths']:,} "
            f"| {r['journeys_s']:.2f} | {r['path_table_s']:.2f} | {r['from_paths_s']:.2f} "
            f"| {r['markov_paths_s']:.2f} | {r['peak_rss_mib']:,.0f} |"
        )
    model_rows = [r for r in rows if r["models_s"]]
    names = list(model_rows[0]["models_s"]) if model_rows else []
    lines += ["", "Model seconds on the log journeys (Markov orders 2-4 from the path table):", ""]
    lines.append("| model | " + " | ".join(f"{r['users']:,} users" for r in model_rows) + " |")
    lines.append("|---|" + "---:|" * len(model_rows))
    for name in names:
        cells = " | ".join(f"{r['models_s'][name]:.3f}" for r in model_rows)
        lines.append(f"| {name} | {cells} |")
    return "\n".join(lines)


def accuracy_table(acc: dict[str, dict[str, float]]) -> str:
    lines = [
        "| model | share error | Spearman rho | raw-count error | share to direct + baseline |",
        "|---|---:|---:|---:|---:|",
    ]
    for name, a in acc.items():
        lines.append(
            f"| {name} | {a['share_error']:.3f} | {a['spearman']:.2f} "
            f"| {a['raw_count_error']:.3f} | {a['non_causal_share']:.3f} |"
        )
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--worker", type=int)
    parser.add_argument("--no-models", action="store_true")
    parser.add_argument("--sizes", type=str, default=",".join(str(s) for s in SIZES))
    args = parser.parse_args()
    if args.worker:
        sys.stdout.write(json.dumps(worker(args.worker, models=not args.no_models)) + "\n")
        return
    rows = []
    for users in (int(s) for s in args.sizes.split(",")):
        cmd = [sys.executable, __file__, "--worker", str(users)]
        if users > 1_000_000:
            cmd.append("--no-models")
        done = subprocess.run(cmd, check=True, capture_output=True, text=True)
        rows.append(json.loads(done.stdout.strip().splitlines()[-1]))
        sys.stderr.write(f"{users}: {rows[-1]}\n")
    acc = next(r["accuracy"] for r in rows if "accuracy" in r)
    body = (
        "Journeys from the simulator's logs (`simulate_journeys(JourneyWorldConfig(users=N), "
        f"seed={SEED})`, 8 paid channels + `direct`, 90 days, lookback 30 days), each size in a "
        "fresh process; times exclude simulating and validating; peak RSS includes simulating "
        "the world. `build_journeys` reproduces "
        f"the simulator's paths.csv exactly at every size: "
        f"{all(r['paths_exact'] for r in rows)}. The largest size is the 10M-touchpoint "
        "journey-building check (models not run).\n\n"
        + table(rows)
        + f"\n\nAccuracy against the causal truth at {ACCURACY_USERS:,} users: share error = "
        "sum over the 8 paid channels of |share - true share|, where a model's shares are its "
        "paid-channel credit renormalised to sum to 1 (credit to `direct`, which has no causal "
        "effect, is dropped, so this flatters models that give `direct` a lot) and the true "
        "share is `channel_truth.share` (incremental conversions / their sum). Spearman rho "
        "over the paid channels. Raw-count error (`mixlens.mta.evaluate`): sum over paid channels "
        "of |credit - true incremental conversions| plus |credit to direct and baseline - true "
        "baseline|, over all conversions (a model that credits every conversion to some channel "
        "scores about twice the true baseline share). The last column is the conversions' share "
        "the model gave to `direct` or `baseline`.\n\n" + accuracy_table(acc)
    )
    update_section("mta_speed", body, command="python benchmarks/mta_speed.py")


if __name__ == "__main__":
    main()
