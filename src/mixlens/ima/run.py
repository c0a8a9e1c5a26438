"""``mixlens ima fit``: IMA from an MMM run directory or bring-your-own tables, to files.

Inputs, either

* ``mmm_dir``: a ``mixlens mmm fit`` directory; its ``contributions.csv`` (posterior-mean
  weekly contribution of each channel), ``params.csv`` (posterior-mean adstock
  parameters) and ``spec.json`` (adstock kind and ``l_max``) are read; or
* ``mmm_contributions`` (``date, channel, contribution``, weekly with ``date`` the first
  day of the week, or daily for a daily MMM: then stage 2 is the identity) and
  optionally ``adstock`` (``channel, theta, peak, l_max`` for the delayed kernel, or
  ``channel, alpha, l_max`` for the geometric one, lags in the MMM's periods; without it
  no carryover is applied), as files (CSV/Parquet) or frames;

plus the daily ``campaigns`` table. Writes ``campaign_daily.csv``, ``campaigns.csv``,
``fit.csv``, ``fit_weekly.csv`` (the weekly series behind ``fit.csv``: ``date, channel,
observed, predicted``) and ``summary.json`` (each atomically) under ``out_dir``.

**Geo level.** A geo MMM run directory (``mixlens mmm fit`` on a panel with a ``geo``
column), or contributions with a ``geo`` column (``date, geo, channel, contribution``),
with campaign media that has a ``geo`` column, is attributed per geo with campaign
effects partially pooled across geos (:func:`mixlens.ima.geo.fit_geo_ima`). Every table
then has a ``geo`` column: each geo, and ``all`` (sums over geos; campaign intervals
are those of the sum). Rows with geo ``all`` in the contributions are totals and are
not read. With the geo MMM's ``posterior.nc``, each geo is anchored in the posterior as a
national MMM's run is (:func:`mixlens.ima.anchor.read_geo_mmm_posterior`): shared
posterior-mean kernels, each geo's weeks weighed by the posterior sd of its weekly shape
(``mmm_error``) and each geo's contribution draws propagated into its campaign intervals
(and, draw by draw, into the national ones). With ``window``, the rolling windows
(``campaigns_by_window.csv``) are fitted by :mod:`mixlens.ima.geo_sequential` and carry
the same ``geo`` column.
"""

from __future__ import annotations

import json
import logging
import math
import time
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any, Literal, TypeVar

import numpy as np
import pandas as pd

from mixlens.data.io import write_json, write_table
from mixlens.data.loaders import read_table
from mixlens.data.schemas import require_columns, validate_campaigns
from mixlens.errors import DataError
from mixlens.ima.anchor import (
    GeoMMMPosterior,
    MMMPosterior,
    read_geo_mmm_posterior,
    read_mmm_posterior,
)
from mixlens.ima.fit import (
    Grain,
    IMAInputs,
    fit_ima,
    media_metric,
    period_days,
    prepare_inputs,
)
from mixlens.ima.geo import (
    GeoIMAInputs,
    GeoIMAResult,
    check_geo_posterior,
    fit_geo_ima,
    prepare_geo_inputs,
)
from mixlens.ima.geo_regression import Pooling
from mixlens.ima.geo_sequential import geo_rolling_credit
from mixlens.ima.interactions import parse_interactions, validate_interactions
from mixlens.ima.lift import read_campaign_lifts
from mixlens.ima.regression import FitMethod, ReconcileRule, RegressionModel
from mixlens.ima.sequential import Memory, rolling_credit
from mixlens.ima.tuning import AdstockTuning
from mixlens.ima.tuning import tune_adstock as tune_kernels
from mixlens.mmm.geo import ALL_GEOS
from mixlens.transforms.timescale import (
    AdstockParams,
    DelayedParams,
    GeometricParams,
    WeibullParams,
)

__all__ = ["fit_to_dir", "read_mmm_dir"]

_log = logging.getLogger(__name__)
ProgressCallback = Callable[[str, float], None]
TableSource = str | Path | pd.DataFrame


def _table(source: TableSource, name: str) -> tuple[pd.DataFrame, str]:
    if isinstance(source, pd.DataFrame):
        return source.reset_index(drop=True), f"<{name}>"
    return read_table(source), str(source)


def _check_weekly(frame: pd.DataFrame, file: str) -> pd.DataFrame:
    """Validate ``date, [geo], channel, contribution``: consecutive periods, one row each.

    With a ``geo`` column, every geo has every channel on the same periods; rows of geo
    ``all`` (totals over geos) are dropped.
    """
    require_columns(frame, ("date", "channel", "contribution"), file=file)
    geo = "geo" in frame.columns
    keys = ["geo", "channel"] if geo else ["channel"]
    out = frame[["date", *keys, "contribution"]].copy()
    if geo:
        missing = np.flatnonzero(out["geo"].isna().to_numpy())
        if missing.size:
            raise DataError("empty geo", file=file, column="geo", row=int(missing[0]) + 1)
        out["geo"] = out["geo"].astype(str)
    dates = pd.to_datetime(out["date"], errors="coerce")
    bad = np.flatnonzero(dates.isna().to_numpy())
    if bad.size:
        raise DataError("not a date (YYYY-MM-DD)", file=file, column="date", row=int(bad[0]) + 1)
    values = pd.to_numeric(out["contribution"], errors="coerce")
    bad = np.flatnonzero(~np.isfinite(values.to_numpy(dtype=np.float64)))
    if bad.size:
        raise DataError(
            "not a finite number", file=file, column="contribution", row=int(bad[0]) + 1
        )
    out["date"], out["contribution"] = dates, values.astype(np.float64)
    out["channel"] = out["channel"].astype(str)
    if geo:
        out = out[out["geo"] != ALL_GEOS]
    dup = np.flatnonzero(out.duplicated(["date", *keys]).to_numpy())
    if dup.size:
        raise DataError(
            f"duplicate {' and '.join(keys)} and week",
            file=file,
            column="date",
            row=int(out.index[dup[0]]) + 1,
        )
    weeks = pd.DatetimeIndex(out["date"].drop_duplicates().sort_values())
    steps = np.diff(weeks.to_numpy()).astype("timedelta64[D]").astype(int)
    step = 1 if steps.size and steps[0] == 1 else 7
    if steps.size and np.any(steps != step):
        i = int(np.flatnonzero(steps != step)[0])
        at = np.flatnonzero(out["date"].to_numpy() == weeks[i + 1].to_datetime64())[0]
        row = int(out.index[at])
        raise DataError(
            f"periods must be consecutive weeks (7 days apart) or consecutive days: "
            f"{weeks[i].date()} is followed by {weeks[i + 1].date()}",
            file=file,
            column="date",
            row=row + 1,
        )
    counts = out.groupby(keys)["date"].nunique()
    short = counts[counts != len(weeks)]
    if len(short):
        first = np.atleast_1d(short.index[0])
        what = " ".join(f"{k} {v!r}" for k, v in zip(keys, first, strict=True))
        raise DataError(
            f"{what} has {short.iloc[0]} of the {len(weeks)} weeks",
            file=file,
            column=keys[0],
        )
    if geo:
        pairs = out.groupby("geo")["channel"].nunique()
        channels = out["channel"].nunique()
        if (pairs != channels).any():
            name = str(pairs[pairs != channels].index[0])
            raise DataError(
                f"geo {name!r} has {pairs[name]} of the {channels} channels",
                file=file,
                column="geo",
            )
    return out.reset_index(drop=True)


def _adstock_from_table(frame: pd.DataFrame, file: str) -> dict[str, AdstockParams]:
    require_columns(frame, ("channel", "l_max"), file=file)
    kind = (
        "delayed" if "theta" in frame.columns else "geometric" if "alpha" in frame.columns else ""
    )
    if not kind:
        raise DataError(
            "needs a 'theta' (delayed) or 'alpha' (geometric) column", file=file, column="theta"
        )
    out: dict[str, AdstockParams] = {}
    for i, row in enumerate(frame.to_dict("records")):
        try:
            l_max = int(float(row["l_max"]))
            if kind == "delayed":
                out[str(row["channel"])] = DelayedParams(
                    theta=float(row["theta"]), peak=float(row.get("peak", 0.0)), l_max=l_max
                )
            else:
                out[str(row["channel"])] = GeometricParams(alpha=float(row["alpha"]), l_max=l_max)
        except (TypeError, ValueError) as err:
            raise DataError(f"bad adstock parameters: {err}", file=file, row=i + 1) from err
    return out


def read_mmm_dir(mmm_dir: str | Path) -> tuple[pd.DataFrame, dict[str, AdstockParams]]:
    """Read an MMM run directory: weekly channel contributions and adstock parameters.

    Parameters
    ----------
    mmm_dir
        A ``mixlens mmm fit`` output directory.

    Returns
    -------
    tuple
        ``date, channel, contribution`` (posterior means, target units; with a ``geo``
        column, one row per geo, for a geo MMM) and the posterior-mean adstock
        parameters per channel on the weekly scale (shared by the geos; each channel's
        own kind where the MMM chose adstocks per channel).

    Raises
    ------
    DataError
        If a file is missing or lacks a channel's parameters.
    """
    root = Path(mmm_dir)
    spec_file = root / "spec.json"
    if not spec_file.exists():
        raise DataError("not an MMM run directory (no spec.json)", file=str(spec_file))
    spec = json.loads(spec_file.read_text())["spec"]
    channels = [str(c) for c in spec["channels"]]
    contrib, cfile = _table(root / "contributions.csv", "contributions")
    require_columns(contrib, ("date", "component", "mean"), file=cfile)
    weekly = contrib[contrib["component"].astype(str).isin(channels)]
    weekly = weekly.rename(columns={"component": "channel", "mean": "contribution"})
    params, pfile = _table(root / "params.csv", "params")
    require_columns(params, ("channel", "parameter", "mean"), file=pfile)
    if "geo" in params.columns:
        # A geo MMM: adstock parameters are shared, on the rows of geo "all".
        params = params[params["geo"].astype(str) == ALL_GEOS]
    means = params.assign(mean=pd.to_numeric(params["mean"])).pivot_table(
        index="channel", columns="parameter", values="mean", aggfunc="first"
    )
    adstocks = spec.get("adstock", {})
    out: dict[str, AdstockParams] = {}
    for channel in channels:
        # one adstock for every channel ({"kind": ...}), or chosen per channel
        adstock = adstocks if "kind" in adstocks else adstocks.get(channel, {})
        kind, l_max = str(adstock.get("kind", "delayed")), int(adstock.get("l_max", 8))
        if channel not in means.index:
            raise DataError(f"no parameters for channel {channel!r}", file=pfile, column="channel")
        row = means.loc[channel].dropna().to_numpy(dtype=np.float64)
        p = dict(zip(map(str, means.loc[channel].dropna().index), row.tolist(), strict=True))
        if kind == "delayed":
            out[channel] = DelayedParams(theta=p["theta"], peak=p["peak"], l_max=l_max)
        elif kind == "geometric":
            out[channel] = GeometricParams(alpha=p["alpha"], l_max=l_max)
        else:
            out[channel] = WeibullParams(
                shape=p["shape"],
                scale=p["scale"],
                l_max=l_max,
                kind="cdf" if adstock.get("weibull_kind") == "cdf" else "pdf",
            )
    return _check_weekly(weekly.reset_index(drop=True), cfile), out


def _check_campaigns(
    campaigns: pd.DataFrame, file: str, weekly: pd.DataFrame, mmm_file: str
) -> pd.DataFrame:
    if "geo" in weekly.columns and "geo" not in campaigns.columns:
        raise DataError(
            f"the MMM ({mmm_file}) is by geo: the campaign media needs a geo column",
            file=file,
            column="geo",
        )
    if "geo" in campaigns.columns and "geo" not in weekly.columns:
        raise DataError(
            f"the MMM ({mmm_file}) is national: give a geo MMM (or contributions with a "
            "geo column) to attribute by geo, or drop the geo column",
            file=file,
            column="geo",
        )
    if "geo" in campaigns.columns:
        geos = set(weekly["geo"])
        unknown_geo = np.flatnonzero(~campaigns["geo"].isin(geos).to_numpy())
        if unknown_geo.size:
            i = int(unknown_geo[0])
            raise DataError(
                f"geo {campaigns['geo'].iloc[i]!r} is not a geo of the MMM "
                f"({mmm_file}: {', '.join(sorted(geos))})",
                file=file,
                column="geo",
                row=i + 1,
            )
    known = set(weekly["channel"])
    unknown = np.flatnonzero(~campaigns["channel"].isin(known).to_numpy())
    if unknown.size:
        i = int(unknown[0])
        raise DataError(
            f"channel {campaigns['channel'].iloc[i]!r} is not a channel of the MMM "
            f"({mmm_file}: {', '.join(sorted(known))})",
            file=file,
            column="channel",
            row=i + 1,
        )
    weeks = pd.DatetimeIndex(weekly["date"].drop_duplicates().sort_values())
    dates = pd.to_datetime(campaigns["date"])
    last = pd.Timedelta(days=period_days(weeks) - 1)
    first_end, last_start = weeks[0] + last, weeks[-1]
    if dates.max() < last_start or dates.min() > first_end:
        i = int(dates.argmax()) if dates.max() < last_start else int(dates.argmin())
        raise DataError(
            f"campaign dates {dates.min().date()} .. {dates.max().date()} do not cover the "
            f"MMM's periods {weeks[0].date()} .. {(weeks[-1] + last).date()}",
            file=file,
            column="date",
            row=i + 1,
        )
    return campaigns


def _check_media_columns(
    campaigns: pd.DataFrame, media: str | Mapping[str, str], file: str
) -> None:
    """Each channel's media metric must be a column of the campaign table."""
    for channel in campaigns["channel"].drop_duplicates():
        metric = media_metric(media, str(channel))
        if metric not in campaigns.columns:
            raise DataError(
                f"no '{metric}' column for channel {channel!r} (--media {metric}); the "
                f"campaign table has {', '.join(map(str, campaigns.columns))}",
                file=file,
                column=metric,
            )


def fit_to_dir(
    *,
    campaigns: TableSource,
    out_dir: str | Path,
    mmm_dir: str | Path | None = None,
    mmm_contributions: TableSource | None = None,
    adstock: TableSource | None = None,
    media: str | Mapping[str, str] = "impressions",
    method: FitMethod = "advi",
    model: RegressionModel | Literal["auto"] = "auto",
    draws: int = 200,
    seed: int = 0,
    rule: ReconcileRule = "cap",
    progress: ProgressCallback | None = None,
    lift_tests: TableSource | None = None,
    likelihood: Literal["period", "daily"] = "period",
    grain: Grain | Literal["auto"] = "auto",
    mmm_uncertainty: bool = True,
    mmm_error: bool = True,
    window: int | None = None,
    step: int | None = None,
    memory: Memory = "window",
    pooling: Pooling = "partial",
    advi_steps: int = 8000,
    interactions: str | Mapping[str, Sequence[str]] | None = None,
    tune_adstock: bool = False,
) -> dict[str, Any]:
    """Run IMA and write its tables (``mixlens ima fit``).

    Parameters
    ----------
    campaigns
        Daily campaign media (file or frame), see design.md.
    out_dir
        Output directory (created).
    mmm_dir
        A ``mixlens mmm fit`` directory; or give ``mmm_contributions`` (and ``adstock``).
    mmm_contributions
        Weekly ``date, channel, contribution`` (file or frame).
    adstock
        ``channel, theta, peak, l_max`` (delayed) or ``channel, alpha, l_max``
        (geometric), lags in weeks; ``None`` applies no carryover.
    media
        Media metric (``impressions``, ``spend``, ``clicks``), or one per channel.
    method
        ``"advi"`` (default), ``"laplace"`` or ``"nuts"``, see
        :func:`mixlens.ima.fit.fit_ima`.
    model
        ``"auto"`` (default), ``"saturating"`` or ``"linear"``, see
        :func:`mixlens.ima.fit.fit_ima`.
    draws
        Posterior draws.
    seed
        Random seed.
    rule
        Reconciliation rule, see :func:`mixlens.ima.regression.reconcile`.
    progress
        Called as ``progress(stage, fraction)``.
    lift_tests
        Campaign lift tests (``lift_tests.csv`` format with a ``campaign`` column), file
        or frame; see :mod:`mixlens.ima.lift`.
    likelihood
        ``"period"`` (default) or ``"daily"``, see :func:`mixlens.ima.fit.fit_ima`.
    grain
        ``"auto"`` (default), ``"mmm"`` or ``"daily"``, see :func:`mixlens.ima.fit.fit_ima`.
    mmm_uncertainty
        With ``mmm_dir``: read its posterior (``posterior.nc``, of a national or a geo
        MMM) for the posterior-mean kernels and propagate its channel contribution draws
        (per geo for a geo MMM) into the campaign intervals (see
        :mod:`mixlens.ima.anchor`); ``False`` uses the posterior-mean tables only.
    mmm_error
        With the MMM's posterior: weigh weeks by its posterior uncertainty of the weekly
        shape (``mmm_error`` in :func:`mixlens.ima.fit.fit_ima`); ``False`` treats the
        MMM's weekly contributions as exact.
    window, step
        Also fit a rolling window of ``window`` days moved by ``step`` days (default
        ``window``), carrying each window's posterior forward as the next one's prior
        (the linear-Gaussian regression of :mod:`mixlens.ima.sequential`; at the geo
        level that of :mod:`mixlens.ima.geo_sequential`, campaign effects pooled across
        geos with ``pooling``), and write ``campaigns_by_window.csv`` (with a ``geo``
        column at the geo level: each geo and ``all``, the sums) and ``windows`` in
        ``summary.json``. Multiples of 7 days for a weekly MMM. The windows use neither
        lift tests nor the MMM's posterior draws.
    memory
        ``"window"`` (each window's own periods) or ``"all"`` (every period so far),
        see :func:`mixlens.ima.sequential.rolling_fit`.
    pooling
        Geo level only: ``"partial"`` (default: each campaign's effect pooled across
        geos) or ``"none"`` (independent geos); see :mod:`mixlens.ima.geo_regression`.
        Every ``method`` (``"laplace"`` included), rolling windows, campaign lift tests
        (a ``geo`` column names the geos a test ran in) and interaction terms work at the
        geo level (not rolling windows with interaction terms).
    advi_steps
        ADVI optimisation steps (``method="advi"``).
    interactions
        Cross-channel interaction terms, ``"target=source1+source2, ..."`` or a mapping
        target channel -> source channels (:mod:`mixlens.ima.interactions`); the fitted
        coefficients and each target's share owed to its sources go to
        ``summary.json`` (``meta.interactions``); at the geo level each geo's sources act
        in that geo, with coefficients shared by the geos. Not with rolling windows.
        ``None`` (default): none.
    tune_adstock
        With ``mmm_contributions`` only: tune each channel's daily carryover from its
        contributions before the fit (:func:`mixlens.ima.tuning.tune_adstock`: the given
        kernel, or none, is kept unless another fits the channel's contributions clearly
        better); writes ``adstock_tuning.csv`` and ``adstock_tuning`` in
        ``summary.json``. At the geo level on the totals over geos (the kernel is shared
        by the geos). An ``mmm_dir``'s kernels were fitted to its own data: tuning them
        is refused (``DataError``).

    Returns
    -------
    dict
        The summary written to ``summary.json``.

    Raises
    ------
    DataError
        On bad or inconsistent inputs, naming the file, column and row.
    ValueError
        If both or neither of ``mmm_dir`` and ``mmm_contributions`` are given.
    """
    report = progress or (lambda stage, fraction: None)
    start = time.perf_counter()
    if (mmm_dir is None) == (mmm_contributions is None):
        raise ValueError("give exactly one of mmm_dir and mmm_contributions")
    if tune_adstock and mmm_dir is not None:
        # Its contributions are made by its own kernels, fitted to the same data.
        raise DataError(
            "--tune-adstock is for bring-your-own contributions (--contributions); an "
            "mmm run dir's kernels were fitted to its data and are kept",
            file="<options>",
        )
    report("read", 0.0)
    params: dict[str, AdstockParams | None]
    posterior: MMMPosterior | None = None
    geo_posterior: GeoMMMPosterior | None = None
    note = ""
    if mmm_dir is not None:
        weekly, mmm_params = read_mmm_dir(mmm_dir)
        params, mmm_file = dict(mmm_params), str(Path(mmm_dir) / "contributions.csv")
        with_posterior = mmm_uncertainty and (Path(mmm_dir) / "posterior.nc").exists()
        if "geo" in weekly.columns and with_posterior:
            try:
                # As many MMM draws as regression draws, thinned over every chain: the
                # pairing (mmm_deviation) uses the first n_draws of those it is given.
                geo_posterior = read_geo_mmm_posterior(mmm_dir, max_draws=max(draws, 1))
                check_geo_posterior(geo_posterior, weekly)
            except (DataError, KeyError, ValueError) as err:
                # As for a national MMM: the posterior-mean tables still anchor the fit.
                geo_posterior, note = None, f"MMM posterior not used: {err}"
                _log.info(note)
        elif "geo" not in weekly.columns and with_posterior:
            try:
                posterior = read_mmm_posterior(mmm_dir)
            except (DataError, KeyError, ValueError) as err:
                # A posterior IMA cannot use (e.g. another model's layout): the
                # posterior-mean tables still anchor the fit; the summary says so.
                note = f"MMM posterior not used: {err}"
                _log.info(note)
    else:
        assert mmm_contributions is not None
        raw, mmm_file = _table(mmm_contributions, "mmm_contributions")
        weekly = _check_weekly(raw, mmm_file)
        params = dict.fromkeys(weekly["channel"].unique().tolist(), None)
        if adstock is not None:
            table, afile = _table(adstock, "adstock")
            given = _adstock_from_table(table, afile)
            missing = [c for c in params if c not in given]
            if missing:
                raise DataError(
                    f"no adstock for channel {missing[0]!r}", file=afile, column="channel"
                )
            params.update(given)
    camp_raw, cfile = _table(campaigns, "campaigns")
    camp = _check_campaigns(validate_campaigns(camp_raw, file=cfile), cfile, weekly, mmm_file)
    _check_media_columns(camp, media, cfile)
    pairs = _interactions(interactions, weekly, camp, window=window)
    tuning = None
    if tune_adstock:
        report("tune adstock", 0.05)
        tuning = tune_kernels(weekly, params, camp, media=media)
        params = tuning.params(params)
    if "geo" in weekly.columns:
        if window is not None:
            _check_window(weekly, window, step or window)
        report("fit", 0.1)
        geo_result = fit_geo_ima(
            weekly,
            params,
            camp,
            media=media,
            method=method,
            model=model,
            pooling=pooling,
            draws=draws,
            seed=seed,
            rule=rule,
            likelihood=likelihood,
            grain=grain,
            advi_steps=advi_steps,
            posterior=geo_posterior,
            mmm_error=mmm_error,
            lift_tests=None if lift_tests is None else read_campaign_lifts(lift_tests, geo=True),
            interactions=pairs or None,
        )
        geo_rolling = None
        if window is not None:
            report("rolling windows", 0.8)
            geo_rolling = _geo_rolling(
                weekly, params, camp, geo_posterior, media=media,
                grains=geo_result.meta["grain_by_channel"], window=window,
                step=step or window, memory=memory, pooling=pooling, draws=draws, seed=seed,
                rule=rule,
            )  # fmt: skip
        report("write", 0.9)
        inputs = {"mmm": str(mmm_dir) if mmm_dir is not None else mmm_file, "campaigns": cfile}
        summary = _write_geo(
            geo_result, Path(out_dir), inputs, params, seed=seed, note=note, rolling=geo_rolling
        )
        if geo_rolling is not None:
            assert window is not None
            summary["windows"] = _window_summary(
                geo_rolling, window=window, step=step or window, memory=memory, pooling=pooling
            )
        _write_tuning(tuning, Path(out_dir), summary)
        summary["seconds"] = round(time.perf_counter() - start, 3)
        write_json(_json_safe(summary), Path(out_dir) / "summary.json")
        report("done", 1.0)
        return summary
    lifts = None if lift_tests is None else read_campaign_lifts(lift_tests)
    if window is not None:
        _check_window(weekly, window, step or window)
    report("fit", 0.1)
    result = fit_ima(
        weekly,
        params,
        camp,
        media=media,
        method=method,
        model=model,
        draws=draws,
        seed=seed,
        rule=rule,
        lift_tests=lifts,
        likelihood=likelihood,
        grain=grain,
        posterior=posterior,
        advi_steps=advi_steps,
        mmm_error=mmm_error,
        interactions=pairs or None,
    )
    rolling = None
    if window is not None:
        report("rolling windows", 0.8)
        rolling = _rolling(
            weekly, params, camp, posterior, media=media,
            grains=result.meta["grain_by_channel"], window=window,
            step=step or window, memory=memory, draws=draws, seed=seed, rule=rule,
        )  # fmt: skip
    report("write", 0.9)
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    files = [
        write_table(result.campaign_daily(), out / "campaign_daily.csv"),
        write_table(result.campaigns(), out / "campaigns.csv"),
        write_table(result.fit(), out / "fit.csv"),
        write_table(_weekly_frame(result.weekly), out / "fit_weekly.csv"),
    ]
    if rolling is not None:
        files.append(write_table(rolling, out / "campaigns_by_window.csv"))
    summary = result.summary()
    summary["inputs"] = {
        "mmm": str(mmm_dir) if mmm_dir is not None else mmm_file,
        "campaigns": cfile,
        "lift_tests": None if lift_tests is None else _source_name(lift_tests),
        "adstock": {c: (None if p is None else _params_dict(p)) for c, p in params.items()},
    }
    summary["mmm_uncertainty"] = posterior is not None
    summary["mmm_error"] = posterior is not None and mmm_error
    if note:
        summary["mmm_uncertainty_note"] = note
    if rolling is not None:
        assert window is not None
        summary["windows"] = _window_summary(
            rolling, window=window, step=step or window, memory=memory, pooling=None
        )
    summary["seed"] = seed
    summary["files"] = [p.name for p in files] + ["summary.json"]
    _write_tuning(tuning, out, summary)
    summary["seconds"] = round(time.perf_counter() - start, 3)
    write_json(_json_safe(summary), out / "summary.json")
    report("done", 1.0)
    return summary


def _interactions(
    given: str | Mapping[str, Sequence[str]] | None,
    weekly: pd.DataFrame,
    campaigns: pd.DataFrame,
    *,
    window: int | None,
) -> dict[str, tuple[str, ...]]:
    """Parse and check the interaction terms against the MMM's and the campaigns' channels."""
    if not given:
        return {}
    try:
        pairs = (
            parse_interactions(given) if isinstance(given, str) else validate_interactions(given)
        )
    except ValueError as err:
        raise DataError(str(err), file="<options>", column="interactions") from None
    if window is not None and pairs:
        raise DataError(
            "interaction terms (--interactions) are not supported with rolling windows "
            "(--window) yet",
            file="<options>",
        )
    mmm_channels = set(map(str, weekly["channel"]))
    with_campaigns = set(map(str, campaigns["channel"])) & mmm_channels
    for target, sources in pairs.items():
        if target not in with_campaigns:
            raise DataError(
                f"interaction target {target!r} is not a channel with campaigns "
                f"(channels with campaigns: {', '.join(sorted(with_campaigns))})",
                file="<options>",
                column="interactions",
            )
        for source in sources:
            if source not in mmm_channels:
                raise DataError(
                    f"interaction source {source!r} is not a channel of the MMM "
                    f"(channels: {', '.join(sorted(mmm_channels))})",
                    file="<options>",
                    column="interactions",
                )
    return pairs


def _write_geo(
    result: GeoIMAResult,
    out: Path,
    inputs: dict[str, Any],
    params: Mapping[str, AdstockParams | None],
    *,
    seed: int,
    note: str,
    rolling: pd.DataFrame | None = None,
) -> dict[str, Any]:
    """Write a geo IMA's tables (each with a ``geo`` column, geo ``all``: totals)."""
    out.mkdir(parents=True, exist_ok=True)
    files = [
        write_table(result.campaign_daily(), out / "campaign_daily.csv"),
        write_table(result.campaigns(), out / "campaigns.csv"),
        write_table(result.fit(), out / "fit.csv"),
        write_table(_weekly_frame(result.weekly()), out / "fit_weekly.csv"),
        write_table(result.shared, out / "campaign_effects.csv"),
    ]
    if rolling is not None:
        files.append(write_table(rolling, out / "campaigns_by_window.csv"))
    summary = result.summary()
    summary["inputs"] = {
        **inputs,
        "adstock": {c: (None if p is None else _params_dict(p)) for c, p in params.items()},
    }
    summary["mmm_uncertainty"] = bool(result.meta.get("mmm_uncertainty", False))
    summary["mmm_error"] = bool(result.meta.get("mmm_error", False))
    summary["mmm_draws"] = int(result.meta.get("mmm_draws", 0))
    if note:
        summary["mmm_uncertainty_note"] = note
    summary["seed"] = seed
    summary["files"] = [p.name for p in files] + ["summary.json"]
    return summary


def _check_window(weekly: pd.DataFrame, window: int, step: int) -> None:
    weeks = pd.DatetimeIndex(weekly["date"].drop_duplicates().sort_values())
    period = period_days(weeks)
    if window % period or step % period or window <= 0 or step <= 0:
        raise DataError(
            f"--window {window} and --step {step} must be positive multiples of the MMM's "
            f"{period}-day periods",
            file="<options>",
        )
    if window > len(weeks) * period:
        raise DataError(
            f"--window {window} is longer than the MMM's {len(weeks) * period} days",
            file="<options>",
        )


_Inputs = TypeVar("_Inputs", IMAInputs, GeoIMAInputs)


def _kept_grain_designs(
    prepare: Callable[[Grain], _Inputs], grains: Mapping[str, Grain]
) -> tuple[_Inputs, list[Any]]:
    """Return inputs at one grain and each channel's design at the grain the fit kept.

    ``prepare(grain)`` builds the inputs (national or geo) with media adstocked at ``grain``.
    """
    by_grain = {g: prepare(g) for g in sorted(set(grains.values()))}
    inputs = next(iter(by_grain.values()))
    designs = [
        next(d for d in by_grain[grains[c.channel]].designs if d.channel == c.channel)
        for c in inputs.designs
    ]
    return inputs, designs


def _rolling(
    weekly: pd.DataFrame,
    params: Mapping[str, AdstockParams | None],
    campaigns: pd.DataFrame,
    posterior: MMMPosterior | None,
    *,
    media: str | Mapping[str, str],
    grains: Mapping[str, Grain],
    window: int,
    step: int,
    memory: Memory,
    draws: int,
    seed: int,
    rule: ReconcileRule,
) -> pd.DataFrame:
    """Campaign credit per rolling window (``campaigns_by_window.csv``).

    Each channel's media is adstocked at the grain the full fit kept for it.
    """
    kernels = None if posterior is None else posterior.kernels
    inputs, designs = _kept_grain_designs(
        lambda g: prepare_inputs(
            weekly, params, campaigns, media=media, adstock=g, kernels=kernels
        ),
        grains,
    )
    period = period_days(inputs.weeks)
    return rolling_credit(
        designs,
        inputs.days,
        window=window,
        step=step,
        period=period,
        memory=memory,
        draws=draws,
        seed=seed,
        rule=rule,
    )


def _geo_rolling(
    weekly: pd.DataFrame,
    params: Mapping[str, AdstockParams | None],
    campaigns: pd.DataFrame,
    posterior: GeoMMMPosterior | None,
    *,
    media: str | Mapping[str, str],
    grains: Mapping[str, Grain],
    window: int,
    step: int,
    memory: Memory,
    pooling: Pooling,
    draws: int,
    seed: int,
    rule: ReconcileRule,
) -> pd.DataFrame:
    """Campaign credit per rolling window and geo (``campaigns_by_window.csv``, geo level).

    Each channel's media is adstocked at the grain the full geo fit kept for it (with the
    geo MMM's posterior-mean kernels when its posterior was read).
    """
    kernels = None if posterior is None else posterior.kernels
    inputs, designs = _kept_grain_designs(
        lambda g: prepare_geo_inputs(
            weekly, params, campaigns, media=media, adstock=g, kernels=kernels
        ),
        grains,
    )
    return geo_rolling_credit(
        designs,
        inputs.days,
        window=window,
        step=step,
        period=period_days(inputs.weeks),
        memory=memory,
        pooling=pooling,
        draws=draws,
        seed=seed,
        rule=rule,
    )


def _window_summary(
    rolling: pd.DataFrame, *, window: int, step: int, memory: Memory, pooling: Pooling | None
) -> dict[str, Any]:
    """Describe the rolling windows for ``summary.json`` (``windows``)."""
    spans = rolling[["window_start", "window_end"]].drop_duplicates()
    out: dict[str, Any] = {
        "file": "campaigns_by_window.csv",
        "window_days": window,
        "step_days": step,
        "memory": memory,
        "count": len(spans),
        "first": [str(spans["window_start"].iloc[0]), str(spans["window_end"].iloc[0])],
        "last": [str(spans["window_start"].iloc[-1]), str(spans["window_end"].iloc[-1])],
        "model": "linear-gaussian, posterior carried forward (mixlens.ima.sequential)",
    }
    if pooling is not None:
        out["pooling"] = pooling
        out["model"] = (
            "linear-gaussian, campaign effects pooled across geos, posterior carried "
            "forward (mixlens.ima.geo_sequential)"
        )
    return out


def _write_tuning(tuning: AdstockTuning | None, out: Path, summary: dict[str, Any]) -> None:
    """``adstock_tuning.csv`` and ``summary["adstock_tuning"]`` when the kernels were tuned."""
    if tuning is None:
        return
    path = write_table(tuning.to_frame(), out / "adstock_tuning.csv")
    summary["adstock_tuning"] = tuning.summary()
    files = summary.get("files", [])
    summary["files"] = [*[f for f in files if f != "summary.json"], path.name, "summary.json"]


def _source_name(source: TableSource) -> str:
    return "<frame>" if isinstance(source, pd.DataFrame) else str(source)


def _weekly_frame(weekly: pd.DataFrame) -> pd.DataFrame:
    """``date, channel, observed, predicted`` with ISO dates (the series behind fit.csv)."""
    out = weekly.copy()
    out["date"] = pd.to_datetime(out["date"]).dt.strftime("%Y-%m-%d")
    return out.reset_index(drop=True)


def _params_dict(p: AdstockParams) -> dict[str, Any]:
    return {"kind": type(p).__name__.removesuffix("Params").lower(), **p.__dict__}


def _json_safe(obj: Any) -> Any:
    if isinstance(obj, dict):
        return {str(k): _json_safe(v) for k, v in obj.items()}
    if isinstance(obj, list | tuple):
        return [_json_safe(v) for v in obj]
    if isinstance(obj, float) and not math.isfinite(obj):
        return None
    return obj
