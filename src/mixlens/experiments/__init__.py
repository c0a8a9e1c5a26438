"""Experiments: geo-holdout and A/B lift analysis that feeds calibration everywhere.

- :mod:`~mixlens.experiments.panel`: validate a geo panel and a design.
- :mod:`~mixlens.experiments.geo`: difference-in-differences, synthetic control, recommendation.
- :mod:`~mixlens.experiments.bayes`: a conjugate Bayesian time-series counterfactual.
- :mod:`~mixlens.experiments.ab`: user-level A/B tests.
- :mod:`~mixlens.experiments.design`: minimum detectable effect and treated-geo choice.
- :mod:`~mixlens.experiments.run`: ``analyze_to_dir`` writes ``lift_tests.csv``.
"""

from mixlens.experiments.ab import ABResult, ab_test, validate_ab
from mixlens.experiments.bayes import bayesian_counterfactual
from mixlens.experiments.design import (
    DesignChoice,
    MDEResult,
    choose_treated,
    minimum_detectable_effect,
)
from mixlens.experiments.geo import (
    GeoLiftResult,
    Recommendation,
    difference_in_differences,
    recommend,
    synthetic_control,
)
from mixlens.experiments.panel import GeoExperimentData, geo_experiment_data
from mixlens.experiments.run import GeoAnalysis, analyze_geo, analyze_to_dir

__all__ = [
    "ABResult",
    "DesignChoice",
    "GeoAnalysis",
    "GeoExperimentData",
    "GeoLiftResult",
    "MDEResult",
    "Recommendation",
    "ab_test",
    "analyze_geo",
    "analyze_to_dir",
    "bayesian_counterfactual",
    "choose_treated",
    "difference_in_differences",
    "geo_experiment_data",
    "minimum_detectable_effect",
    "recommend",
    "synthetic_control",
    "validate_ab",
]
