"""Runner executed inside the Meridian environment (benchmarks/.envs/meridian).

Fits Google Meridian with its documented defaults (``ModelSpec()``: ROI prior on paid
media, adstock then Hill, max_lag 8, default knots; the default JAX backend) on a weekly
panel, national (no geo column: Meridian makes one ``national_geo``) or geo (a geo column
and a population column), with media = spend unless execution columns are given.

Writes, per draw, each channel's ROI (``Analyzer.roi``: incremental outcome of the
channel over its whole spend) and marginal ROI (``Analyzer.marginal_roi``); the posterior
mean of each channel's weekly incremental outcome (``Analyzer.incremental_outcome`` with
``aggregate_times=False``, summed over geos) and of the expected outcome
(``Analyzer.expected_outcome``); divergences, R-hat, timings and peak RSS. Outcome units
are the KPI's (``use_kpi=True``), so ROI = KPI per unit of spend, as mixlens reports it.

    python _meridian_runner.py CONFIG.json

CONFIG: csv, time, kpi, kpi_type ('revenue' or 'non_revenue'), channels (spend columns),
names (channel names), controls, geo (column or null), population (column or null), out,
chains, adapt, burnin, keep, seed; optional media (execution columns, e.g. impressions;
default: the spend columns), revenue_per_kpi (column) and enable_aks (Meridian's automatic
knot selection instead of its default knots: 1 for a national model).
"""

import json
import os
import resource
import sys
import time
import warnings

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")


def main() -> None:
    cfg = json.loads(open(sys.argv[1]).read())
    started = time.perf_counter()
    warnings.simplefilter("ignore")
    import numpy as np
    import pandas as pd
    from meridian import backend
    from meridian.analysis import analyzer
    from meridian.data import data_frame_input_data_builder as dfb
    from meridian.model import model, spec
    from meridian.version import __version__

    data = pd.read_csv(cfg["csv"])
    data[cfg["time"]] = pd.to_datetime(data[cfg["time"]]).dt.strftime("%Y-%m-%d")
    geo = cfg.get("geo")
    kw = {"time_col": cfg["time"]}
    if geo:
        kw["geo_col"] = geo
    builder = dfb.DataFrameInputDataBuilder(kpi_type=cfg["kpi_type"])
    builder = builder.with_kpi(data, kpi_col=cfg["kpi"], **kw)
    if cfg["controls"]:
        builder = builder.with_controls(data, control_cols=list(cfg["controls"]), **kw)
    if geo and cfg.get("population"):
        builder = builder.with_population(data, population_col=cfg["population"], geo_col=geo)
    if cfg.get("revenue_per_kpi"):
        builder = builder.with_revenue_per_kpi(
            data, revenue_per_kpi_col=cfg["revenue_per_kpi"], **kw
        )
    builder = builder.with_media(
        data,
        media_cols=list(cfg.get("media") or cfg["channels"]),
        media_spend_cols=list(cfg["channels"]),
        media_channels=list(cfg["names"]),
        **kw,
    )
    input_data = builder.build()
    model_spec = spec.ModelSpec(enable_aks=bool(cfg.get("enable_aks", False)))
    mmm = model.Meridian(input_data=input_data, model_spec=model_spec)
    t = time.perf_counter()
    mmm.sample_posterior(
        n_chains=cfg["chains"],
        n_adapt=cfg["adapt"],
        n_burnin=cfg["burnin"],
        n_keep=cfg["keep"],
        seed=cfg["seed"],
    )
    fit_s = time.perf_counter() - t

    t = time.perf_counter()
    an = analyzer.Analyzer(mmm)
    names = list(cfg["names"])
    roi = np.asarray(an.roi(use_kpi=True))  # chain, draw, channel
    roi = roi.reshape(-1, roi.shape[-1])
    mroi = np.asarray(an.marginal_roi(use_kpi=True)).reshape(-1, len(names))
    inc = np.asarray(an.incremental_outcome(aggregate_times=False, use_kpi=True))
    weekly = inc.reshape(-1, *inc.shape[-2:]).mean(axis=0)  # time, channel
    expected = np.asarray(an.expected_outcome(aggregate_times=False, use_kpi=True))
    fitted = expected.reshape(-1, expected.shape[-1]).mean(axis=0)  # national, per time
    analysis_s = time.perf_counter() - t

    out = cfg["out"]
    times = [str(x) for x in input_data.time.values]
    pd.DataFrame(roi, columns=names).to_csv(f"{out}/roi_draws.csv", index=False)
    pd.DataFrame(mroi, columns=names).to_csv(f"{out}/mroi_draws.csv", index=False)
    frame = pd.DataFrame(weekly, columns=names)
    frame.insert(0, "date", times)
    frame.to_csv(f"{out}/weekly_contributions.csv", index=False)
    by_time = data.groupby(cfg["time"])[cfg["kpi"]].sum().reindex(times)
    obs = by_time.to_numpy(dtype=float)
    pd.DataFrame({"date": times, "observed": obs, "fitted": fitted}).to_csv(
        f"{out}/fit.csv", index=False
    )
    try:
        div = int(np.asarray(mmm.inference_data.sample_stats["diverging"]).sum())
    except (KeyError, AttributeError):
        div = -1
    try:
        rhat = an.get_rhat()
        max_rhat = float(max(np.nanmax(np.asarray(v)) for v in rhat.values()))
        media_rhat = {
            k: float(np.nanmax(np.asarray(v)))
            for k, v in rhat.items()
            if k in ("roi_m", "beta_m", "alpha_m", "ec_m", "slope_m")
        }
    except Exception as err:  # diagnostics are optional; report why they are missing
        sys.stderr.write(f"rhat failed: {err}\n")
        max_rhat, media_rhat = float("nan"), {}
    try:
        import arviz as az

        ess = az.ess(mmm.inference_data.posterior, var_names=["roi_m"])
        min_ess = float(np.asarray(ess["roi_m"]).min())
    except Exception:
        min_ess = float("nan")
    info = {
        "version": __version__,
        "backend": str(backend.config.get_backend().value),
        "fit_s": fit_s,
        "analysis_s": analysis_s,
        "runner_s": time.perf_counter() - started,
        "peak_rss_mib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0,
        "divergences": div,
        "max_rhat": max_rhat,
        "media_rhat": media_rhat,
        "min_ess_bulk": min_ess,
        "r2": float(1 - ((obs - fitted) ** 2).sum() / ((obs - obs.mean()) ** 2).sum()),
        "mape": float(np.mean(np.abs(obs - fitted) / np.abs(obs))),
        "n_geos": len(input_data.geo.values),
        "knots": int(np.size(mmm.knot_info.knot_locations)),
    }
    if geo:
        exp_geo = np.asarray(
            an.expected_outcome(aggregate_geos=False, aggregate_times=False, use_kpi=True)
        )
        fit_geo = exp_geo.reshape(-1, *exp_geo.shape[-2:]).mean(axis=0)  # geo, time
        obs_geo = np.asarray(input_data.kpi.values, dtype=float)
        info["r2_geo"] = float(
            1 - ((obs_geo - fit_geo) ** 2).sum() / ((obs_geo - obs_geo.mean()) ** 2).sum()
        )
        info["peak_rss_mib"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0
    with open(f"{out}/info.json", "w") as fh:
        json.dump(info, fh)


if __name__ == "__main__":
    main()
