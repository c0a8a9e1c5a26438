from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from mixlens.errors import DataError
from mixlens.mmm.data import MMMData
from mixlens.mmm.model import build_model
from mixlens.mmm.spec import GeometricAdstock, LogisticSaturation, MMMSpec, Prior


def test_model_has_named_dims(data: MMMData, spec: MMMSpec) -> None:
    model = build_model(data, spec)
    dims = model.named_vars_to_dims
    for name in ("theta", "peak", "half_saturation", "slope", "roi", "beta"):
        assert dims[name] == ("channel",)
    assert dims["gamma"] == ("fourier",)
    assert dims["delta"] == ("holiday",)
    assert dims["kappa"] == ("control",)
    assert dims["y"] == ("date",)
    assert dims["media"] == ("date", "channel")
    assert len(model.coords["date"]) == data.n_weeks
    assert tuple(model.coords["channel"]) == spec.channels
    assert tuple(model.coords["fourier"]) == ("sin_1", "cos_1", "sin_2", "cos_2")
    # Hill's parameters are partially pooled by default (MMMSpec.pooled="auto")
    assert {v.name for v in model.free_RVs} == {
        "theta", "peak", "roi",
        "half_saturation_shift", "half_saturation_spread", "half_saturation_z",
        "slope_shift", "slope_spread", "slope_z",
        "intercept", "trend", "gamma", "delta", "kappa", "sigma",
    }  # fmt: skip
    assert "beta" in model.named_vars  # deterministic in the ROI parameterisation
    assert "mu" not in model.named_vars


def test_model_options_drop_terms(panel: pd.DataFrame, spec: MMMSpec) -> None:
    lean = MMMSpec(
        channels=spec.channels,
        adstock=GeometricAdstock(l_max=4),
        saturation=LogisticSaturation(),
        yearly_fourier=0,
        trend=False,
        holidays=False,
        priors={"beta": {spec.channels[0]: Prior("HalfNormal", {"sigma": 2.0})}},
        parameterization="beta",
    )
    model = build_model(MMMData.from_panel(panel, lean), lean)
    assert {v.name for v in model.free_RVs} == {
        "alpha", "lam_shift", "lam_spread", "lam_z", "beta", "intercept", "sigma",
    }  # fmt: skip
    point = model.initial_point()
    assert np.isfinite(model.compile_logp()(point))


def test_data_scaling(data: MMMData, panel: pd.DataFrame) -> None:
    assert data.y_scale == pytest.approx(panel["sales"].mean())
    media = data.media
    for i in range(media.shape[1]):
        assert media[:, i][media[:, i] > 0].mean() == pytest.approx(1.0)
    assert np.allclose(data.control_z.mean(axis=0), 0.0)
    assert np.allclose(data.control_z.std(axis=0), 1.0)
    assert data.trend.min() == pytest.approx(-0.5) and data.trend.max() == pytest.approx(0.5)
    assert data.holiday.shape == (data.n_weeks, len(data.holidays))
    back = MMMData.from_dataset(data.to_dataset())
    assert np.array_equal(back.spend, data.spend) and back.dates.equals(data.dates)


def test_data_errors(panel: pd.DataFrame, spec: MMMSpec) -> None:
    silent = panel.copy()
    silent[f"{spec.channels[0]}_spend"] = 0.0
    with pytest.raises(DataError, match="has no spend"):
        MMMData.from_panel(silent, spec)
    flat = panel.copy()
    flat["price"] = 1.0
    with pytest.raises(DataError, match="constant"):
        MMMData.from_panel(flat, spec)
    with pytest.raises(DataError):
        MMMData.from_panel(panel.drop(columns=["promotion"]), spec)
