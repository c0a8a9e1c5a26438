"""Simulated A/B tests with a known lift: 90% intervals cover the truth about 90% of the time."""

from __future__ import annotations

import numpy as np
import pandas as pd

from mixlens.experiments.ab import ab_test

P_CONTROL, P_TREATMENT = 0.05, 0.062
VALUE_MEAN = 40.0  # mean order value of a conversion (log-normal)
COST_MEAN = 0.5  # media cost per treated user (gamma); control users cost nothing
N = 4000  # users per group
REPS = 300


def _simulate(rng: np.random.Generator) -> pd.DataFrame:
    groups = np.repeat(["treatment", "control"], N)
    p = np.where(groups == "treatment", P_TREATMENT, P_CONTROL)
    converted = rng.random(2 * N) < p
    sigma = 0.6
    value = converted * rng.lognormal(np.log(VALUE_MEAN) - sigma**2 / 2, sigma, 2 * N)
    cost = np.where(groups == "treatment", rng.gamma(2.0, COST_MEAN / 2.0, 2 * N), 0.0)
    return pd.DataFrame(
        {
            "user_id": [f"u{i}" for i in range(2 * N)],
            "group": groups,
            "converted": converted.astype(int),
            "value": value,
            "cost": cost,
        }
    )


def test_ninety_percent_intervals_cover_the_true_lift() -> None:
    truth = {
        "conversion_rate": P_TREATMENT - P_CONTROL,
        "value_per_user": (P_TREATMENT - P_CONTROL) * VALUE_MEAN,
        "roas_treatment": P_TREATMENT * VALUE_MEAN / COST_MEAN,
        "incremental_roas": (P_TREATMENT - P_CONTROL) * VALUE_MEAN / COST_MEAN,
    }
    rng = np.random.default_rng(20261123)
    hits = dict.fromkeys(truth, 0)
    for _ in range(REPS):
        metrics = ab_test(_simulate(rng), level=0.9).metrics.set_index("metric")
        for name, value in truth.items():
            hits[name] += int(metrics.loc[name, "lo"] <= value <= metrics.loc[name, "hi"])
    coverage = {name: count / REPS for name, count in hits.items()}
    # 300 replications: the binomial standard error of a 90% coverage is 1.7 points.
    assert all(0.85 <= rate <= 0.95 for rate in coverage.values()), coverage
