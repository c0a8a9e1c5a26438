from __future__ import annotations

import numpy as np
import pandas as pd

from mixlens.agents import Agent, SharedModel
from mixlens.agents.agent import LiftTest

CHANNELS = ("tv", "search", "social")


def shared_model(**kw: object) -> SharedModel:
    base: dict[str, object] = {
        "channels": CHANNELS,
        "alpha": (0.5, 0.1, 0.3),
        "half_saturation": (50.0, 30.0, 40.0),
        "slope": (1.5, 1.0, 1.2),
        "horizon": 52.0,
    }
    base.update(kw)
    return SharedModel(**base)  # type: ignore[arg-type]


def synthetic_agents(
    n_agents: int,
    weeks: int,
    *,
    seed: int = 0,
    betas: tuple[float, ...] = (0.4, -0.3, 0.2),
    model: SharedModel | None = None,
    lift: LiftTest | None = None,
) -> list[Agent]:
    """Agents with shards drawn from the shared model; a negative true beta makes NNLS bind."""
    rng = np.random.default_rng(seed)
    m = model if model is not None else shared_model()
    agents = []
    for i in range(n_agents):
        frame = pd.DataFrame(
            {
                "date": pd.date_range("2023-01-02", periods=weeks, freq="7D"),
                "price": 1.0 + 0.05 * rng.standard_normal(weeks),
                "promotion": (rng.random(weeks) < 0.2).astype(float),
            }
        )
        for c in m.channels:
            frame[f"{c}_spend"] = rng.gamma(2.0, 25.0, weeks)
        x = m.with_scales(target_scale=1.0, half_saturation=m.half_saturation).design(
            frame.assign(sales=0.0)
        )[0]
        coef = np.array([1.0 + 0.1 * i, 0.2, -0.3, 0.1, *betas])
        frame["sales"] = 1000.0 * (x @ coef + 0.05 * rng.standard_normal(weeks))
        last = i == n_agents - 1
        agents.append(Agent(f"a{i:03d}", frame, m, lift=lift if last else None))
    return agents
