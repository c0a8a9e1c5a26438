"""Recovery: fit a small simulated world with NUTS and compare with its ground truth.

The simulator generates sales daily (Hill on daily adstocked impressions), so the weekly
model is only approximately specified: recovery is judged on contributions and ROI, not
on the Hill parameters. One short nutpie run (about 40 s on 2 cores, most of it numba
compilation) keeps this inside the test budget.
"""

from __future__ import annotations

import warnings

import numpy as np
import pytest

from mixlens.data.simulate.mmm import MMMWorldConfig, simulate_mmm
from mixlens.mmm import MMM, MMMSpec
from mixlens.mmm.fit import ConvergenceWarning

#: Tolerances, relative to the truth.
TOTAL_MEDIA_TOL = 0.25
ROI_WEIGHTED_TOL = 0.45


@pytest.mark.filterwarnings("ignore::mixlens.mmm.fit.ConvergenceWarning")
def test_recovers_media_contribution_and_roi() -> None:
    world = simulate_mmm(MMMWorldConfig(weeks=104, n_channels=5), seed=3)
    spec = MMMSpec(channels=tuple(world.roi["channel"]), controls=("price", "promotion"))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)  # short chains: ESS is low
        result = MMM(spec).fit(
            world.weekly_channel, method="nuts", draws=300, tune=300, chains=2, seed=1
        )
    truth = world.roi.set_index("channel")
    total = result.media_total()
    true_total = float(truth["contribution"].sum())
    assert abs(total["mean"] - true_total) / true_total < TOTAL_MEDIA_TOL
    assert total["lo"] <= true_total <= total["hi"]

    roi = result.roi().set_index("channel")
    err = (roi["roi_mean"] - truth["roi"]).abs() / truth["roi"]
    weighted = float((err * roi["spend"]).sum() / roi["spend"].sum())
    assert weighted < ROI_WEIGHTED_TOL
    covered = (roi["roi_lo"] <= truth["roi"]) & (truth["roi"] <= roi["roi_hi"])
    assert covered.sum() >= 4
    assert np.all(roi["roi_hi"] > roi["roi_lo"])
