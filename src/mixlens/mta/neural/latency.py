"""Scoring latency of one journey on the serving path (single thread, inference mode)."""

from __future__ import annotations

import time

import numpy as np

from mixlens.mta.neural.model import NeuralScorer, torch_threads

__all__ = ["scoring_latency"]


def scoring_latency(
    scorer: NeuralScorer, *, n_touches: int = 20, calls: int = 1000, seed: int = 0
) -> dict[str, float]:
    """Time :meth:`NeuralScorer.score_journey` on one ``n_touches`` journey, ``calls`` times.

    Each call encodes the journey and runs the network on one thread. Returns milliseconds:
    ``p50_ms``, ``p99_ms``, ``mean_ms``, ``max_ms``, plus ``calls`` and ``n_touches``.
    """
    rng = np.random.default_rng(seed)
    channels = list(rng.choice(np.array(scorer.vocab.channels), size=n_touches))
    hours = np.sort(rng.uniform(0, scorer.config.lookback_days * 24, size=n_touches))[::-1]
    hours_list = [float(h) for h in hours]
    campaigns = (
        list(rng.choice(np.array(scorer.vocab.campaigns), size=n_touches))
        if scorer.vocab.campaigns
        else None
    )
    took = np.empty(calls)
    with torch_threads(1):
        for _ in range(min(20, calls)):  # warm-up
            scorer.score_journey(channels, hours_list, campaigns=campaigns)
        for i in range(calls):
            start = time.perf_counter()
            scorer.score_journey(channels, hours_list, campaigns=campaigns)
            took[i] = time.perf_counter() - start
    ms = took * 1e3
    return {
        "p50_ms": float(np.percentile(ms, 50)),
        "p99_ms": float(np.percentile(ms, 99)),
        "mean_ms": float(ms.mean()),
        "max_ms": float(ms.max()),
        "calls": float(calls),
        "n_touches": float(n_touches),
    }
