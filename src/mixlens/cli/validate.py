"""``mixlens validate`` and ``mixlens demo``."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from mixlens.cli._app import (
    OutDir,
    Regions,
    Seed,
    _progress,
    _user_errors,
    app,
    console,
    out_console,
)


@app.command("validate")
def validate_command(
    file: Annotated[Path, typer.Argument(help="CSV, Parquet or DuckDB (file.duckdb::table).")],
    kind: Annotated[
        str,
        typer.Option(help="weekly | campaigns | touchpoints | conversions | paths"),
    ],
    target: Annotated[str, typer.Option(help="Target column of a weekly panel.")] = "sales",
    controls: Annotated[str, typer.Option(help="Comma-separated control columns.")] = "",
    touchpoints: Annotated[
        Path | None, typer.Option(help="Touchpoints file, to check conversions' users.")
    ] = None,
) -> None:
    """Check a file before anything is fitted and print a short profile (exit 2 if bad)."""
    from mixlens.data.loaders import validate_file

    control_list = tuple(c.strip() for c in controls.split(",") if c.strip())
    with _user_errors(), console.status(f"validating {file}"):
        profile = validate_file(
            file, kind, target=target, controls=control_list, touchpoints=touchpoints
        )
    for line in profile.lines():
        out_console.print(line, highlight=False)


@app.command("demo")
def demo_command(
    out: OutDir = Path("mixlens_demo"),
    seed: Seed = 1,
    weeks: Annotated[int, typer.Option(min=8, help="Weeks in the MMM world.")] = 156,
    users: Annotated[int, typer.Option(min=1000, help="Users in the journey world.")] = 50_000,
    regions: Regions = 1,
    mmm_draws: Annotated[
        int, typer.Option(min=20, help="MMM draws and tuning steps per chain (2 chains).")
    ] = 500,
) -> None:
    """Run every available stage on simulated data and write report.html."""
    from mixlens.demo import DemoConfig, run_demo

    config = DemoConfig(seed=seed, weeks=weeks, users=users, regions=regions, mmm_draws=mmm_draws)
    with _user_errors(), _progress() as step:
        run_demo(out, config, progress=step)
    out_console.print(f"report: {out / 'report.html'}", highlight=False)
