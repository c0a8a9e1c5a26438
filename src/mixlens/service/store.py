"""The service's durable event store: SQLite in WAL mode (stdlib ``sqlite3``).

Durability. The database runs in WAL mode with ``synchronous=FULL``: every committed batch is
fsynced to the write-ahead log before :meth:`EventStore.insert_events` returns, so an
acknowledged batch survives a process crash (SIGKILL) *and* a power loss. ``NORMAL`` would only
survive a process crash (the last transactions may roll back on power loss), which breaks the
promise "acknowledged means durable"; the cost of ``FULL`` is one fsync per batch, which
batching amortises (see ``benchmarks/RESULTS.md``).

Idempotency. ``events`` is unique per ``(tenant_id, event_id)`` and batches are written with
``INSERT OR IGNORE`` in one transaction: a retried batch (or an event repeated within a batch)
is counted as a duplicate and stored once; the first write of an id wins.

Keys. An API key is ``mlk_<key_id>_<secret>`` with a 256-bit random secret. Only
``sha256(salt || secret)`` with a 16-byte per-key salt is stored; the key itself is returned
once. A slow KDF (scrypt) protects guessable passwords; a 256-bit random secret cannot be
guessed, and a slow hash would cost tens of milliseconds on every request.

Tenancy. Every read and write takes the tenant id, and every query filters on it.

Examples
--------
>>> store = EventStore(":memory:")
>>> key = store.create_key("acme")
>>> store.authenticate(key).tenant
'acme'
>>> row = EventRow("e1", "touchpoint", "u1", 0, "tv", None, None, None)
>>> store.insert_events(store.authenticate(key).tenant_id, [row, row])
(1, 1)
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
import sqlite3
import threading
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import NamedTuple

__all__ = ["Conversion", "EventRow", "EventStore", "Principal", "Touch"]

_SCHEMA = """
CREATE TABLE IF NOT EXISTS tenants (
    id INTEGER PRIMARY KEY, name TEXT NOT NULL UNIQUE, created_us INTEGER NOT NULL);
CREATE TABLE IF NOT EXISTS api_keys (
    key_id TEXT PRIMARY KEY, tenant_id INTEGER NOT NULL REFERENCES tenants(id),
    salt BLOB NOT NULL, digest BLOB NOT NULL, created_us INTEGER NOT NULL);
CREATE TABLE IF NOT EXISTS events (
    seq INTEGER PRIMARY KEY, tenant_id INTEGER NOT NULL, event_id TEXT NOT NULL,
    type TEXT NOT NULL, user_id TEXT NOT NULL, ts_us INTEGER NOT NULL,
    channel TEXT, campaign TEXT, cost REAL, value REAL,
    UNIQUE (tenant_id, event_id));
CREATE INDEX IF NOT EXISTS events_user_type ON events (tenant_id, user_id, type, ts_us);
CREATE INDEX IF NOT EXISTS events_type ON events (tenant_id, type, ts_us);
CREATE TABLE IF NOT EXISTS counts (
    tenant_id INTEGER NOT NULL, type TEXT NOT NULL, n INTEGER NOT NULL,
    PRIMARY KEY (tenant_id, type));
CREATE TABLE IF NOT EXISTS models (tenant_id INTEGER PRIMARY KEY, spec TEXT NOT NULL);
"""

_INSERT = (
    "INSERT OR IGNORE INTO events "
    "(tenant_id, event_id, type, user_id, ts_us, channel, campaign, cost, value) "
    "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)"
)
_COUNT = (
    "INSERT INTO counts (tenant_id, type, n) VALUES (?, ?, ?) "
    "ON CONFLICT (tenant_id, type) DO UPDATE SET n = n + excluded.n"
)
_KEY_PREFIX = "mlk"


class EventRow(NamedTuple):
    """One event as stored (timestamps in microseconds since the Unix epoch, UTC)."""

    event_id: str
    type: str
    user_id: str
    ts_us: int
    channel: str | None
    campaign: str | None
    cost: float | None
    value: float | None


class Touch(NamedTuple):
    """One touch of a conversion's path."""

    event_id: str
    channel: str
    ts_us: int


class Conversion(NamedTuple):
    """One stored conversion (``value`` is None when the event had none)."""

    event_id: str
    user_id: str
    ts_us: int
    value: float | None
    seq: int


@dataclass(frozen=True)
class Principal:
    """Who a valid API key belongs to."""

    tenant_id: int
    tenant: str
    key_id: str


def _now_us() -> int:
    return time.time_ns() // 1000


def _digest(salt: bytes, secret: str) -> bytes:
    return hashlib.sha256(salt + secret.encode()).digest()


class EventStore:
    """Tenants, hashed API keys, events and per-tenant models in one SQLite file.

    Thread-safe: writes go through one connection under a lock; reads use one connection per
    thread (WAL lets them run beside the writer).

    Parameters
    ----------
    path
        Database file (created if absent), or ``":memory:"`` for tests (one connection).
    """

    def __init__(self, path: str | Path) -> None:
        self.file = str(path)
        self._memory = self.file == ":memory:"
        self._lock = threading.Lock()
        self._queue_lock = threading.Lock()
        self._local = threading.local()
        self._keys: dict[str, tuple[bytes, bytes, Principal]] = {}
        self.pending_writes = 0
        """Batches waiting for or holding the writer (the ingest queue depth)."""
        if not self._memory:
            Path(self.file).parent.mkdir(parents=True, exist_ok=True)
        self._writer = self._connect()
        with self._lock:
            self._writer.executescript(_SCHEMA)

    def _connect(self) -> sqlite3.Connection:
        conn = sqlite3.connect(
            self.file, isolation_level=None, check_same_thread=False, timeout=30.0
        )
        if not self._memory:
            conn.execute("PRAGMA journal_mode=WAL")
        conn.execute("PRAGMA synchronous=FULL")
        conn.execute("PRAGMA busy_timeout=30000")
        return conn

    def _reader(self) -> sqlite3.Connection:
        if self._memory:
            return self._writer
        conn: sqlite3.Connection | None = getattr(self._local, "conn", None)
        if conn is None:
            conn = self._connect()
            conn.execute("PRAGMA query_only=1")
            self._local.conn = conn
        return conn

    def _read(self, sql: str, params: Sequence[object]) -> list[tuple[object, ...]]:
        if self._memory:
            with self._lock:
                return self._writer.execute(sql, params).fetchall()
        return self._reader().execute(sql, params).fetchall()

    # -- tenants and keys -------------------------------------------------------------------

    def create_key(self, tenant: str) -> str:
        """Create ``tenant`` if needed and return a new API key for it (shown only once)."""
        key_id = secrets.token_hex(6)
        secret = secrets.token_urlsafe(32)
        salt = secrets.token_bytes(16)
        with self._lock:
            self._writer.execute("BEGIN IMMEDIATE")
            try:
                self._writer.execute(
                    "INSERT OR IGNORE INTO tenants (name, created_us) VALUES (?, ?)",
                    (tenant, _now_us()),
                )
                (tenant_id,) = self._writer.execute(
                    "SELECT id FROM tenants WHERE name = ?", (tenant,)
                ).fetchone()
                self._writer.execute(
                    "INSERT INTO api_keys VALUES (?, ?, ?, ?, ?)",
                    (key_id, tenant_id, salt, _digest(salt, secret), _now_us()),
                )
                self._writer.execute("COMMIT")
            except BaseException:
                self._writer.execute("ROLLBACK")
                raise
        return f"{_KEY_PREFIX}_{key_id}_{secret}"

    def authenticate(self, key: str) -> Principal | None:
        """Return the key's principal, or None for a malformed, unknown or wrong key."""
        prefix, _, rest = key.partition("_")
        key_id, _, secret = rest.partition("_")
        if prefix != _KEY_PREFIX or not key_id or not secret:
            return None
        entry = self._keys.get(key_id)
        if entry is None:
            rows = self._read(
                "SELECT k.salt, k.digest, t.id, t.name FROM api_keys k "
                "JOIN tenants t ON t.id = k.tenant_id WHERE k.key_id = ?",
                (key_id,),
            )
            if not rows:
                return None
            salt, digest, tenant_id, name = rows[0]
            assert isinstance(salt, bytes) and isinstance(digest, bytes)
            entry = (salt, digest, Principal(int(str(tenant_id)), str(name), key_id))
            self._keys[key_id] = entry
        salt, digest, principal = entry
        return principal if hmac.compare_digest(_digest(salt, secret), digest) else None

    def tenant_id(self, tenant: str) -> int:
        """Return the id of ``tenant``, creating the tenant if new."""
        with self._lock:
            self._writer.execute(
                "INSERT OR IGNORE INTO tenants (name, created_us) VALUES (?, ?)",
                (tenant, _now_us()),
            )
            (tenant_id,) = self._writer.execute(
                "SELECT id FROM tenants WHERE name = ?", (tenant,)
            ).fetchone()
        return int(tenant_id)

    def tenants(self) -> list[tuple[int, str]]:
        """All tenants as ``(id, name)``."""
        return [(int(str(i)), str(n)) for i, n in self._read("SELECT id, name FROM tenants", ())]

    # -- events -----------------------------------------------------------------------------

    def insert_events(self, tenant_id: int, rows: Sequence[EventRow]) -> tuple[int, int]:
        """Write a batch durably in one transaction; return ``(accepted, duplicates)``.

        Returns only after the commit (fsynced, see the module notes).
        """
        by_type: dict[str, list[tuple[object, ...]]] = {}
        for r in rows:
            by_type.setdefault(r.type, []).append((tenant_id, *r))
        with self._queue_lock:
            self.pending_writes += 1
        try:
            with self._lock:
                conn = self._writer
                conn.execute("BEGIN IMMEDIATE")
                try:
                    accepted = 0
                    for kind, params in by_type.items():
                        before = conn.total_changes
                        conn.executemany(_INSERT, params)
                        added = conn.total_changes - before
                        if added:
                            conn.execute(_COUNT, (tenant_id, kind, added))
                        accepted += added
                    conn.execute("COMMIT")
                except BaseException:
                    conn.execute("ROLLBACK")
                    raise
        finally:
            with self._queue_lock:
                self.pending_writes -= 1
        return accepted, len(rows) - accepted

    def counts(self, tenant_id: int) -> dict[str, int]:
        """Return the tenant's stored events per type (``touchpoint``, ``conversion``)."""
        rows = self._read("SELECT type, n FROM counts WHERE tenant_id = ?", (tenant_id,))
        return {str(t): int(str(n)) for t, n in rows}

    def conversion(self, tenant_id: int, event_id: str) -> Conversion | None:
        """Return the tenant's conversion ``event_id`` (None if absent, not its, or a touch)."""
        rows = self._read(
            "SELECT event_id, user_id, ts_us, value, seq FROM events "
            "WHERE tenant_id = ? AND event_id = ? AND type = 'conversion'",
            (tenant_id, event_id),
        )
        return Conversion(*rows[0]) if rows else None  # type: ignore[arg-type]

    def path(self, tenant_id: int, conv: Conversion, lookback_us: int) -> list[Touch]:
        """Touches of the conversion's journey, in time order.

        The user's touches after their previous conversion and at most ``lookback_us`` before
        this one; a touch at the conversion's instant precedes it; of two conversions at one
        instant the earlier stored takes the touches (as :func:`mixlens.mta.build_journeys`).
        """
        prev = self._read(
            "SELECT ts_us FROM events WHERE tenant_id = ? AND user_id = ? "
            "AND type = 'conversion' AND (ts_us < ? OR (ts_us = ? AND seq < ?)) "
            "ORDER BY ts_us DESC, seq DESC LIMIT 1",
            (tenant_id, conv.user_id, conv.ts_us, conv.ts_us, conv.seq),
        )
        low = conv.ts_us - lookback_us
        if prev:
            low = max(low, int(str(prev[0][0])) + 1)
        rows = self._read(
            "SELECT event_id, channel, ts_us FROM events WHERE tenant_id = ? AND user_id = ? "
            "AND ts_us >= ? AND ts_us <= ? AND type = 'touchpoint' ORDER BY ts_us, seq",
            (tenant_id, conv.user_id, low, conv.ts_us),
        )
        return [Touch(*r) for r in rows]  # type: ignore[arg-type]

    def journeys(
        self, tenant_id: int, start_us: int, end_us: int, lookback_us: int
    ) -> Iterator[tuple[Conversion, list[Touch]]]:
        """Every conversion in ``[start_us, end_us)`` with its path (same rules as :meth:`path`).

        One query reads the window's converting users' events from ``start_us - lookback_us``.
        """
        rows = self._read(
            "SELECT user_id, ts_us, type, seq, event_id, channel, value FROM events "
            "WHERE tenant_id = ? AND ts_us >= ? AND ts_us < ? AND user_id IN ("
            "  SELECT DISTINCT user_id FROM events WHERE tenant_id = ? AND type = 'conversion'"
            "  AND ts_us >= ? AND ts_us < ?) "
            "ORDER BY user_id, ts_us, type = 'conversion', seq",
            (tenant_id, start_us - lookback_us, end_us, tenant_id, start_us, end_us),
        )
        user: object = None
        pending: list[Touch] = []
        for user_id, ts, kind, seq, event_id, channel, value in rows:
            if user_id != user:
                user, pending = user_id, []
            ts_us = int(str(ts))
            if kind == "touchpoint":
                pending.append(Touch(str(event_id), str(channel), ts_us))
                continue
            if ts_us >= start_us:
                path = [t for t in pending if t.ts_us >= ts_us - lookback_us]
                conv_value = None if value is None else float(str(value))
                yield (
                    Conversion(str(event_id), str(user_id), ts_us, conv_value, int(str(seq))),
                    path,
                )
            pending = []

    def recent_conversions(self, tenant_id: int, limit: int) -> list[Conversion]:
        """Return the tenant's ``limit`` latest conversions by timestamp, newest first."""
        rows = self._read(
            "SELECT event_id, user_id, ts_us, value, seq FROM events "
            "WHERE tenant_id = ? AND type = 'conversion' ORDER BY ts_us DESC, seq DESC LIMIT ?",
            (tenant_id, limit),
        )
        return [Conversion(*r) for r in rows]  # type: ignore[arg-type]

    # -- models -----------------------------------------------------------------------------

    def save_model(self, tenant_id: int, spec: str) -> None:
        """Store the tenant's model spec (JSON text), replacing the previous one."""
        with self._lock:
            self._writer.execute(
                "INSERT INTO models (tenant_id, spec) VALUES (?, ?) "
                "ON CONFLICT (tenant_id) DO UPDATE SET spec = excluded.spec",
                (tenant_id, spec),
            )

    def models(self) -> dict[int, str]:
        """Every tenant's stored model spec."""
        return {
            int(str(t)): str(s) for t, s in self._read("SELECT tenant_id, spec FROM models", ())
        }

    def close(self) -> None:
        """Close the writer connection (reader connections close with their threads)."""
        with self._lock:
            self._writer.close()
