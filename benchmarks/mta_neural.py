"""Neural sequence attribution: discrimination, accuracy against causal truth, speed, latency.

On a simulated journey world (default 100k users, seed 0):

* held-out (20 % of users) AUC, log-loss and calibration of the neural model on its task
  (conversion instants vs person-time control instants, :mod:`mixlens.mta.neural.encode`),
  next to a per-journey logistic baseline fitted here on the same examples and split
  (intercept, per-channel touch counts and 2-day decaying stocks over the same sequences);
  the hazard ``logistic`` model's own held-out figures (a daily hazard: another task, so its
  AUC is not comparable one to one) are listed when it runs;
* share error and rank correlation against the simulator's truth
  (:func:`mixlens.mta.evaluate.accuracy_against_truth`) for neural, Markov, Shapley and
  the hazard ``logistic`` model;
* training wall time on ``--threads`` torch threads (default 1: on this shared 2-core machine
  two intra-op threads were several times slower than one for this small network), on
  ``--device`` (default ``cpu``; ``cuda`` or ``auto`` train on a GPU: see
  ``benchmarks/mta_neural_gpu.py`` for GPU against CPU);
* scoring latency of one 20-touch journey (single thread, inference mode).

    python benchmarks/mta_neural.py [--users 100000] [--threads 1] [--epochs 12] [--device cpu]
"""

from __future__ import annotations

import argparse
import json
import os
import time
from typing import Any

import numpy as np
import pandas as pd
from scipy.special import expit

from _results import peak_rss_mib, update_section
from mixlens.data.schemas import validate_conversions, validate_touchpoints
from mixlens.data.simulate.journeys import JourneyWorldConfig, simulate_journeys
from mixlens.mta import build_journeys, run_models
from mixlens.mta.evaluate import accuracy_against_truth
from mixlens.mta.hazard import fit_logistic
from mixlens.mta.neural import (
    TrainConfig,
    discrimination,
    fit_neural,
    neural_attribution,
    scoring_latency,
)
from mixlens.mta.neural.encode import Vocabulary
from mixlens.mta.neural.train import _split, training_examples

SEED = 0


def logistic_baseline(ex: Any, part: np.ndarray, n_channels: int) -> dict[str, Any]:
    """Per-journey logistic regression on counts and decaying stocks; held-out metrics."""
    tok = ex.batch.channel[:, 1:]
    hours = np.expm1(ex.batch.numeric[:, 1:, 0] * np.log1p(30 * 24.0))
    cols = [np.ones(len(tok))]
    for c in range(n_channels):
        hit = tok == c + 3
        cols.append(np.log1p(hit.sum(axis=1)))
        cols.append((hit * 2.0 ** (-hours / 48.0)).sum(axis=1))
    x = np.column_stack(cols)
    train, test = part == 0, part == 2
    fit = fit_logistic(x[train], ex.label[train], l2=1.0)
    p = expit(x[test] @ fit.coef)
    return discrimination(p, ex.label[test])


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--users", type=int, default=100_000)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--epochs", type=int, default=12)
    parser.add_argument("--device", choices=["cpu", "cuda", "auto"], default="cpu")
    parser.add_argument("--calls", type=int, default=2000)
    parser.add_argument("--no-hazard", action="store_true")
    parser.add_argument("--no-write", action="store_true")
    args = parser.parse_args()

    t = time.perf_counter()
    world = simulate_journeys(JourneyWorldConfig(users=args.users), seed=SEED)
    sim_s = time.perf_counter() - t
    tp = validate_touchpoints(world.touchpoints)
    cv = validate_conversions(world.conversions)

    cfg = TrainConfig(
        epochs=args.epochs, batch_size=512, patience=2, threads=args.threads, device=args.device
    )
    t = time.perf_counter()
    scorer = fit_neural(tp, cv, config=cfg, seed=SEED)
    train_s = time.perf_counter() - t
    t = time.perf_counter()
    neural = neural_attribution(tp, cv, scorer=scorer, config=cfg)
    credit_s = time.perf_counter() - t
    neural_all = neural_attribution(tp, cv, scorer=scorer, config=cfg, baseline=False)
    heldout = scorer.meta["heldout"]

    vocab = Vocabulary.from_logs(tp)
    ex = training_examples(tp, cv, vocab, cfg, seed=SEED)
    part = _split(ex.user, cfg, SEED)
    base = logistic_baseline(ex, part, len(vocab.channels))

    journeys = build_journeys(tp, cv, lookback_days=30)
    models = ["markov", "shapley"] + ([] if args.no_hazard else ["logistic"])
    t = time.perf_counter()
    results = run_models(journeys, models, seed=SEED, logs=(tp, cv))
    others_s = time.perf_counter() - t
    frames = [r.to_frame() for r, _ in results]
    nf = neural_all.to_frame()
    nf["model"] = "neural (no baseline share)"
    frames += [neural.to_frame(), nf]
    acc = accuracy_against_truth(pd.concat(frames, ignore_index=True), world.channel_truth)
    hazard_meta = {r.model: r.meta for r, _ in results}

    lat = scoring_latency(scorer, n_touches=20, calls=args.calls)
    hist = scorer.meta["history"]
    rel = heldout["reliability"]

    lines = [
        f"Simulated world: {args.users:,} users, 8 channels, seed {SEED} (simulated in "
        f"{sim_s:.0f} s); {len(cv):,} conversions, {len(tp):,} touchpoints. Trained on "
        f"{scorer.meta['device']}; GPU against CPU: section `mta_neural_gpu`.",
        "",
        f"Training examples: {scorer.meta['examples']['cases']:,} conversion journeys and "
        f"{scorer.meta['examples']['controls']:,} person-time controls (one per user, same "
        "30-day lookback before a uniform instant); users split 70/10/20 train/validation/"
        "held-out.",
        "",
        "**Held-out discrimination (same examples, same held-out users)**",
        "",
        "| model | AUC | log-loss |",
        "|---|---|---|",
        f"| neural (conv + LSTM + attention) | {heldout['auc']:.3f} | {heldout['log_loss']:.4f} |",
        f"| per-journey logistic (counts + 2-day stocks) | {base['auc']:.3f} | "
        f"{base['log_loss']:.4f} |",
    ]
    if "logistic" in hazard_meta:
        hm = hazard_meta["logistic"]
        auc = hm.get("auc", hm.get("diagnostics", {}).get("auc"))
        ll = hm.get("log_loss", hm.get("diagnostics", {}).get("log_loss"))
        lines.append(
            f"| hazard `logistic` (daily person-period rows: another task, not comparable "
            f"one to one) | {float(auc):.3f} | {float(ll):.4f} |"
        )
    lines += [
        "",
        "Reliability of the neural model (held-out, 10 equal-width bins; non-empty bins):",
        "",
        "| predicted bin | mean predicted | observed rate | n |",
        "|---|---|---|---|",
    ]
    lines += [
        f"| {b['bin_lo']:.1f}-{b['bin_hi']:.1f} | {b['mean_predicted']:.3f} | "
        f"{b['observed_rate']:.3f} | {int(b['count']):,} |"
        for b in rel
    ]
    lines += [
        "",
        f"**Accuracy against causal truth at {args.users:,} users**",
        "",
        "| model | share error | Spearman | raw-count error | non-causal share |",
        "|---|---|---|---|---|",
    ]
    lines += [
        f"| {r.model} | {r.share_error:.3f} | {r.spearman:.3f} | {r.raw_count_error:.3f} | "
        f"{r.non_causal_share:.3f} |"
        for r in acc.itertuples()
    ]
    lines += [
        "",
        "**Speed**",
        "",
        f"- Training with {args.threads} torch thread(s) on {scorer.meta['device']}, "
        f"{os.cpu_count()}-core machine, {args.users:,} "
        f"users: "
        f"{train_s:.0f} s for {len(hist)} epochs (best epoch {scorer.meta['best_epoch']}, early "
        f"stopping patience 2, at most {args.epochs}); encoding included. Credit by removal "
        f"of every touch: {credit_s:.1f} s. Markov + Shapley"
        f"{'' if args.no_hazard else ' + hazard logistic'}: {others_s:.0f} s. Peak RSS "
        f"{peak_rss_mib():,.0f} MiB."
        + ("" if args.users >= 1_000_000 else " 1M users: section `mta_neural_1000000`."),
        f"- Scoring latency, one 20-touch journey, single thread, `torch.inference_mode`, "
        f"encoding included, {lat['calls']:.0f} calls: p50 {lat['p50_ms']:.2f} ms, p99 "
        f"{lat['p99_ms']:.2f} ms (target p99 < 5 ms: "
        f"{'met' if lat['p99_ms'] < 5 else 'NOT met'}).",
        "",
        "The machine's 2 cores were shared with other jobs while this ran, so wall times and "
        "the latency tail are upper bounds.",
    ]
    body = "\n".join(lines)
    print(body)
    print(json.dumps({"heldout": heldout, "baseline": base, "latency": lat}, default=str)[:2000])
    if not args.no_write:
        cmd = "python benchmarks/mta_neural.py"
        if args.users != 100_000:
            cmd += f" --users {args.users}"
        name = "mta_neural" if args.users == 100_000 else f"mta_neural_{args.users}"
        if args.device != "cpu":
            cmd += f" --device {args.device}"
            name += f"_{args.device}"
        update_section(name, body, command=cmd)


if __name__ == "__main__":
    main()
