"""``mixlens market``: train agents in the simulated advertising market and evaluate them."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from mixlens.cli._app import OutDir, Seed, _group, _progress, _report_files, _user_errors

market_app = _group(
    "market",
    "Multi-agent reinforcement-learning market: train agents, compare them with the "
    "static split, the budget optimiser and an oracle.",
)


@market_app.command("train")
def market_train_command(
    out: OutDir = Path("market_policy"),
    mode: Annotated[
        str, typer.Option(help="independent, ctde (centralised critic) or hierarchical.")
    ] = "independent",
    updates: Annotated[int, typer.Option(min=1, help="Policy updates.")] = 250,
    batch: Annotated[int, typer.Option(min=1, help="Episodes per update.")] = 8,
    reward: Annotated[str, typer.Option(help="profit, roi or ltv.")] = "profit",
    seed: Seed = 0,
) -> None:
    """Train the portfolio and bidder agents; write policy.pt, policy.json, curve.csv."""
    import torch

    from mixlens.allocation.market.run import train_to_dir

    torch.set_num_threads(1)  # tiny networks: one thread is fastest on shared cores

    with _user_errors(), _progress() as step:
        summary = train_to_dir(
            out,
            mode=mode,
            updates=updates,
            batch=batch,
            seed=seed,
            reward=reward,  # type: ignore[arg-type]
            progress=step("train"),
        )
    files = [Path(p) for p in summary.pop("files")]
    _report_files(
        out,
        files,
        summary,
        ["episodes", "train_seconds", "final_train_profit"],
        command="market train",
    )


@market_app.command("evaluate")
def market_evaluate_command(
    policy: Annotated[Path, typer.Option(help="A `mixlens market train` output folder.")],
    out: OutDir = Path("market_evaluation"),
    seeds: Annotated[int, typer.Option(min=2, help="Held-out episode seeds.")] = 20,
    history: Annotated[
        int, typer.Option(min=3, help="Historical episodes the optimiser's curves are fit on.")
    ] = 24,
    oracle_evaluations: Annotated[
        int, typer.Option(min=1, help="Plans the oracle may simulate.")
    ] = 80,
) -> None:
    """Compare the learned policy with static, optimiser and oracle (evaluation.csv)."""
    from mixlens.allocation.market.run import evaluate_to_dir

    with _user_errors(), _progress() as step:
        summary = evaluate_to_dir(
            policy,
            out,
            seeds=seeds,
            history=history,
            oracle_evaluations=oracle_evaluations,
            progress=step("evaluate"),
        )
    files = [Path(p) for p in summary.pop("files")]
    _report_files(out, files, summary, ["seeds", "best_policy"], command="market evaluate")
