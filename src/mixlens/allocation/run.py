"""``mixlens allocate``: recommend a budget split from a fitted MMM directory."""

from __future__ import annotations

import json
from collections.abc import Callable, Collection
from dataclasses import replace
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from numpy.typing import NDArray

from mixlens.allocation.campaigns import (
    merge_campaign_bounds,
    read_bound_sides,
    read_campaign_bounds,
    read_campaigns,
    split_campaigns,
)
from mixlens.allocation.closed_loop import LoopWorld, simulate_closed_loop
from mixlens.allocation.geo import SEPARATOR, GeoResponse, split_names
from mixlens.allocation.learner import LearnerConfig
from mixlens.allocation.optimize import (
    AllocationResult,
    Bounds,
    Objective,
    minimize_spend_for_target,
    optimize_budget,
)
from mixlens.allocation.pareto import pareto_objectives, pareto_spend
from mixlens.allocation.reach import ReachCurves
from mixlens.allocation.response import MMMResponse, ResponseModel
from mixlens.allocation.scenarios import (
    ScaledResponse,
    marginal_roi,
    maximize_profit,
    target_marginal_roi,
    target_roi,
)
from mixlens.data.io import write_json, write_table
from mixlens.errors import DataError

__all__ = [
    "SCENARIOS",
    "allocate_to_dir",
    "objective_models",
    "read_bounds",
    "response_curves",
    "run_scenario",
    "simulate_loop_to_dir",
]

ProgressCallback = Callable[[str, float], None]
FloatArray = NDArray[np.float64]


def read_bounds(
    path: str | Path, channels: tuple[str, ...], *, geos: bool = False
) -> tuple[Bounds, tuple[str, ...]]:
    """Read per-channel constraints from CSV: ``channel`` and optional ``lower, upper, locked``.

    Blank ``lower``/``upper`` cells leave that side open; ``locked`` is 0/1 (or
    true/false) and keeps the channel at its current spend. Rows that name a ``campaign``
    are campaign bounds (:func:`~mixlens.allocation.campaigns.read_campaign_bounds`, used
    with an IMA folder) and are skipped here. Amounts are currency over
    the planning horizon. For a geo model (``geos``) every row also names its ``geo``:
    the bound is on that geo's spend in the channel (``channels`` are then
    ``"<geo>:<channel>"``).

    Returns
    -------
    tuple
        ``({channel: (lower, upper)}, locked_channels)``.

    Raises
    ------
    DataError
        On a missing ``channel`` column, an unknown channel or a bad number.
    """
    file = str(path)
    frame = pd.read_csv(path)
    if "channel" not in frame.columns:
        raise DataError("bounds file needs a 'channel' column", file=file)
    if geos and "geo" not in frame.columns:
        raise DataError("bounds for a geo MMM need a 'geo' column (per-geo bounds)", file=file)
    if not geos and "geo" in frame.columns:
        raise DataError("a 'geo' column needs a geo MMM (this one is national)", file=file)
    bounds: dict[str, tuple[float | None, float | None]] = {}
    locked: list[str] = []
    for row, record in enumerate(frame.to_dict("records"), start=1):
        campaign = record.get("campaign")
        if campaign is not None and not pd.isna(campaign) and str(campaign).strip():
            continue  # a campaign bound: read_campaign_bounds
        name = str(record["channel"])
        if geos:
            name = f"{record['geo']}{SEPARATOR}{name}"
        if name not in channels:
            what = "geo:channel" if geos else "channel"
            raise DataError(f"unknown {what} {name!r}; known: {channels}", file=file, row=row)
        sides = read_bound_sides(record, file=file, row=row)
        bounds[name] = (sides[0], sides[1])
        flag = record.get("locked")
        if (
            flag is not None
            and not pd.isna(flag)
            and str(flag).strip().lower() in {"1", "1.0", "true", "yes"}
        ):
            locked.append(name)
    return bounds, tuple(locked)


def objective_models(
    path: str | Path, revenue: ResponseModel
) -> tuple[tuple[str, str, str], tuple[ResponseModel, ResponseModel, ResponseModel]]:
    """Revenue, acquisitions and reach models from a per-channel objectives CSV.

    Columns: ``channel`` (every channel of the model, once), ``value_per_unit`` (revenue
    per acquisition in that channel, ``> 0``), ``cpm`` (cost per thousand impressions) and
    ``audience`` (people the channel can reach), optional ``population`` (one value, at
    least every audience; default the largest audience). Acquisitions are the channel's
    revenue divided by its value per unit
    (:class:`~mixlens.allocation.scenarios.ScaledResponse`), reach is
    :class:`~mixlens.allocation.reach.ReachCurves`.

    Raises
    ------
    DataError
        On a missing column or channel, an unknown channel or a bad number.
    """
    file = str(path)
    frame = pd.read_csv(path)
    for column in ("channel", "value_per_unit", "cpm", "audience"):
        if column not in frame.columns:
            raise DataError(f"objectives file needs a {column!r} column", file=file, column=column)
    names = [str(c) for c in frame["channel"]]
    channels = tuple(revenue.channels)
    for row, name in enumerate(names, start=1):
        if name not in channels or names.index(name) != row - 1:
            why = "unknown" if name not in channels else "repeated"
            raise DataError(f"{why} channel {name!r}", file=file, column="channel", row=row)
    missing = [c for c in channels if c not in names]
    if missing:
        raise DataError(f"no row for channel {missing[0]!r}", file=file, column="channel")
    order = [names.index(c) for c in channels]
    columns: dict[str, FloatArray] = {}
    for column in ("value_per_unit", "cpm", "audience"):
        values = pd.to_numeric(frame[column], errors="coerce").to_numpy(dtype=np.float64)
        bad = ~np.isfinite(values) | (values <= 0)
        if bad.any():
            row = int(np.argmax(bad))
            raise DataError(
                f"must be a positive number: {frame[column].iloc[row]!r}",
                file=file,
                column=column,
                row=row + 1,
            )
        columns[column] = values[order]
    population = None
    if "population" in frame.columns:
        values = pd.to_numeric(frame["population"], errors="coerce").dropna().unique()
        if len(values) != 1 or not values[0] > 0:
            raise DataError(
                "population must be one positive number", file=file, column="population"
            )
        population = float(values[0])
    acquisitions = ScaledResponse(revenue, 1.0 / columns["value_per_unit"])
    reach = ReachCurves(channels, columns["cpm"], columns["audience"], population)
    return ("revenue", "acquisitions", "reach"), (revenue, acquisitions, reach)


SCENARIOS: tuple[str, ...] = ("budget", "target", "roi", "mroi", "profit")


def response_curves(
    model: ResponseModel,
    current: FloatArray,
    recommended: FloatArray,
    *,
    points: int = 25,
    ci: float = 0.9,
) -> pd.DataFrame:
    """Each channel's response curve with the other channels at the recommended plan.

    Returns
    -------
    pandas.DataFrame
        ``channel, spend, contribution_mean, contribution_lo, contribution_hi,
        marginal_roi`` on ``points`` spends from 0 to twice the larger of the channel's
        current and recommended spend (both included in the grid).
    """
    rows = []
    q = [(1 - ci) / 2, (1 + ci) / 2]
    for c, name in enumerate(model.channels):
        top = 2.0 * max(float(current[c]), float(recommended[c]), 1e-9)
        grid = np.unique(
            np.concatenate([np.linspace(0, top, points), [current[c], recommended[c]]])
        )
        for x in grid:
            plan = recommended.copy()
            plan[c] = x
            draws = model.contributions(plan)[:, c]
            lo, hi = np.quantile(draws, q)
            grad = float(model.gradient(plan)[:, c].mean())
            rows.append((name, float(x), float(draws.mean()), float(lo), float(hi), grad))
    columns = ["channel", "spend", "contribution_mean", "contribution_lo", "contribution_hi"]
    return pd.DataFrame(rows, columns=[*columns, "marginal_roi"])


def run_scenario(
    model: ResponseModel,
    *,
    scenario: str,
    current: FloatArray,
    budget: float | None = None,
    target: float | None = None,
    margin: float = 1.0,
    cap: float | None = None,
    value_per_unit: float = 1.0,
    metric: str = "revenue",
    bounds: Bounds | None = None,
    locked: Collection[str] = (),
    ramp: float | None = None,
    objective: Objective = "mean",
    ci: float = 0.9,
) -> AllocationResult:
    """Solve one named scenario on a revenue response model.

    Parameters
    ----------
    model
        Response in revenue (currency) per draw; ROI, marginal ROI and profit use it.
    scenario
        ``budget``: best outcome for ``budget``; ``target``: least spend reaching outcome
        ``target``; ``roi``: largest budget up to ``cap`` keeping ROI ``>= target``;
        ``mroi``: spend until marginal ROI falls to ``target`` (up to ``cap``); ``profit``:
        maximise ``margin * revenue - spend`` up to ``cap``.
    metric
        ``revenue`` or ``volume``: the outcome of ``budget`` and ``target`` scenarios;
        volume is revenue divided by ``value_per_unit`` (one number: it rescales the
        outcome, the plan is the revenue plan).
    budget, target, margin, cap, value_per_unit, current, bounds, locked, ramp, objective, ci
        As in the scenario functions; ``cap`` defaults to ``budget``.

    Returns
    -------
    AllocationResult

    Raises
    ------
    DataError
        On an unknown scenario or metric, or a missing budget, target or cap.
    """
    if scenario not in SCENARIOS:
        raise DataError(f"unknown scenario {scenario!r}; choose from {SCENARIOS}")
    if metric not in ("revenue", "volume"):
        raise DataError(f"metric must be revenue or volume, got {metric!r}")
    if not (np.isfinite(value_per_unit) and value_per_unit > 0):
        raise DataError(f"value per unit must be a positive number, got {value_per_unit}")
    outcome = model if metric == "revenue" else ScaledResponse(model, 1.0 / value_per_unit)
    kwargs: dict[str, Any] = {
        "current": current, "bounds": bounds, "locked": locked, "ramp": ramp,
        "objective": objective, "ci": ci,
    }  # fmt: skip
    cap = cap if cap is not None else budget
    if scenario == "budget":
        if budget is None:
            raise DataError("scenario 'budget' needs a budget")
        result = optimize_budget(outcome, budget=budget, **kwargs)
        return replace(result, scenario={"name": "budget", "metric": metric})
    if scenario == "profit":
        if cap is None:
            raise DataError("scenario 'profit' needs a budget cap (--cap or --budget)")
        return maximize_profit(model, margin=margin, cap=cap, **kwargs)
    if target is None:
        raise DataError(f"scenario {scenario!r} needs a target")
    if scenario == "target":
        result = minimize_spend_for_target(outcome, target, **kwargs)
        info = {"name": "target", "metric": metric, "target": float(target)}
        return replace(
            result, scenario={**info, "recommended_spend": float(result.recommended.sum())}
        )
    if cap is None:
        raise DataError(f"scenario {scenario!r} needs a budget cap (--cap or --budget)")
    if scenario == "roi":
        return target_roi(model, target, cap=cap, **kwargs)
    return target_marginal_roi(model, target, cap=cap, **kwargs)


def allocate_to_dir(
    mmm_dir: str | Path,
    *,
    budget: float | None = None,
    out_dir: str | Path,
    weeks: int = 52,
    objective: Objective = "mean",
    bounds_file: str | Path | None = None,
    seed: int = 0,
    progress: ProgressCallback | None = None,
    scenario: str = "budget",
    target: float | None = None,
    margin: float = 1.0,
    cap: float | None = None,
    value_per_unit: float = 1.0,
    metric: str = "revenue",
    ramp: float | None = None,
    pareto: int = 0,
    ima_dir: str | Path | None = None,
    objectives_file: str | Path | None = None,
) -> dict[str, Any]:
    """Optimise the budget of the next ``weeks`` weeks on a fitted MMM and write the plan.

    Writes ``allocation.csv`` (design.md columns), ``summary.json`` (``current_expected``,
    ``recommended_expected`` with ``mean, lo, hi``, ``prob_better_than_current``, the
    objective, solver status, the scenario and each channel's marginal ROI at both plans)
    and ``curves.csv`` (:func:`response_curves`); with ``pareto`` also ``pareto.csv``
    (outcome against spend), with ``ima_dir`` also ``campaigns.csv``; each atomically.

    Parameters
    ----------
    mmm_dir
        Output folder of ``mixlens mmm fit``; its target is taken as revenue. A geo MMM
        plans every geo and channel (:class:`~mixlens.allocation.geo.GeoResponse`); its
        ``allocation.csv`` and ``curves.csv`` get a leading ``geo`` column and its bounds
        file a ``geo`` column (per-geo bounds).
    budget
        Total spend over the next ``weeks`` weeks, currency (the ``budget`` scenario's
        budget, the default cap of the others).
    out_dir
        Output folder (created if absent).
    weeks
        Planning horizon; the plan keeps the flighting of the last ``weeks`` fitted weeks.
    objective
        ``"mean"``, ``("quantile", q)`` or ``("cvar", alpha)``.
    bounds_file
        Optional CSV of per-channel constraints, see :func:`read_bounds`.
    seed
        Unused by the deterministic solver; recorded for reproducibility.
    progress
        Optional callback ``(stage, fraction_done)``.
    scenario, target, margin, cap, value_per_unit, metric, ramp
        See :func:`run_scenario`.
    pareto
        Points of the outcome-against-spend front (0: none), budgets up to the cap;
        ``pareto.csv`` also has each point's ROI and profit (``margin * outcome - spend``).
    ima_dir
        A ``mixlens ima fit`` folder: split channels over campaigns
        (:func:`~mixlens.allocation.campaigns.split_campaigns`); campaign rows of the
        bounds file (a ``campaign`` column) then bound each campaign's spend.
    objectives_file
        With ``pareto``: per-channel ``value_per_unit, cpm, audience`` (see
        :func:`objective_models`); also writes ``pareto_objectives.csv``, the front over
        revenue, acquisitions and reach at the recommended plan's total spend
        (:func:`~mixlens.allocation.pareto.pareto_objectives`, ``pareto`` levels per
        constrained objective).

    Returns
    -------
    dict
        The summary written to ``summary.json``.

    Raises
    ------
    DataError
        If the MMM folder or bounds are bad, or the constraints are infeasible.
    """
    report = progress or (lambda stage, fraction: None)
    report("load mmm", 0.0)
    model, ci, geo = _load_response(mmm_dir, weeks)
    if geo and ima_dir is not None:
        raise DataError("campaign split (--ima) is for national MMMs; this one has geos")
    bounds: Bounds | None = None
    locked: tuple[str, ...] = ()
    if bounds_file is not None:
        bounds, locked = read_bounds(bounds_file, model.channels, geos=geo)
    campaigns = read_campaigns(ima_dir) if ima_dir is not None else None
    campaign_bounds: dict[tuple[str, str], tuple[float | None, float | None]] = {}
    if bounds_file is not None and campaigns is not None:
        campaign_bounds = read_campaign_bounds(bounds_file, campaigns)
        if campaign_bounds:
            bounds = merge_campaign_bounds(bounds, campaign_bounds, campaigns)
    elif bounds_file is not None and "campaign" in pd.read_csv(bounds_file, nrows=0).columns:
        raise DataError(
            "campaign bounds need the campaigns of an IMA fit (--ima)",
            file=str(bounds_file),
            column="campaign",
        )
    if objectives_file is not None and not pareto:
        raise DataError("an objectives file is for the Pareto front: give --pareto K too")
    multi_models = objective_models(objectives_file, model) if objectives_file else None
    report("optimise", 0.3)
    allocation = run_scenario(
        model,
        scenario=scenario,
        current=model.current,
        budget=budget,
        target=target,
        margin=margin,
        cap=cap,
        value_per_unit=value_per_unit,
        metric=metric,
        bounds=bounds,
        locked=locked,
        ramp=ramp,
        objective=objective,
        ci=ci,
    )
    report("write", 0.8)
    out = Path(out_dir)
    mroi = {
        name: {"current": float(a), "recommended": float(b)}
        for name, a, b in zip(
            model.channels,
            marginal_roi(model, allocation.current, objective),
            marginal_roi(model, allocation.recommended, objective),
            strict=True,
        )
    }
    summary = {
        **allocation.summary(),
        "budget": float(budget) if budget is not None else None,
        "weeks": weeks,
        "seed": seed,
        "mmm_dir": str(mmm_dir),
        "samples": int(allocation.current_draws.shape[0]),
        "geos": list(model.geos) if isinstance(model, GeoResponse) else None,
        "metric": metric,
        "value_per_unit": value_per_unit,
        "marginal_roi": mroi,
    }
    files = ["allocation.csv", "curves.csv"]
    table = allocation.to_frame()
    curves = response_curves(model, allocation.current, allocation.recommended, ci=ci)
    write_table(split_names(table) if geo else table, out / "allocation.csv")
    write_table(split_names(curves) if geo else curves, out / "curves.csv")
    if pareto:
        top = cap if cap is not None else budget
        if top is None:
            top = float(allocation.recommended.sum())
        front = pareto_spend(
            model, cap=top, points=pareto, current=model.current, bounds=bounds, locked=locked,
            ramp=ramp, objective=objective,
        )  # fmt: skip
        table = front.to_frame()
        table.insert(3, "roi", table["outcome"] / table["spend"])
        table.insert(4, "profit", margin * table["outcome"] - table["spend"])
        write_table(table, out / "pareto.csv")
        files.append("pareto.csv")
        if multi_models is not None:
            labels, models = multi_models
            multi = pareto_objectives(
                models, budget=float(allocation.recommended.sum()), points=pareto,
                names=labels, current=model.current, bounds=bounds, locked=locked,
                ramp=ramp, objective=objective,
            )  # fmt: skip
            write_table(multi.to_frame(), out / "pareto_objectives.csv")
            files.append("pareto_objectives.csv")
    if campaigns is not None:
        split = split_campaigns(allocation.to_frame(), campaigns, bounds=campaign_bounds)
        write_table(split, out / "campaigns.csv")
        files.append("campaigns.csv")
        summary["ima_dir"] = str(ima_dir)
        summary["campaign_bounds"] = len(campaign_bounds)
    summary["files"] = [*files, "summary.json"]
    write_json(summary, out / "summary.json")
    report("done", 1.0)
    return summary


def _load_response(
    mmm_dir: str | Path, weeks: int
) -> tuple[MMMResponse | GeoResponse, float, bool]:
    """Response model of a national or geo MMM folder, its interval mass, and whether geo."""
    from mixlens.mmm.geo import GeoMMMResult
    from mixlens.mmm.results import SPEC_FILE, MMMResult

    spec_file = Path(mmm_dir) / SPEC_FILE
    meta = json.loads(spec_file.read_text(encoding="utf-8")) if spec_file.exists() else {}
    if meta.get("model") == "geo":
        geo_result = GeoMMMResult.load(mmm_dir)
        return GeoResponse.from_result(geo_result, weeks=weeks), geo_result.ci, True
    result = MMMResult.load(mmm_dir)
    return MMMResponse.from_result(result, weeks=weeks), result.ci, False


def simulate_loop_to_dir(
    *,
    out_dir: str | Path,
    seed: int = 0,
    weeks: int = 52,
    channels: int = 5,
    world_weeks: int = 104,
    shift_channel: str | None = None,
    shift_week: int = 26,
    shift_factor: float = 0.3,
    margin: float = 1.0,
    delivery_cv: float = 0.2,
    learner: LearnerConfig | None = None,
    progress: ProgressCallback | None = None,
) -> dict[str, Any]:
    """Run the closed loop in a simulated MMM world and write ``regret.csv`` and ``summary.json``.

    Parameters
    ----------
    out_dir
        Output folder (created if absent).
    seed
        World seed and loop seed.
    weeks
        Weeks simulated in the loop.
    channels, world_weeks
        The MMM world (``MMMWorldConfig(n_channels=channels, weeks=world_weeks)``); its
        last 52 weeks (or fewer) define the weekly curves.
    shift_channel, shift_week, shift_factor
        The mid-year shift, see :class:`~mixlens.allocation.closed_loop.LoopWorld`.
    margin, delivery_cv, learner
        See :func:`~mixlens.allocation.closed_loop.simulate_closed_loop`.
    progress
        Optional callback ``(stage, fraction_done)``.

    Returns
    -------
    dict
        The summary written to ``summary.json``.
    """
    from mixlens.data.simulate.mmm import MMMWorldConfig

    config = MMMWorldConfig(weeks=world_weeks, n_channels=channels)
    world = LoopWorld.from_simulator(
        config, seed=seed, horizon=min(52, world_weeks), shift_channel=shift_channel,
        shift_week=shift_week, shift_factor=shift_factor,
    )  # fmt: skip
    result = simulate_closed_loop(
        world, weeks=weeks, margin=margin, delivery_cv=delivery_cv, learner=learner,
        seed=seed, progress=progress,
    )  # fmt: skip
    out = Path(out_dir)
    summary = {**result.summary(), "world": {"channels": channels, "weeks": world_weeks}}
    write_table(result.to_frame(), out / "regret.csv")
    write_json(summary, out / "summary.json")
    return summary
