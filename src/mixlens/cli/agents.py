"""``mixlens agents``: decentralized attribution."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from mixlens.cli._app import (
    OutDir,
    Seed,
    _group,
    _progress,
    _user_errors,
    out_console,
)

agents_app = _group(
    "agents", "Decentralized attribution: agents keep their rows and fit one shared model."
)


@agents_app.command("run")
def agents_run_command(
    out: OutDir = Path("agents"),
    scenario: Annotated[
        str,
        typer.Option(
            help="regions (5 regions, horizontal split), channels (4 channel teams and a "
            "sales owner, vertical split; needs --protocol admm) or mixed (weekly regions, "
            "a user-level journeys unit, a region with a lift test)."
        ),
    ] = "regions",
    scale: Annotated[int, typer.Option(min=1, help="Multiply every agent's rows by K.")] = 1,
    protocol: Annotated[
        str, typer.Option(help="exact (secure sufficient statistics) or admm (non-negative).")
    ] = "exact",
    dp_epsilon: Annotated[
        float | None, typer.Option(help="Differential privacy budget per agent (exact only).")
    ] = None,
    dp_distributed: Annotated[
        bool,
        typer.Option(
            help="With --dp-epsilon: distributed DP (each agent adds 1/sqrt(N) of the noise; "
            "secure aggregation hides the rest) instead of local DP."
        ),
    ] = False,
    shrinkage: Annotated[
        float | None,
        typer.Option(
            help="Hierarchical variant: local coefficients shrunk toward the global ones "
            "with strength lambda = S x rows per agent (regions/mixed, exact)."
        ),
    ] = None,
    tradeoff: Annotated[
        bool, typer.Option(help="Also write tradeoff.csv (local fit vs disagreement).")
    ] = False,
    mask_admm: Annotated[
        bool, typer.Option(help="ADMM with pairwise masks: the coordinator sees only sums.")
    ] = False,
    backend: Annotated[
        str,
        typer.Option(
            help="inprocess (default) or ray: every agent in a Ray actor, same protocol code "
            "(needs the ray extra; regions and mixed)."
        ),
    ] = "inprocess",
    ray_actors: Annotated[
        int | None,
        typer.Option(min=1, help="With --backend ray: at most N actor processes."),
    ] = None,
    seed: Seed = 0,
) -> None:
    """Fit the shared response model across agents: rounds.csv, attribution.csv, audit.jsonl."""
    from mixlens.agents.run import run_to_dir

    with _user_errors(), _progress() as step:
        update = step("agents run")
        summary = run_to_dir(
            scenario,
            scale=scale,
            out_dir=out,
            protocol=protocol,
            dp_epsilon=dp_epsilon,
            seed=seed,
            progress=lambda stage: update(stage, 0.5),
            shrinkage=shrinkage,
            tradeoff=tradeoff,
            mask_admm=mask_admm,
            backend=backend,
            ray_actors=ray_actors,
            dp_distributed=dp_distributed,
        )
        update("done", 1.0)
    out_console.print(
        f"rounds {summary.get('rounds')}, bytes {summary.get('bytes_total'):,}, "
        f"relative difference vs centralized {summary.get('rel_diff_vs_centralized'):.2e}",
        highlight=False,
    )
    out_console.print(f"attribution: {out / 'attribution.csv'}", highlight=False)
