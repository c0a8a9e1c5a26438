"""``MMM(nuts_sampler="numpyro")``: install hint without JAX, plumbing, and a real fit."""

from __future__ import annotations

import sys
from typing import Any

import numpy as np
import pandas as pd
import pymc as pm
import pytest

import mixlens.mmm.fit as fit_module
from mixlens.data.geo_panel import GeoPanel
from mixlens.data.simulate.mmm import MMMWorldConfig, simulate_mmm
from mixlens.mmm import MMM, MMMSpec
from mixlens.mmm.fit import numpyro_available
from mixlens.mmm.geo import GeoMMM

from .conftest import prior_idata


def _recording_sample(monkeypatch: pytest.MonkeyPatch) -> list[dict[str, Any]]:
    """Replace ``pm.sample`` by prior draws; return the list its calls' arguments go to."""
    calls: list[dict[str, Any]] = []

    def fake_sample(
        *, model: pm.Model, draws: int, chains: int, random_seed: int, **kw: Any
    ) -> Any:
        calls.append(kw)
        return prior_idata(model, draws=draws, seed=random_seed, chains=chains)

    monkeypatch.setattr(pm, "sample", fake_sample)
    return calls


def test_missing_numpyro_raises_install_hint(
    monkeypatch: pytest.MonkeyPatch, panel: pd.DataFrame, spec: MMMSpec
) -> None:
    monkeypatch.setitem(sys.modules, "numpyro", None)  # as if it were not installed
    calls = _recording_sample(monkeypatch)
    assert not numpyro_available()
    with pytest.raises(ImportError, match=r"mixlens\[numpyro\]"):
        MMM(spec, nuts_sampler="numpyro").fit(panel, draws=5, tune=5, chains=1)
    assert calls == []


@pytest.mark.filterwarnings("ignore::mixlens.mmm.fit.ConvergenceWarning")  # prior draws
def test_numpyro_goes_to_pm_sample_with_its_chain_method(
    monkeypatch: pytest.MonkeyPatch, panel: pd.DataFrame, spec: MMMSpec
) -> None:
    monkeypatch.setattr(fit_module, "numpyro_available", lambda: True)
    monkeypatch.setattr(fit_module, "_numpyro_chain_method", lambda chains: f"method-{chains}")
    calls = _recording_sample(monkeypatch)
    result = MMM(spec, nuts_sampler="numpyro").fit(panel, draws=20, tune=5, chains=3)
    (call,) = calls
    assert call["nuts_sampler"] == "numpyro"
    assert call["nuts_sampler_kwargs"] == {"chain_method": "method-3"}
    assert "beta" not in call["var_names"] and "roi" in call["var_names"]
    assert result.diagnostics.sampler == "numpyro"
    assert result.idata["posterior"]["beta"].shape == (3, 20, len(spec.channels))


@pytest.mark.filterwarnings("ignore::mixlens.mmm.fit.ConvergenceWarning")
@pytest.mark.filterwarnings("ignore::mixlens.mmm.checks.PredictiveCheckWarning")
def test_geo_model_samples_with_numpyro_too(monkeypatch: pytest.MonkeyPatch) -> None:
    # test_geo's world: its compiled prior sampler is in the cache when the suite runs
    world = simulate_mmm(MMMWorldConfig(weeks=52, n_channels=5, regions=3), seed=2)
    panel = GeoPanel.from_frame(world.weekly_channel, controls=("price", "promotion"))
    monkeypatch.setattr(fit_module, "numpyro_available", lambda: True)
    monkeypatch.setattr(fit_module, "_numpyro_chain_method", lambda chains: "parallel")
    calls = _recording_sample(monkeypatch)
    spec = MMMSpec(channels=panel.channels, controls=("price", "promotion"))
    result = GeoMMM(spec, nuts_sampler="numpyro").fit(panel, draws=10, tune=5, chains=2)
    assert calls[0]["nuts_sampler"] == "numpyro"
    assert calls[0]["nuts_sampler_kwargs"] == {"chain_method": "parallel"}
    assert result.diagnostics.sampler == "numpyro"


@pytest.mark.filterwarnings("ignore::mixlens.mmm.fit.ConvergenceWarning")
@pytest.mark.filterwarnings("ignore::mixlens.mmm.checks.PredictiveCheckWarning")
@pytest.mark.parametrize(
    ("choice", "backend", "kwargs"),
    [
        ("nutpie", "nutpie", {"low_rank_modified_mass_matrix": False}),
        ("pymc", "pymc", {}),
    ],
)
def test_other_samplers_keep_their_arguments(
    monkeypatch: pytest.MonkeyPatch,
    panel: pd.DataFrame,
    spec: MMMSpec,
    choice: Any,
    backend: str,
    kwargs: dict[str, Any],
) -> None:
    calls = _recording_sample(monkeypatch)
    MMM(spec, nuts_sampler=choice).fit(panel, draws=10, tune=5, chains=2)
    assert calls[0]["nuts_sampler"] == backend
    assert calls[0]["nuts_sampler_kwargs"] == kwargs
    assert (calls[0]["var_names"] is None) == (choice == "pymc")


@pytest.mark.slow
@pytest.mark.filterwarnings("ignore::mixlens.mmm.fit.ConvergenceWarning")
@pytest.mark.filterwarnings("ignore::mixlens.mmm.checks.PredictiveCheckWarning")
def test_numpyro_real_fit(panel: pd.DataFrame, spec: MMMSpec) -> None:
    pytest.importorskip("jax")
    pytest.importorskip("numpyro")
    result = MMM(spec, nuts_sampler="numpyro").fit(panel, draws=40, tune=40, chains=2, seed=3)
    posterior = result.idata["posterior"]
    assert result.diagnostics.sampler == "numpyro"
    assert posterior["roi"].shape == (2, 40, len(spec.channels))
    assert np.isfinite(posterior["beta"].values).all()
    assert (result.roi()["roi_mean"] > 0).all()
