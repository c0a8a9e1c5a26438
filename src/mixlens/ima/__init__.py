"""Integrated marketing attribution: campaign-level credit anchored in the MMM.

Stages: :mod:`~mixlens.ima.disaggregate` (weekly channel contributions to days),
:mod:`~mixlens.ima.regression` (per-channel Bayesian regression on campaign media and
reconciliation), :mod:`~mixlens.ima.fit` (the pipeline, :func:`fit_ima`),
:mod:`~mixlens.ima.results` (:class:`IMAResult`), :mod:`~mixlens.ima.run` (files in, files
out), :mod:`~mixlens.ima.evaluate` (scores against campaign truth and baselines),
:mod:`~mixlens.ima.anchor` (the MMM posterior: kernels and contribution draws) and
:mod:`~mixlens.ima.sequential` (rolling windows, the posterior carried forward),
:mod:`~mixlens.ima.tuning` (daily carryover tuned from the channel's contributions),
:mod:`~mixlens.ima.geo` (geo level: campaign effects partially pooled across geos) and
:mod:`~mixlens.ima.geo_sequential` (rolling windows at the geo level).
"""

from mixlens.ima.anchor import MMMPosterior, read_mmm_posterior
from mixlens.ima.disaggregate import (
    disaggregate,
    disaggregate_channel,
    period_consistent_adstock,
    split_weekly,
)
from mixlens.ima.fit import fit_ima, prepare_inputs
from mixlens.ima.geo import GeoIMAResult, fit_geo_ima, prepare_geo_inputs
from mixlens.ima.geo_sequential import geo_gaussian_prior, geo_rolling_credit, geo_rolling_fit
from mixlens.ima.regression import reconcile
from mixlens.ima.results import UNATTRIBUTED, IMAResult
from mixlens.ima.sequential import gaussian_prior, rolling_credit, rolling_fit
from mixlens.ima.tuning import AdstockTuning, tune_adstock

__all__ = [
    "UNATTRIBUTED",
    "AdstockTuning",
    "GeoIMAResult",
    "IMAResult",
    "MMMPosterior",
    "disaggregate",
    "disaggregate_channel",
    "fit_geo_ima",
    "fit_ima",
    "gaussian_prior",
    "geo_gaussian_prior",
    "geo_rolling_credit",
    "geo_rolling_fit",
    "period_consistent_adstock",
    "prepare_geo_inputs",
    "prepare_inputs",
    "read_mmm_posterior",
    "reconcile",
    "rolling_credit",
    "rolling_fit",
    "split_weekly",
    "tune_adstock",
]
