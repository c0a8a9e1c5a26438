from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from mixlens.data.simulate.mmm import MMMWorldConfig, simulate_mmm
from mixlens.ima.anchor import read_mmm_posterior
from mixlens.ima.run import fit_to_dir, read_mmm_dir
from mixlens.mmm.run import fit_to_dir as mmm_fit_to_dir


@pytest.mark.slow
def test_ima_from_an_mmm_run_directory(tmp_path: Path) -> None:
    world = simulate_mmm(MMMWorldConfig(weeks=26, n_channels=5), seed=3)
    mmm_dir = tmp_path / "mmm"
    mmm_fit_to_dir(
        world.weekly_channel, out_dir=mmm_dir, controls=("price", "promotion"),
        method="advi", draws=50, seed=0,
    )  # fmt: skip
    world.daily_campaign.to_csv(tmp_path / "campaigns.csv", index=False)
    summary = fit_to_dir(
        mmm_dir=mmm_dir, campaigns=tmp_path / "campaigns.csv", out_dir=tmp_path / "ima",
        draws=50, seed=0, grain="mmm",
    )  # fmt: skip
    assert summary["mmm_uncertainty"] is True
    assert set(summary["meta"]["grain_by_channel"].values()) == {"mmm"}
    posterior = read_mmm_posterior(mmm_dir)
    assert set(posterior.draws) == set(posterior.kernels) == set(summary["channels"])
    for channel, kernel in posterior.kernels.items():
        assert kernel.sum() == pytest.approx(1.0)
        assert posterior.draws[channel].shape == (posterior.n_draws, 26)
    weekly, params = read_mmm_dir(mmm_dir)
    assert set(params) == set(weekly["channel"]) == set(summary["channels"])
    camps = pd.read_csv(tmp_path / "ima" / "campaigns.csv")
    totals = camps.groupby("channel")["contribution_mean"].sum()
    expected = weekly.groupby("channel")["contribution"].sum()
    np.testing.assert_allclose(totals.sort_index(), expected.sort_index(), rtol=1e-9)
