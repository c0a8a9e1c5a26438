"""Backend plumbing that needs no Ray: call_each, the host, the missing-extra message."""

from __future__ import annotations

import importlib
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from tests.agents.helpers import synthetic_agents

from mixlens.agents import RayBackend, call_each, run_to_dir
from mixlens.agents.backends import AgentHost
from mixlens.errors import DataError


def test_call_each_runs_in_order_with_per_agent_arguments() -> None:
    agents = synthetic_agents(3, 12, seed=1)
    sums = call_each(agents, "setup_sums")
    assert [s[0] for s in sums] == [12.0, 12.0, 12.0]
    clipped = call_each(agents, "statistics", kwargs=[{"clip": (1.0, 1.0)}] * 3)
    assert all(np.linalg.eigvalsh(s.xtx).max() <= 12.0 + 1e-9 for s in clipped)
    with pytest.raises(DataError, match="one argument set per agent"):
        call_each(agents, "statistics", [()])


def test_host_refuses_private_members_and_unshareable_methods() -> None:
    agents = synthetic_agents(2, 12, seed=1)
    host = AgentHost(agents)
    with pytest.raises(DataError, match="private"):
        host.run([("a000", "_xy", (), {})])
    with pytest.raises(DataError, match="may not be shared"):
        host.run(
            [
                (
                    "a000",
                    "secure_share",
                    ("pooled_design_for_check",),
                    {"round": 1, "kind": "x", "scale": 1.0},
                )
            ]
        )
    with pytest.raises(DataError, match="distinct"):
        AgentHost([agents[0], agents[0]])


def test_missing_ray_extra_is_a_clear_error(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    real = importlib.import_module

    def no_ray(name: str, package: str | None = None) -> Any:
        if name == "ray" or name.startswith("ray."):
            raise ModuleNotFoundError("No module named 'ray'")
        return real(name, package)

    monkeypatch.setattr(importlib, "import_module", no_ray)
    with pytest.raises(DataError, match=r"pip install 'mixlens\[ray\]'"):
        RayBackend()
    with pytest.raises(DataError, match=r"mixlens\[ray\]"):
        run_to_dir("regions", out_dir=tmp_path, backend="ray")
    with pytest.raises(DataError, match="unknown backend"):
        run_to_dir("regions", out_dir=tmp_path, backend="dask")
