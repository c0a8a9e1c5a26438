"""Pure numpy media transforms: adstock, saturation and time-scale conversion."""

from mixlens.transforms.adstock import (
    WeibullKind,
    adstock,
    delayed_adstock,
    delayed_weights,
    geometric_adstock,
    geometric_weights,
    weibull_adstock,
    weibull_weights,
)
from mixlens.transforms.saturation import (
    hill,
    hill_derivative,
    logistic_saturation,
    logistic_saturation_derivative,
    michaelis_menten,
    michaelis_menten_derivative,
)
from mixlens.transforms.timescale import (
    AdstockParams,
    DelayedParams,
    GeometricParams,
    WeibullParams,
    rescale,
    to_daily,
    to_weekly,
)

__all__ = [
    "AdstockParams",
    "DelayedParams",
    "GeometricParams",
    "WeibullKind",
    "WeibullParams",
    "adstock",
    "delayed_adstock",
    "delayed_weights",
    "geometric_adstock",
    "geometric_weights",
    "hill",
    "hill_derivative",
    "logistic_saturation",
    "logistic_saturation_derivative",
    "michaelis_menten",
    "michaelis_menten_derivative",
    "rescale",
    "to_daily",
    "to_weekly",
    "weibull_adstock",
    "weibull_weights",
]
