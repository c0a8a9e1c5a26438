"""The ``mixlens agents run`` pipeline: simulate partitions, run a protocol, write files."""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from mixlens.agents.agent import Agent, SharedModel
from mixlens.agents.messages import Bus
from mixlens.agents.protocols import (
    DPConfig,
    FitResult,
    admm_protocol,
    centralized_fit,
    exact_protocol,
    pairwise_seeds,
    rel_diff,
    setup_protocol,
)
from mixlens.agents.shapley import attribute
from mixlens.data.io import write_json, write_table
from mixlens.errors import DataError

__all__ = ["PROTOCOLS", "SCENARIOS", "region_agents", "run_to_dir"]

SCENARIOS = ("regions", "channels")
PROTOCOLS = ("exact", "admm")


def region_agents(scale: int = 1, *, seed: int = 0, weeks: int = 104) -> list[Agent]:
    """Five region agents from the simulated MMM world (horizontal split).

    ``scale`` multiplies each agent's rows: the world is simulated for ``weeks * scale``
    weeks with the same generating process. The shared transform takes adstock retention
    and Hill slope from the simulator's channel table (agreed up front); the scales are
    fixed later by :func:`~mixlens.agents.protocols.setup_protocol`.
    """
    from mixlens.data.simulate.mmm import MMMWorldConfig, simulate_mmm

    if scale < 1:
        raise DataError(f"--scale must be >= 1, got {scale}")
    world = simulate_mmm(MMMWorldConfig(weeks=weeks * scale, n_channels=5, regions=5), seed=seed)
    params = world.channel_params
    channels = tuple(str(c) for c in params["channel"])
    model = SharedModel(
        channels=channels,
        alpha=tuple(float(v) for v in params["theta_weekly"]),
        half_saturation=(1.0,) * len(channels),
        slope=tuple(float(v) for v in params["slope"]),
        horizon=float(weeks * scale),
        start=str(world.weekly_channel["date"].iloc[0])[:10],
    )
    panel = world.weekly_channel
    return [
        Agent(str(geo), frame.sort_values("date"), model)
        for geo, frame in panel.groupby("geo", sort=True)
    ]


def run_to_dir(
    scenario: str = "regions",
    *,
    scale: int = 1,
    out_dir: str | Path,
    protocol: str = "exact",
    dp_epsilon: float | None = None,
    seed: int = 0,
    progress: Callable[[str], None] | None = None,
) -> dict[str, Any]:
    """Run one scenario end to end and write its files.

    Parameters
    ----------
    scenario
        ``"regions"`` (5 regions, horizontal split). ``"channels"`` is not available yet.
    scale
        Multiplies every agent's rows (more simulated weeks).
    out_dir
        Folder for ``rounds.csv``, ``attribution.csv``, ``audit.jsonl``, ``summary.json``.
    protocol
        ``"exact"`` (secure aggregation of sufficient statistics, ridge) or ``"admm"``
        (consensus ADMM, non-negative channel coefficients).
    dp_epsilon
        If given, Gaussian-mechanism DP on the shared statistics (``exact`` only).
    seed
        Seed of the simulation, pairwise masks and DP noise.
    progress
        Called with one-line status messages.

    Returns
    -------
    dict
        The summary written to ``summary.json``.
    """
    if scenario not in SCENARIOS:
        raise DataError(f"unknown scenario {scenario!r}; choose one of {', '.join(SCENARIOS)}")
    if scenario == "channels":
        raise DataError("scenario 'channels' (vertical split) is not available yet; use 'regions'")
    if protocol not in PROTOCOLS:
        raise DataError(f"unknown protocol {protocol!r}; choose one of {', '.join(PROTOCOLS)}")
    if dp_epsilon is not None and protocol != "exact":
        raise DataError("differential privacy is available with protocol 'exact' only")
    t0 = time.perf_counter()
    out = Path(out_dir)
    agents = region_agents(scale, seed=seed)
    rng = np.random.default_rng(seed)
    seeds = pairwise_seeds([a.name for a in agents], rng)
    bus = Bus()
    model = setup_protocol(agents, bus, seeds=seeds)
    n_total = float(sum(a.n_rows for a in agents))  # equals the setup round's securely summed n
    result: FitResult
    if protocol == "exact":
        dp = None if dp_epsilon is None else DPConfig(epsilon=dp_epsilon)
        result = exact_protocol(agents, bus, seeds=seeds, dp=dp, rng=rng)
        reference = centralized_fit(agents, nonnegative=False)
    else:
        result = admm_protocol(agents, bus, n_total=n_total, progress=progress)
        reference = centralized_fit(agents, nonnegative=True)
    fit_rounds = len(result.rounds)
    attribution = attribute(agents, result.coef, bus, seeds=seeds, round=fit_rounds + 1)
    if progress is not None:
        progress(f"{protocol}: {fit_rounds} rounds, {bus.audit.total_bytes()} bytes")
    per_round = bus.audit.bytes_by_round()
    msgs: dict[int, int] = {}
    for row in bus.audit.rows:
        msgs[int(row["round"])] = msgs.get(int(row["round"]), 0) + 1
    nan = float("nan")
    records = [{"round": 0, "phase": "setup", "primal_residual": nan, "dual_residual": nan}]
    records += [dict(r) for r in result.rounds]
    records.append(
        {
            "round": fit_rounds + 1,
            "phase": "attribution",
            "primal_residual": nan,
            "dual_residual": nan,
        }
    )
    rounds = pd.DataFrame(records)
    rounds["messages"] = [msgs.get(int(r), 0) for r in rounds["round"]]
    rounds["bytes_sent"] = [per_round.get(int(r), 0) for r in rounds["round"]]
    cols = ["round", "phase", "primal_residual", "dual_residual", "rho", "messages", "bytes_sent"]
    rounds = rounds.reindex(columns=cols)
    write_table(rounds, out / "rounds.csv")
    write_table(attribution, out / "attribution.csv")
    bus.audit.write(out / "audit.jsonl")
    summary: dict[str, Any] = {
        "scenario": scenario,
        "protocol": protocol,
        "scale": scale,
        "seed": seed,
        "agents": [a.name for a in agents],
        "rows_per_agent": [a.n_rows for a in agents],
        "rounds": fit_rounds,
        "converged": result.converged,
        "bytes_total": bus.audit.total_bytes(),
        "messages_total": len(bus.audit.rows),
        "rel_diff_vs_centralized": rel_diff(result.coef, reference),
        "epsilon_spent": result.epsilon_spent,
        "delta_spent": result.delta_spent,
        "dp_note": "DP covers the statistics round; the setup round reveals pooled means only",
        "coefficients": dict(zip(model.feature_names, result.coef.tolist(), strict=True)),
        "target_scale": model.target_scale,
        "seconds": time.perf_counter() - t0,
    }
    write_json(summary, out / "summary.json")
    return summary
