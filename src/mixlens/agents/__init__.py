"""Decentralized attribution: agents keep their rows and agree on one shared model.

Agents (:class:`Agent`) hold private shards and reveal only aggregates through audited
messages (:mod:`mixlens.agents.messages`). Protocols (:mod:`mixlens.agents.protocols`)
fit the shared response model exactly by secure aggregation or by consensus ADMM
(optionally masked), optionally with Gaussian differential privacy;
:mod:`mixlens.agents.vertical` fits it over column blocks held by channel owners (sharing
ADMM); :mod:`mixlens.agents.hierarchical` shrinks local coefficients toward global ones;
:mod:`mixlens.agents.scenarios` builds the ``channels`` and ``mixed`` partitions;
:mod:`mixlens.agents.shapley` attributes the fitted outcome to channels per agent and
globally (exact up to 15 channels, sampled beyond); :mod:`mixlens.agents.backends` runs
the agents in process or in Ray actors with the same protocol code; :func:`run_to_dir` is
the ``mixlens agents run`` pipeline.
"""

from __future__ import annotations

from mixlens.agents.agent import (
    Agent,
    AgentLike,
    LiftTest,
    LocalObjective,
    SharedModel,
    SufficientStats,
)
from mixlens.agents.backends import RayBackend, RemoteAgent, call_each, ray_available
from mixlens.agents.hierarchical import HierarchicalResult, hierarchical_protocol, tradeoff
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
from mixlens.agents.scenarios import channel_owners, mixed_agents
from mixlens.agents.shapley import (
    SampledShapley,
    attribute,
    coalition_values,
    exact_shapley,
    sampled_shapley,
)
from mixlens.agents.vertical import ChannelOwner, SalesOwner, SharingConfig, sharing_admm

__all__ = [
    "PROTOCOLS",
    "SCENARIOS",
    "AdmmConfig",
    "Agent",
    "AgentLike",
    "AuditLog",
    "Bus",
    "ChannelOwner",
    "DPConfig",
    "FitResult",
    "HierarchicalResult",
    "LiftTest",
    "LocalObjective",
    "Message",
    "RayBackend",
    "RemoteAgent",
    "SalesOwner",
    "SampledShapley",
    "SharedModel",
    "SharingConfig",
    "SufficientStats",
    "admm_protocol",
    "attribute",
    "call_each",
    "centralized_fit",
    "channel_owners",
    "coalition_values",
    "decode",
    "encode",
    "exact_protocol",
    "exact_shapley",
    "gaussian_sigma",
    "hierarchical_protocol",
    "mixed_agents",
    "pairwise_seeds",
    "ray_available",
    "region_agents",
    "run_to_dir",
    "sampled_shapley",
    "secure_sum",
    "setup_protocol",
    "sharing_admm",
    "tradeoff",
]
