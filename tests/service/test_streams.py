"""Redis Streams (a real redis-server) and Kafka (a fake consumer) through the ingest path."""

from __future__ import annotations

import json
import shutil
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from tests.service.conftest import conversion, free_port, touch

from mixlens.service.store import EventStore
from mixlens.service.streams import KafkaConsumerLoop, RedisStreamConsumer


def _events(n: int) -> list[dict[str, Any]]:
    out = [touch(f"e{i}", f"u{i % 7}", "2025-01-01T00:00:00Z", "tv") for i in range(n - 1)]
    return [*out, conversion(f"e{n - 1}", "u0", "2025-01-02T00:00:00Z", value=3.0)]


@pytest.fixture
def store(tmp_path: Path) -> tuple[EventStore, int]:
    s = EventStore(tmp_path / "streams.db")
    who = s.authenticate(s.create_key("streams"))
    assert who is not None
    return s, who.tenant_id


@pytest.fixture
def redis_client(tmp_path: Path) -> Iterator[Any]:
    redis = pytest.importorskip("redis")
    binary = shutil.which("redis-server")
    if binary is None:
        pytest.skip("redis-server is not installed (apt-get install redis-server)")
    port = free_port()
    proc = subprocess.Popen(
        [
            binary,
            "--port",
            str(port),
            "--bind",
            "127.0.0.1",
            "--save",
            "",
            "--appendonly",
            "no",
            "--dir",
            str(tmp_path),
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    client = redis.Redis(host="127.0.0.1", port=port)
    try:
        for _ in range(200):
            try:
                client.ping()
                break
            except redis.ConnectionError:
                time.sleep(0.02)
        yield client
    finally:
        client.close()
        proc.terminate()
        proc.wait(timeout=10)


def test_redis_stream_is_stored_once_and_acked(
    redis_client: Any, store: tuple[EventStore, int]
) -> None:
    s, tenant = store
    events = _events(120)
    for e in events:
        redis_client.xadd("ev", {"event": json.dumps(e)})
    redis_client.xadd("ev", {"event": json.dumps({"event_id": "bad", "type": "touchpoint"})})
    redis_client.xadd("ev", {"event": "{not json"})
    for e in events[:10]:  # a producer retry: duplicates
        redis_client.xadd("ev", {"event": json.dumps(e)})
    consumer = RedisStreamConsumer(redis_client, s, tenant, stream="ev", batch=50, block_ms=50)
    while consumer.poll_once() is not None:
        pass
    assert s.counts(tenant) == {"touchpoint": 119, "conversion": 1}
    assert [m for m, _ in consumer.rejected] and len(consumer.rejected) == 2
    assert "user_id" in consumer.rejected[0][1] and "not JSON" in consumer.rejected[1][1]
    assert redis_client.xpending("ev", "mixlens")["pending"] == 0


def test_redis_crash_before_ack_redelivers_without_doubles(
    redis_client: Any, store: tuple[EventStore, int]
) -> None:
    s, tenant = store
    events = _events(30)
    for e in events:
        redis_client.xadd("ev", {"event": json.dumps(e)})
    first = RedisStreamConsumer(redis_client, s, tenant, stream="ev", batch=100, block_ms=50)
    first._cursor = ">"
    # Crash after the durable write, before XACK: write without acknowledging.
    reply = redis_client.xreadgroup("mixlens", "mixlens-1", {"ev": ">"}, count=100)
    first._write([(m.decode(), f[b"event"]) for m, f in reply[0][1]])
    assert redis_client.xpending("ev", "mixlens")["pending"] == 30
    restarted = RedisStreamConsumer(redis_client, s, tenant, stream="ev", batch=100, block_ms=50)
    result = restarted.poll_once()
    assert result is not None and (result.accepted, result.duplicates) == (0, 30)
    assert redis_client.xpending("ev", "mixlens")["pending"] == 0
    assert s.counts(tenant) == {"touchpoint": 29, "conversion": 1}


class FakeMessage:
    def __init__(self, offset: int, value: bytes | None, error: str | None = None) -> None:
        self._offset, self._value, self._error = offset, value, error

    def error(self) -> str | None:
        return self._error

    def value(self) -> bytes | None:
        return self._value

    def topic(self) -> str:
        return "events"

    def partition(self) -> int:
        return 0

    def offset(self) -> int:
        return self._offset


class FakeConsumer:
    """Delivers messages from the last committed offset, as Kafka does after a restart."""

    def __init__(self, values: list[bytes], store: EventStore, tenant: int) -> None:
        self.values, self.store, self.tenant = values, store, tenant
        self.committed = 0
        self.position = 0
        self.commits: list[tuple[int, int]] = []

    def consume(self, num_messages: int, timeout: float) -> list[FakeMessage]:
        start = self.position
        self.position = min(len(self.values), start + num_messages)
        return [FakeMessage(i, self.values[i]) for i in range(start, self.position)]

    def commit(self, asynchronous: bool = True) -> None:
        assert asynchronous is False
        stored = sum(self.store.counts(self.tenant).values())
        self.commits.append((self.position, stored))
        self.committed = self.position

    def restart(self) -> None:
        self.position = self.committed


def test_kafka_commits_offsets_only_after_the_durable_write(
    store: tuple[EventStore, int],
) -> None:
    s, tenant = store
    values = [json.dumps(e).encode() for e in _events(100)]
    fake = FakeConsumer(values, s, tenant)
    loop = KafkaConsumerLoop(fake, s, tenant, batch=30)
    while loop.poll_once() is not None:
        pass
    # every commit saw its batch already stored
    assert fake.commits == [(30, 30), (60, 60), (90, 90), (100, 100)]
    assert s.counts(tenant) == {"touchpoint": 99, "conversion": 1}


def test_kafka_failed_write_is_not_committed_and_redelivers(
    store: tuple[EventStore, int], monkeypatch: pytest.MonkeyPatch
) -> None:
    s, tenant = store
    values = [json.dumps(e).encode() for e in _events(40)]
    values.insert(5, b'{"event_id": 1}')
    fake = FakeConsumer(values, s, tenant)
    loop = KafkaConsumerLoop(fake, s, tenant, batch=20)
    assert loop.poll_once() is not None

    def boom(*args: object) -> tuple[int, int]:
        raise OSError("disk gone")

    monkeypatch.setattr(s, "insert_events", boom)
    with pytest.raises(OSError):
        loop.poll_once()
    assert fake.committed == 20
    monkeypatch.undo()
    fake.restart()
    while loop.poll_once() is not None:
        pass
    assert s.counts(tenant) == {"touchpoint": 39, "conversion": 1}
    assert len(loop.rejected) == 1


def test_serve_consumes_a_redis_stream(redis_client: Any, tmp_path: Path) -> None:
    import httpx
    from tests.service.conftest import Server, auth

    db = tmp_path / "serve.db"
    s = EventStore(db)
    key = s.create_key("shop")
    s.close()
    port = redis_client.connection_pool.connection_kwargs["port"]
    server = Server(db, "--redis", f"redis://127.0.0.1:{port}/0", "--stream-tenant", "shop")
    server.start()
    try:
        for e in _events(25):
            redis_client.xadd("mixlens-events", {"event": json.dumps(e)})
        deadline = time.monotonic() + 15
        stats: dict[str, int] = {}
        while time.monotonic() < deadline:
            stats = httpx.get(f"{server.url}/v1/stats", headers=auth(key)).json()
            if stats["events"] == 25:
                break
            time.sleep(0.1)
        assert stats == {"events": 25, "touchpoints": 24, "conversions": 1}
        metrics = httpx.get(f"{server.url}/metrics").text
        assert 'mixlens_events_ingested_total{source="redis"} 25.0' in metrics
    finally:
        server.stop()
