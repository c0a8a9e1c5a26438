"""Typed messages between agents and the coordinator, their wire format and the audit log.

A :class:`Message` carries only named numpy arrays and scalars. On the wire it is a
4-byte big-endian header length, a JSON header (sender, receiver, kind, round and the
name, dtype and shape of each array) and the arrays' raw little-endian bytes. No
pickle is used, so decoding never executes code.
"""

from __future__ import annotations

import json
import struct
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from mixlens.data.io import write_text
from mixlens.errors import DataError

__all__ = ["AuditLog", "Bus", "Message", "decode", "encode"]

_ALLOWED_KINDS = "fiub"  # float, signed int, unsigned int, bool


@dataclass(frozen=True)
class Message:
    """One message between two parties.

    Attributes
    ----------
    sender, receiver
        Party names (an agent's name or ``"coordinator"``).
    kind
        What the payload is, e.g. ``"stats"`` or ``"admm_local"``.
    round
        Protocol round the message belongs to (0 is the setup round).
    payload
        Named arrays (any shape) of numeric dtype; scalars are stored as 0-d arrays.
    """

    sender: str
    receiver: str
    kind: str
    round: int
    payload: Mapping[str, npt.NDArray[Any]] = field(default_factory=dict)

    def __post_init__(self) -> None:
        clean: dict[str, npt.NDArray[Any]] = {}
        for name, value in self.payload.items():
            arr = np.asarray(value)
            if arr.dtype.kind not in _ALLOWED_KINDS:
                raise DataError(
                    f"message {self.kind!r} field {name!r} has dtype {arr.dtype}; "
                    "only numeric arrays may cross the wire"
                )
            clean[name] = arr
        object.__setattr__(self, "payload", clean)


def encode(message: Message) -> bytes:
    """Serialize ``message`` to bytes (header length, JSON header, raw array bytes).

    Parameters
    ----------
    message
        The message to serialize.

    Returns
    -------
    bytes
        The wire form; its length is what the audit log records.

    Examples
    --------
    >>> m = Message("a", "coordinator", "stats", 1, {"n": np.array(3.0)})
    >>> decode(encode(m)).payload["n"].item()
    3.0
    """
    arrays = []
    blobs = []
    for name, arr in message.payload.items():
        little = np.asarray(arr, dtype=arr.dtype.newbyteorder("<"))
        arrays.append([name, little.dtype.str, list(little.shape)])
        blobs.append(little.tobytes())
    header = {
        "sender": message.sender,
        "receiver": message.receiver,
        "kind": message.kind,
        "round": message.round,
        "arrays": arrays,
    }
    head = json.dumps(header, separators=(",", ":")).encode("utf-8")
    return struct.pack(">I", len(head)) + head + b"".join(blobs)


def decode(data: bytes) -> Message:
    """Parse bytes written by :func:`encode` back into a :class:`Message`.

    Parameters
    ----------
    data
        The wire form.

    Returns
    -------
    Message
        An equal message (arrays are copies).

    Examples
    --------
    >>> m = Message("a", "b", "x", 2, {"v": np.arange(3.0)})
    >>> decode(encode(m)).payload["v"].tolist()
    [0.0, 1.0, 2.0]
    """
    (n_head,) = struct.unpack(">I", data[:4])
    header = json.loads(data[4 : 4 + n_head].decode("utf-8"))
    offset = 4 + n_head
    payload: dict[str, npt.NDArray[Any]] = {}
    for name, dtype_str, shape in header["arrays"]:
        dtype = np.dtype(dtype_str)
        if dtype.kind not in _ALLOWED_KINDS:
            raise DataError(f"message field {name!r} has forbidden dtype {dtype_str}")
        count = int(np.prod(shape, dtype=np.int64))
        size = count * dtype.itemsize
        arr = np.frombuffer(data[offset : offset + size], dtype=dtype, count=count)
        payload[name] = arr.reshape(shape).copy()
        offset += size
    if offset != len(data):
        raise DataError(f"message has {len(data) - offset} trailing bytes")
    return Message(header["sender"], header["receiver"], header["kind"], header["round"], payload)


class AuditLog:
    """Record of every message: one JSON object per line with its size in bytes.

    Rows are kept in memory and written atomically by :meth:`write`.

    Examples
    --------
    >>> log = AuditLog()
    >>> log.record(Message("a", "b", "x", 1, {"v": np.zeros(2)}), 60)
    >>> log.rows[0]["bytes"], log.total_bytes()
    (60, 60)
    """

    def __init__(self) -> None:
        self.rows: list[dict[str, Any]] = []

    def record(self, message: Message, n_bytes: int) -> None:
        """Append one message's ``round, sender, receiver, kind, bytes``."""
        self.rows.append(
            {
                "round": message.round,
                "sender": message.sender,
                "receiver": message.receiver,
                "kind": message.kind,
                "bytes": n_bytes,
            }
        )

    def total_bytes(self) -> int:
        """Bytes of every message recorded so far."""
        return sum(int(row["bytes"]) for row in self.rows)

    def bytes_by_round(self) -> dict[int, int]:
        """Bytes sent per round, ``{round: bytes}``."""
        out: dict[int, int] = {}
        for row in self.rows:
            out[int(row["round"])] = out.get(int(row["round"]), 0) + int(row["bytes"])
        return out

    def write(self, path: str | Path) -> Path:
        """Write ``audit.jsonl`` atomically (one JSON object per line)."""
        text = "".join(json.dumps(row, sort_keys=True) + "\n" for row in self.rows)
        return write_text(text, path)


class Bus:
    """In-process transport: every message is encoded, audited and decoded.

    What a receiver gets is exactly what was parsed from the wire bytes, so nothing
    that is not in a :class:`Message` can leak between parties.

    Examples
    --------
    >>> bus = Bus()
    >>> got = bus.send(Message("a", "coordinator", "x", 1, {"v": np.ones(2)}))
    >>> got.payload["v"].tolist(), bus.audit.total_bytes() > 0
    ([1.0, 1.0], True)
    """

    def __init__(self, audit: AuditLog | None = None) -> None:
        self.audit = audit if audit is not None else AuditLog()

    def send(self, message: Message) -> Message:
        """Encode ``message``, record its size and return what the receiver decodes."""
        data = encode(message)
        self.audit.record(message, len(data))
        return decode(data)
