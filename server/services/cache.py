"""Cache-aside reads through Redis, for hot pages and objects.

``ReadThroughCache.get(item, build)`` serves a cached value while it is fresh
(``ttl``). When it is not, exactly one reader across all nodes rebuilds it
(a short Redis lock); the others take the previous copy if there is one, or
wait briefly for the rebuild. Within one process, concurrent readers of the same
item share one lookup. Values are bytes, so a cached page can be sent as stored.
A value is never older than ``ttl`` plus the rebuild lock's TTL (1 s).

Counters (hits, misses = rebuilds, stale, waits) are kept per process and added
to Redis totals by ``flush``, so the stats cost no round trip on the read path.
"""

from __future__ import annotations

import asyncio
import contextlib
import secrets
from collections import Counter
from collections.abc import Awaitable, Callable

from server.errors import ArenaError, Unavailable
from server.storage.cache import CacheStore

Build = Callable[[], Awaitable[bytes]]

FIELDS = ("hits", "misses", "stale", "waits")


class ReadThroughCache:
    # A rebuild lock outlives any sane rebuild; a rebuilder that dies frees it by expiry.
    LOCK_TTL_MS = 1000

    def __init__(
        self,
        name: str,
        store: CacheStore,
        *,
        ttl_s: float,
        wait_s: float | None = None,
    ) -> None:
        self.name = name
        self._store = store
        self._ttl_ms = max(1, int(ttl_s * 1000))
        # The previous copy is kept long, so a busy item always has one to serve while
        # someone rebuilds it; but it is served only while it is at most TTL + LOCK_TTL
        # old (its build time is stored with it), so no reader gets anything older.
        self._stale_ttl_ms = max(30_000, 10 * self._ttl_ms)
        self._max_stale_ms = self._ttl_ms + self.LOCK_TTL_MS
        self._wait_s = wait_s if wait_s is not None else min(0.5, max(0.05, ttl_s))
        self._inflight: dict[str, asyncio.Future[bytes]] = {}
        self.counts: Counter[str] = Counter()

    async def get(self, item: str, build: Build) -> bytes:
        pending = self._inflight.get(item)
        if pending is not None:
            self.counts["waits"] += 1
            return await asyncio.shield(pending)
        future: asyncio.Future[bytes] = asyncio.get_running_loop().create_future()
        self._inflight[item] = future
        try:
            value = await self._get(item, build)
        except BaseException as exc:
            # Local followers get an error of their own, never our cancellation.
            failure = exc if isinstance(exc, Exception) else Unavailable("cache read interrupted")
            future.set_exception(failure)
            future.exception()  # retrieved here, so an unwaited future does not warn
            raise
        else:
            future.set_result(value)
            return value
        finally:
            if self._inflight.get(item) is future:
                del self._inflight[item]

    async def _get(self, item: str, build: Build) -> bytes:
        token = secrets.token_hex(8)
        found = await self._store.lookup(
            self.name, item, token, self.LOCK_TTL_MS, self._max_stale_ms
        )
        if found.status == "hit" and found.value is not None:
            self.counts["hits"] += 1
            return found.value
        if found.status == "stale" and found.value is not None:
            self.counts["stale"] += 1
            return found.value
        if found.status == "wait":
            self.counts["waits"] += 1
            value = await self._wait_for_rebuild(item)
            if value is not None:
                return value
            # The rebuilder is slow or gone: serve our own build, but do not store it
            # (we hold no lock, and an invalidation may have come meanwhile).
            self.counts["misses"] += 1
            return await build()
        self.counts["misses"] += 1
        try:
            value = await build()
        except BaseException:
            with contextlib.suppress(ArenaError):
                await self._store.unlock(self.name, item, token)
            raise
        # Stored only if we still hold the lock: an invalidation deletes it.
        await self._store.fill(
            self.name,
            item,
            value,
            ttl_ms=self._ttl_ms,
            stale_ttl_ms=self._stale_ttl_ms,
            token=token,
        )
        return value

    async def _wait_for_rebuild(self, item: str) -> bytes | None:
        loop = asyncio.get_running_loop()
        deadline = loop.time() + self._wait_s
        while loop.time() < deadline:
            await asyncio.sleep(0.005)
            value = await self._store.fresh(self.name, item)
            if value is not None:
                return value
        return None

    async def invalidate(self, item: str) -> None:
        """Forget the item everywhere, including a rebuild under way here or on any node."""
        self._inflight.pop(item, None)
        await self._store.invalidate(self.name, item)


class CacheStats:
    """Every cache's counters: flushed to Redis now and then, read back as cluster totals."""

    def __init__(self, store: CacheStore, caches: list[ReadThroughCache]) -> None:
        self._store = store
        self._caches = caches
        # This node's counts already flushed to the cluster totals, for the metrics.
        self._flushed = {c.name: dict.fromkeys(FIELDS, 0) for c in caches}

    def node_counts(self) -> dict[str, dict[str, int]]:
        """This node's counts since it started, per cache (Prometheus sums the nodes)."""
        return {
            c.name: {f: self._flushed[c.name][f] + c.counts[f] for f in FIELDS}
            for c in self._caches
        }

    async def flush(self) -> None:
        deltas = {c.name: {f: c.counts[f] for f in FIELDS} for c in self._caches}
        # Moved from pending to flushed at once, so node_counts never dips meanwhile.
        self._move(deltas, +1)
        try:
            await self._store.add_counts(deltas)
        except BaseException:
            self._move(deltas, -1)  # keep the counts for the next flush
            raise

    def _move(self, deltas: dict[str, dict[str, int]], sign: int) -> None:
        for cache in self._caches:
            for f, n in deltas[cache.name].items():
                cache.counts[f] -= sign * n
                self._flushed[cache.name][f] += sign * n

    async def totals(self) -> dict[str, dict[str, int]]:
        """All nodes' counts (this node's flushed first)."""
        await self.flush()
        totals = await self._store.counts([c.name for c in self._caches])
        return {name: {f: counts.get(f, 0) for f in FIELDS} for name, counts in totals.items()}
