"""Training device of the neural model: CPU by default, CUDA on request, the model back on CPU."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest

torch = pytest.importorskip("torch")

from mixlens.data.simulate.journeys import (  # noqa: E402
    JourneyWorldConfig,
    SimulatedJourneys,
    simulate_journeys,
)
from mixlens.errors import DataError  # noqa: E402
from mixlens.mta.neural import (  # noqa: E402
    NetConfig,
    NeuralScorer,
    TrainConfig,
    fit_neural,
    load_model,
)
from mixlens.mta.neural.encode import conversion_examples  # noqa: E402

SMALL = TrainConfig(
    net=NetConfig(embedding_dim=8, conv_channels=8, hidden=8, attention_dim=8, max_len=16),
    epochs=3,
    batch_size=256,
    patience=2,
)
HAS_CUDA = bool(torch.cuda.is_available())


@pytest.fixture(scope="module")
def world() -> SimulatedJourneys:
    return simulate_journeys(JourneyWorldConfig(users=2_000, n_channels=6), seed=11)


@pytest.fixture(scope="module")
def cpu_scorer(world: SimulatedJourneys) -> NeuralScorer:
    return fit_neural(world.touchpoints, world.conversions, config=SMALL, seed=3)


def _predict(scorer: NeuralScorer, world: SimulatedJourneys) -> np.ndarray:
    ex = conversion_examples(
        world.touchpoints, world.conversions, scorer.vocab, lookback_days=30, max_len=16
    )
    return scorer.predict(ex.batch)[0]


def _on_cpu(scorer: NeuralScorer) -> bool:
    return all(p.device.type == "cpu" for p in scorer.net.parameters())


def test_default_device_is_cpu(world: SimulatedJourneys, cpu_scorer: NeuralScorer) -> None:
    assert TrainConfig().device == "cpu"
    assert cpu_scorer.meta["device"] == "cpu"
    assert cpu_scorer.meta["train"]["device"] == "cpu"
    assert _on_cpu(cpu_scorer)
    assert 0 < cpu_scorer.meta["encode_seconds"] <= cpu_scorer.meta["train_seconds"]
    explicit = fit_neural(
        world.touchpoints, world.conversions, config=replace(SMALL, device="cpu"), seed=3
    )
    assert explicit.meta["history"] == cpu_scorer.meta["history"]
    np.testing.assert_array_equal(_predict(explicit, world), _predict(cpu_scorer, world))


@pytest.mark.parametrize("name", ["gpu", "cuda:", "cuda:x", "CPU", ""])
def test_unknown_device_names_are_rejected(name: str) -> None:
    with pytest.raises(DataError, match="device must be 'cpu', 'cuda', 'cuda:N' or 'auto'"):
        TrainConfig(device=name)


@pytest.mark.skipif(HAS_CUDA, reason="a CUDA GPU is present")
@pytest.mark.parametrize("name", ["cuda", "cuda:0"])
def test_cuda_without_a_gpu_is_a_clear_error(world: SimulatedJourneys, name: str) -> None:
    cfg = replace(SMALL, device=name)
    with pytest.raises(ValueError, match=r"sees no CUDA GPU .*use device='cpu' or 'auto'"):
        fit_neural(world.touchpoints, world.conversions, config=cfg, seed=3)


@pytest.mark.skipif(HAS_CUDA, reason="a CUDA GPU is present: auto trains there")
def test_auto_without_a_gpu_trains_on_cpu(
    world: SimulatedJourneys, cpu_scorer: NeuralScorer
) -> None:
    auto = fit_neural(
        world.touchpoints, world.conversions, config=replace(SMALL, device="auto"), seed=3
    )
    assert auto.meta["device"] == "cpu"
    assert auto.meta["train"]["device"] == "auto"
    assert _on_cpu(auto)
    assert auto.meta["history"] == cpu_scorer.meta["history"]
    np.testing.assert_array_equal(_predict(auto, world), _predict(cpu_scorer, world))


@pytest.mark.skipif(not HAS_CUDA, reason="needs a CUDA GPU")
def test_cuda_trains_the_same_model_and_returns_it_on_cpu(
    world: SimulatedJourneys, cpu_scorer: NeuralScorer, tmp_path: Path
) -> None:
    cfg = replace(SMALL, device="cuda")
    gpu = fit_neural(world.touchpoints, world.conversions, config=cfg, seed=3)
    assert gpu.meta["device"] == "cuda"
    assert _on_cpu(gpu)
    again = fit_neural(world.touchpoints, world.conversions, config=cfg, seed=3)
    assert again.meta["history"] == gpu.meta["history"]
    # Same initial weights and batch order as on CPU: only the float arithmetic differs.
    for g, c in zip(gpu.meta["history"], cpu_scorer.meta["history"], strict=True):
        assert g["val_loss"] == pytest.approx(c["val_loss"], rel=1e-3)
    np.testing.assert_allclose(_predict(gpu, world), _predict(cpu_scorer, world), atol=1e-3)
    assert gpu.meta["heldout"]["auc"] == pytest.approx(cpu_scorer.meta["heldout"]["auc"], abs=0.01)
    gpu.save(tmp_path / "model")
    loaded = load_model(tmp_path / "model")
    np.testing.assert_array_equal(_predict(loaded, world), _predict(gpu, world))
    assert 0 < loaded.score_journey(["display", "social"], [50.0, 2.0]) < 1
