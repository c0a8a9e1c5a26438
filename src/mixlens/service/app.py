"""The FastAPI application of ``mixlens serve`` (routes of issue #10's wire contract).

Every ``/v1`` route needs ``Authorization: Bearer KEY`` (401 otherwise), spends one token of
the key's rate limit (429 with ``Retry-After`` when empty) and sees only the key's tenant: an
id of another tenant answers 404 exactly like an id that does not exist. ``/healthz``,
``/metrics`` (no tenant data) and the dashboard page (which holds no data; it asks for a key)
are open. Bodies over the size limit answer 413; invalid bodies and parameters 422 with a
``message`` naming the field.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import json
import logging
import threading
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any, Literal

from fastapi import Depends, FastAPI, HTTPException, Query, Request
from fastapi.encoders import jsonable_encoder
from fastapi.exceptions import RequestValidationError
from fastapi.responses import HTMLResponse, JSONResponse, Response, StreamingResponse
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from starlette.concurrency import run_in_threadpool

from mixlens import __version__
from mixlens.errors import DataError
from mixlens.service.dashboard import PAGE, load_allocation, snapshot
from mixlens.service.engine import (
    ActiveModel,
    ModelRegistry,
    attribute_conversion,
    attribute_window,
)
from mixlens.service.fastpath import AttributionFastPath
from mixlens.service.ingest import ingest
from mixlens.service.limits import BodyLimit, TokenBucket
from mixlens.service.metrics import CONTENT_TYPE, Metrics, MetricsMiddleware
from mixlens.service.rules import FittedWeights, load_run_dir, weights_from_attribution_csv
from mixlens.service.schemas import (
    AttributionWindow,
    ConversionAttribution,
    EventBatch,
    IngestResult,
    ModelInfo,
    ModelSpec,
    RuleName,
    Stats,
    to_us,
)
from mixlens.service.store import EventStore, Principal

__all__ = ["ServiceSettings", "Who", "create_app", "principal"]

log = logging.getLogger("mixlens.service")

_MIN_US = to_us(dt.datetime(1, 1, 1, tzinfo=dt.UTC))
_MAX_US = to_us(dt.datetime(9999, 12, 31, 23, 59, 59, tzinfo=dt.UTC))


@dataclass(frozen=True)
class ServiceSettings:
    """Settings of one service instance (``mixlens serve`` options).

    Attributes
    ----------
    db
        SQLite event store file.
    model_dir
        ``mixlens mta fit`` run dir whose Markov model is every tenant's default (else linear).
    neural
        Serve the run dir's trained neural model (``neural_model/``, ``--models neural``)
        instead of its Markov model.
    allocation
        ``allocation.csv`` whose recommendation the dashboard shows.
    lookback_days
        Touches at most this long before a conversion are on its path.
    max_body_bytes
        Largest request body (413 above).
    rate_per_s, burst
        Token bucket per API key.
    stream_interval_s
        How often the dashboard stream checks for new data.
    fast_path
        Answer valid ``GET /v1/conversions/{id}/attribution`` requests without FastAPI's
        routing (:mod:`mixlens.service.fastpath`; same answers, about half the CPU).
    redis_url, redis_stream, stream_tenant
        Consume the Redis stream ``redis_stream`` at ``redis_url`` into tenant
        ``stream_tenant`` (created if new), through the HTTP ingest path.
    """

    db: Path
    model_dir: Path | None = None
    neural: bool = False
    allocation: Path | None = None
    lookback_days: float = 30.0
    max_body_bytes: int = 4 * 1024 * 1024
    rate_per_s: float = 5000.0
    burst: float = 5000.0
    stream_interval_s: float = 1.0
    fast_path: bool = True
    redis_url: str | None = None
    redis_stream: str = "mixlens-events"
    stream_tenant: str | None = None


_bearer = HTTPBearer(auto_error=False, description="API key from `mixlens keys create`.")


def _unauthorized() -> HTTPException:
    return HTTPException(401, "missing or invalid API key", headers={"WWW-Authenticate": "Bearer"})


def _message(errors: list[dict[str, Any]]) -> str:
    parts = []
    for e in errors[:5]:
        loc = ".".join(str(p) for p in e.get("loc", ()))
        parts.append(f"{loc}: {e.get('msg', 'invalid')}")
    more = f" (and {len(errors) - 5} more)" if len(errors) > 5 else ""
    return "; ".join(parts) + more


async def principal(
    request: Request,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
) -> Principal:
    """Return the key's principal; 401 for a missing or wrong key, 429 past the key's rate limit."""
    if credentials is None or credentials.scheme.lower() != "bearer":
        raise _unauthorized()
    store: EventStore = request.app.state.store
    who = store.authenticate(credentials.credentials)
    if who is None:
        raise _unauthorized()
    wait = request.app.state.bucket.take(who.key_id)
    if wait > 0:
        raise HTTPException(
            429,
            "rate limit exceeded for this API key",
            headers={"Retry-After": str(max(1, round(wait + 0.5)))},
        )
    return who


Who = Annotated[Principal, Depends(principal)]


def _start_redis(
    settings: ServiceSettings, store: EventStore, metrics: Metrics, stop: threading.Event
) -> threading.Thread | None:
    """Start the Redis Streams consumer thread when the settings name a Redis server."""
    if settings.redis_url is None:
        return None
    if not settings.stream_tenant:
        raise DataError("a Redis stream needs the tenant it belongs to (--stream-tenant)")
    import redis

    from mixlens.service.streams import RedisStreamConsumer

    tenant_id = store.tenant_id(settings.stream_tenant)
    consumer = RedisStreamConsumer(
        redis.Redis.from_url(settings.redis_url),
        store,
        tenant_id,
        stream=settings.redis_stream,
        observe=metrics.observer("redis"),
    )
    thread = threading.Thread(target=consumer.run, args=(stop,), name="redis-consumer", daemon=True)
    thread.start()
    return thread


def create_app(settings: ServiceSettings) -> FastAPI:
    """Build the service: store, model registry, metrics and routes."""
    store = EventStore(settings.db)
    default = ActiveModel("linear")
    if settings.model_dir is not None and settings.neural:
        from mixlens.mta.neural.model import load_model

        folder = Path(settings.model_dir) / "neural_model"
        default = ActiveModel("neural", scorer=load_model(folder), source=str(folder))
    elif settings.model_dir is not None:
        default = ActiveModel("markov", load_run_dir(settings.model_dir))
    elif settings.neural:
        raise DataError("neural needs the run dir of `mixlens mta fit --models neural` (--model)")
    registry = ModelRegistry(store, default)
    allocation = load_allocation(settings.allocation) if settings.allocation else None
    metrics = Metrics(lambda: float(store.pending_writes))
    observe_http = metrics.observer("http")
    bucket = TokenBucket(rate=settings.rate_per_s, burst=settings.burst)
    lookback_us = round(settings.lookback_days * 86_400e6)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        log.info("serving %s (default model %s)", settings.db, default.name)
        stop = threading.Event()
        thread = _start_redis(settings, store, metrics, stop)
        yield  # the store outlives restarts of the lifespan (tests run it more than once)
        stop.set()
        if thread is not None:
            thread.join(timeout=5)

    app = FastAPI(
        title="mixlens real-time attribution",
        version=__version__,
        description=__doc__,
        lifespan=lifespan,
    )
    app.state.store = store
    app.state.registry = registry
    app.state.metrics = metrics
    app.state.bucket = bucket
    if settings.fast_path:
        app.add_middleware(
            AttributionFastPath,
            store=store,
            registry=registry,
            bucket=bucket,
            lookback_us=lookback_us,
        )
    app.add_middleware(BodyLimit, max_bytes=settings.max_body_bytes)
    app.add_middleware(MetricsMiddleware, metrics=metrics)

    @app.exception_handler(RequestValidationError)
    async def _invalid(request: Request, exc: RequestValidationError) -> JSONResponse:
        errors = jsonable_encoder(exc.errors())
        return JSONResponse({"message": _message(errors), "detail": errors}, status_code=422)

    @app.exception_handler(DataError)
    async def _bad_data(request: Request, exc: DataError) -> JSONResponse:
        return JSONResponse({"message": str(exc), "detail": str(exc)}, status_code=422)

    not_found = {404: {"description": "No such conversion for this tenant."}}

    @app.get("/healthz", tags=["ops"])
    async def healthz() -> dict[str, str]:
        """Liveness: the process answers and the store is readable."""
        await run_in_threadpool(store.tenants)
        return {"status": "ok"}

    @app.get("/metrics", tags=["ops"], response_class=Response)
    async def prometheus() -> Response:
        """Prometheus text format: ingest counters, latency histograms, queue depth."""
        return Response(metrics.render(), media_type=CONTENT_TYPE)

    @app.post("/v1/events", tags=["events"])
    def post_events(batch: EventBatch, who: Who) -> IngestResult:
        """Store a batch; answers only after it is durable. Idempotent by ``event_id``."""
        accepted, duplicates = ingest(store, who.tenant_id, batch.events, observe=observe_http)
        log.debug("tenant %s: %d accepted, %d duplicates", who.tenant, accepted, duplicates)
        return IngestResult(accepted=accepted, duplicates=duplicates)

    @app.get("/v1/stats", tags=["events"])
    async def stats(who: Who) -> Stats:
        """Return the tenant's stored event counts."""
        c = store.counts(who.tenant_id)
        t, v = c.get("touchpoint", 0), c.get("conversion", 0)
        return Stats(events=t + v, touchpoints=t, conversions=v)

    @app.get(
        "/v1/conversions/{event_id}/attribution",
        tags=["attribution"],
        response_model=ConversionAttribution,
        responses=not_found,  # type: ignore[arg-type]
    )
    async def conversion_attribution(
        event_id: str,
        who: Who,
        by: Literal["conversion", "value"] = "conversion",
        model: RuleName | None = None,
    ) -> Response:
        """Credit per touch of one conversion under the tenant's active model (or ``model``)."""
        conv = store.conversion(who.tenant_id, event_id)
        if conv is None:
            raise HTTPException(404, "conversion not found")
        active = registry.get(who.tenant_id)
        if model is not None and model != active.rule:
            active = ActiveModel(model, active.weights if model == "markov" else None)
        path = store.path(who.tenant_id, conv, lookback_us)
        body = attribute_conversion(conv, path, active, by_value=by == "value")
        return Response(json.dumps(body), media_type="application/json")

    @app.get("/v1/attribution", tags=["attribution"])
    def window_attribution(
        who: Who,
        start: Annotated[dt.datetime | None, Query(alias="from")] = None,
        end: Annotated[dt.datetime | None, Query(alias="to")] = None,
        model: RuleName | None = None,
    ) -> AttributionWindow:
        """Credit per channel of the tenant's conversions in ``[from, to)``."""
        lo = to_us(start) if start is not None else _MIN_US
        hi = to_us(end) if end is not None else _MAX_US
        if lo >= hi:
            raise DataError("'from' must be before 'to'")
        active = registry.get(who.tenant_id)
        if model is not None and model != active.rule:
            active = ActiveModel(model, active.weights if model == "markov" else None)
        body = attribute_window(store, who.tenant_id, lo, hi, active, lookback_us=lookback_us)
        return AttributionWindow.model_validate(body)

    @app.get("/v1/model", tags=["model"])
    async def get_model(who: Who) -> ModelInfo:
        """Return the tenant's active model."""
        return ModelInfo.model_validate(registry.get(who.tenant_id).info())

    @app.put("/v1/model", tags=["model"])
    def put_model(spec: ModelSpec, who: Who) -> ModelInfo:
        """Hot-swap the tenant's model; requests in flight finish on the old one."""
        if spec.attribution_csv is not None:
            fitted = weights_from_attribution_csv(spec.attribution_csv, model=spec.model)
            new = ActiveModel(spec.model, fitted)
        elif spec.weights is not None:
            new = ActiveModel(spec.model, FittedWeights(spec.model, dict(spec.weights)))
        else:
            new = ActiveModel(spec.model)
        registry.set(who.tenant_id, new)
        log.info("tenant %s: model set to %s", who.tenant, new.name)
        return ModelInfo.model_validate(new.info())

    @app.get("/", include_in_schema=False)
    @app.get("/dashboard", include_in_schema=False)
    async def dashboard() -> HTMLResponse:
        return HTMLResponse(PAGE)

    def _snapshot(who: Principal) -> dict[str, Any]:
        return snapshot(
            store,
            who.tenant_id,
            registry.get(who.tenant_id),
            lookback_us=lookback_us,
            allocation=allocation,
        )

    @app.get("/v1/dashboard", tags=["dashboard"])
    def dashboard_data(who: Who) -> dict[str, Any]:
        """Return what the dashboard shows: channel credit, recent conversions, recommendation."""
        return _snapshot(who)

    @app.get("/v1/dashboard/stream", tags=["dashboard"], response_class=StreamingResponse)
    async def dashboard_stream(request: Request, who: Who) -> StreamingResponse:
        """Server-sent events: a ``snapshot`` event whenever the tenant's data or model change."""

        async def events() -> AsyncIterator[str]:
            last: tuple[object, ...] | None = None
            idle = 0.0
            while not await request.is_disconnected():
                state = (
                    tuple(sorted(store.counts(who.tenant_id).items())),
                    registry.get(who.tenant_id),
                )
                if state != last:
                    body = await run_in_threadpool(_snapshot, who)
                    last, idle = state, 0.0
                    yield f"event: snapshot\ndata: {json.dumps(body)}\n\n"
                elif idle >= 15.0:
                    idle = 0.0
                    yield ": keep-alive\n\n"
                await asyncio.sleep(settings.stream_interval_s)
                idle += settings.stream_interval_s

        return StreamingResponse(
            events(), media_type="text/event-stream", headers={"Cache-Control": "no-cache"}
        )

    return app
