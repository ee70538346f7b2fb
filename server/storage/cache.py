"""Cache entries in Redis: fresh and stale copies, a rebuild lock, and shared counters."""

from __future__ import annotations

from dataclasses import dataclass

from server.storage import keys
from server.storage.connection import pairs, text, translate_redis_errors
from server.storage.mux import Commands
from server.storage.scripts import Scripts


@dataclass(frozen=True, slots=True)
class Lookup:
    """``status`` is hit, rebuild (you hold the lock), stale (value is the old copy) or wait."""

    status: str
    value: bytes | None


class CacheStore:
    def __init__(self, mux: Commands, scripts: Scripts) -> None:
        self._mux = mux
        self._scripts = scripts

    @translate_redis_errors
    async def lookup(
        self, cache: str, item: str, token: str, lock_ttl_ms: int, max_stale_ms: int
    ) -> Lookup:
        reply = await self._scripts.cache_lookup(
            keys=[
                keys.cache_entry(cache, item),
                keys.cache_stale(cache, item),
                keys.cache_lock(cache, item),
            ],
            args=[token, lock_ttl_ms, max_stale_ms],
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
    async def unlock(self, cache: str, item: str, token: str) -> None:
        await self._scripts.delete_if_equal(keys=[keys.cache_lock(cache, item)], args=[token])

    @translate_redis_errors
    async def fresh(self, cache: str, item: str) -> bytes | None:
        value: bytes | None = await self._mux.execute("GET", keys.cache_entry(cache, item))
        return value

    @translate_redis_errors
    async def invalidate(self, cache: str, item: str) -> None:
        """Drop both copies and any rebuild under way (its result may predate the change)."""
        await self._mux.execute(
            "DEL",
            keys.cache_entry(cache, item),
            keys.cache_stale(cache, item),
            keys.cache_lock(cache, item),
        )

    @translate_redis_errors
    async def add_counts(self, counts: dict[str, dict[str, int]]) -> None:
        """Add each cache's counter deltas to the totals shared by every node."""
        commands = [
            ("HINCRBY", keys.cache_stats(cache), field, delta)
            for cache, fields in counts.items()
            for field, delta in fields.items()
            if delta
        ]
        if commands:
            await self._mux.pipeline(*commands)

    @translate_redis_errors
    async def counts(self, caches: list[str]) -> dict[str, dict[str, int]]:
        replies = await self._mux.pipeline(*(("HGETALL", keys.cache_stats(c)) for c in caches))
        return {
            cache: {k: int(v) for k, v in pairs(reply).items()}
            for cache, reply in zip(caches, replies, strict=True)
        }
