"""Keys created through the admin API, in Redis, by digest:

    {prefix}:auth:d:<digest>   the key's record (JSON): id, grant, hint, times — what `authenticate` reads
    {prefix}:auth:id:<id>      the digest of key <id>
    {prefix}:auth:ids          every key id
"""

from __future__ import annotations

from dataclasses import dataclass

import orjson
from redis.asyncio import Redis

from gateway.auth.policy import KeyGrant


def _text(value: bytes | str) -> str:
    return value.decode() if isinstance(value, bytes) else value


@dataclass(frozen=True, slots=True)
class KeyRecord:
    id: str
    grant: KeyGrant
    hint: str
    created_at: float
    name: str = ""
    rotated_at: float | None = None

    def to_json(self) -> bytes:
        return orjson.dumps({"id": self.id, "name": self.name, "grant": self.grant.model_dump(mode="json"),
                             "hint": self.hint, "created_at": self.created_at, "rotated_at": self.rotated_at})

    @classmethod
    def from_json(cls, raw: bytes | str) -> KeyRecord:
        data = orjson.loads(raw)
        return cls(id=data["id"], name=data.get("name", ""), grant=KeyGrant.model_validate(data["grant"]),
                   hint=data["hint"], created_at=data["created_at"], rotated_at=data.get("rotated_at"))

    def public(self) -> dict[str, object]:
        """What the admin API shows: never the key nor its digest."""
        return {"id": self.id, "name": self.name, "hint": self.hint, "created_at": self.created_at,
                "rotated_at": self.rotated_at, **self.grant.model_dump(mode="json")}


class RedisKeyRecords:
    def __init__(self, *, redis: Redis, prefix: str) -> None:
        self._redis = redis
        self._p = f"{prefix}:auth"

    async def by_digest(self, digest: str) -> KeyRecord | None:
        raw = await self._redis.get(f"{self._p}:d:{digest}")
        return KeyRecord.from_json(raw) if raw is not None else None

    async def put(self, record: KeyRecord, digest: str, *, replaces: str | None = None) -> None:
        """Store `record` under `digest`; with `replaces`, the old digest stops working in the same step."""
        async with self._redis.pipeline(transaction=True) as pipe:
            if replaces is not None:
                pipe.delete(f"{self._p}:d:{replaces}")
            pipe.set(f"{self._p}:d:{digest}", record.to_json())
            pipe.set(f"{self._p}:id:{record.id}", digest)
            pipe.sadd(f"{self._p}:ids", record.id)
            await pipe.execute()

    async def get(self, key_id: str) -> tuple[KeyRecord, str] | None:
        digest = await self._redis.get(f"{self._p}:id:{key_id}")
        if digest is None:
            return None
        record = await self.by_digest(_text(digest))
        return (record, _text(digest)) if record is not None else None

    async def delete(self, key_id: str) -> bool:
        found = await self.get(key_id)
        if found is None:
            return False
        async with self._redis.pipeline(transaction=True) as pipe:
            pipe.delete(f"{self._p}:d:{found[1]}", f"{self._p}:id:{key_id}")
            pipe.srem(f"{self._p}:ids", key_id)
            await pipe.execute()
        return True

    async def all(self) -> list[KeyRecord]:
        ids = sorted(_text(i) for i in await self._redis.smembers(f"{self._p}:ids"))
        if not ids:
            return []
        digests = await self._redis.mget([f"{self._p}:id:{i}" for i in ids])
        keys = [f"{self._p}:d:{_text(d)}" for d in digests if d is not None]
        raws = await self._redis.mget(keys) if keys else []
        return [KeyRecord.from_json(r) for r in raws if r is not None]
