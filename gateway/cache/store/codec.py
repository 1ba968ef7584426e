"""Byte layouts shared by the stores: an indexed vector with its query, and an entry body."""

from __future__ import annotations

import struct

import numpy as np
import orjson

from gateway.cache.store.base import Entry, Indexed, Vector

_DIM = struct.Struct("<I")


def pack_vector(query: str, vector: Vector) -> bytes:
    return _DIM.pack(vector.shape[0]) + vector.astype("<f4").tobytes() + query.encode()


def unpack_vector(key: str, blob: bytes) -> Indexed:
    (dim,) = _DIM.unpack_from(blob)
    end = _DIM.size + 4 * dim
    vector = np.frombuffer(blob[_DIM.size:end], dtype="<f4").astype(np.float32)
    return Indexed(key, blob[end:].decode(), vector)


def pack_entry(entry: Entry) -> bytes:
    return orjson.dumps({"r": entry.response, "t": entry.created, "q": entry.query})


def unpack_entry(key: str, blob: bytes) -> Entry:
    data = orjson.loads(blob)
    return Entry(key=key, response=data["r"], created=float(data["t"]), query=data.get("q"))


def stream_id(value: str) -> tuple[int, int]:
    ms, _, seq = value.partition("-")
    return int(ms), int(seq or 0)
