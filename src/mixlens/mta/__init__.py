"""Multi-touch attribution: journeys, heuristics, Markov chains, Shapley values, a hazard model.

Every journey model is a pure function of a :class:`JourneyTable` returning an
:class:`AttributionResult`; the hazard models (``logistic``, ``incremental``) fit on the
touchpoint and conversion logs (:func:`fit_hazard`); :func:`fit_to_dir` is the
``mixlens mta fit`` pipeline.
"""

from __future__ import annotations

from mixlens.mta.hazard import HazardFit, fit_hazard, hazard_attribution
from mixlens.mta.heuristics import (
    first_touch,
    last_non_direct,
    last_touch,
    linear,
    position_based,
    time_decay,
)
from mixlens.mta.incremental import incremental_attribution, read_lift_tests
from mixlens.mta.journeys import JourneyTable, build_journeys, path_table
from mixlens.mta.markov import markov_attribution, markov_transitions
from mixlens.mta.result import AttributionResult, make_result
from mixlens.mta.run import AVAILABLE_MODELS, fit_to_dir, run_models
from mixlens.mta.shapley import shapley_attribution

__all__ = [
    "AVAILABLE_MODELS",
    "AttributionResult",
    "HazardFit",
    "JourneyTable",
    "build_journeys",
    "first_touch",
    "fit_hazard",
    "fit_to_dir",
    "hazard_attribution",
    "incremental_attribution",
    "last_non_direct",
    "last_touch",
    "linear",
    "make_result",
    "markov_attribution",
    "markov_transitions",
    "path_table",
    "position_based",
    "read_lift_tests",
    "run_models",
    "shapley_attribution",
    "time_decay",
]
