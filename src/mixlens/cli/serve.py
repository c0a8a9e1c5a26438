"""``mixlens keys`` and ``mixlens serve``: the real-time attribution service (issue #10)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from mixlens.cli._app import _group, _user_errors, app, out_console

keys_app = _group("keys", "API keys for the real-time service (stored hashed; shown once).")

Db = Annotated[Path, typer.Option("--db", help="SQLite event store (created if absent).")]


@keys_app.command("create")
def keys_create_command(
    tenant: Annotated[str, typer.Option("--tenant", help="Tenant (created if new).")],
    db: Db,
) -> None:
    """Create an API key for TENANT and print it once (only its salted hash is stored)."""
    from mixlens.service.store import EventStore

    if not tenant.strip():
        raise typer.BadParameter("--tenant must not be empty")
    with _user_errors():
        store = EventStore(db)
        key = store.create_key(tenant.strip())
        store.close()
    out_console.print(key, highlight=False, soft_wrap=True)


@app.command("serve")
def serve_command(
    db: Db,
    host: Annotated[str, typer.Option(help="Interface to listen on.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(min=0, max=65535, help="TCP port.")] = 8000,
    model: Annotated[
        Path | None, typer.Option("--model", help="`mixlens mta fit` run dir (Markov model).")
    ] = None,
    neural: Annotated[
        bool, typer.Option("--neural", help="Serve the run dir's neural model, not its Markov.")
    ] = False,
    allocation: Annotated[
        Path | None, typer.Option("--allocation", help="allocation.csv shown on the dashboard.")
    ] = None,
    lookback: Annotated[
        float, typer.Option(help="Path lookback before a conversion, days.")
    ] = 30.0,
    rate_limit: Annotated[
        float, typer.Option(help="Requests per second per API key (token bucket).")
    ] = 5000.0,
    max_body_mb: Annotated[float, typer.Option(help="Largest request body, MiB.")] = 4.0,
    access_log: Annotated[bool, typer.Option(help="Log every request (paths only).")] = False,
    redis: Annotated[
        str | None, typer.Option(help="Consume a Redis stream too: redis://HOST:PORT/DB.")
    ] = None,
    redis_stream: Annotated[str, typer.Option(help="Redis stream key.")] = "mixlens-events",
    stream_tenant: Annotated[
        str | None, typer.Option(help="Tenant that owns the Redis stream's events.")
    ] = None,
) -> None:
    """Serve the real-time attribution API and live dashboard (http://HOST:PORT/)."""
    from mixlens.service import require_extra

    try:
        require_extra()
    except ImportError as err:
        raise typer.BadParameter(str(err)) from None
    import uvicorn

    from mixlens.service.app import ServiceSettings, create_app

    if not (lookback > 0 and rate_limit > 0 and max_body_mb > 0):
        raise typer.BadParameter("--lookback, --rate-limit and --max-body-mb must be positive")
    with _user_errors():
        settings = ServiceSettings(
            db=db,
            model_dir=model,
            neural=neural,
            allocation=allocation,
            lookback_days=lookback,
            rate_per_s=rate_limit,
            burst=max(rate_limit, 1.0),
            max_body_bytes=int(max_body_mb * 1024 * 1024),
            redis_url=redis,
            redis_stream=redis_stream,
            stream_tenant=stream_tenant,
        )
        if redis is not None and not stream_tenant:
            raise typer.BadParameter("--redis needs --stream-tenant (the stream's tenant)")
        service = create_app(settings)
    uvicorn.run(service, host=host, port=port, access_log=access_log, log_level="info")
