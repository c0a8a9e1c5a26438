from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
from numpy.testing import assert_allclose

from mixlens.errors import DataError, NotFittedError
from mixlens.mmm import MMM, MMMResult, MMMSpec
from mixlens.mmm.fit import ConvergenceWarning, _diagnose
from mixlens.mmm.run import fit_to_dir


def test_components_sum_to_model_mean(mock_result: MMMResult) -> None:
    frame = mock_result.contributions()
    assert list(frame.columns) == ["date", "component", "mean", "lo", "hi"]
    assert tuple(frame["component"].unique()) == mock_result.components
    total = frame.groupby("date", sort=True)["mean"].sum().to_numpy()
    mu = mock_result.idata.posterior["mu"].mean(("chain", "draw")).to_numpy()
    assert_allclose(total, mu * mock_result.data.y_scale, rtol=1e-10)
    assert (frame["lo"] <= frame["hi"]).all()


def test_chunking_does_not_change_numbers(mock_result: MMMResult) -> None:
    small = replace(mock_result, chunk_size=3)
    big = replace(mock_result, chunk_size=100_000)
    pd.testing.assert_frame_equal(small.contributions(), big.contributions(), rtol=1e-12)
    pd.testing.assert_frame_equal(small.roi(), big.roi(), rtol=1e-12)
    grid = np.linspace(0, 5e4, 7)
    channel = mock_result.spec.channels[0]
    pd.testing.assert_frame_equal(
        small.response_curve(channel, grid), big.response_curve(channel, grid), rtol=1e-12
    )


def test_roi_is_contribution_over_spend(mock_result: MMMResult) -> None:
    roi = mock_result.roi()
    frame = mock_result.contributions()
    channels = frame[frame["component"].isin(mock_result.spec.channels)]
    by_channel = channels.groupby("component", sort=False)["mean"].sum()
    assert_allclose(roi["contribution_mean"], by_channel[roi["channel"]].to_numpy(), rtol=1e-10)
    assert_allclose(roi["spend"], mock_result.data.spend.sum(axis=0))
    assert_allclose(roi["roi_mean"], roi["contribution_mean"] / roi["spend"], rtol=1e-10)
    assert (roi["roi_lo"] <= roi["roi_hi"]).all()
    total = mock_result.media_total()
    assert total["mean"] == pytest.approx(roi["contribution_mean"].sum())


def test_mroi_matches_finite_difference(mock_result: MMMResult) -> None:
    eps = 1e-6
    bumped_data = replace(mock_result.data, spend=mock_result.data.spend * (1 + eps))
    bumped = replace(mock_result, data=bumped_data)
    base_roi, bumped_roi = mock_result.roi(), bumped.roi()
    # contribution per draw differs by eps * elasticity; averaged over draws it is linear.
    fd = (bumped_roi["contribution_mean"] - base_roi["contribution_mean"]) / (
        eps * base_roi["spend"]
    )
    assert_allclose(fd, base_roi["mroi_mean"], rtol=1e-4)


def test_params_and_response_curve(mock_result: MMMResult) -> None:
    params = mock_result.params()
    assert list(params.columns) == ["channel", "parameter", "mean", "lo", "hi"]
    assert len(params) == len(mock_result.spec.channels) * 6  # 4 curve, roi, beta
    # the ROI parameterisation: the roi parameter is the contributions' ROI, draw by draw
    roi_param = params[params["parameter"] == "roi"].set_index("channel")["mean"]
    roi = mock_result.roi().set_index("channel")["roi_mean"]
    assert_allclose(roi_param.loc[roi.index].to_numpy(), roi.to_numpy(), rtol=1e-9)
    k = params[params["parameter"] == "half_saturation"].set_index("channel")["mean"]
    raw = mock_result.idata.posterior["half_saturation"].mean(("chain", "draw")).to_numpy()
    assert_allclose(k.to_numpy(), raw * mock_result.data.media_scale)
    curve = mock_result.response_curve(mock_result.spec.channels[1], [0.0, 1e3, 1e4, 1e5])
    assert curve["mean"].iloc[0] == 0.0
    assert np.all(np.diff(curve["mean"]) > 0)
    with pytest.raises(KeyError):
        mock_result.response_curve("nope", [1.0])
    with pytest.raises(ValueError):
        mock_result.response_curve(mock_result.spec.channels[0], [-1.0])


def test_ci_changes_interval_width(mock_result: MMMResult) -> None:
    wide, narrow = mock_result.roi(), mock_result.with_ci(0.5).roi()
    assert ((narrow["roi_hi"] - narrow["roi_lo"]) <= (wide["roi_hi"] - wide["roi_lo"])).all()
    with pytest.raises(ValueError):
        mock_result.with_ci(1.5)


def test_save_load_round_trip(mock_result: MMMResult, tmp_path: Path) -> None:
    files = mock_result.save(tmp_path)
    assert sorted(p.name for p in files) == ["posterior.nc", "spec.json"]
    back = MMMResult.load(tmp_path)
    assert back.spec == mock_result.spec
    assert back.diagnostics.to_dict() == mock_result.diagnostics.to_dict()
    pd.testing.assert_frame_equal(back.roi(), mock_result.roi())
    pd.testing.assert_frame_equal(back.contributions(), mock_result.contributions())
    with pytest.raises(DataError, match=r"no posterior\.nc"):
        MMMResult.load(tmp_path / "missing")


@pytest.mark.filterwarnings("ignore::mixlens.mmm.fit.ConvergenceWarning")
@pytest.mark.filterwarnings("ignore::mixlens.mmm.checks.PredictiveCheckWarning")
def test_fit_with_mocked_sampler(
    panel: pd.DataFrame, spec: MMMSpec, mock_sample: Callable[..., Any]
) -> None:
    model = MMM(spec)
    with pytest.raises(NotFittedError):
        _ = model.result_
    result = model.fit(panel, draws=30, chains=2, seed=1)
    assert model.result_ is result
    assert result.diagnostics.method == "nuts"
    assert result.n_samples == 60
    assert result.diagnostics.divergences == 0
    assert np.isfinite(result.diagnostics.seconds)
    with pytest.raises(ValueError, match="method"):
        model.fit(panel, method="mcmc")  # type: ignore[arg-type]


def test_diagnostics_warn(mock_result: MMMResult) -> None:
    idata = mock_result.idata.copy()
    idata.sample_stats["diverging"][0, 0] = True
    with pytest.warns(ConvergenceWarning) as record:
        diagnostics = _diagnose(idata, method="nuts", sampler="x", chains=2, draws=40, tune=0)
    assert diagnostics.divergences == 1
    messages = " ".join(str(r.message) for r in record)
    assert "divergent" in messages and "ESS" in messages  # 80 prior draws: ESS < 200


@pytest.mark.filterwarnings("ignore::mixlens.mmm.fit.ConvergenceWarning")
@pytest.mark.filterwarnings("ignore::mixlens.mmm.checks.PredictiveCheckWarning")
def test_fit_to_dir_writes_the_contract(
    panel: pd.DataFrame, mock_sample: Callable[..., Any], tmp_path: Path
) -> None:
    csv = tmp_path / "weekly.csv"
    panel.to_csv(csv, index=False)
    out = tmp_path / "mmm"
    stages: list[str] = []
    summary = fit_to_dir(
        csv,
        target="sales",
        controls=["price", "promotion"],
        out_dir=out,
        draws=20,
        chains=2,
        progress=lambda stage, fraction: stages.append(stage),
    )
    names = {p.name for p in out.iterdir()}
    assert {"roi.csv", "contributions.csv", "params.csv", "posterior.nc", "summary.json"} <= names
    curves = pd.read_csv(out / "response_curves.csv")
    assert list(curves.columns) == ["channel", "spend", "mean", "lo", "hi"]
    assert set(curves["channel"]) == set(summary["spec"]["channels"])
    assert (curves["lo"] <= curves["hi"]).all()
    first = curves.groupby("channel")["mean"].first()
    assert (first == 0).all()  # no spend, no contribution
    roi = pd.read_csv(out / "roi.csv")
    assert list(roi.columns) == [
        "channel", "spend", "contribution_mean", "contribution_lo", "contribution_hi",
        "roi_mean", "roi_lo", "roi_hi", "mroi_mean", "mroi_lo", "mroi_hi",
        "log_roi_prior_sd", "log_roi_sd", "contraction", "prior_shift", "identification",
    ]  # fmt: skip
    # prior draws stand in for the posterior here: the data moved nothing
    assert set(roi["identification"]) == {"mostly prior"}
    assert summary["identification"]["mostly_prior"] == summary["spec"]["channels"]
    plan = pd.read_csv(out / "lift_test_plan.csv")
    assert list(plan["rank"]) == list(range(1, len(plan) + 1))
    assert set(plan["channel"]) <= set(summary["spec"]["channels"])
    assert "lift_test_plan.csv" in summary["files"]
    contributions = pd.read_csv(out / "contributions.csv")
    assert list(contributions.columns) == ["date", "component", "mean", "lo", "hi"]
    assert contributions["date"].iloc[0] == panel["date"].iloc[0]
    assert summary["sampler"] and "fit" in summary["timings_s"]
    assert stages[0] == "load" and stages[-1] == "done"
    assert list(MMMResult.load(out).spec.channels) == summary["spec"]["channels"]
