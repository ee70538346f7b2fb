"""Redis going away and coming back, as a connected player lives through it."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest
import redis as redis_sync

from client_sim.client import ArenaError
from server.embedded_redis import RedisProcess
from tests.conftest import StartArena
from tests.helpers import connect, eventually, http_json


async def test_requests_fail_fast_while_redis_is_down_and_work_again_after(
    start_arena: StartArena, tmp_path: Path
) -> None:
    redis = RedisProcess(tmp_path / "redis", appendonly=True).start()  # AOF: data survives
    try:
        arena = await start_arena(redis_url=redis.url, redis_timeout_s=1.0)
        _, client = await connect(arena, "alice")
        async with client:
            await client.request("lb.submit", board="global", score=7)
            redis.stop()
            loop = asyncio.get_running_loop()
            started = loop.time()
            with pytest.raises(ArenaError) as down:
                await client.request("lb.submit", board="global", score=8)
            assert down.value.code == "UNAVAILABLE"
            assert loop.time() - started < 1.5
            assert "server_time_ms" in await client.request("ping")  # the socket stays open
            assert (await http_json("GET", arena + "/readyz"))[0] == 503
            await asyncio.to_thread(redis.start)

            async def answers_again() -> bool:
                try:
                    await client.request("lb.rank", board="global")
                except ArenaError:
                    return False
                return True

            await eventually(answers_again, within_s=3)
            # The score acknowledged before the outage survived it (AOF)...
            assert await client.request("lb.rank", board="global") == {"rank": 1, "score": 7}
            # ...and writes work again ('best': a lower score leaves it).
            assert (await client.request("lb.submit", board="global", score=5))["score"] == 7

            async def ready() -> bool:
                return (await http_json("GET", arena + "/readyz"))[0] == 200

            await eventually(ready, within_s=3)  # pub/sub resubscribed too
    finally:
        redis.stop()


async def test_a_redis_that_comes_back_empty_ends_sockets_as_expired_not_replaced(
    start_arena: StartArena, tmp_path: Path
) -> None:
    """No AOF, or a failover that lost writes: sessions are gone, so the sockets are told to
    log in again (4003). They were not replaced by anyone (4001 would say so, wrongly)."""
    redis = RedisProcess(tmp_path / "redis", appendonly=False).start()
    try:
        arena = await start_arena(redis_url=redis.url, redis_timeout_s=1.0)
        _, client = await connect(arena, "alice")
        async with client:
            await client.request("ping")
            redis.stop()
            await asyncio.to_thread(redis.start)  # empty: nothing was persisted
            assert await client.wait_closed(timeout=10) == 4003
    finally:
        redis.stop()


async def test_a_full_redis_refuses_writes_with_unavailable_and_recovers(
    start_arena: StartArena, tmp_path: Path
) -> None:
    """At maxmemory with noeviction, Redis answers writes with OOM: players get
    UNAVAILABLE (retry later), never INTERNAL, and the socket stays open."""
    redis = RedisProcess(tmp_path / "redis", appendonly=False).start()
    try:
        arena = await start_arena(redis_url=redis.url)
        admin = redis_sync.Redis.from_url(redis.url)
        _, client = await connect(arena, "alice")
        async with client:
            await client.request("ping")  # answered once the socket's set-up is done
            admin.config_set("maxmemory", 1)  # a byte: everything is over it
            with pytest.raises(ArenaError) as full:
                await client.request("lb.submit", board="global", score=7)
            assert full.value.code == "UNAVAILABLE"
            admin.config_set("maxmemory", 0)
            assert (await client.request("lb.submit", board="global", score=7))["score"] == 7
        admin.close()
    finally:
        redis.stop()
