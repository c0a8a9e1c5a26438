"""Runner executed inside the PyMC-Marketing environment (benchmarks/.envs/pymc-marketing).

Fits PyMC-Marketing's MMM with its documented defaults (geometric adstock, logistic
saturation, default priors, yearly seasonality with 2 Fourier modes as in its example) and
writes, per draw, each channel's ROI (contribution in original scale / spend) plus the
posterior-mean weekly contributions, timings and peak RSS.

    python _pmm_runner.py CONFIG.json

CONFIG: csv, date, target, channels (spend columns), controls, out, chains, draws, tune, seed,
sampler.
"""

import json
import resource
import sys
import time
import warnings

import numpy as np
import pandas as pd


def main() -> None:
    cfg = json.loads(open(sys.argv[1]).read())
    started = time.perf_counter()
    warnings.simplefilter("ignore")
    import pymc_marketing
    from pymc_marketing.mmm import MMM, GeometricAdstock, LogisticSaturation

    data = pd.read_csv(cfg["csv"], parse_dates=[cfg["date"]])
    channels, controls = cfg["channels"], cfg["controls"]
    X = data[[cfg["date"], *channels, *controls]]
    y = data[cfg["target"]]
    mmm = MMM(
        date_column=cfg["date"],
        channel_columns=channels,
        target_column=cfg["target"],
        control_columns=controls or None,
        adstock=GeometricAdstock(l_max=8),
        saturation=LogisticSaturation(),
        yearly_seasonality=2,
    )
    t = time.perf_counter()
    mmm.build_model(X, y)
    mmm.add_original_scale_contribution_variable(var=["channel_contribution"])
    mmm.fit(
        X,
        y,
        chains=cfg["chains"],
        draws=cfg["draws"],
        tune=cfg["tune"],
        nuts_sampler=cfg["sampler"],
        random_seed=cfg["seed"],
        progressbar=False,
    )
    fit_s = time.perf_counter() - t
    contrib = mmm.idata["posterior"]["channel_contribution_original_scale"]
    arr = contrib.transpose("chain", "draw", "date", "channel").values
    arr = arr.reshape(-1, arr.shape[2], arr.shape[3])  # sample, date, channel
    spend = data[channels].sum().to_numpy()
    roi = arr.sum(axis=1) / spend  # sample, channel
    out = cfg["out"]
    pd.DataFrame(roi, columns=channels).to_csv(f"{out}/roi_draws.csv", index=False)
    weekly = pd.DataFrame(arr.mean(axis=0), columns=channels)
    weekly.insert(0, "date", data[cfg["date"]].dt.strftime("%Y-%m-%d"))
    weekly.to_csv(f"{out}/weekly_contributions.csv", index=False)
    idata = mmm.idata
    fitted = None
    try:
        post = mmm.sample_posterior_predictive(X, extend_idata=False, combined=True)
        if "y_original_scale" in post:
            fitted = np.asarray(post["y_original_scale"].mean(dim="sample")).ravel()
        else:
            scale = float(np.asarray(mmm.idata["constant_data"]["target_scale"]))
            fitted = np.asarray(post["y"].mean(dim="sample")).ravel() * scale
    except Exception as err:
        sys.stderr.write(f"posterior predictive failed: {err}\n")
    try:
        div = int(idata["sample_stats"]["diverging"].sum())
    except (KeyError, AttributeError):
        div = -1
    try:
        import arviz as az

        summ = az.summary(idata, var_names=["saturation_beta", "adstock_alpha"], kind="diagnostics")
        rhat, ess = float(summ["r_hat"].max()), float(summ["ess_bulk"].min())
    except Exception:
        rhat, ess = float("nan"), float("nan")
    info = {
        "version": pymc_marketing.__version__,
        "fit_s": fit_s,
        "runner_s": time.perf_counter() - started,
        "peak_rss_mib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0,
        "divergences": div,
        "max_rhat": rhat,
        "min_ess_bulk": ess,
    }
    if fitted is not None:
        obs = y.to_numpy(dtype=float)
        info["r2"] = float(1 - ((obs - fitted) ** 2).sum() / ((obs - obs.mean()) ** 2).sum())
        info["mape"] = float(np.mean(np.abs(obs - fitted) / np.abs(obs)))
    with open(f"{out}/info.json", "w") as fh:
        json.dump(info, fh)


if __name__ == "__main__":
    main()
