"""``mixlens mmm fit``: load a weekly panel, fit the MMM and write its files.

Writes, atomically, under ``out_dir`` (design.md's table): ``roi.csv``,
``contributions.csv``, ``params.csv``, ``response_curves.csv``, ``posterior.nc`` (with
``spec.json`` beside it, so :meth:`MMMResult.load` restores the result), ``fit.csv`` and
``summary.json``.

``fit.csv`` (``date, actual, mean, lo, hi``; a geo fit has ``geo`` first, each geo and
``all``) is the in-sample fit of the fitted weeks (without a holdout's), and the
summary's ``fit`` its R², MAPE, interval coverage and posterior predictive p-values (see
:mod:`mixlens.mmm.checks`); each of its ``warnings`` is also raised as a
:class:`~mixlens.mmm.checks.PredictiveCheckWarning`.

For the national model, ``roi.csv`` also says how much the data moved each channel's ROI
from its prior (``log_roi_prior_sd, log_roi_sd, contraction, prior_shift,
identification``: data-driven, weakly identified or mostly prior; see
:mod:`mixlens.mmm.identification`), and ``lift_test_plan.csv`` ranks the lift tests that
would cut the spend-weighted ROI uncertainty most (``rank, channel, start, end,
window_spend, expected_lift, test_se, lift_to_se, log_roi_sd, log_roi_sd_after, gain,
weighted_log_roi_sd_after``); the summary has both under ``identification`` and
``lift_test_plan``. For the geo model, the identification columns are on the ``all`` rows
and judge the hierarchy's channel ROI (:func:`geo_identification`); its
``lift_test_plan.csv`` ranks geo holdouts (the same columns and a ``geo`` column after
``channel``: the treated geos, comma-separated as ``lift_tests.csv`` takes them) by the
spend-weighted sd of the channels' total log ROI, each test's standard error from the
experiments stage's placebo windows on the panel itself
(:meth:`GeoMMMResult.lift_test_plan`); the summary's ``lift_test_plan`` also has the
error model and the relative se of each treated set (``error_model``, ``relative_se``).

A panel with a ``geo`` column gets the hierarchical geo model (:mod:`mixlens.mmm.geo`):
the same files with a ``geo`` column, rows per geo and ``all`` (totals over geos). Lift
tests may then name a geo (or several) in their ``geo`` column; ``holdout.csv`` and the
summary's ``holdout`` have the fit of the held-out weeks per geo and ``all``.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

import numpy as np
import pandas as pd

from mixlens.data.geo_panel import GeoPanel, is_geo_frame
from mixlens.data.io import write_json, write_table
from mixlens.data.loaders import load_weekly, read_table
from mixlens.data.schemas import MediaPanel
from mixlens.errors import DataError
from mixlens.mmm.checks import check_fit, fit_metrics, geo_fit_metrics, warn_predictive
from mixlens.mmm.components import (
    ADSTOCK_KINDS,
    SATURATION_KINDS,
    AdstockTransform,
    SaturationTransform,
)
from mixlens.mmm.fit import MMM, FitMethod
from mixlens.mmm.geo import ALL_GEOS, GeoMMM, GeoMMMResult
from mixlens.mmm.identification import Identification, identify, lognormal_roi_prior
from mixlens.mmm.knots import TimeKnots
from mixlens.mmm.results import MMMResult, media_input_summary
from mixlens.mmm.spec import MediaInputSetting, MMMSpec

__all__ = [
    "RESPONSE_GRID_POINTS",
    "ProgressCallback",
    "fit_to_dir",
    "geo_identification",
    "response_curves",
    "with_identification",
]

#: Points of each channel's spend grid in ``response_curves.csv`` (0 to twice the
#: channel's largest weekly spend).
RESPONSE_GRID_POINTS = 41

ProgressCallback = Callable[[str, float], None]

#: The ``roi.csv`` columns the summary's ``roi`` records carry.
_SUMMARY_ROI = ("channel", "roi_mean", "roi_lo", "roi_hi", "mroi_mean", "mroi_lo", "mroi_hi")


def fit_to_dir(
    panel: str | Path | pd.DataFrame | MediaPanel,
    *,
    out_dir: str | Path,
    target: str = "sales",
    controls: Sequence[str] = (),
    method: FitMethod = "nuts",
    draws: int = 1000,
    tune: int = 1000,
    chains: int = 4,
    seed: int = 0,
    progress: ProgressCallback | None = None,
    lift_tests: str | Path | pd.DataFrame | None = None,
    holdout_weeks: int = 0,
    time_knots: TimeKnots = "auto",
    media_input: MediaInputSetting | Mapping[str, MediaInputSetting] = "spend",
    adstock: str | Mapping[str, str] = "delayed",
    saturation: str | Mapping[str, str] = "hill",
) -> dict[str, Any]:
    """Fit the default MMM to a weekly panel and write its outputs.

    Parameters
    ----------
    panel
        Path of a weekly channel panel (CSV, Parquet or ``file.duckdb::table``), a wide
        DataFrame or a validated :class:`~mixlens.data.schemas.MediaPanel`.
    out_dir
        Output folder (created if absent).
    target, controls
        Outcome column and control columns.
    method, draws, tune, chains, seed
        Inference settings, see :meth:`mixlens.mmm.fit.MMM.fit`.
    progress
        Optional callback ``(stage, fraction_done)``.
    lift_tests
        Lift tests to calibrate with (path of a ``lift_tests.csv`` or a DataFrame; see
        :mod:`mixlens.mmm.calibration`). The summary's ``lift_tests`` lists each test
        beside the model's implied lift.
    holdout_weeks
        If positive, fit on all but the last ``holdout_weeks`` weeks and report the
        out-of-sample fit of the held-out weeks (summary's ``holdout``: MAPE, R² and
        the coverage of the predictive interval; ``holdout.csv`` has the predictions).
    time_knots
        Knots of the time-varying baseline (see :attr:`MMMSpec.time_knots`): ``"auto"``
        (one per week on a geo panel, none on a national one), 0 for none, or a number
        >= 2. The summary's ``time_knots`` records the setting and the knots fitted.
    media_input
        What each channel's adstock and saturation act on (see
        :attr:`MMMSpec.media_input`): ``"spend"`` (default), ``"impressions"``,
        ``"clicks"``, ``"auto"`` (impressions where the panel has them), or
        ``{channel: setting}``. ROI, marginal ROI and response curves stay in spend
        units. The summary's ``media_input`` has each channel's resolved input and its
        cost per unit over the fitted weeks (over all geos for a geo panel).
    adstock, saturation
        The transforms by name, one for every channel or ``{channel: name}`` (channels
        left out get the defaults): adstock ``"delayed"`` (default; what the IMA stage
        was built on), ``"geometric"`` or ``"weibull"``, optionally with its maximum lag
        in weeks (``"weibull:12"``; channels of one kind share it); saturation ``"hill"``
        (default) or ``"logistic"``; each with its default priors and maximum lag (see
        :mod:`mixlens.mmm.components` and :mod:`mixlens.mmm.channel_transforms`).
        ``spec.json`` records them.

    A panel with a ``geo`` column is fitted with the geo model; every table then has a
    ``geo`` column (each geo, and ``all``), lift tests may name geos (see
    :func:`~mixlens.mmm.calibration.prepare_geo_lift_tests`), and the summary's
    ``holdout`` is that of the total with ``by_geo`` beside it.

    Returns
    -------
    dict
        The summary written to ``summary.json``: spec, diagnostics, timings (seconds;
        ``check`` is the fit table and predictive check, part of ``write``), sampler, file
        names, ROI per channel, lift tests, in-sample fit (``fit``, see
        :func:`~mixlens.mmm.checks.check_fit`) and holdout fit.

    Raises
    ------
    DataError
        If the panel or a lift test is invalid or does not fit the model, or
        ``holdout_weeks`` leaves fewer than 26 weeks to fit on (exit status 2 in the CLI).
    """
    report = progress or (lambda stage, fraction: None)
    transforms = _transforms(adstock, saturation)
    timings: dict[str, float] = {}
    clock = time.perf_counter()
    report("load", 0.0)
    geo_panel = _geo_panel(panel, target=target, controls=controls)
    if geo_panel is not None:
        fit_panel = geo_panel
        if holdout_weeks:
            fit_panel = GeoPanel.from_frame(
                _training_weeks(geo_panel.panel, holdout_weeks),
                target=geo_panel.target,
                controls=geo_panel.controls,
                file=geo_panel.source,
            )
        timings["load"] = time.perf_counter() - clock
        settings = _Settings(
            method=method,
            draws=draws,
            tune=tune,
            chains=chains,
            seed=seed,
            time_knots=time_knots,
            media_input=media_input,
            transforms=transforms,
        )
        return _fit_geo(
            fit_panel,
            full=geo_panel if holdout_weeks else None,
            out_dir=Path(out_dir),
            settings=settings,
            lift_tests=lift_tests,
            report=report,
            timings=timings,
        )
    if isinstance(panel, MediaPanel):
        media_panel = panel
    elif isinstance(panel, pd.DataFrame):
        media_panel = MediaPanel.from_frame(panel, target=target, controls=controls)
    else:
        media_panel = load_weekly(panel, target=target, controls=controls)
    spec = MMMSpec(
        channels=media_panel.channels,
        target=target,
        controls=tuple(controls),
        time_knots=time_knots,
        media_input=media_input,
        adstock=transforms[0],
        saturation=transforms[1],
    )
    fit_frame = media_panel.frame
    if holdout_weeks:
        fit_frame = _training_weeks(media_panel, holdout_weeks)
    timings["load"] = time.perf_counter() - clock

    report(f"fit ({method})", 0.1)
    result = MMM(spec).fit(
        fit_frame if holdout_weeks else media_panel,
        method=method,
        draws=draws,
        tune=tune,
        chains=chains,
        seed=seed,
        lift_tests=lift_tests,
    )
    timings["fit"] = result.diagnostics.seconds

    report("write", 0.9)
    clock = time.perf_counter()
    out = Path(out_dir)
    identification = result.identification(seed=seed)
    plan = result.lift_test_plan()
    roi, files = _write_tables(result, out, identification=identification)
    files.append(write_table(plan.to_frame(), out / "lift_test_plan.csv"))
    clock_check = time.perf_counter()
    check = check_fit(result, seed=seed)
    files.append(write_table(check.table, out / "fit.csv"))
    timings["check"] = time.perf_counter() - clock_check
    holdout: dict[str, Any] | None = None
    if holdout_weeks:
        predicted = result.predict(media_panel.frame, seed=seed).iloc[-holdout_weeks:]
        holdout = fit_metrics(predicted, result.ci)
        predicted = predicted.assign(date=pd.DatetimeIndex(predicted["date"]).strftime("%Y-%m-%d"))
        files.append(write_table(predicted, out / "holdout.csv"))
    timings["write"] = time.perf_counter() - clock
    summary = {
        **result.summary(),
        "command": "mmm fit",
        "source": media_panel.source,
        "seed": seed,
        "timings_s": timings,
        "sampler": result.diagnostics.sampler,
        "roi": roi[[*_SUMMARY_ROI, "contraction", "identification"]].to_dict("records"),
        "identification": {**identification.to_dict(), **_identification_note(method)},
        "lift_test_plan": plan.to_dict(),
        "fit": check.summary,
        "holdout": holdout,
        "files": sorted(path.name for path in [*files, out / "summary.json"]),
    }
    write_json(summary, out / "summary.json")
    warn_predictive(check.summary, stacklevel=2)  # the caller of fit_to_dir
    report("done", 1.0)
    return summary


def with_identification(roi: pd.DataFrame, identification: Identification) -> pd.DataFrame:
    """Return ``roi`` with the identification columns after its own (``roi.csv``).

    On a geo table (a ``geo`` column) they go on the ``all`` rows, NaN elsewhere.
    """
    ident = identification.to_frame()
    if "geo" not in roi.columns:
        return roi.merge(ident, on="channel", how="left", validate="1:1")
    ident["geo"] = ALL_GEOS
    return roi.merge(ident, on=["geo", "channel"], how="left", validate="1:1")


def geo_identification(result: GeoMMMResult) -> Identification | None:
    """How much the data moved each channel's ROI from its prior, in a geo model.

    Judged on the hierarchy's channel ROI ``roi`` (the mean of the geo ROIs' distribution,
    whose prior is the spec's ROI prior; see :mod:`mixlens.mmm.geo_model`), against that
    prior where it is log-normal (the default); None otherwise (no closed form).
    """
    spec = result.spec
    if spec.parameterization != "roi":
        return None
    reference = spec.roi_reference if spec.roi_reference is not None else result.data.reference_roi
    prior = lognormal_roi_prior(spec, reference)
    post = result.idata["posterior"]
    if prior is None or "roi" not in post:
        return None
    draws = post["roi"].stack(sample=("chain", "draw")).transpose("sample", "channel").values
    return identify(spec.channels, np.asarray(draws, dtype=np.float64) * reference, *prior)


def _identification_note(method: str) -> dict[str, str]:
    """Return a caveat for the summary's ``identification`` where the posterior is approximate."""
    if method != "advi":
        return {}
    return {
        "note": "mean-field ADVI understates posterior spread, so contraction is overstated "
        "(channels look better identified than they are); judge identification on a NUTS fit"
    }


def response_curves(
    result: MMMResult | GeoMMMResult, *, points: int = RESPONSE_GRID_POINTS
) -> pd.DataFrame:
    """Posterior response curve of every channel on a spend grid (``response_curves.csv``).

    Each channel's grid runs from 0 to twice its largest weekly spend (national, or per
    geo); the value is the steady-state weekly contribution at that constant weekly
    spend (see :meth:`MMMResult.response_curve`).

    Returns
    -------
    pandas.DataFrame
        ``channel, spend, mean, lo, hi`` (with a leading ``geo`` column, each geo and
        ``all``, for a geo result).
    """
    frames = []
    if isinstance(result, GeoMMMResult):
        spend = result.data.spend  # (T, G, C)
        labels = [*result.geos, ALL_GEOS]
        for g, geo in enumerate(labels):
            weekly = spend.sum(axis=1) if geo == ALL_GEOS else spend[:, g, :]
            for c, channel in enumerate(result.spec.channels):
                grid = np.linspace(0.0, 2.0 * weekly[:, c].max(), points)
                curve = result.response_curve(channel, grid, geo=geo)
                frames.append(curve.assign(geo=geo, channel=channel))
        columns = ["geo", "channel", "spend", "mean", "lo", "hi"]
    else:
        for c, channel in enumerate(result.spec.channels):
            grid = np.linspace(0.0, 2.0 * result.data.spend[:, c].max(), points)
            frames.append(result.response_curve(channel, grid).assign(channel=channel))
        columns = ["channel", "spend", "mean", "lo", "hi"]
    return pd.concat(frames, ignore_index=True)[columns]


def _geo_panel(
    panel: str | Path | pd.DataFrame | MediaPanel, *, target: str, controls: Sequence[str]
) -> GeoPanel | None:
    """Return the panel as a :class:`GeoPanel` if it has a ``geo`` column, else None."""
    if isinstance(panel, MediaPanel):
        if panel.geo is None:
            return None
        return GeoPanel.from_frame(
            panel.frame, target=panel.target, controls=panel.controls, file=panel.source
        )
    if isinstance(panel, pd.DataFrame):
        frame, file = panel, None
    else:
        frame, file = read_table(panel), str(panel)
    if not is_geo_frame(frame):
        return None
    if file is None:
        return GeoPanel.from_frame(frame, target=target, controls=controls)
    return GeoPanel.from_frame(frame, target=target, controls=controls, file=file)


@dataclass(frozen=True)
class _Settings:
    """Inference settings passed through to the estimator."""

    method: FitMethod
    draws: int
    tune: int
    chains: int
    seed: int
    time_knots: TimeKnots
    media_input: MediaInputSetting | Mapping[str, MediaInputSetting]
    transforms: tuple[
        AdstockTransform | Mapping[str, AdstockTransform],
        SaturationTransform | Mapping[str, SaturationTransform],
    ]


_Component = TypeVar("_Component", AdstockTransform, SaturationTransform)


def _named(
    names: str | Mapping[str, str], kinds: Mapping[str, type[_Component]], what: str
) -> _Component | dict[str, _Component]:
    """Return the transform of ``names`` (one, or ``{channel: name}``), default priors.

    An adstock name may end in ``:L``, its maximum lag in weeks (``"weibull:12"``);
    without it the component's default ``l_max``.

    Raises
    ------
    ValueError
        On an unknown name (the message lists the known ones) or a bad ``:L``.
    """
    chosen = {"": names} if isinstance(names, str) else dict(names)
    built: dict[str, _Component] = {}
    for channel, name in chosen.items():
        where = f" for {channel!r}" if channel else ""
        kind, colon, lag = name.partition(":")
        if kind not in kinds:
            raise ValueError(f"{what}{where} must be one of {', '.join(kinds)}, got {name!r}")
        if not colon:
            built.setdefault(name, kinds[kind]())
        elif what == "adstock" and lag.isdigit() and int(lag) >= 1:
            built.setdefault(name, kinds[kind](l_max=int(lag)))  # type: ignore[call-arg]
        else:
            allowed = "a whole number of weeks >= 1" if what == "adstock" else "nothing"
            raise ValueError(f"{what}{where}: after ':' comes {allowed}, got {name!r}")
    if isinstance(names, str):
        return built[names]
    return {channel: built[name] for channel, name in chosen.items()}


def _transforms(
    adstock: str | Mapping[str, str], saturation: str | Mapping[str, str]
) -> tuple[
    AdstockTransform | dict[str, AdstockTransform],
    SaturationTransform | dict[str, SaturationTransform],
]:
    """Return the default-configured adstock and saturation transforms of these names."""
    return (
        _named(adstock, ADSTOCK_KINDS, "adstock"),
        _named(saturation, SATURATION_KINDS, "saturation"),
    )


def _fit_geo(
    panel: GeoPanel,
    *,
    full: GeoPanel | None,
    out_dir: Path,
    settings: _Settings,
    lift_tests: str | Path | pd.DataFrame | None,
    report: ProgressCallback,
    timings: dict[str, float],
) -> dict[str, Any]:
    """Fit the geo model and write its files (see :func:`fit_to_dir`).

    ``panel`` is what to fit on; ``full`` (with a holdout) the whole panel, whose weeks
    after ``panel``'s are predicted.
    """
    spec = MMMSpec(
        channels=panel.channels,
        target=panel.target,
        controls=panel.controls,
        time_knots=settings.time_knots,
        media_input=settings.media_input,
        adstock=settings.transforms[0],
        saturation=settings.transforms[1],
    )
    report(f"fit geo ({settings.method})", 0.1)
    result = GeoMMM(spec).fit(
        panel,
        method=settings.method,
        draws=settings.draws,
        tune=settings.tune,
        chains=settings.chains,
        seed=settings.seed,
        lift_tests=lift_tests,
    )
    timings["fit"] = result.diagnostics.seconds
    report("write", 0.9)
    clock = time.perf_counter()
    identification = geo_identification(result)
    plan = result.lift_test_plan()
    roi, files = _write_tables(result, out_dir, identification=identification)
    files.append(write_table(plan.to_frame(), out_dir / "lift_test_plan.csv"))
    clock_check = time.perf_counter()
    check = check_fit(result, seed=settings.seed)
    files.append(write_table(check.table, out_dir / "fit.csv"))
    timings["check"] = time.perf_counter() - clock_check
    holdout: dict[str, Any] | None = None
    if full is not None:
        predicted = result.predict(full, seed=settings.seed)
        predicted = predicted[predicted["date"] > result.data.weeks[-1]].reset_index(drop=True)
        holdout = geo_fit_metrics(predicted, result.ci)
        predicted["date"] = pd.DatetimeIndex(predicted["date"]).strftime("%Y-%m-%d")
        files.append(write_table(predicted, out_dir / "holdout.csv"))
    timings["write"] = time.perf_counter() - clock
    total = roi[roi["geo"] == ALL_GEOS]
    columns = list(_SUMMARY_ROI)
    summary = {
        **result.summary(),
        "command": "mmm fit",
        "model": "geo",
        "source": panel.source,
        "media_input": media_input_summary(result.data.base),
        "seed": settings.seed,
        "timings_s": timings,
        "sampler": result.diagnostics.sampler,
        "roi": total[columns].to_dict("records"),
        "identification": None
        if identification is None
        else {**identification.to_dict(), **_identification_note(settings.method)},
        "lift_test_plan": plan.to_dict(),
        "fit": check.summary,
        "holdout": holdout,
        "files": sorted(path.name for path in [*files, out_dir / "summary.json"]),
    }
    write_json(summary, out_dir / "summary.json")
    warn_predictive(check.summary, stacklevel=3)  # the caller of fit_to_dir
    report("done", 1.0)
    return summary


def _write_tables(
    result: MMMResult | GeoMMMResult,
    out: Path,
    *,
    identification: Identification | None = None,
) -> tuple[pd.DataFrame, list[Path]]:
    """Write the tables every fit has (ROI, contributions, parameters, response curves, posterior).

    With ``identification``, ``roi.csv`` gets its columns (``log_roi_prior_sd,
    log_roi_sd, contraction, prior_shift, identification``) after the ROI's. Returns the
    ROI table (the summary reads it) and the files written.
    """
    roi = result.roi()
    if identification is not None:
        roi = with_identification(roi, identification)
    contributions = result.contributions()
    contributions["date"] = pd.DatetimeIndex(contributions["date"]).strftime("%Y-%m-%d")
    files = [
        write_table(roi, out / "roi.csv"),
        write_table(contributions, out / "contributions.csv"),
        write_table(result.params(), out / "params.csv"),
        write_table(response_curves(result), out / "response_curves.csv"),
        *result.save(out),
    ]
    return roi, files


#: Fewest weeks a holdout split may leave to fit on (half a year).
MIN_FIT_WEEKS = 26


def _training_weeks(panel: MediaPanel, holdout_weeks: int) -> pd.DataFrame:
    """Return the panel without its last ``holdout_weeks`` weeks (checked; every geo's)."""
    weeks = panel.weeks
    n = len(weeks)
    if isinstance(holdout_weeks, bool) or not isinstance(holdout_weeks, int) or holdout_weeks < 0:
        raise DataError(f"holdout_weeks must be a whole number >= 0, got {holdout_weeks!r}")
    if n - holdout_weeks < MIN_FIT_WEEKS:
        raise DataError(
            f"holdout_weeks={holdout_weeks} leaves {n - holdout_weeks} of {n} weeks to fit "
            f"on; keep at least {MIN_FIT_WEEKS}",
            file=panel.source,
        )
    if not holdout_weeks:
        return panel.frame.reset_index(drop=True)
    keep = pd.to_datetime(panel.frame["date"]) < weeks[n - holdout_weeks]
    return panel.frame[keep.to_numpy()].reset_index(drop=True)
