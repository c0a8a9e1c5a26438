"""Stream consumers: Redis Streams and Kafka into the same ingest path as ``POST /v1/events``.

Both consume a batch, validate every message as the HTTP API does, write the valid events
durably through :func:`mixlens.service.ingest.ingest`, and only *then* acknowledge: Redis with
``XACK`` (consumer groups), Kafka by committing the consumed offsets synchronously. A crash
between the write and the acknowledgement redelivers the batch, which the store's idempotency
(unique ``(tenant, event_id)``) turns into duplicates, not doubles. Each stream belongs to one
tenant, given when the consumer is made.

Message format: one event per message, as JSON, in the Redis field ``event`` or as the Kafka
message value. A message that is not a valid event is acknowledged too (so it cannot block
the stream) and kept in :attr:`StreamConsumer.rejected` with the reason, and logged without
its content.
"""

from __future__ import annotations

import json
import logging
import threading
from abc import ABC, abstractmethod
from collections.abc import Callable, Sequence
from typing import Any, Protocol

from pydantic import TypeAdapter, ValidationError

from mixlens.service.ingest import IngestResult, ingest
from mixlens.service.schemas import Event
from mixlens.service.store import EventStore

__all__ = ["KafkaConsumerLoop", "RedisStreamConsumer", "StreamConsumer", "kafka_consumer"]

log = logging.getLogger("mixlens.service.streams")
_EVENT = TypeAdapter(Event)


def _parse(raw: bytes | str | None) -> Event | str:
    """Return the event in one message, or why it is not one."""
    if raw is None:
        return "empty message"
    try:
        return _EVENT.validate_python(json.loads(raw))
    except (ValueError, TypeError) as err:
        if isinstance(err, ValidationError):
            first = err.errors()[0]
            loc = ".".join(str(p) for p in first["loc"])
            return f"{loc}: {first['msg']}" if loc else str(first["msg"])
        return f"not JSON: {err}"


class StreamConsumer(ABC):
    """What the Redis and Kafka consumers share: validate, write durably, then acknowledge.

    Parameters
    ----------
    store
        The event store.
    tenant_id
        Tenant that owns the stream.
    observe
        Optional callback seeing each batch's :class:`IngestResult` (the service's metrics).
    """

    def __init__(
        self,
        store: EventStore,
        tenant_id: int,
        *,
        observe: Callable[[IngestResult], None] | None = None,
    ) -> None:
        self.store = store
        self.tenant_id = tenant_id
        self.observe = observe
        self.rejected: list[tuple[str, str]] = []
        """``(message id, reason)`` of each message that was not a valid event."""

    def _write(self, messages: Sequence[tuple[str, bytes | str | None]]) -> IngestResult:
        events = []
        for message_id, raw in messages:
            parsed = _parse(raw)
            if isinstance(parsed, str):
                self.rejected.append((message_id, parsed))
                log.warning("stream message %s rejected: %s", message_id, parsed)
            else:
                events.append(parsed)
        if not events:
            return IngestResult(0, 0)
        return ingest(self.store, self.tenant_id, events, observe=self.observe)

    @abstractmethod
    def poll_once(self) -> IngestResult | None:
        """Consume, write and acknowledge one batch; None when nothing came."""

    def run(self, stop: threading.Event) -> None:
        """Consume until ``stop`` is set (meant for a background thread)."""
        while not stop.is_set():
            try:
                self.poll_once()
            except Exception:  # keep consuming; the batch is redelivered
                log.exception("stream batch failed; it will be redelivered")
                stop.wait(1.0)


class RedisStreamConsumer(StreamConsumer):
    """Consume a Redis stream through a consumer group (``XREADGROUP``, ``XACK``).

    On start it first re-reads its own pending entries (delivered before a crash, never
    acknowledged), then new ones.

    Parameters
    ----------
    client
        A ``redis.Redis`` client.
    store, tenant_id, observe
        As :class:`StreamConsumer`.
    stream, group, consumer
        Stream key, consumer group (created if absent) and this consumer's name.
    batch
        Most entries per read.
    block_ms
        How long a read waits for new entries.
    """

    def __init__(
        self,
        client: Any,
        store: EventStore,
        tenant_id: int,
        *,
        stream: str,
        group: str = "mixlens",
        consumer: str = "mixlens-1",
        batch: int = 500,
        block_ms: int = 1000,
        observe: Callable[[IngestResult], None] | None = None,
    ) -> None:
        super().__init__(store, tenant_id, observe=observe)
        self.client = client
        self.stream, self.group, self.consumer = stream, group, consumer
        self.batch, self.block_ms = batch, block_ms
        self._cursor = "0"  # own pending entries first
        try:
            client.xgroup_create(stream, group, id="0", mkstream=True)
        except Exception as err:  # the group exists already
            if "BUSYGROUP" not in str(err):
                raise

    def poll_once(self) -> IngestResult | None:
        """Read, write durably, then ``XACK`` one batch."""
        reply = self.client.xreadgroup(
            self.group,
            self.consumer,
            {self.stream: self._cursor},
            count=self.batch,
            block=None if self._cursor == "0" else self.block_ms,
        )
        entries = reply[0][1] if reply else []
        if not entries:
            if self._cursor == "0":  # own pending entries done: go on with new ones
                self._cursor = ">"
                return self.poll_once()
            return None
        messages = []
        for entry_id, fields in entries:
            key = _text(entry_id)
            value = fields.get(b"event", fields.get("event")) if fields else None
            messages.append((key, value))
        result = self._write(messages)
        self.client.xack(self.stream, self.group, *[m for m, _ in messages])
        return result


class _KafkaMessage(Protocol):
    def error(self) -> Any: ...
    def value(self) -> bytes | None: ...
    def topic(self) -> str: ...
    def partition(self) -> int: ...
    def offset(self) -> int: ...


class KafkaConsumerLoop(StreamConsumer):
    """Consume Kafka messages (confluent-kafka ``Consumer``) and commit offsets after the write.

    The consumer must be created with ``enable.auto.commit=False`` (see :func:`kafka_consumer`)
    and subscribed; offsets are committed synchronously only after the batch is durable.

    Parameters
    ----------
    consumer
        A ``confluent_kafka.Consumer`` (or an object with ``consume`` and ``commit``).
    store, tenant_id, observe
        As :class:`StreamConsumer`.
    batch
        Most messages per ``consume`` call.
    timeout_s
        How long ``consume`` waits.
    """

    def __init__(
        self,
        consumer: Any,
        store: EventStore,
        tenant_id: int,
        *,
        batch: int = 500,
        timeout_s: float = 1.0,
        observe: Callable[[IngestResult], None] | None = None,
    ) -> None:
        super().__init__(store, tenant_id, observe=observe)
        self.consumer = consumer
        self.batch, self.timeout_s = batch, timeout_s

    def poll_once(self) -> IngestResult | None:
        """Consume, write durably, then commit one batch's offsets."""
        batch: list[_KafkaMessage] = self.consumer.consume(
            num_messages=self.batch, timeout=self.timeout_s
        )
        messages = []
        for m in batch:
            if m.error() is not None:
                log.warning("kafka error: %s", m.error())
                continue
            messages.append((f"{m.topic()}/{m.partition()}/{m.offset()}", m.value()))
        if not messages:
            return None
        result = self._write(messages)
        self.consumer.commit(asynchronous=False)
        return result


def kafka_consumer(bootstrap: str, group: str, topic: str) -> Any:
    """Return a subscribed ``confluent_kafka.Consumer`` with auto-commit off."""
    try:
        from confluent_kafka import Consumer
    except ImportError:
        raise ImportError(
            "the Kafka consumer needs confluent-kafka: pip install confluent-kafka"
        ) from None
    consumer = Consumer(
        {
            "bootstrap.servers": bootstrap,
            "group.id": group,
            "enable.auto.commit": False,
            "auto.offset.reset": "earliest",
        }
    )
    consumer.subscribe([topic])
    return consumer


def _text(value: bytes | str) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)
