"""Sessions: one hash per token (hashed), with a sliding TTL."""

from __future__ import annotations

from dataclasses import dataclass

from redis.asyncio import Redis

from server.storage import keys
from server.storage.connection import text, translate_redis_errors


@dataclass(frozen=True, slots=True)
class StoredSession:
    player_id: str
    created_ms: int
    ttl_ms: int


class SessionStore:
    def __init__(self, redis: Redis) -> None:
        self._redis = redis

    @translate_redis_errors
    async def open_session(
        self, *, player_id: str, token_hash: str, now_ms: int, ttl_s: int
    ) -> None:
        # MULTI/EXEC: a session must never exist without its expiry.
        async with self._redis.pipeline(transaction=True) as pipe:
            pipe.hset(
                keys.session(token_hash),
                mapping={"player_id": player_id, "created_ms": now_ms},
            )
            pipe.expire(keys.session(token_hash), ttl_s)
            await pipe.execute()

    @translate_redis_errors
    async def read_session(self, token_hash: str) -> StoredSession | None:
        async with self._redis.pipeline(transaction=False) as pipe:
            pipe.hmget(keys.session(token_hash), "player_id", "created_ms")
            pipe.pttl(keys.session(token_hash))
            (player_id, created_ms), ttl_ms = await pipe.execute()
        if player_id is None or ttl_ms < 0:
            return None
        return StoredSession(text(player_id), int(created_ms or 0), int(ttl_ms))

    @translate_redis_errors
    async def touch_sessions(self, token_hashes: list[str], ttl_s: int) -> list[bool]:
        """Slide each session's expiry; False where the session is already gone."""
        if not token_hashes:
            return []
        async with self._redis.pipeline(transaction=False) as pipe:
            for token_hash in token_hashes:
                pipe.expire(keys.session(token_hash), ttl_s, xx=False)
            return [bool(alive) for alive in await pipe.execute()]

    @translate_redis_errors
    async def delete_session(self, token_hash: str) -> bool:
        return bool(await self._redis.delete(keys.session(token_hash)))
