from __future__ import annotations

import warnings
from collections.abc import Callable
from typing import Any

import arviz as az
import pandas as pd
import pymc as pm
import pytest

from mixlens.data.simulate.mmm import MMMWorldConfig, SimulatedMMM, simulate_mmm
from mixlens.mmm.data import MMMData
from mixlens.mmm.model import build_model
from mixlens.mmm.results import Diagnostics, MMMResult
from mixlens.mmm.spec import MMMSpec

# PyTensor's C backend warns once per process that it found no BLAS; harmless here.
BLAS = "ignore:.*could not link to a BLAS:UserWarning"


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        if "tests/mmm" in str(item.path):
            item.add_marker(pytest.mark.filterwarnings(BLAS))


@pytest.fixture(scope="session")
def world() -> SimulatedMMM:
    return simulate_mmm(MMMWorldConfig(weeks=60, n_channels=5), seed=7)


@pytest.fixture(scope="session")
def panel(world: SimulatedMMM) -> pd.DataFrame:
    return world.weekly_channel


@pytest.fixture(scope="session")
def spec(world: SimulatedMMM) -> MMMSpec:
    return MMMSpec(channels=tuple(world.roi["channel"]), controls=("price", "promotion"))


@pytest.fixture(scope="session")
def data(panel: pd.DataFrame, spec: MMMSpec) -> MMMData:
    return MMMData.from_panel(panel, spec)


def prior_idata(model: pm.Model, draws: int, seed: int, chains: int = 2) -> az.InferenceData:
    """Prior draws dressed as a posterior with ``chains`` chains (pymc-marketing's mock)."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)
        prior = pm.sample_prior_predictive(draws=draws * chains, model=model, random_seed=seed)
    post = prior.prior.isel(chain=0, drop=True)
    post = post.assign_coords(draw=range(draws * chains))
    post = post.rename({"draw": "_d"})
    post = post.coarsen(_d=draws).construct(_d=("chain", "draw"))
    post = post.assign_coords(chain=range(chains), draw=range(draws))
    stats = az.from_dict(sample_stats={"diverging": [[False] * draws] * chains}).sample_stats
    return az.InferenceData(posterior=post, sample_stats=stats)


@pytest.fixture(scope="session")
def mock_result(data: MMMData, spec: MMMSpec) -> MMMResult:
    model = build_model(data, spec, keep_mu=True)
    idata = prior_idata(model, draws=40, seed=3)
    diagnostics = Diagnostics(method="prior", sampler="prior", chains=2, draws=40, tune=0)
    return MMMResult(idata=idata, spec=spec, data=data, diagnostics=diagnostics)


@pytest.fixture
def mock_sample(monkeypatch: pytest.MonkeyPatch) -> Callable[..., Any]:
    """Replace ``pm.sample`` by prior draws, so ``MMM.fit`` runs without NUTS."""

    def fake_sample(*, model: pm.Model, draws: int, chains: int, random_seed: int, **_: Any) -> Any:
        return prior_idata(model, draws=draws, seed=random_seed, chains=chains)

    monkeypatch.setattr(pm, "sample", fake_sample)
    return fake_sample
