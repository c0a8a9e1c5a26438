"""Crash test: SIGKILL the server while a client streams events with retries; nothing lost."""

from __future__ import annotations

import sqlite3
import threading
import time
from pathlib import Path

import httpx
from tests.service.conftest import Server, auth, touch

from mixlens.service.store import EventStore

N = 2_000
BATCH = 50


def stream(url: str, key: str, done: threading.Event, errors: list[str], sent: list[int]) -> None:
    events = [touch(f"e{i}", f"u{i % 97}", "2025-01-01T00:00:00Z", "tv") for i in range(N)]
    with httpx.Client(timeout=5.0) as client:
        for start in range(0, N, BATCH):
            batch = {"events": events[start : start + BATCH]}
            for _ in range(1_000):
                try:
                    r = client.post(f"{url}/v1/events", json=batch, headers=auth(key))
                    if r.status_code == 200:
                        break
                    errors.append(f"status {r.status_code}")
                except httpx.HTTPError:
                    time.sleep(0.02)
            else:
                errors.append("gave up")
                break
            sent[0] = start + BATCH
    done.set()


def test_sigkill_loses_nothing_and_doubles_nothing(tmp_path: Path) -> None:
    db = tmp_path / "crash.db"
    store = EventStore(db)
    key = store.create_key("crash")
    tenant = store.authenticate(key)
    store.close()
    assert tenant is not None
    server = Server(db)
    server.start()
    done = threading.Event()
    errors: list[str] = []
    sent = [0]
    client = threading.Thread(target=stream, args=(server.url, key, done, errors, sent))
    client.start()
    kills = 0
    try:
        for fraction in (0.2, 0.45, 0.7):  # SIGKILL at these shares of the stream
            while sent[0] < fraction * N and not done.is_set():
                time.sleep(0.002)
            server.kill()
            kills += 1
            server.start()
        client.join(timeout=120)
        assert not client.is_alive()
        assert errors == []
        stats = httpx.get(f"{server.url}/v1/stats", headers=auth(key)).json()
    finally:
        server.stop()
    assert kills >= 3
    assert stats["events"] == N
    with sqlite3.connect(db) as conn:
        rows = conn.execute(
            "SELECT count(*), count(DISTINCT event_id) FROM events WHERE tenant_id = ?",
            (tenant.tenant_id,),
        ).fetchone()
    assert rows == (N, N)
