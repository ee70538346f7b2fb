"""Who is online, which socket holds each player, and which nodes are alive."""

from __future__ import annotations

from redis.asyncio import Redis

from server.storage import keys
from server.storage.connection import text, translate_redis_errors
from server.storage.scripts import Scripts


class PresenceStore:
    def __init__(self, redis: Redis, scripts: Scripts) -> None:
        self._redis = redis
        self._scripts = scripts

    @translate_redis_errors
    async def claim_live_socket(
        self, player_id: str, socket_ref: str, online_until_ms: int, ttl_s: int
    ) -> str | None:
        """Make ``socket_ref`` the player's live socket and count them online.

        Returns the socket it displaced, if any, so the caller can close it.
        """
        async with self._redis.pipeline(transaction=False) as pipe:
            pipe.set(keys.live_socket(player_id), socket_ref, ex=ttl_s, get=True)
            pipe.zadd(keys.presence(), {player_id: online_until_ms})
            previous, _ = await pipe.execute()
        return None if previous is None else text(previous)

    @translate_redis_errors
    async def release_live_socket(self, player_id: str, socket_ref: str) -> bool:
        """Forget the live socket and mark the player offline, unless a newer socket holds them."""
        released = await self._scripts.release_live_socket(
            keys=[keys.live_socket(player_id)], args=[socket_ref]
        )
        if released:
            # A socket claimed between the script and this ZREM is re-counted by
            # its node's next heartbeat; the gap is at most one presence interval.
            await self._redis.zrem(keys.presence(), player_id)
        return bool(released)

    @translate_redis_errors
    async def live_socket(self, player_id: str) -> str | None:
        ref = await self._redis.get(keys.live_socket(player_id))
        return None if ref is None else text(ref)

    @translate_redis_errors
    async def heartbeat(
        self, node_id: str, player_ids: list[str], now_ms: int, until_ms: int
    ) -> None:
        """Keep this node and its players counted for another TTL; drop the expired."""
        async with self._redis.pipeline(transaction=False) as pipe:
            pipe.zadd(keys.nodes(), {node_id: until_ms})
            if player_ids:
                pipe.zadd(keys.presence(), dict.fromkeys(player_ids, until_ms))
            pipe.zremrangebyscore(keys.presence(), "-inf", now_ms)
            pipe.zremrangebyscore(keys.nodes(), "-inf", now_ms)
            await pipe.execute()

    @translate_redis_errors
    async def leave_node(self, node_id: str) -> None:
        await self._redis.zrem(keys.nodes(), node_id)

    @translate_redis_errors
    async def online_count(self, now_ms: int) -> int:
        return int(await self._redis.zcount(keys.presence(), f"({now_ms}", "+inf"))

    @translate_redis_errors
    async def online(self, player_ids: list[str], now_ms: int) -> tuple[int, list[bool]]:
        """The online count and each given player's status, in one round trip."""
        async with self._redis.pipeline(transaction=False) as pipe:
            pipe.zcount(keys.presence(), f"({now_ms}", "+inf")
            if player_ids:
                pipe.zmscore(keys.presence(), player_ids)
            results = await pipe.execute()
        scores = results[1] if player_ids else []
        return int(results[0]), [score is not None and score > now_ms for score in scores]

    @translate_redis_errors
    async def nodes_alive(self, now_ms: int) -> int:
        return int(await self._redis.zcount(keys.nodes(), f"({now_ms}", "+inf"))
