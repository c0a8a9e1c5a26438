"""Decentralized attribution: agents keep their rows and agree on one shared model.

Agents (:class:`Agent`) hold private shards and reveal only aggregates through audited
messages (:mod:`mixlens.agents.messages`). Protocols (:mod:`mixlens.agents.protocols`)
fit the shared response model exactly by secure aggregation or by consensus ADMM,
optionally with Gaussian differential privacy; :mod:`mixlens.agents.shapley` attributes
the fitted outcome to channels per agent and globally; :func:`run_to_dir` is the
``mixlens agents run`` pipeline.
"""

from __future__ import annotations

from mixlens.agents.agent import Agent, SharedModel, SufficientStats
from mixlens.agents.messages import AuditLog, Bus, Message, decode, encode
from mixlens.agents.protocols import (
    AdmmConfig,
    DPConfig,
    FitResult,
    admm_protocol,
    centralized_fit,
    exact_protocol,
    gaussian_sigma,
    pairwise_seeds,
    secure_sum,
    setup_protocol,
)
from mixlens.agents.run import PROTOCOLS, SCENARIOS, region_agents, run_to_dir
from mixlens.agents.shapley import attribute, coalition_values, exact_shapley

__all__ = [
    "PROTOCOLS",
    "SCENARIOS",
    "AdmmConfig",
    "Agent",
    "AuditLog",
    "Bus",
    "DPConfig",
    "FitResult",
    "Message",
    "SharedModel",
    "SufficientStats",
    "admm_protocol",
    "attribute",
    "centralized_fit",
    "coalition_values",
    "decode",
    "encode",
    "exact_protocol",
    "exact_shapley",
    "gaussian_sigma",
    "pairwise_seeds",
    "region_agents",
    "run_to_dir",
    "secure_sum",
    "setup_protocol",
]
