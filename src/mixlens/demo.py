"""The demo pipeline: every stage that exists, on simulated data, ending in ``report.html``."""

from __future__ import annotations

import json
import warnings
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd

from mixlens.agents.run import run_to_dir as run_agents
from mixlens.allocation.market.run import evaluate_to_dir as evaluate_market
from mixlens.allocation.market.run import train_to_dir as train_market
from mixlens.allocation.response import TrueResponse
from mixlens.allocation.run import allocate_to_dir, simulate_loop_to_dir
from mixlens.data.io import write_json, write_text
from mixlens.data.loaders import validate_file
from mixlens.data.simulate.geo_experiment import GeoExperimentConfig, simulate_geo_experiment
from mixlens.data.simulate.journeys import JourneyWorldConfig, simulate_journeys
from mixlens.data.simulate.mmm import MMMWorldConfig, SimulatedMMM, simulate_mmm
from mixlens.experiments.run import analyze_to_dir as analyze_geo_to_dir
from mixlens.ima.evaluate import media_share_baseline, score_campaigns, spend_share_baseline
from mixlens.ima.families import score_families, summarise_families
from mixlens.ima.fit import prepare_inputs
from mixlens.ima.run import fit_to_dir as fit_ima
from mixlens.ima.run import read_mmm_dir
from mixlens.mmm.fit import ConvergenceWarning
from mixlens.mmm.run import fit_to_dir as fit_mmm
from mixlens.mta.evaluate import accuracy_against_truth
from mixlens.mta.run import fit_to_dir as fit_mta
from mixlens.report.agents import agents_section
from mixlens.report.allocation import allocation_section
from mixlens.report.experiments import experiment_section
from mixlens.report.html import Section, render_report
from mixlens.report.ima import ima_section
from mixlens.report.market import market_section
from mixlens.report.mmm_run import read_mmm_run, run_section
from mixlens.report.mta import mta_section
from mixlens.report.sections import journey_world_section, mmm_world_section

ProgressCallback = Callable[[str, float], None]


@dataclass(frozen=True)
class DemoConfig:
    """What the demo simulates.

    Attributes
    ----------
    seed
        Seed for every stage.
    weeks
        Weeks in the MMM world.
    users
        Users in the journey world.
    regions
        Regions in both worlds (1 = national only).
    mmm_draws
        MMM posterior draws (and tuning steps) per chain, 2 chains.
    """

    seed: int = 1
    weeks: int = 156
    users: int = 50_000
    regions: int = 1
    mmm_draws: int = 500


def _national_panel(weekly: pd.DataFrame) -> pd.DataFrame:
    """Sum a geo panel to a national one (the MMM is national for now); controls are means."""
    if "geo" not in weekly.columns:
        return weekly
    means = {"price", "promotion"}
    agg = {c: ("mean" if c in means else "sum") for c in weekly.columns if c not in ("date", "geo")}
    return weekly.groupby("date", sort=True).agg(agg).reset_index()


def _with_campaign_truth(campaigns: pd.DataFrame, truth_daily: pd.DataFrame) -> pd.DataFrame:
    """Add each campaign's true total contribution (``truth``) to ``campaigns.csv`` rows."""
    truth = truth_daily.groupby(["channel", "campaign"])["contribution"].sum().rename("truth")
    return campaigns.join(truth, on=["channel", "campaign"])


def _campaign_truth(world: SimulatedMMM) -> pd.DataFrame:
    """``channel, campaign, family, contribution``: each campaign's true total and family."""
    totals = world.daily_campaign_contributions.groupby(["channel", "campaign"], as_index=False)[
        "contribution"
    ].sum()
    families = world.campaign_params[["channel", "campaign", "family"]]
    out: pd.DataFrame = totals.merge(families, on=["channel", "campaign"], how="left")
    return out


def _national_campaigns(daily: pd.DataFrame) -> pd.DataFrame:
    """Sum a geo campaign table over geos (IMA is national for now)."""
    if "geo" not in daily.columns:
        return daily
    keys = ["date", "channel", "campaign"]
    return daily.drop(columns="geo").groupby(keys, sort=True).sum().reset_index()


def _true_plan_outcomes(
    cfg: DemoConfig, weeks: int, plan: pd.DataFrame
) -> tuple[float | None, float | None]:
    """Outcome of the current and recommended plans on the simulator's true curves."""
    if cfg.regions > 1:  # the true-curve replay covers national worlds only
        return None, None
    truth = TrueResponse.from_world(MMMWorldConfig(weeks=cfg.weeks), seed=cfg.seed, weeks=weeks)
    by_channel = plan.set_index("channel")
    current = by_channel.loc[list(truth.channels), "current_spend"].to_numpy(dtype=float)
    recommended = by_channel.loc[list(truth.channels), "recommended_spend"].to_numpy(dtype=float)
    return float(truth.expected(current)[0]), float(truth.expected(recommended)[0])


def run_demo(
    out_dir: str | Path,
    config: DemoConfig | None = None,
    *,
    progress: Callable[[str], ProgressCallback] | None = None,
) -> dict[str, Any]:
    """Run every available stage on simulated data and write ``report.html``.

    Parameters
    ----------
    out_dir
        Output folder; stages write to sub-folders named after them.
    config
        Demo sizes and seed.
    progress
        Factory giving a ``(stage, fraction)`` callback for each named step.

    Returns
    -------
    dict
        The run summary, also written to ``summary.json``.
    """
    cfg = config or DemoConfig()
    out = Path(out_dir)
    step = progress or (lambda name: lambda stage, fraction: None)

    mmm_world = simulate_mmm(
        MMMWorldConfig(weeks=cfg.weeks, regions=cfg.regions),
        seed=cfg.seed,
        progress=step("simulate mmm"),
    )
    mmm_world.write(out / "simulate_mmm")
    journeys = simulate_journeys(
        JourneyWorldConfig(users=cfg.users, regions=cfg.regions),
        seed=cfg.seed,
        progress=step("simulate journeys"),
    )
    journeys.write(out / "simulate_journeys")

    # Every stage validates its inputs at the boundary; the demo does the same to its own.
    check = step("validate")
    profiles = {
        "weekly": validate_file(out / "simulate_mmm" / "weekly_channel.csv", "weekly"),
        "campaigns": validate_file(out / "simulate_mmm" / "daily_campaign.csv", "campaigns"),
        "touchpoints": validate_file(out / "simulate_journeys" / "touchpoints.csv", "touchpoints"),
        "paths": validate_file(out / "simulate_journeys" / "paths.csv", "paths"),
    }
    check("validate", 1.0)

    with warnings.catch_warnings():
        # Short demo chains may miss the usual convergence thresholds; the report shows the
        # diagnostics next to the estimates instead of repeating them as warnings.
        warnings.simplefilter("ignore", ConvergenceWarning)
        mmm_summary = fit_mmm(
            _national_panel(mmm_world.weekly_channel),
            out_dir=out / "mmm",
            controls=("price", "promotion"),
            method="nuts",
            draws=cfg.mmm_draws,
            tune=cfg.mmm_draws,
            chains=2,
            seed=cfg.seed,
            progress=step("mmm fit"),
        )

    national_campaigns = _national_campaigns(mmm_world.daily_campaign)
    fit_ima(
        campaigns=national_campaigns,
        mmm_dir=out / "mmm",
        out_dir=out / "ima",
        seed=cfg.seed,
        progress=step("ima fit"),
    )
    ima_campaigns = pd.read_csv(out / "ima" / "campaigns.csv")
    ima_summary = json.loads((out / "ima" / "summary.json").read_text())
    # IMA's own prior centre: the campaigns' share of their adstocked media (impressions).
    mmm_weekly, mmm_adstock = read_mmm_dir(out / "mmm")
    designs = prepare_inputs(mmm_weekly, mmm_adstock, national_campaigns, adstock="daily").designs
    ima_estimates = {
        "ima": ima_campaigns.rename(columns={"contribution_mean": "contribution"}),
        "spend share": spend_share_baseline(ima_campaigns),
        "media share": media_share_baseline(ima_campaigns, designs),
    }
    ima_scores = score_campaigns(
        ima_estimates, mmm_world.daily_campaign_contributions, spend=ima_campaigns
    )
    ima_families = summarise_families(
        score_families(
            ima_estimates, _campaign_truth(mmm_world), national_campaigns, column="impressions"
        )
    )

    horizon = min(52, cfg.weeks)
    national = _national_panel(mmm_world.weekly_channel)
    spend_columns = [f"{c}_spend" for c in mmm_world.roi["channel"]]
    budget = float(national[spend_columns].tail(horizon).to_numpy().sum())
    allocation_summary = allocate_to_dir(
        out / "mmm",
        budget=budget,
        weeks=horizon,
        out_dir=out / "allocation",
        seed=cfg.seed,
        pareto=9,
        ima_dir=out / "ima",
        progress=step("allocate"),
    )
    plan = pd.read_csv(out / "allocation" / "allocation.csv")
    true_current, true_recommended = _true_plan_outcomes(cfg, horizon, plan)
    loop_summary = simulate_loop_to_dir(
        out_dir=out / "allocation_loop", seed=cfg.seed, progress=step("closed loop")
    )

    geo_world = simulate_geo_experiment(GeoExperimentConfig(), seed=cfg.seed)
    geo_world.write(out / "simulate_geo_experiment")
    geo_summary = analyze_geo_to_dir(
        out / "simulate_geo_experiment" / "panel.csv",
        treated=list(geo_world.treated),
        start=geo_world.start,
        end=geo_world.end,
        channel=geo_world.channel,
        out_dir=out / "experiment",
        seed=cfg.seed,
        progress=step("experiment"),
    )
    geo_counterfactual = pd.read_csv(out / "experiment" / "counterfactual.csv")

    agents_summary = run_agents(
        "regions",
        out_dir=out / "agents",
        seed=cfg.seed,
        protocol="admm",
        progress=lambda stage: None,
    )
    agents_credit = pd.read_csv(out / "agents" / "attribution.csv")

    train_market(
        out / "market" / "policy", updates=40, seed=cfg.seed, progress=step("market train")
    )
    evaluate_market(
        out / "market" / "policy",
        out / "market" / "evaluation",
        seeds=5,
        oracle_evaluations=20,
        progress=step("market evaluate"),
    )

    fit_mta(
        touchpoints=out / "simulate_journeys" / "touchpoints.csv",
        conversions=out / "simulate_journeys" / "conversions.csv",
        out_dir=out / "mta",
        seed=cfg.seed,
        progress=step("mta fit"),
    )
    attribution = pd.read_csv(out / "mta" / "attribution.csv")
    accuracy = accuracy_against_truth(attribution, journeys.channel_truth)

    channels = [str(c) for c in mmm_world.roi["channel"]]
    sections: list[Section] = [
        mmm_world_section(
            mmm_world.weekly_channel, mmm_world.weekly_contributions, mmm_world.roi, channels
        ),
        run_section(
            read_mmm_run(out / "mmm"),
            true_roi=mmm_world.roi,
            true_contributions=mmm_world.weekly_contributions,
        ),
        ima_section(
            pd.read_csv(out / "ima" / "fit.csv"),
            ima_scores,
            weekly=pd.read_csv(out / "ima" / "fit_weekly.csv"),
            campaigns=_with_campaign_truth(ima_campaigns, mmm_world.daily_campaign_contributions),
            media={
                str(channel): part.pivot_table(
                    index="date", columns="campaign", values="impressions", aggfunc="sum"
                ).fillna(0.0)
                for channel, part in national_campaigns.groupby("channel")
            },
            models=ima_summary["meta"]["model_by_channel"],
            families=ima_families,
        ),
        allocation_section(
            plan,
            allocation_summary,
            true_current=true_current,
            true_recommended=true_recommended,
            curves=pd.read_csv(out / "allocation" / "curves.csv"),
            pareto=pd.read_csv(out / "allocation" / "pareto.csv"),
            regret=pd.read_csv(out / "allocation_loop" / "regret.csv"),
            loop_summary=loop_summary,
        ),
        journey_world_section(journeys.paths, journeys.channel_truth, journeys.summary),
        mta_section(attribution, accuracy, journeys.channel_truth, out_dir=out / "mta"),
        market_section(
            pd.read_csv(out / "market" / "evaluation" / "evaluation.csv"),
            pd.read_csv(out / "market" / "evaluation" / "curve.csv"),
        ),
        agents_section(agents_credit, agents_summary, pd.read_csv(out / "agents" / "rounds.csv")),
        experiment_section(
            geo_summary,
            geo_counterfactual,
            true_incremental=geo_world.incremental_outcome,
            placebos=pd.read_csv(out / "experiment" / "placebos.csv"),
        ),
    ]
    html = render_report(
        sections,
        title="mixlens demo report",
        subtitle=(
            f"Simulated worlds with known truth (seed {cfg.seed}): {cfg.weeks} weeks of media "
            f"and sales, {cfg.users:,} users' journeys."
        ),
    )
    write_text(html, out / "report.html")
    summary: dict[str, Any] = {
        "config": {
            "seed": cfg.seed,
            "weeks": cfg.weeks,
            "users": cfg.users,
            "regions": cfg.regions,
        },
        "stages": [
            "simulate mmm",
            "simulate journeys",
            "validate",
            "mmm fit",
            "ima fit",
            "allocate",
            "allocate simulate",
            "simulate geo-experiment",
            "experiment analyze",
            "agents run",
            "market train",
            "market evaluate",
            "mta fit",
            "report",
        ],
        "inputs": {kind: profile.to_dict() for kind, profile in profiles.items()},
        "truth": {
            "mmm_roi": mmm_world.roi.to_dict(orient="records"),
            "journeys": journeys.channel_truth.to_dict(orient="records"),
        },
        "mmm_diagnostics": mmm_summary["diagnostics"],
        "ima_fit": pd.read_csv(out / "ima" / "fit.csv").to_dict(orient="records"),
        "ima_campaign_scores": ima_scores.to_dict(orient="records"),
        "allocation": {
            "budget": budget,
            "weeks": horizon,
            "prob_better_than_current": allocation_summary["prob_better_than_current"],
            "true_current_outcome": true_current,
            "true_recommended_outcome": true_recommended,
            "closed_loop": loop_summary.get("policies"),
        },
        "agents": {
            key: agents_summary.get(key)
            for key in ("rounds", "bytes_total", "rel_diff_vs_centralized", "epsilon_spent")
        },
        "mta_accuracy": accuracy.to_dict(orient="records"),
        "market": pd.read_csv(out / "market" / "evaluation" / "evaluation.csv").to_dict(
            orient="records"
        ),
        "experiment": {
            "true_incremental_outcome": geo_world.incremental_outcome,
            "recommendation": geo_summary["recommendation"],
        },
        "report": str(out / "report.html"),
    }
    write_json(summary, out / "summary.json")
    return summary
