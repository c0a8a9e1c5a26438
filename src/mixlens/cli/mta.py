"""``mixlens mta``: multi-touch attribution on user journeys."""

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

mta_app = _group(
    "mta",
    "Multi-touch attribution on user journeys: heuristics, Markov, Shapley, hazard and "
    "incrementality-aware credit.",
)


@mta_app.command("fit")
def mta_fit_command(
    out: OutDir = Path("mta"),
    touchpoints: Annotated[
        Path | None, typer.Option(help="Touchpoint log: user_id, timestamp, channel.")
    ] = None,
    conversions: Annotated[
        Path | None, typer.Option(help="Conversion log: user_id, timestamp[, value].")
    ] = None,
    paths: Annotated[
        Path | None, typer.Option(help="Or a path table in ChannelAttribution's format.")
    ] = None,
    models: Annotated[
        str, typer.Option(help="Comma-separated models; empty runs all the input supports.")
    ] = "",
    order: Annotated[int, typer.Option(help="Markov chain order (1 to 4).")] = 1,
    lookback: Annotated[float, typer.Option(help="Journey lookback window, days.")] = 30.0,
    lift_tests: Annotated[
        Path | None,
        typer.Option(
            "--lift-tests",
            help="Lift tests calibrating 'incremental': channel, incremental_conversions, se "
            "[, incremental_value], or the lift_tests.csv of 'mixlens experiment analyze'.",
        ),
    ] = None,
    mmm: Annotated[
        Path | None,
        typer.Option(help="MMM run folder (roi.csv, contributions.csv) bounding the total."),
    ] = None,
    bootstrap: Annotated[
        int,
        typer.Option(
            help="Bootstrap replicates over users for credit intervals "
            "(conversions_lo/hi, value_lo/hi columns); 0 for none, 20 is a modest start."
        ),
    ] = 0,
    seed: Seed = 0,
) -> None:
    """Credit conversions to channels: attribution.csv (model, channel, conversions, value).

    Also writes the journeys' order-1 transitions, path lengths and, from logs, the path table
    and time to conversion (transitions.csv, path_lengths.csv, paths.csv,
    time_to_conversion.csv).
    """
    from mixlens.mta.run import fit_to_dir

    model_list = [m.strip() for m in models.split(",") if m.strip()] or None
    with _user_errors(), _progress() as step:
        summary = fit_to_dir(
            touchpoints=touchpoints,
            conversions=conversions,
            paths=paths,
            models=model_list,
            order=order,
            lookback_days=lookback,
            out_dir=out,
            seed=seed,
            lift_tests=lift_tests,
            mmm_dir=mmm,
            bootstrap=bootstrap,
            progress=step("mta fit"),
        )
    ran = ", ".join(summary.get("models", {}))
    out_console.print(f"attribution: {out / 'attribution.csv'} ({ran})", highlight=False)
    described = [
        f for f in summary.get("files", []) if f not in ("attribution.csv", "summary.json")
    ]
    if described:
        out_console.print(f"journeys: {', '.join(described)} in {out}", highlight=False)
