"""The pipelined Redis client against a real redis-server that stops, stalls and comes back."""

from __future__ import annotations

import asyncio
import os
import signal
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from server.embedded_redis import RedisProcess
from server.storage.mux import CommandError, MuxConnectionError, MuxTimeoutError, RedisMux
from tests.helpers import eventually


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


# Keeps Redis busy (it runs one command at a time) for ARGV[1] milliseconds.
BUSY = """
local start = redis.call('TIME')
local until_us = (start[1] * 1000000 + start[2]) + tonumber(ARGV[1]) * 1000
repeat local now = redis.call('TIME') until now[1] * 1000000 + now[2] >= until_us
return ARGV[1]
"""
# Redis runs everything it took in one read before it writes any reply back. An argument
# this long (past its 32 KB "big argument" mark) ends a read, so the scripts that carry
# one are answered about one or two at a time, as they finish.
ALONE = b"." * 64 * 1024


async def test_slow_replies_that_keep_coming_fail_nothing(own_redis: RedisProcess) -> None:
    """Seven scripts of 120 ms each, queued at once: the last reply comes long after the
    0.5 s timeout, but replies keep coming back every 120-240 ms, so the connection is
    alive and every command gets its reply (judging each command's age, as the client
    once did, failed them all)."""
    mux = RedisMux(own_redis.url, timeout_s=0.5)
    sha = mux.register_script(BUSY)
    try:
        await mux.evalsha(sha, [], [0])  # loaded, so NOSCRIPT does not split the queue
        calls = []
        for i in range(7):
            calls += [mux.execute("ECHO", f"quick-{i}"), mux.evalsha(sha, [], [120, ALONE])]
        replies = await asyncio.gather(*calls)
        assert replies == [r for i in range(7) for r in (f"quick-{i}".encode(), b"120")]
        assert mux.errors["timeout"] == 0
    finally:
        await mux.aclose()


async def test_a_redis_silent_past_the_timeout_fails_what_is_in_flight_and_carries_on(
    own_redis: RedisProcess,
) -> None:
    """A script holding Redis for 1.5 s, with a 0.3 s timeout: nothing comes back for
    longer than the timeout, which is all a client can tell of a hung Redis (another
    connection's PING would not be answered either). What was answered before stands;
    the script and what is in flight with it fail with MuxTimeoutError (their outcome
    unknown: Redis may still run them), and the client carries on with a new connection."""
    mux = RedisMux(own_redis.url, timeout_s=0.3)
    sha = mux.register_script(BUSY)
    try:
        assert await mux.pipeline(("SET", "before", "1"), ("ECHO", "before")) == [b"OK", b"before"]
        await mux.evalsha(sha, [], [0])
        replies = await asyncio.gather(
            mux.execute("ECHO", "with it"),
            mux.evalsha(sha, [], [1500]),
            mux.execute("SET", "after", "1"),
            mux.execute("ECHO", "after"),
            return_exceptions=True,
        )
        assert all(isinstance(r, MuxTimeoutError) for r in replies), replies
        assert mux.errors["timeout"] == 1

        async def answers() -> bool:  # once the script is done
            try:
                return bool(await mux.execute("GET", "before") == b"1")
            except MuxTimeoutError:
                return False

        await eventually(answers, within_s=10)
    finally:
        await mux.aclose()


async def test_writes_wait_while_redis_does_not_read_and_go_when_it_does(
    own_redis: RedisProcess,
) -> None:
    """SIGSTOP Redis and keep writing: once the socket's buffer passes its mark, new
    commands wait instead of piling up in memory; SIGCONT, and every one of them runs."""
    mux = RedisMux(own_redis.url, timeout_s=30, write_buffer_bytes=256 * 1024)
    value = b"v" * 256 * 1024
    assert own_redis.process is not None
    pid = own_redis.process.pid
    sets: list[asyncio.Task[Any]] = []
    try:
        await mux.execute("PING")
        os.kill(pid, signal.SIGSTOP)
        # The kernel's buffers take a few MB first; 256 MB would be far past them.
        while not mux.writing_paused and len(sets) < 1024:
            sets.append(asyncio.create_task(mux.execute("SET", f"k{len(sets)}", value)))
            for _ in range(3):  # the task queues its command, the next turn writes it
                await asyncio.sleep(0)
        assert mux.writing_paused
        sent = len(sets)
        buffered = mux.buffered_bytes()
        later = [asyncio.create_task(mux.execute("SET", f"late{i}", value)) for i in range(50)]
        for _ in range(5):
            await asyncio.sleep(0)
        assert mux.buffered_bytes() == buffered  # the later ones wait, unwritten
        assert not any(task.done() for task in later)
        os.kill(pid, signal.SIGCONT)
        assert await asyncio.gather(*sets, *later) == [b"OK"] * (sent + 50)
        assert await mux.execute("DBSIZE") == sent + 50
    finally:
        os.kill(pid, signal.SIGCONT)
        for task in sets:
            task.cancel()
        await mux.aclose()


async def test_writes_waiting_on_a_redis_that_never_reads_fail_after_the_timeout(
    own_redis: RedisProcess,
) -> None:
    mux = RedisMux(own_redis.url, timeout_s=0.5, write_buffer_bytes=64 * 1024)
    value = b"v" * 256 * 1024
    assert own_redis.process is not None
    pid = own_redis.process.pid
    sets: list[asyncio.Task[Any]] = []
    try:
        await mux.execute("PING")
        os.kill(pid, signal.SIGSTOP)
        while not mux.writing_paused and len(sets) < 1024:
            sets.append(asyncio.create_task(mux.execute("SET", f"k{len(sets)}", value)))
            for _ in range(3):
                await asyncio.sleep(0)
        waiting = mux.execute("SET", "late", value)
        with pytest.raises(MuxTimeoutError):
            await waiting
        results = await asyncio.gather(*sets, return_exceptions=True)
        assert all(isinstance(r, MuxTimeoutError) for r in results)
    finally:
        os.kill(pid, signal.SIGCONT)
        await mux.aclose()
