"""Neural sequence attribution: embeddings, convolution, LSTM and attention over journeys.

Optional: needs the ``neural`` extra (``torch``, CPU). Nothing in :mod:`mixlens.mta` imports
this package, so the rest of the stage works without torch.

* :func:`fit_neural` trains on touchpoint and conversion logs (cases at conversions, controls
  at person-time instants over the same clock: :mod:`mixlens.mta.neural.encode`);
* :func:`neural_attribution` credits every conversion by counterfactual removal of each touch
  and returns the common :class:`~mixlens.mta.result.AttributionResult` (model ``neural``);
* :func:`load_model` loads a saved artifact (``neural_model.pt`` + ``neural_config.json``);
* :func:`discrimination` gives held-out ``{"auc", "log_loss", "reliability"}``.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from mixlens.mta.neural.credit import neural_attribution, removal_credit
    from mixlens.mta.neural.latency import scoring_latency
    from mixlens.mta.neural.metrics import discrimination
    from mixlens.mta.neural.model import NetConfig, NeuralScorer, load_model
    from mixlens.mta.neural.train import TrainConfig, fit_neural

_WHERE = {
    "NetConfig": "model",
    "NeuralScorer": "model",
    "TrainConfig": "train",
    "discrimination": "metrics",
    "fit_neural": "train",
    "load_model": "model",
    "neural_attribution": "credit",
    "removal_credit": "credit",
    "scoring_latency": "latency",
}

__all__ = [
    "NetConfig",
    "NeuralScorer",
    "TrainConfig",
    "discrimination",
    "fit_neural",
    "load_model",
    "neural_attribution",
    "removal_credit",
    "scoring_latency",
]


def __getattr__(name: str) -> Any:
    """Import public names lazily, so the numpy-only modules work without torch."""
    if name not in _WHERE:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    try:
        module = importlib.import_module(f"{__name__}.{_WHERE[name]}")
    except ModuleNotFoundError as err:
        if err.name != "torch":
            raise
        raise ImportError("mixlens.mta.neural needs torch: pip install 'mixlens[neural]'") from err
    return getattr(module, name)
