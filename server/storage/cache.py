"""Cache entries in Redis: fresh and stale copies, a rebuild lock, and shared counters."""

from __future__ import annotations

from dataclasses import dataclass

from redis.asyncio import Redis

from server.storage import keys
from server.storage.connection import text, translate_redis_errors
from server.storage.scripts import Scripts


@dataclass(frozen=True, slots=True)
class Lookup:
    """``status`` is hit, rebuild (you hold the lock), stale (value is the old copy) or wait."""

    status: str
    value: bytes | None


class CacheStore:
    def __init__(self, redis: Redis, scripts: Scripts) -> None:
        self._redis = redis
        self._scripts = scripts

    @translate_redis_errors
    async def lookup(self, cache: str, item: str, token: str, lock_ttl_ms: int) -> Lookup:
        reply = await self._scripts.cache_lookup(
            keys=[
                keys.cache_entry(cache, item),
                keys.cache_stale(cache, item),
                keys.cache_lock(cache, item),
            ],
            args=[token, lock_ttl_ms],
        )
        return Lookup(text(reply[0]), reply[1] if len(reply) > 1 else None)

    @translate_redis_errors
    async def fill(
        self, cache: str, item: str, value: bytes, *, ttl_ms: int, stale_ttl_ms: int, token: str
    ) -> None:
        await self._scripts.cache_fill(
            keys=[
                keys.cache_entry(cache, item),
                keys.cache_stale(cache, item),
                keys.cache_lock(cache, item),
            ],
            args=[value, ttl_ms, stale_ttl_ms, token],
        )

    @translate_redis_errors
    async def fresh(self, cache: str, item: str) -> bytes | None:
        value = await self._redis.get(keys.cache_entry(cache, item))
        return value if isinstance(value, bytes) or value is None else value.encode()

    @translate_redis_errors
    async def invalidate(self, cache: str, item: str) -> None:
        await self._redis.delete(keys.cache_entry(cache, item), keys.cache_stale(cache, item))

    @translate_redis_errors
    async def add_counts(self, counts: dict[str, dict[str, int]]) -> None:
        """Add each cache's counter deltas to the totals shared by every node."""
        async with self._redis.pipeline(transaction=False) as pipe:
            for cache, fields in counts.items():
                for field, delta in fields.items():
                    if delta:
                        pipe.hincrby(keys.cache_stats(cache), field, delta)
            await pipe.execute()

    @translate_redis_errors
    async def counts(self, caches: list[str]) -> dict[str, dict[str, int]]:
        async with self._redis.pipeline(transaction=False) as pipe:
            for cache in caches:
                pipe.hgetall(keys.cache_stats(cache))
            replies = await pipe.execute()
        return {
            cache: {text(k): int(v) for k, v in reply.items()}
            for cache, reply in zip(caches, replies, strict=True)
        }
