"""``mixlens experiment``: geo-holdout and A/B lift analysis."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from mixlens.cli._app import (
    OutDir,
    Seed,
    _fail,
    _group,
    _progress,
    _user_errors,
    out_console,
)

experiment_app = _group(
    "experiment", "Geo-holdout and A/B lift analysis; writes lift_tests.csv for calibration."
)


@experiment_app.command("analyze")
def experiment_analyze_command(
    panel: Annotated[
        Path | None, typer.Argument(help="Geo panel: date, geo, target, {channel}_spend.")
    ] = None,
    out: OutDir = Path("experiment"),
    treated: Annotated[str, typer.Option(help="Comma-separated treated geos.")] = "",
    start: Annotated[str | None, typer.Option(help="First day of the test (YYYY-MM-DD).")] = None,
    end: Annotated[str | None, typer.Option(help="Last day of the test (YYYY-MM-DD).")] = None,
    target: Annotated[str, typer.Option(help="Outcome column.")] = "sales",
    channel: Annotated[
        str | None, typer.Option(help="Tested channel (default: the one whose spend changed).")
    ] = None,
    ab: Annotated[
        Path | None,
        typer.Option(help="User-level A/B table: user_id, group, converted, value[, cost]."),
    ] = None,
    design: Annotated[
        Path | None,
        typer.Option(help="design.json with treated, start, end, channel (options override)."),
    ] = None,
    level: Annotated[float, typer.Option(min=0.5, max=0.999, help="Interval level.")] = 0.9,
    seed: Seed = 0,
) -> None:
    """Estimate incremental outcome with intervals: lift_tests.csv and summary.json."""
    import json

    from mixlens.experiments.run import analyze_to_dir

    geos = [g.strip() for g in treated.split(",") if g.strip()]
    if design is not None:
        try:
            planned = json.loads(design.read_text(encoding="utf-8"))
        except (OSError, ValueError) as err:
            raise _fail(f"{design}: cannot read the design ({err})") from None
        geos = geos or [str(g) for g in planned.get("treated", [])]
        start = start or planned.get("start")
        end = end or planned.get("end")
        channel = channel or planned.get("channel")
    if (panel is None) == (ab is None):
        raise _fail("give a geo PANEL (with --treated, --start, --end) or --ab FILE")
    if panel is not None and not (geos and start and end):
        raise _fail("a geo holdout needs --treated, --start and --end")
    with _user_errors(), _progress() as step:
        summary = analyze_to_dir(
            panel,
            treated=geos or None,
            start=start,
            end=end,
            target=target,
            channel=channel,
            ab=ab,
            out_dir=out,
            level=level,
            seed=seed,
            progress=step("experiment"),
        )
    recommended = summary.get("recommendation", {})
    if isinstance(recommended, dict) and recommended.get("method"):
        out_console.print(
            f"recommended: {recommended['method']} ({recommended.get('reason', '')})",
            highlight=False,
        )
    out_console.print(f"lift tests: {out / 'lift_tests.csv'}", highlight=False)
