"""Local flexibility versus global coherence: local coefficients shrunk toward global ones.

Each agent ``i`` keeps its own coefficients ``x_i`` and the agents share global ones ``z``::

    minimize  sum_i [ 0.5 ||y_i - X_i x_i||^2 + prior_i(x_i) + lam/2 ||x_i - z||^2 ]
              + 0.5 z' diag(ridge) z

``lam`` is the shrinkage strength: ``lam -> 0`` gives each agent its own fit, ``lam ->
inf`` forces ``x_i = z`` (the pooled ridge fit). The problem is quadratic, so it is solved
exactly in one round of secure aggregation: with ``A_i = X_i'X_i + P_i + lam I`` and
``b_i = X_i'y_i + P_i mu_i``, the best ``x_i`` for a given ``z`` is
``A_i^-1 (b_i + lam z)``, and ``z`` solves

    [ sum_i lam (I - lam A_i^-1) + diag(ridge) ] z = sum_i lam A_i^-1 b_i.

Each agent sends its ``p x p`` matrix and ``p``-vector masked (sizes independent of its
rows), the coordinator solves for ``z`` and broadcasts it, and each agent computes its
``x_i`` locally; the coordinator never sees an ``x_i``. For the trade-off curve each
agent also reports (securely summed) its residual and total sums of squares and
``||x_i - z||^2``.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from mixlens.agents.agent import AgentLike, FloatArray
from mixlens.agents.messages import Bus, Message
from mixlens.agents.protocols import COORDINATOR, secure_collect, share_seeds
from mixlens.errors import DataError

__all__ = ["HierarchicalResult", "centralized_hierarchical", "hierarchical_protocol", "tradeoff"]


@dataclass(frozen=True)
class HierarchicalResult:
    """Outcome of :func:`hierarchical_protocol`.

    Attributes
    ----------
    coef
        Global coefficients ``z`` (scaled units), ordered as ``model.feature_names``.
    shrinkage
        Strength ``lam`` in scaled units (already multiplied by the rows per agent).
    local_fit
        Pooled ``1 - SSE / SST`` of the agents' local coefficients on their own rows
        (SST about each agent's own mean).
    disagreement
        ``sqrt(mean_i ||x_i - z||^2) / ||z||``.
    rounds
        One record for the aggregation round.
    """

    coef: FloatArray
    shrinkage: float
    local_fit: float
    disagreement: float
    rounds: list[dict[str, Any]] = field(default_factory=list)


def hierarchical_protocol(
    agents: Sequence[AgentLike],
    bus: Bus,
    *,
    shrinkage: float,
    seeds: Mapping[str, Mapping[str, int]],
    round: int = 1,
    mask_scale: float | None = None,
) -> HierarchicalResult:
    """Fit global and shrunk local coefficients exactly, in one aggregation round.

    Parameters
    ----------
    agents
        Agents sharing one model (after :func:`~mixlens.agents.protocols.setup_protocol`).
    bus
        Transport.
    shrinkage
        Strength relative to rows per agent: ``lam = shrinkage * mean rows per agent``.
    seeds
        Pairwise seeds for the masks.
    round
        Round number of the aggregation messages (the broadcast and report use it too).
    mask_scale
        Fixed-point range; default agreed from the agents' orders of magnitude.

    Returns
    -------
    HierarchicalResult
        ``z``, the local-fit and disagreement figures; each agent keeps its ``x_i``
        (:attr:`Agent.local_coef`).
    """
    if shrinkage <= 0:
        raise DataError(f"--shrinkage must be > 0, got {shrinkage}")
    model = agents[0].model
    p = model.n_features
    lam = float(shrinkage) * float(np.mean([a.n_rows for a in agents]))
    scale = mask_scale
    share_seeds(agents, seeds)
    total = secure_collect(
        agents,
        bus,
        "shrink_vector",
        [(lam,)] * len(agents),
        round=round,
        kind="shrink_stats",
        scale=scale,
    )
    lhs = total[: p * p].reshape(p, p) + np.diag(model.penalty())
    lhs = 0.5 * (lhs + lhs.T)
    z = np.asarray(np.linalg.solve(lhs, total[p * p :]), dtype=np.float64)
    sent = [bus.send(Message(COORDINATOR, a.name, "global_coef", round, {"z": z})) for a in agents]
    # each agent fits its own coefficients and shares only the masked report
    summed = secure_collect(
        agents,
        bus,
        "fit_local",
        [(g.payload["z"], lam) for g in sent],
        round=round,
        kind="shrink_report",
        scale=scale,
    )
    # masked sums are exact up to ~1e-16 * mask amplitude, so clip the tiny negatives
    sse, sst, dist2 = (max(float(v), 0.0) for v in summed)
    norm = max(float(np.linalg.norm(z)), 1e-300)
    record = {"round": round, "phase": "shrinkage", "primal_residual": 0.0, "dual_residual": 0.0}
    return HierarchicalResult(
        z,
        lam,
        1.0 - sse / sst if sst > 0 else float("nan"),
        float(np.sqrt(dist2 / len(agents))) / norm,
        [record | {"rho": float("nan")}],
    )


def centralized_hierarchical(agents: Sequence[AgentLike], lam: float) -> FloatArray:
    """Joint solve over ``(z, x_1, ..., x_N)`` on pooled rows (for the check only).

    Returns ``[z, x_1, ..., x_N]`` concatenated, shape ``((N + 1) p,)``.
    """
    model = agents[0].model
    p = model.n_features
    n = len(agents)
    big = np.zeros(((n + 1) * p, (n + 1) * p))
    rhs = np.zeros((n + 1) * p)
    eye = np.eye(p)
    big[:p, :p] = n * lam * eye + np.diag(model.penalty())
    for i, a in enumerate(agents, start=1):
        x, y = a.pooled_design_for_check()
        prior = a.prior_statistics()
        sl = slice(i * p, (i + 1) * p)
        big[sl, sl] = x.T @ x + prior.xtx + lam * eye
        big[sl, :p] = -lam * eye
        big[:p, sl] = -lam * eye
        rhs[sl] = x.T @ y + prior.xty
    return np.asarray(np.linalg.solve(big, rhs), dtype=np.float64)


def tradeoff(
    agents: Sequence[AgentLike],
    strengths: Sequence[float],
    *,
    seeds: Mapping[str, Mapping[str, int]],
) -> pd.DataFrame:
    """Local fit versus disagreement with the global model as the shrinkage varies.

    Each strength runs :func:`hierarchical_protocol` on a fresh bus.

    Returns
    -------
    pandas.DataFrame
        ``shrinkage, lam, local_fit, disagreement, bytes`` per strength.
    """
    rows = []
    for s in strengths:
        bus = Bus()
        res = hierarchical_protocol(agents, bus, shrinkage=float(s), seeds=seeds)
        rows.append(
            {
                "shrinkage": float(s),
                "lam": res.shrinkage,
                "local_fit": res.local_fit,
                "disagreement": res.disagreement,
                "bytes": bus.audit.total_bytes(),
            }
        )
    return pd.DataFrame(rows)
