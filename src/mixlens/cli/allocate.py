"""``mixlens allocate``: budget allocation on posterior response curves."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer

from mixlens.cli._app import (
    OutDir,
    Seed,
    _fail,
    _progress,
    _user_errors,
    app,
    out_console,
)


@app.command("allocate")
def allocate_command(
    mmm: Annotated[Path, typer.Option(help="A `mixlens mmm fit` output folder.")],
    budget: Annotated[float, typer.Option(min=0.0, help="Budget for the next --weeks weeks.")],
    out: OutDir = Path("allocation"),
    weeks: Annotated[int, typer.Option(min=1, help="Planning horizon, weeks.")] = 52,
    objective: Annotated[
        str,
        typer.Option(help="mean, quantile:Q or cvar:ALPHA (risk-aware, over posterior draws)."),
    ] = "mean",
    bounds: Annotated[
        Path | None, typer.Option(help="CSV of channel[, lower, upper, locked] constraints.")
    ] = None,
    seed: Seed = 0,
) -> None:
    """Recommend a budget split on posterior response curves: allocation.csv, summary.json."""
    from mixlens.allocation.run import allocate_to_dir

    kind, _, level = objective.partition(":")
    if kind == "mean" and not level:
        parsed: Any = "mean"
    elif kind in ("quantile", "cvar") and level:
        try:
            parsed = (kind, float(level))
        except ValueError:
            raise _fail(f"--objective {objective!r}: {level!r} is not a number") from None
    else:
        raise _fail(f"--objective must be mean, quantile:Q or cvar:ALPHA, got {objective!r}")
    with _user_errors(), _progress() as step:
        summary = allocate_to_dir(
            mmm,
            budget=budget,
            out_dir=out,
            weeks=weeks,
            objective=parsed,
            bounds_file=bounds,
            seed=seed,
            progress=step("allocate"),
        )
    better = summary.get("prob_better_than_current")
    if isinstance(better, float):
        out_console.print(f"P(recommended beats current) = {better:.0%}", highlight=False)
    out_console.print(f"allocation: {out / 'allocation.csv'}", highlight=False)
