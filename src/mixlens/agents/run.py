"""The ``mixlens agents run`` pipeline: simulate partitions, run a protocol, write files."""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from mixlens.agents.agent import Agent, AgentLike
from mixlens.agents.backends import BACKENDS, RayBackend
from mixlens.agents.hierarchical import centralized_hierarchical, hierarchical_protocol, tradeoff
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
from mixlens.agents.scenarios import (
    MixedScenario,
    channel_owners,
    mixed_agents,
    shared_model_from,
)
from mixlens.agents.shapley import attribute
from mixlens.agents.vertical import (
    OwnerLike,
    SalesOwner,
    SharingConfig,
    attribute_vertical,
    centralized_vertical_fit,
    sharing_admm,
)
from mixlens.data.io import write_json, write_table
from mixlens.errors import DataError

__all__ = ["PROTOCOLS", "SCENARIOS", "TRADEOFF_STRENGTHS", "region_agents", "run_to_dir"]

SCENARIOS = ("regions", "channels", "mixed")
TRADEOFF_STRENGTHS = (1e-3, 1e-2, 1e-1, 1.0, 10.0, 100.0, 1000.0)
PROTOCOLS = ("exact", "admm")


def region_agents(
    scale: int = 1, *, seed: int = 0, weeks: int = 104, per_capita: bool = True
) -> list[Agent]:
    """Five region agents from the simulated MMM world (horizontal split).

    ``scale`` multiplies each agent's rows: the world is simulated for ``weeks * scale``
    weeks with the same generating process. The shared transform is the MMM's default
    delayed adstock, with retention, peak lag and Hill slope from the simulator's channel
    table (agreed up front), per capita unless ``per_capita`` is false (regions differ
    in size by a factor of up to ~20); the scales are fixed later by
    :func:`~mixlens.agents.protocols.setup_protocol`.
    """
    from mixlens.data.simulate.mmm import MMMWorldConfig, simulate_mmm

    if scale < 1:
        raise DataError(f"--scale must be >= 1, got {scale}")
    world = simulate_mmm(MMMWorldConfig(weeks=weeks * scale, n_channels=5, regions=5), seed=seed)
    model = shared_model_from(
        world.channel_params,
        horizon=float(weeks * scale),
        start=str(world.weekly_channel["date"].iloc[0])[:10],
        per_capita=per_capita,
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
    shrinkage: float | None = None,
    tradeoff: bool = False,
    mask_admm: bool = False,
    backend: str = "inprocess",
    ray_actors: int | None = None,
    dp_distributed: bool = False,
) -> dict[str, Any]:
    """Run one scenario end to end and write its files.

    Parameters
    ----------
    scenario
        ``"regions"`` (5 regions, horizontal split), ``"channels"`` (4 channel teams and
        a sales owner, vertical split, sharing ADMM) or ``"mixed"`` (weekly-aggregate
        regions, a user-level journeys unit and a region bringing a lift test).
    scale
        Multiplies every agent's rows (more simulated weeks; more users for journeys).
    out_dir
        Folder for ``rounds.csv``, ``attribution.csv``, ``audit.jsonl``, ``summary.json``.
    protocol
        ``"exact"`` (secure aggregation of sufficient statistics, ridge) or ``"admm"``
        (consensus ADMM, non-negative channel coefficients). The ``channels`` scenario
        always runs sharing ADMM (non-negative) and accepts only ``"admm"``.
    dp_epsilon
        If given, Gaussian-mechanism DP on the shared statistics (``exact`` only);
        ``summary.json`` gets the accounting under ``dp``.
    seed
        Seed of the simulation, pairwise masks and DP noise.
    progress
        Called with one-line status messages.
    shrinkage
        Hierarchical variant (``regions`` and ``mixed``, protocol ``exact``): each agent
        keeps local coefficients shrunk toward the global ones with strength
        ``lam = shrinkage * rows per agent``; credit uses each agent's local model.
    tradeoff
        Also write ``tradeoff.csv``: local fit versus disagreement with the global model
        over shrinkage strengths 1e-3 to 1e3 (``regions`` and ``mixed``).
    mask_admm
        Consensus ADMM in secure mode: pairwise masks on what agents send, so the
        coordinator learns only sums (``regions`` and ``mixed``, protocol ``admm``).
    backend
        ``"inprocess"`` (default) or ``"ray"``: every agent (every channel owner in the
        ``channels`` scenario; the sales owner sits with the coordinator) in a Ray actor
        (the ``ray`` extra), driven by the same protocol code.
    ray_actors
        With ``backend="ray"``, at most this many actor processes (default one per agent).
    dp_distributed
        With ``dp_epsilon``: distributed DP (each agent adds ``1/sqrt(N)`` of the noise and
        secure aggregation hides the rest) instead of local DP.

    Returns
    -------
    dict
        The summary written to ``summary.json``.
    """
    if scenario not in SCENARIOS:
        raise DataError(f"unknown scenario {scenario!r}; choose one of {', '.join(SCENARIOS)}")
    if protocol not in PROTOCOLS:
        raise DataError(f"unknown protocol {protocol!r}; choose one of {', '.join(PROTOCOLS)}")
    if dp_distributed and dp_epsilon is None:
        raise DataError("--dp-distributed needs --dp-epsilon")
    if dp_epsilon is not None and not (0 < dp_epsilon < float("inf")):
        raise DataError("--dp-epsilon must be a finite number > 0")
    if dp_epsilon is not None and protocol != "exact":
        raise DataError("differential privacy is available with protocol 'exact' only")
    if (shrinkage is not None or tradeoff) and (scenario == "channels" or protocol != "exact"):
        raise DataError("--shrinkage and --tradeoff need scenario regions or mixed, protocol exact")
    if shrinkage is not None and dp_epsilon is not None:
        raise DataError("--shrinkage cannot be combined with --dp-epsilon")
    if mask_admm and (scenario == "channels" or protocol != "admm"):
        raise DataError("--mask-admm needs scenario regions or mixed with protocol admm")
    if backend not in BACKENDS:
        raise DataError(f"unknown backend {backend!r}; choose one of {', '.join(BACKENDS)}")
    if scenario == "channels" and protocol != "admm":
        raise DataError(
            "scenario 'channels' (vertical split) runs sharing ADMM: use --protocol admm"
        )
    t0 = time.perf_counter()
    out = Path(out_dir)
    if scenario == "channels":
        summary, result_rounds, attribution, bus = _run_channels(
            scale, seed, progress, backend, ray_actors
        )
    else:
        summary, result_rounds, attribution, bus = _run_horizontal(
            scenario,
            scale,
            protocol,
            dp_epsilon,
            seed,
            progress,
            shrinkage,
            out if tradeoff else None,
            mask_admm,
            backend,
            ray_actors,
            dp_distributed,
        )
    fit_rounds = len(result_rounds)
    if progress is not None:
        progress(f"{scenario}/{protocol}: {fit_rounds} rounds, {bus.audit.total_bytes()} bytes")
    _write_rounds(result_rounds, bus, out / "rounds.csv", setup=scenario != "channels")
    write_table(attribution, out / "attribution.csv")
    bus.audit.write(out / "audit.jsonl")
    summary = {
        "scenario": scenario,
        "protocol": protocol,
        "backend": backend,
        "scale": scale,
        "seed": seed,
        **summary,
        "rounds": fit_rounds,
        "bytes_total": bus.audit.total_bytes(),
        "messages_total": len(bus.audit.rows),
        "seconds": time.perf_counter() - t0,
    }
    write_json(summary, out / "summary.json")
    return summary


def _write_rounds(
    result_rounds: list[dict[str, Any]], bus: Bus, path: Path, *, setup: bool
) -> None:
    fit_rounds = len(result_rounds)
    per_round = bus.audit.bytes_by_round()
    msgs: dict[int, int] = {}
    for row in bus.audit.rows:
        msgs[int(row["round"])] = msgs.get(int(row["round"]), 0) + 1
    nan = float("nan")
    records: list[dict[str, Any]] = []
    if setup:
        records.append({"round": 0, "phase": "setup", "primal_residual": nan, "dual_residual": nan})
    records += [dict(r) for r in result_rounds]
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
    write_table(rounds.reindex(columns=cols), path)


def _run_horizontal(
    scenario: str,
    scale: int,
    protocol: str,
    dp_epsilon: float | None,
    seed: int,
    progress: Callable[[str], None] | None,
    shrinkage: float | None = None,
    tradeoff_dir: Path | None = None,
    mask_admm: bool = False,
    backend: str = "inprocess",
    ray_actors: int | None = None,
    dp_distributed: bool = False,
) -> tuple[dict[str, Any], list[dict[str, Any]], pd.DataFrame, Bus]:
    mixed = mixed_agents(scale, seed=seed) if scenario == "mixed" else None
    dp = None if dp_epsilon is None else DPConfig(epsilon=dp_epsilon, distributed=dp_distributed)
    local = mixed.agents if mixed is not None else region_agents(scale, seed=seed)
    if backend == "ray":
        with RayBackend(max_actors=ray_actors) as ray_backend:
            return _fit_horizontal(
                ray_backend.place(local),
                mixed,
                protocol,
                dp,
                seed,
                progress,
                shrinkage,
                tradeoff_dir,
                mask_admm,
            )
    return _fit_horizontal(
        local, mixed, protocol, dp, seed, progress, shrinkage, tradeoff_dir, mask_admm
    )


def _fit_horizontal(
    agents: Sequence[AgentLike],
    mixed: MixedScenario | None,
    protocol: str,
    dp: DPConfig | None,
    seed: int,
    progress: Callable[[str], None] | None,
    shrinkage: float | None,
    tradeoff_dir: Path | None,
    mask_admm: bool,
) -> tuple[dict[str, Any], list[dict[str, Any]], pd.DataFrame, Bus]:
    rng = np.random.default_rng(seed)
    seeds = pairwise_seeds([a.name for a in agents], rng)
    bus = Bus()
    model = setup_protocol(agents, bus, seeds=seeds)
    n_total = float(sum(a.n_rows for a in agents))  # equals the setup round's securely summed n
    result: FitResult
    nonneg = protocol == "admm"
    extra: dict[str, Any] = {}
    if tradeoff_dir is not None:
        curve = tradeoff(agents, TRADEOFF_STRENGTHS, seeds=seeds)
        write_table(curve, tradeoff_dir / "tradeoff.csv")
        extra["tradeoff_bytes"] = int(curve["bytes"].sum())
    if shrinkage is not None:
        hier = hierarchical_protocol(agents, bus, shrinkage=shrinkage, seeds=seeds)
        result = FitResult(hier.coef, model, hier.rounds)
        joint = centralized_hierarchical(agents, hier.shrinkage)
        mine = np.concatenate([hier.coef, *(_local(a) for a in agents)])
        extra |= {
            "shrinkage": shrinkage,
            "shrinkage_lam": hier.shrinkage,
            "local_fit": hier.local_fit,
            "disagreement": hier.disagreement,
            "rel_diff_vs_centralized": rel_diff(mine, joint),
        }
    elif protocol == "exact":
        result = exact_protocol(agents, bus, seeds=seeds, dp=dp, rng=rng)
    else:
        result = admm_protocol(
            agents, bus, n_total=n_total, progress=progress, seeds=seeds if mask_admm else None
        )
    reference = centralized_fit(agents, nonnegative=nonneg)
    fit_rounds = len(result.rounds)
    attribution = attribute(
        agents, result.coef, bus, seeds=seeds, round=fit_rounds + 1, local=shrinkage is not None
    )
    summary: dict[str, Any] = {
        "agents": [a.name for a in agents],
        "rows_per_agent": [a.n_rows for a in agents],
        "converged": result.converged,
        "rel_diff_vs_centralized": rel_diff(result.coef, reference),
        "epsilon_spent": result.epsilon_spent,
        "delta_spent": result.delta_spent,
        "dp": result.privacy,
        "dp_note": (
            "DP covers the rounds that depend on the rows before the fit: the feature-scales "
            "round and the statistics round, composed exactly (see dp.composition). Outside "
            "it: the setup round releases exact pooled means (outcome, spend per channel, "
            "controls) through secure aggregation, and the attribution round each agent's "
            "own credit, which is the output"
        ),
        "coefficients": dict(zip(model.feature_names, result.coef.tolist(), strict=True)),
        "target_scale": model.target_scale,
        "admm_masked": mask_admm,
    }
    summary |= extra
    summary["objectives"] = {
        a.name: {"kind": a.objective.kind, "factor": a.objective.factor} for a in agents
    }
    if mixed is not None:
        summary["journey_rows"] = mixed.journey_rows
        summary["lift_test"] = _lift_summary(mixed, agents, result.coef, nonneg)
    return summary, result.rounds, attribution, bus


def _local(agent: AgentLike) -> np.ndarray:
    coef = agent.local_coef
    if coef is None:
        raise DataError(f"agent {agent.name!r} has no local coefficients")
    return coef


def _lift_summary(
    mixed: MixedScenario, agents: Sequence[AgentLike], coef: np.ndarray, nonneg: bool
) -> dict[str, Any]:
    lift = mixed.lift
    holder = next(a for a in agents if a.name == mixed.lift_agent)
    model = holder.model
    j = model.feature_names.index(lift.channel)
    c = model.channels.index(lift.channel)
    prior = holder.lift_prior()
    without = centralized_fit(agents, nonnegative=nonneg, with_priors=False)

    def credit(beta: np.ndarray) -> float:
        return float(sum(a.channel_sums(beta)[1][c] for a in agents))

    def window_lift(beta: np.ndarray) -> float:
        # the lift implied by a coefficient: beta * (target_scale * F) = beta * se / sd
        return 0.0 if prior is None else float(beta[j]) * lift.se / prior[1]

    return {
        "agent": mixed.lift_agent,
        "channel": lift.channel,
        "weeks": [lift.start, lift.end],
        "measured_lift": lift.lift,
        "lift_se": lift.se,
        "true_lift": mixed.true_lift,
        "prior_coef_mean": None if prior is None else prior[0],
        "prior_coef_sd": None if prior is None else prior[1],
        "coef_with_lift": float(coef[j]),
        "coef_without_lift": float(without[j]),
        "implied_lift_with": window_lift(coef),
        "implied_lift_without": window_lift(without),
        "credit_with_lift": credit(coef),
        "credit_without_lift": credit(without),
        "true_credit_regions": mixed.true_credit,
        "note": "'without' is the pooled fit with the prior left out, computed for the check",
    }


def _run_channels(
    scale: int,
    seed: int,
    progress: Callable[[str], None] | None,
    backend: str = "inprocess",
    ray_actors: int | None = None,
) -> tuple[dict[str, Any], list[dict[str, Any]], pd.DataFrame, Bus]:
    sales, local = channel_owners(scale, seed=seed)
    reference = centralized_vertical_fit(sales, local)  # for the check only
    if backend == "ray":
        with RayBackend(max_actors=ray_actors) as ray_backend:
            return _fit_channels(sales, ray_backend.place(local), reference, seed, progress)
    return _fit_channels(sales, local, reference, seed, progress)


def _fit_channels(
    sales: SalesOwner,
    owners: Sequence[OwnerLike],
    reference: np.ndarray,
    seed: int,
    progress: Callable[[str], None] | None,
) -> tuple[dict[str, Any], list[dict[str, Any]], pd.DataFrame, Bus]:
    rng = np.random.default_rng(seed)
    seeds = pairwise_seeds([o.name for o in owners], rng)
    bus = Bus()
    result = sharing_admm(
        sales, owners, bus, seeds=seeds, config=SharingConfig(), progress=progress
    )
    order = [sales.name, *(o.name for o in owners)]
    attribution = attribute_vertical(sales, owners, bus, round=len(result.rounds) + 1)
    names = [*sales.feature_names, *(c for o in owners for c in o.channels)]
    summary: dict[str, Any] = {
        "agents": order,
        "rows_per_agent": [sales.y.size] * len(order),
        "channel_owners": {o.name: list(o.channels) for o in owners},
        "converged": result.converged,
        "rel_diff_vs_centralized": rel_diff(result.vector(order), reference),
        "epsilon_spent": 0.0,
        "delta_spent": 0.0,
        "coefficients": dict(zip(names, result.vector(order).tolist(), strict=True)),
        "target_scale": sales.target_scale,
        "revealed": (
            "per round: the sales owner gets the owners' pairwise-masked per-week contributions "
            "(it learns only their per-week sum); each owner gets the per-week vector "
            "zbar - Abar - u; at the end each owner's coefficients and channel totals"
        ),
    }
    return summary, result.rounds, attribution, bus
