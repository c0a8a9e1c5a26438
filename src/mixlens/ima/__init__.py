"""Integrated marketing attribution: campaign-level credit anchored in the MMM.

Stages: :mod:`~mixlens.ima.disaggregate` (weekly channel contributions to days),
:mod:`~mixlens.ima.regression` (per-channel Bayesian regression on campaign media and
reconciliation), :mod:`~mixlens.ima.fit` (the pipeline, :func:`fit_ima`),
:mod:`~mixlens.ima.results` (:class:`IMAResult`), :mod:`~mixlens.ima.run` (files in, files
out) and :mod:`~mixlens.ima.evaluate` (scores against campaign truth and baselines).
"""

from mixlens.ima.disaggregate import disaggregate, disaggregate_channel, split_weekly
from mixlens.ima.fit import fit_ima, prepare_inputs
from mixlens.ima.regression import reconcile
from mixlens.ima.results import UNATTRIBUTED, IMAResult

__all__ = [
    "UNATTRIBUTED",
    "IMAResult",
    "disaggregate",
    "disaggregate_channel",
    "fit_ima",
    "prepare_inputs",
    "reconcile",
    "split_weekly",
]
