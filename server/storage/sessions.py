"""Players, their device logins and their sessions, in Redis."""

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
    async def player_for_device(self, device_hash: str, new_player_id: str) -> str:
        """The player id bound to a device, binding ``new_player_id`` if there is none yet.

        ``SET NX GET`` is one atomic step, so two first logins racing from the
        same device still end with one player.
        """
        previous = await self._redis.set(keys.device(device_hash), new_player_id, nx=True, get=True)
        return new_player_id if previous is None else text(previous)  # type: ignore[arg-type]

    @translate_redis_errors
    async def save_login(
        self,
        *,
        player_id: str,
        name: str,
        token_hash: str,
        now_ms: int,
        ttl_s: int,
    ) -> None:
        """Record the player's current name and open a session, in one round trip."""
        async with self._redis.pipeline(transaction=False) as pipe:
            pipe.hsetnx(keys.player(player_id), "created_ms", now_ms)
            pipe.hset(keys.player(player_id), "name", name)
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
    async def player_name(self, player_id: str) -> str:
        name = await self._redis.hget(keys.player(player_id), "name")
        return "" if name is None else text(name)

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
