"""Neural sequence attribution on a GPU against the same machine's CPU: training and scoring.

Same data and settings as ``benchmarks/mta_neural.py`` (journey world, seed 0, batch 512, at
most 12 epochs, early stopping patience 2): ``fit_neural`` with ``TrainConfig(device="cuda")``
and with ``device="cpu"`` on 16 and on 1 torch thread(s). Per run: encoding seconds (the same
numpy work wherever the network trains), seconds of the training loop (epochs, validation
loss after each; from the progress callback), seconds per epoch, epochs run, and the held-out
AUC and log-loss (the same held-out users). ``--cpu THREADS:EPOCHS`` caps a CPU run's epochs
(for 1M users, where a full CPU run would not fit in a device call): compare per epoch then.

Batch scoring: the first trained (CPU) model predicts the training examples (conversion
journeys and controls, padded sequences) of up to 200,000 users, chunks of 8,192 as
``NeuralScorer.predict`` does, on 16 and 1 CPU thread(s), and a copy of the network on the
GPU (host-to-device copies and results back to numpy included; chunks of 8,192 and 65,536);
journeys per second, median of 3 passes after a warm-up pass.

    python benchmarks/mta_neural_gpu.py --users 100000 --json gpu_100000.json
    python benchmarks/mta_neural_gpu.py --users 1000000 --cpu 16:2 --cpu 1:1 --json gpu_1m.json
    python benchmarks/mta_neural_gpu.py --write gpu_100000.json gpu_1m.json --reading FILE

The measuring runs go where the GPU is; ``--write`` then writes the section
``mta_neural_gpu`` of RESULTS.md from their JSON files, with the machine they recorded.
"""

from __future__ import annotations

import argparse
import copy
import datetime as dt
import json
import os
import re
import shlex
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np
import torch

import _results
from _results import machine, peak_rss_mib, update_section
from mixlens.data.schemas import validate_conversions, validate_touchpoints
from mixlens.data.simulate.journeys import JourneyWorldConfig, simulate_journeys
from mixlens.mta.neural import NeuralScorer, TrainConfig, fit_neural
from mixlens.mta.neural.encode import SequenceBatch
from mixlens.mta.neural.model import _tensors, torch_threads
from mixlens.mta.neural.train import training_examples

SEED = 0
SCORE_USERS = 200_000


def _dump(path: Path, data: dict[str, Any]) -> None:
    tmp = path.with_suffix(path.suffix + ".tmp")
    tmp.write_text(json.dumps(data, indent=1, default=float))
    tmp.replace(path)


def train_run(
    tp: Any, cv: Any, *, device: str, threads: int, epochs: int
) -> tuple[NeuralScorer, dict[str, Any]]:
    """One ``fit_neural`` call, timed by stage from its progress callback."""
    cfg = TrainConfig(epochs=epochs, batch_size=512, patience=2, threads=threads, device=device)
    stamps: list[tuple[str, float]] = []
    t0 = time.perf_counter()
    scorer = fit_neural(
        tp, cv, config=cfg, seed=SEED, progress=lambda s, f: stamps.append((s, time.perf_counter()))
    )
    wall = time.perf_counter() - t0
    meta = scorer.meta
    run = len(meta["history"])
    encode_end = next(t for s, t in stamps if s == "encode") + meta["encode_seconds"]
    last_epoch = [t for s, t in stamps if s == "train"][run - 1]
    loop = last_epoch - encode_end
    return scorer, {
        "device": device,
        "threads": threads,
        "epochs_cap": epochs,
        "epochs_run": run,
        "best_epoch": meta["best_epoch"],
        "encode_s": meta["encode_seconds"],
        "loop_s": loop,
        "per_epoch_s": loop / run,
        "wall_s": wall,
        "auc": meta["heldout"]["auc"],
        "log_loss": meta["heldout"]["log_loss"],
        "history": meta["history"],
    }


def gpu_predict(net: torch.nn.Module, batch: SequenceBatch, chunk: int) -> np.ndarray:
    """``NeuralScorer.predict``'s loop with the network on the GPU; probabilities to numpy."""
    probs = []
    with torch.inference_mode():
        for lo in range(0, len(batch), chunk):
            rows = np.arange(lo, min(lo + chunk, len(batch)))
            parts = [t.to("cuda", non_blocking=True) for t in _tensors(batch.take(rows))]
            logit, att = net(*parts)
            probs.append(torch.sigmoid(logit).double().cpu().numpy())
            att.double().cpu().numpy()
    return np.concatenate(probs)


def _timed(fn: Any, passes: int = 3) -> float:
    fn()
    took = []
    for _ in range(passes):
        t = time.perf_counter()
        fn()
        took.append(time.perf_counter() - t)
    return float(np.median(took))


def scoring(
    scorer: NeuralScorer, batch: SequenceBatch, threads: list[int], gpu: bool
) -> list[dict[str, Any]]:
    """Journeys per second of batch prediction on CPU threads and on the GPU."""
    rows: list[dict[str, Any]] = []
    n = len(batch)
    cpu_p = None
    for t in threads:
        with torch_threads(t):
            s = _timed(lambda: scorer.predict(batch))
            cpu_p = scorer.predict(batch)[0]
        rows.append({"where": "cpu", "threads": t, "chunk": 8192, "seconds": s, "per_s": n / s})
    if gpu:
        net = copy.deepcopy(scorer.net).to("cuda").eval()
        for chunk in (8192, 65536):
            s = _timed(lambda c=chunk: gpu_predict(net, batch, c))
            p = gpu_predict(net, batch, chunk)
            diff = float(np.abs(p - cpu_p).max()) if cpu_p is not None else float("nan")
            rows.append(
                {
                    "where": "gpu",
                    "threads": torch.get_num_threads(),
                    "chunk": chunk,
                    "seconds": s,
                    "per_s": n / s,
                    "max_abs_diff_vs_cpu": diff,
                }
            )
    return rows


def _score_batch(tp: Any, cv: Any, scorer: NeuralScorer) -> SequenceBatch:
    """Training examples (cases and controls) of a seeded sample of users, for scoring."""
    users = tp["user_id"].unique()
    rng = np.random.default_rng(SEED)
    keep = rng.choice(users, size=min(len(users), SCORE_USERS), replace=False)
    sub_tp, sub_cv = tp[tp["user_id"].isin(keep)], cv[cv["user_id"].isin(keep)]
    cfg = TrainConfig(batch_size=512, patience=2)
    return training_examples(sub_tp, sub_cv, scorer.vocab, cfg, seed=SEED).batch


def measure(args: argparse.Namespace) -> None:
    out = Path(args.json)
    gpu = bool(torch.cuda.is_available()) and not args.no_gpu
    data: dict[str, Any] = {
        "command": "python benchmarks/mta_neural_gpu.py " + shlex.join(sys.argv[1:]),
        "machine": machine(),
        "gpu": torch.cuda.get_device_name(0) if gpu else None,
        "torch": torch.__version__,
        "date": dt.date.today().isoformat(),
        "users": args.users,
        "epochs": args.epochs,
        "runs": [],
    }
    t = time.perf_counter()
    world = simulate_journeys(JourneyWorldConfig(users=args.users), seed=SEED)
    tp = validate_touchpoints(world.touchpoints)
    cv = validate_conversions(world.conversions)
    data |= {"simulate_s": time.perf_counter() - t, "conversions": len(cv), "touchpoints": len(tp)}
    if gpu:
        # First CUDA use in the process (context, cuDNN, cuBLAS), timed apart on a tiny world.
        small = simulate_journeys(JourneyWorldConfig(users=2_000), seed=SEED)
        t = time.perf_counter()
        fit_neural(
            small.touchpoints,
            small.conversions,
            config=TrainConfig(epochs=1, device="cuda"),
            seed=SEED,
        )
        data["gpu_first_fit_2000_users_s"] = time.perf_counter() - t
    plan = [("cuda", 1, args.epochs)] if gpu else []
    for spec in args.cpu or ["16", "1"]:
        n, _, cap = spec.partition(":")
        plan.append(("cpu", int(n), int(cap or args.epochs)))
    threads = sorted({n for d, n, _ in plan if d == "cpu"}, reverse=True)
    for i, (device, threads_i, epochs) in enumerate(plan):
        scorer, row = train_run(tp, cv, device=device, threads=threads_i, epochs=epochs)
        row["load_after"] = os.getloadavg()
        data["runs"].append(row)
        _dump(out, data)
        print(json.dumps({k: v for k, v in row.items() if k != "history"}, default=float))
        if i == 0:
            # Scoring right after the first fit, so a run cut short still has it.
            batch = _score_batch(tp, cv, scorer)
            data |= {"score_rows": len(batch), "score_model": device}
            data["scoring"] = scoring(scorer, batch, threads, gpu)
            _dump(out, data)
    data["peak_rss_mib"] = peak_rss_mib()
    data["load_end"] = os.getloadavg()
    _dump(out, data)
    print(json.dumps({k: v for k, v in data.items() if k != "runs"}, default=float))


def _where(d: dict[str, Any], device: str, threads: int) -> str:
    """Where a row ran: the GPU, or the CPU of the machine the JSON file recorded."""
    if device in ("cuda", "gpu"):
        return f"GPU ({d['gpu']})"
    cores = re.search(r"(\d+) cores", d["machine"])
    host = "GPU machine" if d["gpu"] else f"{cores.group(1) if cores else '?'}-core machine"
    return f"{host}'s CPU, {threads} thread{'s' if threads > 1 else ''}"


def write(paths: list[str], reading: str | None, dry: bool) -> None:
    runs = [json.loads(Path(p).read_text()) for p in paths]
    host = next(d for d in runs if d["gpu"])
    gpu_epoch = {
        d["users"]: r["per_epoch_s"] for d in runs for r in d["runs"] if r["device"] == "cuda"
    }
    lines = [
        f"GPU machine: {host['gpu']}, CPU {host['machine']}, torch {host['torch']}; its rows "
        "ran there in one process each (GPU and its own CPU; nothing else ran on that machine). "
        "Same simulated journey world (seed 0), batch 512, at most 12 epochs, early stopping "
        "patience 2, as `mta_neural`: `fit_neural(..., config=TrainConfig(device=..., "
        "threads=...))`.",
        "",
        "**Training** (encoding: the same numpy work wherever the network trains; loop: the "
        "epochs, each with its validation loss; fit: the whole `fit_neural` call, held-out "
        "scoring on CPU included)",
        "",
        "| users | where | epochs run (cap) | best epoch | encoding s | loop s | s / epoch | "
        "s / epoch over the GPU's | fit s | held-out AUC | held-out log-loss |",
        "|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for d in runs:
        for r in d["runs"]:
            g = gpu_epoch.get(d["users"])
            ratio = f"{r['per_epoch_s'] / g:.2f}x" if g else "-"
            lines.append(
                f"| {d['users']:,} | {_where(d, r['device'], r['threads'])} | {r['epochs_run']} "
                f"({r['epochs_cap']}) | {r['best_epoch']} | {r['encode_s']:.1f} | "
                f"{r['loop_s']:.1f} | {r['per_epoch_s']:.2f} | "
                f"{ratio} | {r['wall_s']:.1f} | "
                f"{r['auc']:.3f} | {r['log_loss']:.4f} |"
            )
    lines += [
        "",
        "**Batch scoring** (`NeuralScorer.predict` on CPU threads; the same loop with a copy of "
        "the network on the GPU, host-to-device copies and results back to numpy included; "
        "median of 3 passes after a warm-up; the examples of up to 200,000 users)",
        "",
        "| users | examples scored | where | chunk | journeys / s | over 1 CPU thread | "
        "max abs diff of probabilities vs CPU |",
        "|---|---|---|---|---|---|---|",
    ]
    for d in runs:
        one = next(s["per_s"] for s in d["scoring"] if s["where"] == "cpu" and s["threads"] == 1)
        for s in d["scoring"]:
            diff = s.get("max_abs_diff_vs_cpu")
            lines.append(
                f"| {d['users']:,} | {d['score_rows']:,} | {_where(d, s['where'], s['threads'])} "
                f"| {s['chunk']:,} | {s['per_s']:,.0f} | {s['per_s'] / one:.1f}x | "
                f"{'-' if diff is None else f'{diff:.1e}'} |"
            )
    lines += ["", "Runs:", ""]
    for d in runs:
        lines.append(
            f"- {d['users']:,} users ({d['conversions']:,} conversions, {d['touchpoints']:,} "
            f"touchpoints), {d['machine']}, torch {d['torch']}: `{d['command']}`, {d['date']}, "
            + (
                f"peak RSS {d['peak_rss_mib']:,.0f} MiB, load average at the end "
                f"{d['load_end'][0]:.1f}"
                if "load_end" in d
                else "cut short by the device call's time limit after the rows above"
            )
            + (
                f"; first CUDA fit in the process (2,000 users, 1 epoch: context and library "
                f"start-up) {d['gpu_first_fit_2000_users_s']:.1f} s, not in the table."
                if "gpu_first_fit_2000_users_s" in d
                else "."
            )
        )
    body = "\n".join(lines)
    if reading:
        body += "\n\n" + Path(reading).read_text().strip()
    print(body)
    if dry:
        return
    # The section's machine line is the GPU machine's, as the measuring run recorded it.
    _results.machine = lambda: f"{host['machine']}; GPU {host['gpu']}"
    update_section(
        "mta_neural_gpu",
        body,
        command="; ".join(d["command"] for d in runs)
        + "; python benchmarks/mta_neural_gpu.py --write "
        + " ".join(Path(p).name for p in paths)
        + (" --reading READING.md" if reading else ""),
    )


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--users", type=int, default=100_000)
    parser.add_argument("--epochs", type=int, default=12)
    parser.add_argument(
        "--cpu", action="append", help="THREADS[:EPOCHS] of a CPU run (default 16 and 1)"
    )
    parser.add_argument("--no-gpu", action="store_true")
    parser.add_argument("--json", default="mta_neural_gpu.json")
    parser.add_argument("--write", nargs="+", metavar="JSON")
    parser.add_argument("--reading", help="with --write: a file of prose to end the section")
    parser.add_argument("--dry", action="store_true", help="with --write: print, do not write")
    args = parser.parse_args()
    if args.write:
        write(args.write, args.reading, args.dry)
    else:
        measure(args)


if __name__ == "__main__":
    main()
