"""Real-time attribution service (``mixlens serve``): durable ingest, per-conversion credit.

Modules: :mod:`~mixlens.service.store` (SQLite event store, keys, tenants),
:mod:`~mixlens.service.rules` (per-path credit rules), :mod:`~mixlens.service.engine`
(hot-swappable models, attribution), :mod:`~mixlens.service.app` (the FastAPI app),
:mod:`~mixlens.service.streams` (Redis Streams and Kafka consumers). The web parts need the
``service`` extra (``pip install "mixlens[service]"``); this package imports none of them.
"""

from __future__ import annotations

__all__ = ["require_extra"]


def require_extra() -> None:
    """Raise ImportError with an install hint when the ``service`` extra is missing."""
    try:
        import fastapi  # noqa: F401
        import prometheus_client  # noqa: F401
        import uvicorn  # noqa: F401
    except ImportError as err:
        raise ImportError(
            f"mixlens serve needs the service extra: pip install 'mixlens[service]' ({err})"
        ) from None
