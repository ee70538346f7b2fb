"""Players: which device logs in as whom, and each player's profile."""

from __future__ import annotations

from redis.asyncio import Redis

from server.storage import keys
from server.storage.connection import text, translate_redis_errors


class PlayerStore:
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
    async def set_name(self, player_id: str, name: str, now_ms: int) -> str | None:
        """Set the player's name (making the profile if new); returns the previous name."""
        async with self._redis.pipeline(transaction=False) as pipe:
            pipe.hsetnx(keys.player(player_id), "created_ms", now_ms)
            pipe.hget(keys.player(player_id), "name")
            pipe.hset(keys.player(player_id), "name", name)
            _, previous, _ = await pipe.execute()
        return None if previous is None else text(previous)

    @translate_redis_errors
    async def profile(self, player_id: str) -> dict[str, str] | None:
        fields = await self._redis.hgetall(keys.player(player_id))
        if not fields:
            return None
        return {text(k): text(v) for k, v in fields.items()}
