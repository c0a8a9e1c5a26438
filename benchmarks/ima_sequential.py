"""Sequential updating in IMA: carrying the posterior forward vs refitting each window.

Run: ``PYTHONPATH=src python benchmarks/ima_sequential.py [--write]``. On the simulator's
3-channel x 40-campaign x 3-year world (true weekly contributions as the MMM, as in
``ima_accuracy``), every channel's linear-Gaussian campaign regression
(:mod:`mixlens.ima.sequential`) is fitted over a rolling window moved by a week:

* ``carried``: :func:`~mixlens.ima.sequential.rolling_fit`, each window's posterior from
  the previous one plus the week that entered minus the week that left;
* ``conjugate refit``: :func:`~mixlens.ima.sequential.fit_window` from the prior on every
  window's days (the same posterior, computed from scratch);
* ``ADVI refit``: the package's regression fitter (:func:`~mixlens.ima.regression.
  fit_regression`, linear model, period likelihood, 8000 steps) on the first window of
  the first size, times the number of windows (what refitting every week would cost).

``max_rel_diff``: the largest difference between carried and refitted posterior means,
relative to the largest mean (the stated tolerance in the tests is 1e-8).
"""

from __future__ import annotations

import argparse
import dataclasses
import os
import sys
import time
import warnings
from pathlib import Path

import numpy as np
import pandas as pd

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _results import peak_rss_mib, update_section
from ima_accuracy import markdown, truth_mmm
from mixlens.data.simulate.mmm import DEFAULT_CHANNELS, MMMWorldConfig, simulate_mmm
from mixlens.ima.fit import prepare_inputs
from mixlens.ima.regression import ChannelDesign, fit_regression
from mixlens.ima.sequential import fit_window, gaussian_prior, rolling_fit


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--write", action="store_true")
    parser.add_argument("--step", type=int, default=7)
    args = parser.parse_args()
    warnings.simplefilter("ignore")
    by_name = {c.name: c for c in DEFAULT_CHANNELS}
    big = tuple(
        dataclasses.replace(by_name[n], n_campaigns=40, n_families=8)
        for n in ("social", "online_video", "display")
    )
    world = simulate_mmm(MMMWorldConfig(weeks=156, channels=big), seed=7)
    weekly, params = truth_mmm(world)
    designs = prepare_inputs(weekly, params, world.daily_campaign).designs
    rows = []
    for window in (182, 364, 728):
        first = [ChannelDesign(d.channel, d.campaigns, d.y[:window], d.x[:window]) for d in designs]
        priors = [gaussian_prior(d) for d in first]
        started = time.perf_counter()
        carried = [
            [f.posterior.mean for f in rolling_fit(d, p, window=window, step=args.step)]
            for d, p in zip(designs, priors, strict=True)
        ]
        carried_s = time.perf_counter() - started
        n_windows = len(carried[0])
        started = time.perf_counter()
        refit = [
            [
                fit_window(
                    ChannelDesign(d.channel, d.campaigns, d.y[s : s + window], d.x[s : s + window]),
                    p,
                ).mean
                for s in range(0, d.y.size - window + 1, args.step)
            ]
            for d, p in zip(designs, priors, strict=True)
        ]
        refit_s = time.perf_counter() - started
        diff = max(
            float(np.max(np.abs(a - b)) / np.max(np.abs(b)))
            for ca, cb in zip(carried, refit, strict=True)
            for a, b in zip(ca, cb, strict=True)
        )
        if not rows:  # one ADVI refit, on the first window size (its cost barely varies)
            started = time.perf_counter()
            fit_regression(first, model="linear", draws=100, period_days=7)
            advi_s = time.perf_counter() - started
        rows.append(
            {
                "window_days": window,
                "step_days": args.step,
                "windows": n_windows,
                "campaigns": sum(len(d.campaigns) for d in designs),
                "carried_s": carried_s,
                "conjugate_refit_s": refit_s,
                "advi_refit_one_window_s": advi_s,
                "advi_refit_all_windows_s_est": advi_s * n_windows,
                "max_rel_diff": diff,
            }
        )
    table = pd.DataFrame(rows)
    table["max_rel_diff"] = table["max_rel_diff"].map(lambda v: f"{v:.1e}")
    load = os.getloadavg()
    body = (
        "Rolling-window IMA (3 channels x 40 campaigns x 156 weeks, true weekly "
        "contributions as the MMM; linear-Gaussian regression of `mixlens.ima.sequential`). "
        "`carried_s`: every window's posterior (all channels) by carrying the previous "
        "one forward; `conjugate_refit_s`: the same posteriors refitted from the prior on "
        "each window; `advi_refit_one_window_s`: one ADVI fit of the default linear "
        "regression on one window (incl. compilation), `..._all_windows_s_est` that times "
        "the number of windows (estimated, not run); `max_rel_diff`: largest difference "
        "between carried and refitted posterior means relative to the largest mean. The "
        "conjugate refit is itself only milliseconds per window, so carrying forward saves "
        "little against it at this size (its work is O(step) instead of O(window) periods, "
        "plus the same solve); the saving is against refitting with the default fitter.\n\n"
        f"{markdown(table)}\n\nLoad average (1, 5, 15 min) {load[0]:.1f}, {load[1]:.1f}, "
        f"{load[2]:.1f} on a shared 2-core machine; peak RSS {peak_rss_mib():.0f} MiB."
    )
    sys.stdout.write(body + "\n")
    if args.write:
        update_section(
            "ima_sequential",
            body,
            command="PYTHONPATH=src python benchmarks/ima_sequential.py " + " ".join(sys.argv[1:]),
        )


if __name__ == "__main__":
    main()
