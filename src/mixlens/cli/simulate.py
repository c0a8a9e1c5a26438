"""``mixlens simulate``: worlds with known ground truth."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from mixlens.cli._app import (
    OutDir,
    Regions,
    Seed,
    _fail,
    _group,
    _progress,
    _report_files,
    _user_errors,
)

simulate_app = _group(
    "simulate", "Simulate a world with known ground truth (MMM, journeys, geo experiment)."
)


@simulate_app.command("mmm")
def simulate_mmm_command(
    out: OutDir = Path("sim_mmm"),
    seed: Seed = 0,
    weeks: Annotated[int, typer.Option(min=8, help="Weeks of data.")] = 156,
    channels: Annotated[
        int | None,
        typer.Option(
            min=5, max=8, help="Paid channels (5 to 8; default 6, or 7 with --transforms mixed)."
        ),
    ] = None,
    regions: Regions = 1,
    transforms: Annotated[
        str,
        typer.Option(
            help="True adstock and saturation of the channels: delayed-hill (every channel "
            "delayed adstock and Hill saturation) or mixed (Weibull, geometric and delayed "
            "adstock, Hill and logistic saturation, by channel)."
        ),
    ] = "delayed-hill",
) -> None:
    """Simulate daily media and sales: weekly_channel.csv, daily_campaign.csv and truth/."""
    from mixlens.data.simulate.mmm import MMMWorldConfig, preset_channels, simulate_mmm
    from mixlens.data.simulate.mmm_channels import TRANSFORM_PRESETS

    if transforms not in TRANSFORM_PRESETS:
        raise _fail(
            f"--transforms must be one of {', '.join(TRANSFORM_PRESETS)}, got {transforms!r}"
        )
    n_channels = channels if channels is not None else (7 if transforms == "mixed" else 6)
    with _user_errors(), _progress() as step:
        # The default world names its channels by count, as before the presets.
        specs = () if transforms == "delayed-hill" else preset_channels(transforms, n_channels)
        config = MMMWorldConfig(weeks=weeks, n_channels=n_channels, channels=specs, regions=regions)
        world = simulate_mmm(config, seed=seed, progress=step("simulate mmm"))
        files = world.write(out)
    _report_files(
        out,
        files,
        world.summary,
        ["transforms", "total_sales", "total_spend", "media_share"],
        command="simulate mmm",
    )


@simulate_app.command("journeys")
def simulate_journeys_command(
    out: OutDir = Path("sim_journeys"),
    seed: Seed = 0,
    users: Annotated[int, typer.Option(min=100, help="Number of users.")] = 50_000,
    days: Annotated[int, typer.Option(min=7, help="Days in the window.")] = 90,
    channels: Annotated[int, typer.Option(min=6, max=10, help="Channels (6 to 10).")] = 8,
    lookback: Annotated[int, typer.Option(min=1, help="Journey lookback window, days.")] = 30,
    regions: Regions = 1,
) -> None:
    """Simulate user journeys: touchpoints.csv, conversions.csv, paths.csv and truth/."""
    from mixlens.data.simulate.journeys import JourneyWorldConfig, simulate_journeys

    with _user_errors(), _progress() as step:
        config = JourneyWorldConfig(
            users=users, days=days, n_channels=channels, lookback_days=lookback, regions=regions
        )
        world = simulate_journeys(config, seed=seed, progress=step("simulate journeys"))
        files = world.write(out)
    _report_files(
        out,
        files,
        world.summary,
        ["users", "conversions", "baseline_conversions"],
        command="simulate journeys",
    )


@simulate_app.command("geo-experiment")
def simulate_geo_experiment_command(
    out: OutDir = Path("sim_geo"),
    seed: Seed = 0,
    geos: Annotated[int, typer.Option(min=4, help="Number of geos.")] = 40,
    treated: Annotated[int, typer.Option(min=1, help="Treated geos.")] = 10,
    weeks: Annotated[int, typer.Option(min=12, help="Weeks of data.")] = 104,
    test_weeks: Annotated[int, typer.Option(min=1, help="Weeks in the test window.")] = 8,
    daily: Annotated[bool, typer.Option(help="Daily rows instead of weekly.")] = False,
    effect: Annotated[
        float, typer.Option(help="True lift of the tested channel (0 gives an A/A test).")
    ] = 0.05,
    spillover: Annotated[float, typer.Option(min=0.0, help="Spillover into controls.")] = 0.0,
) -> None:
    """Simulate a geo holdout with a known lift: panel.csv, design.json and truth/."""
    from mixlens.data.simulate.geo_experiment import (
        GeoExperimentConfig,
        simulate_geo_experiment,
    )

    with _user_errors():
        config = GeoExperimentConfig(
            geos=geos,
            treated=treated,
            weeks=weeks,
            test_weeks=test_weeks,
            daily=daily,
            effect=effect,
            spillover=spillover,
        )
        world = simulate_geo_experiment(config, seed=seed)
        files = world.write(out)
    _report_files(
        out,
        files,
        {**world.summary, "seed": seed},
        ["channel", "start", "end", "incremental_outcome"],
        command="simulate geo-experiment",
    )
