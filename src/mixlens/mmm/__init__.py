"""Bayesian marketing mix model: spec, model, fit, decomposition, ROI and response curves.

Needs the ``mmm`` extra (PyMC, nutpie, ArviZ): ``pip install mixlens[mmm]``. The spec
classes are imported eagerly; the estimator and results load PyMC on first use.

Examples
--------
>>> from mixlens.mmm import MMMSpec, Prior
>>> MMMSpec(channels=("tv", "search"), priors={"roi": Prior("LogNormal", {"mu": 0, "sigma": 0.5})}).channels
('tv', 'search')
"""  # noqa: E501

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from mixlens.mmm.spec import (
    MODEL_PRIORS,
    AdstockTransform,
    DelayedAdstock,
    GeometricAdstock,
    HillSaturation,
    LogisticSaturation,
    MMMSpec,
    Prior,
    SaturationTransform,
    WeibullAdstock,
)

if TYPE_CHECKING:
    from mixlens.mmm.data import MMMData
    from mixlens.mmm.fit import MMM, ConvergenceWarning
    from mixlens.mmm.geo import GeoMMM, GeoMMMResult
    from mixlens.mmm.model import build_model
    from mixlens.mmm.results import Diagnostics, MMMResult
    from mixlens.mmm.run import fit_to_dir

__all__ = [
    "MMM",
    "MODEL_PRIORS",
    "AdstockTransform",
    "ConvergenceWarning",
    "DelayedAdstock",
    "Diagnostics",
    "GeoMMM",
    "GeoMMMResult",
    "GeometricAdstock",
    "HillSaturation",
    "LogisticSaturation",
    "MMMData",
    "MMMResult",
    "MMMSpec",
    "Prior",
    "SaturationTransform",
    "WeibullAdstock",
    "build_model",
    "fit_to_dir",
]

_LAZY = {
    "MMM": "mixlens.mmm.fit",
    "ConvergenceWarning": "mixlens.mmm.fit",
    "GeoMMM": "mixlens.mmm.geo",
    "GeoMMMResult": "mixlens.mmm.geo",
    "MMMData": "mixlens.mmm.data",
    "build_model": "mixlens.mmm.model",
    "Diagnostics": "mixlens.mmm.results",
    "MMMResult": "mixlens.mmm.results",
    "fit_to_dir": "mixlens.mmm.run",
}


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'mixlens.mmm' has no attribute {name!r}")
    try:
        return getattr(importlib.import_module(module), name)
    except ModuleNotFoundError as err:  # pragma: no cover - depends on the environment
        raise ImportError(
            f"mixlens.mmm.{name} needs the MMM extra ({err.name} is missing): "
            "pip install 'mixlens[mmm]'"
        ) from err
