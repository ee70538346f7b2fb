"""Who is online, which socket holds each player, and which nodes are alive."""

from __future__ import annotations

from redis.asyncio import Redis

from server.storage import keys
from server.storage.connection import text, translate_redis_errors
from server.storage.scripts import Scripts
from server.storage.socket_commands import SocketRef

HEARTBEAT_CHUNK = 1000  # keys per script call, so one call never blocks Redis for long


class PresenceStore:
    def __init__(self, redis: Redis, scripts: Scripts) -> None:
        self._redis = redis
        self._scripts = scripts

    @translate_redis_errors
    async def claim_live_socket(
        self, player_id: str, ref: SocketRef, *, until_ms: int
    ) -> SocketRef | None:
        """Make ``ref`` the player's live socket and count them online until ``until_ms``.

        Returns the socket it displaced, if any, so the caller can end it.
        """
        async with self._redis.pipeline(transaction=False) as pipe:
            pipe.set(keys.live_socket(player_id), ref.encode(), pxat=until_ms, get=True)
            pipe.zadd(keys.presence(), {player_id: until_ms})
            previous, _ = await pipe.execute()
        return None if previous is None else SocketRef.decode(text(previous))

    @translate_redis_errors
    async def release_live_socket(self, player_id: str, ref: SocketRef) -> bool:
        """Forget the live socket and mark the player offline, unless a newer socket holds them."""
        released = await self._scripts.release_live_socket(
            keys=[keys.live_socket(player_id), keys.presence()], args=[ref.encode(), player_id]
        )
        return bool(released)

    @translate_redis_errors
    async def live_socket(self, player_id: str) -> SocketRef | None:
        raw = await self._redis.get(keys.live_socket(player_id))
        return None if raw is None else SocketRef.decode(text(raw))

    @translate_redis_errors
    async def live_sockets(self, player_ids: list[str]) -> list[SocketRef | None]:
        if not player_ids:
            return []
        raws = await self._redis.mget([keys.live_socket(p) for p in player_ids])
        return [None if raw is None else SocketRef.decode(text(raw)) for raw in raws]

    @translate_redis_errors
    async def heartbeat(
        self, node_id: str, sockets: dict[str, SocketRef], now_ms: int, until_ms: int
    ) -> None:
        """Keep this node, its players and their claims counted until ``until_ms``."""
        ttl_ms = until_ms - now_ms
        players = list(sockets)
        async with self._redis.pipeline(transaction=False) as pipe:
            pipe.zadd(keys.nodes(), {node_id: until_ms})
            for start in range(0, len(players), HEARTBEAT_CHUNK):
                chunk = players[start : start + HEARTBEAT_CHUNK]
                await self._scripts.refresh_live_sockets(
                    keys=[keys.live_socket(p) for p in chunk],
                    args=[ttl_ms, *(sockets[p].encode() for p in chunk)],
                    client=pipe,
                )
                pipe.zadd(keys.presence(), dict.fromkeys(chunk, until_ms))
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
