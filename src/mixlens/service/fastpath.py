"""A lean ASGI path for the hot route ``GET /v1/conversions/{event_id}/attribution``.

FastAPI's routing, dependency injection and parameter validation cost about as much CPU as
the attribution itself. This middleware answers the route's *successful* requests directly,
with the same code (:func:`~mixlens.service.engine.attribute_conversion`), the same auth, the
same rate-limit bucket and the same body. Anything else falls through to the FastAPI route,
which answers it (401, 404, 422, 429) as documented in the OpenAPI spec: a missing or invalid
key, an unknown conversion or another tenant's, an unexpected query parameter or value, or an
empty token bucket. A request takes one rate-limit token either way.
"""

from __future__ import annotations

import json
from types import SimpleNamespace
from typing import Any
from urllib.parse import parse_qsl, unquote

from mixlens.service.engine import ActiveModel, ModelRegistry, attribute_conversion
from mixlens.service.limits import ASGIApp, Receive, Scope, Send, TokenBucket
from mixlens.service.rules import RULES
from mixlens.service.store import EventStore

__all__ = ["AttributionFastPath"]

_PREFIX = "/v1/conversions/"
_SUFFIX = "/attribution"
_ROUTE = SimpleNamespace(path="/v1/conversions/{event_id}/attribution")
_HEADERS = [(b"content-type", b"application/json")]


class AttributionFastPath:
    """ASGI middleware answering valid attribution requests without FastAPI's machinery.

    Parameters
    ----------
    app
        The FastAPI app (every other request goes there).
    store, registry, bucket
        The service's store, model registry and rate limiter.
    lookback_us
        Path lookback, microseconds.
    """

    def __init__(
        self,
        app: ASGIApp,
        *,
        store: EventStore,
        registry: ModelRegistry,
        bucket: TokenBucket,
        lookback_us: int,
    ) -> None:
        self.app = app
        self.store, self.registry, self.bucket = store, registry, bucket
        self.lookback_us = lookback_us

    def _answer(self, scope: Scope) -> bytes | None:
        """Return the 200 body, or None to let FastAPI answer."""
        path: str = scope["path"]
        if not (path.startswith(_PREFIX) and path.endswith(_SUFFIX)) or scope["method"] != "GET":
            return None
        event_id = unquote(path[len(_PREFIX) : -len(_SUFFIX)])
        if not event_id or "/" in event_id:
            return None
        params: dict[str, str] = {}
        for name, value in parse_qsl(scope.get("query_string", b"").decode("latin-1")):
            if name in params or name not in ("by", "model"):
                return None
            params[name] = value
        by = params.get("by", "conversion")
        rule = params.get("model")
        if by not in ("conversion", "value") or (rule is not None and rule not in RULES):
            return None
        token = None
        for name, value in scope["headers"]:
            if name == b"authorization":  # the first one, as Starlette reads it
                scheme, _, token = value.decode("latin-1").partition(" ")
                if scheme.lower() != "bearer":
                    return None
                break
        who = self.store.authenticate(token) if token else None
        if who is None:
            return None
        conv = self.store.conversion(who.tenant_id, event_id)
        if conv is None:
            return None
        active = self.registry.get(who.tenant_id)
        if rule is not None and rule != active.rule:
            active = ActiveModel(rule, active.weights if rule == "markov" else None)
        if active.rule == "markov" and active.weights is None:
            return None  # FastAPI answers the 422
        if self.bucket.take(who.key_id) > 0:
            return None  # FastAPI takes the (empty) bucket again and answers 429
        path_touches = self.store.path(who.tenant_id, conv, self.lookback_us)
        body: dict[str, Any] = attribute_conversion(
            conv, path_touches, active, by_value=by == "value"
        )
        return json.dumps(body).encode()

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Answer the hot route's valid requests; pass everything else on."""
        body = self._answer(scope) if scope["type"] == "http" else None
        if body is None:
            await self.app(scope, receive, send)
            return
        scope["route"] = _ROUTE  # the metrics' route label
        headers = [*_HEADERS, (b"content-length", str(len(body)).encode())]
        await send({"type": "http.response.start", "status": 200, "headers": headers})
        await send({"type": "http.response.body", "body": body})
