"""Prometheus metrics of the service (one registry per app) and the ASGI middleware timing it.

Exposed at ``GET /metrics`` in Prometheus' text format:

* ``mixlens_events_ingested_total`` / ``mixlens_events_duplicate_total`` (counters; the ingest
  rate is ``rate(mixlens_events_ingested_total[1m])``), labelled by ``source`` (http, redis,
  kafka);
* ``mixlens_request_seconds`` (histogram per route template and method) and
  ``mixlens_requests_total`` (per route, method and status);
* ``mixlens_ingest_queue_depth`` (gauge: batches waiting for or holding the database writer).

No label carries a tenant, a key or an id.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest

from mixlens.service.ingest import IngestResult
from mixlens.service.limits import ASGIApp, Message, Receive, Scope, Send

__all__ = ["CONTENT_TYPE", "Metrics", "MetricsMiddleware"]

CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"
"""Content type of the Prometheus text format."""

_BUCKETS = (0.0005, 0.001, 0.002, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5)


class Metrics:
    """The service's metric objects in their own registry.

    Parameters
    ----------
    queue_depth
        Callable read at scrape time for ``mixlens_ingest_queue_depth``.
    """

    def __init__(self, queue_depth: Callable[[], float]) -> None:
        self.registry = CollectorRegistry()
        self.ingested = Counter(
            "mixlens_events_ingested",
            "Events durably stored.",
            ["source"],
            registry=self.registry,
        )
        self.duplicates = Counter(
            "mixlens_events_duplicate",
            "Events received again (idempotent retries).",
            ["source"],
            registry=self.registry,
        )
        self.latency = Histogram(
            "mixlens_request_seconds",
            "Request latency by route.",
            ["route", "method"],
            buckets=_BUCKETS,
            registry=self.registry,
        )
        self.requests = Counter(
            "mixlens_requests",
            "Requests by route and status.",
            ["route", "method", "status"],
            registry=self.registry,
        )
        depth = Gauge(
            "mixlens_ingest_queue_depth",
            "Batches waiting for or holding the database writer.",
            registry=self.registry,
        )
        depth.set_function(queue_depth)

    def observer(self, source: str) -> Callable[[IngestResult], None]:
        """Return a callback counting ingest results from ``source``."""
        ingested = self.ingested.labels(source)
        duplicates = self.duplicates.labels(source)

        def observe(result: IngestResult) -> None:
            ingested.inc(result.accepted)
            duplicates.inc(result.duplicates)

        return observe

    def render(self) -> bytes:
        """Return the registry in Prometheus' text format."""
        return generate_latest(self.registry)


class MetricsMiddleware:
    """ASGI middleware recording each HTTP request's latency and status by route template."""

    def __init__(self, app: ASGIApp, *, metrics: Metrics) -> None:
        self.app = app
        self.metrics = metrics

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Time the request."""
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        start = time.perf_counter()
        status = 500

        async def send_status(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = int(message["status"])
            await send(message)

        try:
            await self.app(scope, receive, send_status)
        finally:
            route: Any = scope.get("route")
            path = str(getattr(route, "path", "unmatched"))
            method = str(scope.get("method", ""))
            self.metrics.latency.labels(path, method).observe(time.perf_counter() - start)
            self.metrics.requests.labels(path, method, str(status)).inc()
