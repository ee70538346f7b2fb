"""The pipelined Redis client against a real redis-server that stops and comes back."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from pathlib import Path

import pytest

from server.embedded_redis import RedisProcess
from server.storage.mux import CommandError, MuxConnectionError, RedisMux


@pytest.fixture
def own_redis(tmp_path: Path) -> Iterator[RedisProcess]:
    """A redis-server of this test's own, which the test may stop and start again."""
    redis = RedisProcess(tmp_path / "redis", appendonly=False).start()
    yield redis
    redis.stop()


async def test_replies_come_back_to_the_right_callers(own_redis: RedisProcess) -> None:
    mux = RedisMux(own_redis.url)
    try:
        values = await asyncio.gather(*(mux.execute("ECHO", f"value-{i}") for i in range(2000)))
        assert values == [f"value-{i}".encode() for i in range(2000)]
        with pytest.raises(CommandError):
            await mux.execute("NOT-A-COMMAND")
        assert await mux.execute("PING") == b"PONG"  # an error reply leaves it in step
        assert await mux.transaction(("SET", "k", "1"), ("INCR", "k")) == [b"OK", 2]
        with pytest.raises(CommandError, match="WRONGTYPE"):  # an error inside EXEC raises
            await mux.transaction(("LPUSH", "k", "x"), ("INCR", "k"))
        with pytest.raises(TypeError):  # a bad argument queues nothing...
            await mux.transaction(("SET", "a", "1"), ("EXPIRE", "a", None))  # type: ignore[arg-type]
        assert await mux.execute("GET", "a") is None  # ...so no MULTI is left open
    finally:
        await mux.aclose()


async def test_a_redis_restart_fails_fast_then_recovers_with_scripts_reloaded(
    own_redis: RedisProcess,
) -> None:
    mux = RedisMux(own_redis.url, timeout_s=1.0)
    sha = mux.register_script("return ARGV[1] .. '!'")
    try:
        assert await mux.evalsha(sha, [], ["hi"]) == b"hi!"
        own_redis.stop()
        loop = asyncio.get_running_loop()
        started = loop.time()
        with pytest.raises(MuxConnectionError):
            await mux.execute("PING")
        assert loop.time() - started < 1.5  # fails fast, no hang
        await asyncio.to_thread(own_redis.start)  # same port, empty: no scripts
        assert await mux.execute("PING") == b"PONG"
        assert await mux.evalsha(sha, [], ["back"]) == b"back!"  # NOSCRIPT, reloaded
    finally:
        await mux.aclose()


async def test_passwords_and_databases_from_the_url(tmp_path: Path) -> None:
    redis = RedisProcess(
        tmp_path / "auth", appendonly=False, extra_args=["--requirepass", "s3cret"]
    )
    with redis:
        mux = RedisMux(f"redis://:s3cret@127.0.0.1:{redis.port}/3")
        try:
            # Commands sent while the connection is still being set up wait for SELECT.
            await asyncio.gather(*(mux.execute("SET", f"where{i}", "db3") for i in range(200)))
            assert await mux.execute("DBSIZE") == 200
            assert b" db=3 " in await mux.execute("CLIENT", "INFO")
            other = RedisMux(f"redis://:s3cret@127.0.0.1:{redis.port}/0")
            assert await other.execute("DBSIZE") == 0
            await other.aclose()
        finally:
            await mux.aclose()
        wrong = RedisMux(f"redis://:nope@127.0.0.1:{redis.port}/0")
        for _ in range(2):  # and it stays refused: no half-set-up connection is reused
            with pytest.raises(MuxConnectionError, match="set-up"):
                await wrong.execute("PING")
        await wrong.aclose()
