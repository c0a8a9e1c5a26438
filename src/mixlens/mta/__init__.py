"""Multi-touch attribution: journeys, heuristics, Markov chains and Shapley values.

Every model is a pure function of a :class:`JourneyTable` returning an
:class:`AttributionResult`; :func:`fit_to_dir` is the ``mixlens mta fit`` pipeline.
"""

from __future__ import annotations

from mixlens.mta.heuristics import (
    first_touch,
    last_non_direct,
    last_touch,
    linear,
    position_based,
    time_decay,
)
from mixlens.mta.journeys import JourneyTable, build_journeys, path_table
from mixlens.mta.markov import markov_attribution
from mixlens.mta.result import AttributionResult, make_result
from mixlens.mta.run import AVAILABLE_MODELS, fit_to_dir, run_models
from mixlens.mta.shapley import shapley_attribution

__all__ = [
    "AVAILABLE_MODELS",
    "AttributionResult",
    "JourneyTable",
    "build_journeys",
    "first_touch",
    "fit_to_dir",
    "last_non_direct",
    "last_touch",
    "linear",
    "make_result",
    "markov_attribution",
    "path_table",
    "position_based",
    "run_models",
    "shapley_attribution",
    "time_decay",
]
