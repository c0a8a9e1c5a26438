"""The one ingest path of the service: HTTP, Redis Streams and Kafka all write through it.

Examples
--------
>>> from mixlens.service.store import EventStore
>>> store = EventStore(":memory:")
>>> tenant = store.authenticate(store.create_key("acme")).tenant_id
>>> raw = [{"event_id": "c1", "type": "conversion", "user_id": "u",
...         "timestamp": "2025-01-01T00:00:00Z", "value": 5.0}]
>>> ingest(store, tenant, parse_events(raw))
IngestResult(accepted=1, duplicates=0)
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from pydantic import TypeAdapter, ValidationError

from mixlens.errors import DataError
from mixlens.service.schemas import Event
from mixlens.service.store import EventStore

__all__ = ["IngestResult", "ingest", "parse_events"]

_EVENTS = TypeAdapter(list[Event])


class IngestResult(tuple[int, int]):
    """``(accepted, duplicates)`` of one durable batch."""

    __slots__ = ()

    def __new__(cls, accepted: int, duplicates: int) -> IngestResult:
        """Build from the two counts."""
        return super().__new__(cls, (accepted, duplicates))

    @property
    def accepted(self) -> int:
        """Events newly stored."""
        return self[0]

    @property
    def duplicates(self) -> int:
        """Events already stored (or repeated in the batch)."""
        return self[1]

    def __repr__(self) -> str:
        return f"IngestResult(accepted={self[0]}, duplicates={self[1]})"


def parse_events(raw: Sequence[Any]) -> list[Event]:
    """Validate raw event dicts (from a stream) as the HTTP API does.

    Raises
    ------
    DataError
        Naming the first bad event (its index as ``row``, 1-based) and field.
    """
    try:
        return _EVENTS.validate_python(list(raw))
    except ValidationError as err:
        first = err.errors()[0]
        loc = [str(p) for p in first["loc"]]
        row = int(loc[0]) + 1 if loc and loc[0].isdigit() else None
        column = ".".join(loc[1:]) or None
        raise DataError(first["msg"], file="events", column=column, row=row) from None


def ingest(
    store: EventStore,
    tenant_id: int,
    events: Sequence[Event],
    *,
    observe: Callable[[IngestResult], None] | None = None,
) -> IngestResult:
    """Write validated events durably for the tenant; return once they are committed.

    ``observe`` (the service's metrics) sees every result.
    """
    result = IngestResult(*store.insert_events(tenant_id, [e.to_row() for e in events]))
    if observe is not None:
        observe(result)
    return result
