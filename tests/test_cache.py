"""The read-through cache on a real Redis: rebuilds, invalidation racing a rebuild, failures."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import pytest
import redis as redis_sync

from server.embedded_redis import RedisProcess
from server.services.cache import ReadThroughCache
from server.storage import keys
from server.storage.cache import CacheStore
from server.storage.mux import RedisMux
from server.storage.scripts import Scripts
from tests.helpers import eventually


@pytest.fixture
async def store(
    redis_server: RedisProcess, redis_client: redis_sync.Redis
) -> AsyncIterator[CacheStore]:
    mux = RedisMux(redis_server.url)
    yield CacheStore(mux, Scripts.load(mux))
    await mux.aclose()


async def test_an_invalidation_during_a_rebuild_wins(store: CacheStore) -> None:
    node_a = ReadThroughCache("profile", store, ttl_s=60)
    node_b = ReadThroughCache("profile", store, ttl_s=60)  # another node, same Redis
    truth = {"name": b"old"}
    read_started = asyncio.Event()
    release = asyncio.Event()

    async def slow_build() -> bytes:
        value = truth["name"]  # reads the source...
        read_started.set()
        await release.wait()  # ...and is slow to store it
        return value

    rebuild = asyncio.create_task(node_a.get("p1", slow_build))
    await read_started.wait()
    truth["name"] = b"new"  # the name changes and is invalidated mid-rebuild
    await node_b.invalidate("p1")
    release.set()
    assert await rebuild == b"old"  # that reader saw the old value, as it read it...

    async def build() -> bytes:
        return truth["name"]

    assert await node_b.get("p1", build) == b"new"  # ...but it was not stored for others
    assert await node_a.get("p1", build) == b"new"


async def test_a_failed_rebuild_frees_the_lock_at_once(
    store: CacheStore, redis_client: redis_sync.Redis
) -> None:
    cache = ReadThroughCache("lb_top", store, ttl_s=60)

    async def broken() -> bytes:
        raise RuntimeError("source down")

    with pytest.raises(RuntimeError):
        await cache.get("page", broken)
    assert redis_client.keys("*lock*") == []

    async def works() -> bytes:
        return b"page"

    assert await cache.get("page", works) == b"page"
    assert cache.counts["misses"] == 2
    assert cache.counts["waits"] == 0  # the second reader did not wait for a dead lock


def script_calls(redis_client: redis_sync.Redis) -> int:
    stats = redis_client.info("commandstats")
    return sum(int(stats.get(f"cmdstat_{c}", {}).get("calls", 0)) for c in ("evalsha", "eval"))


async def test_local_readers_share_one_lookup(
    store: CacheStore, redis_client: redis_sync.Redis
) -> None:
    """50 readers on one node: one lookup in Redis (and one fill), not one each; the
    Redis-side rebuild lock alone would give the same build count, so Redis is asked."""
    cache = ReadThroughCache("lb_top", store, ttl_s=60)
    before = script_calls(redis_client)
    builds = 0

    async def build() -> bytes:
        # No wait needed: the 49 others all ask while the first one's lookup is in flight.
        nonlocal builds
        builds += 1
        return b"v"

    assert await asyncio.gather(*(cache.get("x", build) for _ in range(50))) == [b"v"] * 50
    assert builds == 1
    assert cache.counts["misses"] == 1
    assert cache.counts["waits"] == 49
    assert script_calls(redis_client) - before == 2  # cache_lookup, then cache_fill


async def test_a_previous_copy_is_served_only_while_young(
    store: CacheStore, redis_client: redis_sync.Redis
) -> None:
    node_a = ReadThroughCache("lb_top", store, ttl_s=0.05)
    node_b = ReadThroughCache("lb_top", store, ttl_s=0.05)
    release = asyncio.Event()
    rebuilding = asyncio.Event()

    async def value(v: bytes) -> bytes:
        return v

    async def slow(v: bytes) -> bytes:
        rebuilding.set()
        await release.wait()
        return v

    assert await node_a.get("page", lambda: value(b"v1")) == b"v1"

    # Redis expires the fresh copy by itself; the previous one is then a few ms old.
    async def fresh_gone() -> bool:
        return await store.fresh("lb_top", "page") is None

    await eventually(fresh_gone, within_s=5, every_s=0.01)
    rebuild = asyncio.create_task(node_a.get("page", lambda: slow(b"v2")))
    await rebuilding.wait()
    assert await node_b.get("page", lambda: value(b"unused")) == b"v1"  # young: served
    assert node_b.counts["stale"] == 1
    release.set()
    assert await rebuild == b"v2"

    # Wait until the previous copy (v2) is older than TTL + the lock's TTL by Redis's
    # clock, the clock cache_lookup.lua measures its age by.
    stale_key = keys.cache_stale("lb_top", "page")
    built_ms = int((redis_client.get(stale_key) or b"")[:13])

    async def too_old() -> bool:
        seconds, micros = redis_client.time()
        age_ms = seconds * 1000 + micros // 1000 - built_ms
        return age_ms > 50 + ReadThroughCache.LOCK_TTL_MS

    await eventually(too_old, within_s=5, every_s=0.02)
    release.clear()
    rebuilding.clear()
    rebuild = asyncio.create_task(node_a.get("page", lambda: slow(b"v3")))
    await rebuilding.wait()
    # Too old to serve: node B waits briefly for the rebuild, then builds its own.
    assert await node_b.get("page", lambda: value(b"v3-own")) == b"v3-own"
    assert node_b.counts["stale"] == 1
    release.set()
    await rebuild
