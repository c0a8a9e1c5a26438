"""``mixlens allocate``: budget allocation on posterior response curves.

``mixlens allocate --mmm DIR --budget X`` plans a budget (the group's own callback);
``mixlens allocate simulate`` runs the closed loop in a simulated world.
"""

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

allocate_app = typer.Typer(
    help="Budget allocation on posterior response curves (run with --mmm and a scenario), "
    "or `allocate simulate` for the closed loop.",
    invoke_without_command=True,
    no_args_is_help=False,
)
app.add_typer(allocate_app, name="allocate")


def _objective(objective: str) -> Any:
    kind, _, level = objective.partition(":")
    if kind == "mean" and not level:
        return "mean"
    if kind in ("quantile", "cvar") and level:
        try:
            return (kind, float(level))
        except ValueError:
            raise _fail(f"--objective {objective!r}: {level!r} is not a number") from None
    raise _fail(f"--objective must be mean, quantile:Q or cvar:ALPHA, got {objective!r}")


@allocate_app.callback()
def allocate_command(
    ctx: typer.Context,
    mmm: Annotated[Path | None, typer.Option(help="A `mixlens mmm fit` output folder.")] = None,
    budget: Annotated[
        float | None,
        typer.Option(min=0.0, help="Budget for the next --weeks weeks (cap of free scenarios)."),
    ] = None,
    out: OutDir = Path("allocation"),
    weeks: Annotated[int, typer.Option(min=1, help="Planning horizon, weeks.")] = 52,
    objective: Annotated[
        str,
        typer.Option(help="mean, quantile:Q or cvar:ALPHA (risk-aware, over posterior draws)."),
    ] = "mean",
    bounds: Annotated[
        Path | None,
        typer.Option(
            help="CSV of channel[, lower, upper, locked] constraints (+ geo for a geo MMM)."
        ),
    ] = None,
    scenario: Annotated[
        str,
        typer.Option(
            help="budget (best outcome for --budget), target (least spend reaching --target), "
            "roi (largest budget keeping ROI >= --target), mroi (spend until marginal ROI "
            "falls to --target), profit (max --margin * revenue - spend)."
        ),
    ] = "budget",
    target: Annotated[
        float | None, typer.Option(help="Outcome (target), ROI (roi) or marginal ROI (mroi).")
    ] = None,
    margin: Annotated[float, typer.Option(help="Profit per unit of revenue (profit).")] = 1.0,
    cap: Annotated[
        float | None, typer.Option(help="Largest total spend, roi/mroi/profit (default --budget).")
    ] = None,
    ramp: Annotated[
        float | None, typer.Option(help="Largest relative change per channel, e.g. 0.2.")
    ] = None,
    metric: Annotated[
        str, typer.Option(help="revenue (the MMM target) or volume (revenue / --value-per-unit).")
    ] = "revenue",
    value_per_unit: Annotated[
        float, typer.Option(help="Revenue per unit of volume (e.g. average order value).")
    ] = 1.0,
    pareto: Annotated[
        int,
        typer.Option(
            min=0,
            help="Also write pareto.csv: outcome vs spend, K budgets (with --objectives also "
            "pareto_objectives.csv, K levels per constrained objective).",
        ),
    ] = 0,
    ima: Annotated[
        Path | None,
        typer.Option(
            help="A `mixlens ima fit` folder: also split by campaign (campaign rows of "
            "--bounds then bound each campaign)."
        ),
    ] = None,
    objectives: Annotated[
        Path | None,
        typer.Option(
            help="CSV of channel, value_per_unit, cpm, audience[, population]: with --pareto "
            "K also write pareto_objectives.csv (revenue, acquisitions, reach)."
        ),
    ] = None,
    seed: Seed = 0,
) -> None:
    """Recommend a budget split on posterior response curves: allocation.csv, summary.json."""
    if ctx.invoked_subcommand is not None:
        return
    if mmm is None:
        raise _fail("--mmm is required (or run `mixlens allocate simulate`)")
    if scenario == "budget" and budget is None:
        raise _fail("--budget is required for --scenario budget")
    parsed = _objective(objective)
    from mixlens.allocation.run import allocate_to_dir

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
            scenario=scenario,
            target=target,
            margin=margin,
            cap=cap,
            value_per_unit=value_per_unit,
            metric=metric,
            ramp=ramp,
            pareto=pareto,
            ima_dir=ima,
            objectives_file=objectives,
        )
    better = summary.get("prob_better_than_current")
    if isinstance(better, float):
        out_console.print(f"P(recommended beats current) = {better:.0%}", highlight=False)
    out_console.print(
        f"recommended spend {summary['recommended_spend']:,.0f} "
        f"(current {summary['current_spend']:,.0f})",
        highlight=False,
    )
    out_console.print(f"allocation: {out / 'allocation.csv'}", highlight=False)


@allocate_app.command("simulate")
def allocate_simulate_command(
    out: OutDir = Path("allocation_loop"),
    weeks: Annotated[int, typer.Option(min=1, help="Weeks in the loop.")] = 52,
    channels: Annotated[int, typer.Option(min=5, max=8, help="Channels in the world.")] = 5,
    shift_channel: Annotated[
        str | None, typer.Option(help="Channel whose response shifts (default: the largest).")
    ] = None,
    shift_week: Annotated[int, typer.Option(min=1, help="Week of the shift.")] = 26,
    shift_factor: Annotated[float, typer.Option(help="Response multiplier at the shift.")] = 0.3,
    margin: Annotated[float, typer.Option(help="Profit per unit of outcome.")] = 1.0,
    forget: Annotated[
        float, typer.Option(help="Weekly discount of past data in the posterior, (0, 1].")
    ] = 1.0,
    detect: Annotated[
        float,
        typer.Option(min=0.0, help="CUSUM threshold for change detection (0: none)."),
    ] = 5.0,
    explore: Annotated[
        float,
        typer.Option(min=0.0, help="Thompson draw spread around the mean (1: plain TS)."),
    ] = 0.5,
    step: Annotated[
        float,
        typer.Option(min=0.0, help="Largest weekly move per channel, fraction (0: none)."),
    ] = 0.25,
    delivery_cv: Annotated[
        float, typer.Option(min=0.0, help="Weekly delivery noise on planned spend (CV).")
    ] = 0.2,
    horizon: Annotated[
        int | None,
        typer.Option(
            min=0,
            help="Weeks over which the directed policy values what a test teaches "
            "(default: the weeks left in the loop; 0: never test).",
        ),
    ] = None,
    seed: Seed = 0,
) -> None:
    """Run the closed loop in a simulated world: allocate, observe, update (regret.csv).

    Policies: historical, static, greedy, thompson, directed (in-market tests where they
    pay) and the oracle the regret is measured against.
    """
    from mixlens.allocation.learner import LearnerConfig
    from mixlens.allocation.run import simulate_loop_to_dir

    with _user_errors(), _progress() as stage:
        summary = simulate_loop_to_dir(
            out_dir=out,
            seed=seed,
            weeks=weeks,
            channels=channels,
            shift_channel=shift_channel,
            shift_week=shift_week,
            shift_factor=shift_factor,
            margin=margin,
            delivery_cv=delivery_cv,
            learner=LearnerConfig(
                forget=forget,
                detect=detect or None,
                explore=explore,
                step=step or None,
                horizon=horizon,
            ),
            progress=stage("closed loop"),
        )
    for policy, block in summary["policies"].items():
        out_console.print(
            f"{policy:<10} cumulative regret {block['cumulative_regret']:>14,.0f}", highlight=False
        )
    out_console.print(f"regret: {out / 'regret.csv'}", highlight=False)
