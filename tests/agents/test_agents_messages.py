from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from mixlens.agents import AuditLog, Bus, Message, decode, encode
from mixlens.errors import DataError


def test_roundtrip_keeps_arrays_scalars_and_header() -> None:
    m = Message("a", "b", "stats", 3, {"m": np.arange(6.0).reshape(2, 3), "n": np.array(5)})
    got = decode(encode(m))
    assert (got.sender, got.receiver, got.kind, got.round) == ("a", "b", "stats", 3)
    np.testing.assert_array_equal(got.payload["m"], m.payload["m"])
    assert got.payload["n"].shape == () and got.payload["n"].item() == 5


def test_non_numeric_payload_is_refused() -> None:
    with pytest.raises(DataError, match="numeric"):
        Message("a", "b", "x", 1, {"rows": np.array(["secret"])})
    with pytest.raises(DataError, match="numeric"):
        Message("a", "b", "x", 1, {"obj": np.array([{"a": 1}], dtype=object)})


def test_trailing_bytes_are_refused() -> None:
    with pytest.raises(DataError, match="trailing"):
        decode(encode(Message("a", "b", "x", 1, {"v": np.ones(2)})) + b"\x00")


def test_size_depends_only_on_shapes() -> None:
    a = encode(Message("a", "b", "x", 1, {"v": np.zeros(4)}))
    b = encode(Message("a", "b", "x", 1, {"v": np.full(4, 1e300)}))
    assert len(a) == len(b)


def test_bus_audits_every_message_and_writes_jsonl(tmp_path: Path) -> None:
    bus = Bus()
    for r in range(3):
        bus.send(Message("a", "coordinator", "x", r, {"v": np.ones(r + 1)}))
    path = bus.audit.write(tmp_path / "audit.jsonl")
    rows = [json.loads(line) for line in path.read_text().splitlines()]
    assert [r["round"] for r in rows] == [0, 1, 2]
    assert set(rows[0]) == {"round", "sender", "receiver", "kind", "bytes"}
    assert sum(r["bytes"] for r in rows) == bus.audit.total_bytes()
    assert bus.audit.bytes_by_round()[2] == rows[2]["bytes"]
    assert not list(tmp_path.glob("*.tmp"))


def test_empty_audit_log_writes_empty_file(tmp_path: Path) -> None:
    assert AuditLog().write(tmp_path / "a.jsonl").read_text() == ""
