"""``mixlens ima``: campaign credit anchored in the MMM."""

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

ima_app = _group("ima", "Integrated marketing attribution: campaign credit anchored in the MMM.")


@ima_app.command("fit")
def ima_fit_command(
    campaigns: Annotated[
        Path,
        typer.Option(
            help="Daily campaign media: date, [geo], channel, campaign, spend, impressions, ..."
        ),
    ],
    out: OutDir = Path("ima"),
    mmm: Annotated[
        Path | None, typer.Option(help="A `mixlens mmm fit` output folder (national or geo).")
    ] = None,
    contributions: Annotated[
        Path | None,
        typer.Option(
            help="Or bring your own MMM: date, [geo], channel, contribution (weekly or daily)."
        ),
    ] = None,
    adstock: Annotated[
        Path | None,
        typer.Option(help="With --contributions: channel, theta, peak, l_max (MMM periods)."),
    ] = None,
    media: Annotated[
        str, typer.Option(help="Campaign media metric: impressions, spend or clicks.")
    ] = "impressions",
    method: Annotated[
        str,
        typer.Option(
            help="advi (default), laplace (use with --lift-tests; national and geo level) or "
            "nuts (4-8x slower; "
            "honest intervals of each campaign's share of its channel, where ADVI's are "
            "too narrow)."
        ),
    ] = "advi",
    model: Annotated[
        str,
        typer.Option(
            help="auto (per channel, the better weekly fit), saturating (campaigns share "
            "the channel's Hill curve) or linear (the paper's regression)."
        ),
    ] = "auto",
    draws: Annotated[int, typer.Option(min=10, help="Posterior draws.")] = 200,
    advi_steps: Annotated[
        int, typer.Option(min=100, help="ADVI optimisation steps (--method advi).")
    ] = 8000,
    rule: Annotated[
        str,
        typer.Option(
            help="Reconciliation: cap (campaigns capped at the channel, the rest "
            "unattributed), residual (only the regression intercept unattributed, the "
            "rest shared pro rata) or proportional."
        ),
    ] = "cap",
    lift_tests: Annotated[
        Path | None,
        typer.Option(
            help="Campaign lift tests (lift_tests.csv with a campaign column; at the geo "
            "level an optional geo column names the geos a test ran in)."
        ),
    ] = None,
    likelihood: Annotated[
        str,
        typer.Option(
            help="period (default: fit the MMM's weekly totals) or daily (fit the daily "
            "split, as in the paper)."
        ),
    ] = "period",
    grain: Annotated[
        str,
        typer.Option(
            help="auto (default: per channel, the better weekly fit of the two), mmm "
            "(campaigns' adstock and saturation at the MMM's weekly grain) or daily (the "
            "weekly kernel converted to days, a daily curve)."
        ),
    ] = "auto",
    mmm_uncertainty: Annotated[
        bool,
        typer.Option(
            help="With --mmm: propagate the MMM's posterior draws into the campaign intervals."
        ),
    ] = True,
    mmm_error: Annotated[
        bool,
        typer.Option(
            "--mmm-error/--exact-mmm",
            help="With --mmm: weigh weeks by the MMM's posterior uncertainty of the weekly "
            "shape (--exact-mmm: take its weekly contributions as exact).",
        ),
    ] = True,
    window: Annotated[
        int | None,
        typer.Option(
            min=1,
            help="Also fit a rolling window of this many days (multiple of 7 for a weekly "
            "MMM), carrying each posterior forward as the next prior: campaigns_by_window.csv "
            "(at the geo level per geo, campaign effects pooled as --pooling).",
        ),
    ] = None,
    step: Annotated[
        int | None, typer.Option(min=1, help="Days the rolling window moves (default: --window).")
    ] = None,
    memory: Annotated[
        str,
        typer.Option(
            help="window (each window's own weeks) or all (every week so far), with --window."
        ),
    ] = "window",
    pooling: Annotated[
        str,
        typer.Option(
            help="Geo level: partial (default: each campaign's effect pooled across geos) "
            "or none (independent geos)."
        ),
    ] = "partial",
    interactions: Annotated[
        str | None,
        typer.Option(
            help="Cross-channel interaction terms, e.g. 'paid_search=tv+online_video,"
            "social=tv': the target channel's campaigns work better (or worse) when the "
            "source channels are active; coefficients and the share of each target owed "
            "to its sources go to summary.json. Off by default."
        ),
    ] = None,
    tune_adstock: Annotated[
        bool,
        typer.Option(
            "--tune-adstock/--no-tune-adstock",
            help="With --contributions: tune each channel's daily carryover from its "
            "contributions; the given kernel (or none) is kept unless another clearly fits "
            "better (BIC gain >= 10); adstock_tuning.csv. Off by default.",
        ),
    ] = False,
    seed: Seed = 0,
) -> None:
    """Split each channel's MMM contribution over its campaigns: campaign_daily.csv, ...

    With a geo MMM (or contributions with a geo column) and campaign media with a geo
    column, campaigns are attributed per geo, their effects partially pooled across
    geos; every table gets a geo column (each geo, and all: the sums), rolling windows
    (--window) included.
    """
    from mixlens.ima.run import fit_to_dir

    if (mmm is None) == (contributions is None):
        raise _fail("give --mmm MMM_DIR, or --contributions FILE (with --adstock FILE)")
    if method not in ("advi", "laplace", "nuts"):
        raise _fail(f"--method must be advi, laplace or nuts, got {method!r}")
    if model not in ("auto", "saturating", "linear"):
        raise _fail(f"--model must be auto, saturating or linear, got {model!r}")
    if media not in ("impressions", "spend", "clicks"):
        raise _fail(f"--media must be impressions, spend or clicks, got {media!r}")
    if likelihood not in ("period", "daily"):
        raise _fail(f"--likelihood must be period or daily, got {likelihood!r}")
    if memory not in ("window", "all"):
        raise _fail(f"--memory must be window or all, got {memory!r}")
    if step is not None and window is None:
        raise _fail("--step needs --window")
    if grain not in ("auto", "mmm", "daily"):
        raise _fail(f"--grain must be auto, mmm or daily, got {grain!r}")
    if rule not in ("cap", "residual", "proportional"):
        raise _fail(f"--rule must be cap, residual or proportional, got {rule!r}")
    if pooling not in ("partial", "none"):
        raise _fail(f"--pooling must be partial or none, got {pooling!r}")
    with _user_errors(), _progress() as stage:
        fit_to_dir(
            campaigns=campaigns,
            out_dir=out,
            mmm_dir=mmm,
            mmm_contributions=contributions,
            adstock=adstock,
            media=media,
            method="advi" if method == "advi" else "laplace" if method == "laplace" else "nuts",
            model="auto"
            if model == "auto"
            else "saturating"
            if model == "saturating"
            else "linear",
            draws=draws,
            seed=seed,
            rule="cap" if rule == "cap" else "residual" if rule == "residual" else "proportional",
            progress=stage("ima fit"),
            lift_tests=lift_tests,
            likelihood="period" if likelihood == "period" else "daily",
            grain="auto" if grain == "auto" else "mmm" if grain == "mmm" else "daily",
            mmm_uncertainty=mmm_uncertainty,
            mmm_error=mmm_error,
            window=window,
            step=step,
            memory="window" if memory == "window" else "all",
            pooling="partial" if pooling == "partial" else "none",
            advi_steps=advi_steps,
            interactions=interactions,
            tune_adstock=tune_adstock,
        )
    out_console.print(f"ima: {out / 'campaigns.csv'}", highlight=False)
