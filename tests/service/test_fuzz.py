"""Fuzz the API from its own OpenAPI spec with schemathesis: no input gives a 500."""

from __future__ import annotations

import tempfile
from pathlib import Path

import pytest
from hypothesis import HealthCheck, settings

schemathesis = pytest.importorskip("schemathesis")

from mixlens.service.app import ServiceSettings, create_app  # noqa: E402

_DIR = Path(tempfile.mkdtemp(prefix="mixlens-fuzz-"))
APP = create_app(ServiceSettings(db=_DIR / "fuzz.db", rate_per_s=1e6, burst=1e6))
KEY = APP.state.store.create_key("fuzz")
schema = schemathesis.openapi.from_asgi("/openapi.json", APP).exclude(
    path="/v1/dashboard/stream"  # endless by design; tested in test_dashboard.py
)


@schema.parametrize()
@settings(max_examples=10, deadline=None, suppress_health_check=list(HealthCheck))
def test_no_server_errors(case: schemathesis.Case) -> None:
    response = case.call(headers={"Authorization": f"Bearer {KEY}"})
    assert response.status_code < 500, (case.method, case.path, response.text)
