"""The pipelined Redis client against a real redis-server that stops, stalls and comes back."""

from __future__ import annotations

import asyncio
import os
import signal
from collections.abc import Awaitable, Iterator
from pathlib import Path
from typing import Any

import pytest
import redis

from server.embedded_redis import RedisProcess
from server.storage.commands import RefusedCommand
from server.storage.mux import (
    CommandError,
    MuxConnectionError,
    MuxNotSentError,
    MuxTimeoutError,
    RedisMux,
)
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


async def test_callers_meeting_noscript_together_share_one_script_load(
    own_redis: RedisProcess,
) -> None:
    mux = RedisMux(own_redis.url)
    sha = mux.register_script("return ARGV[1] .. '?'")
    try:
        replies = await asyncio.gather(*(mux.evalsha(sha, [], [str(i)]) for i in range(200)))
        assert replies == [f"{i}?".encode() for i in range(200)]
        stats = redis.Redis.from_url(own_redis.url).info("commandstats")
        assert stats["cmdstat_script|load"]["calls"] == 1  # not one per caller
        assert stats["cmdstat_evalsha"]["calls"] == 400  # each: NOSCRIPT, then its run
    finally:
        await mux.aclose()


async def test_passwords_and_databases_from_the_url(tmp_path: Path) -> None:
    auth = RedisProcess(tmp_path / "auth", appendonly=False, extra_args=["--requirepass", "s3cret"])
    with auth:
        mux = RedisMux(f"redis://:s3cret@127.0.0.1:{auth.port}/3")
        try:
            # Commands sent while the connection is still being set up wait for SELECT.
            await asyncio.gather(*(mux.execute("SET", f"where{i}", "db3") for i in range(200)))
            assert await mux.execute("DBSIZE") == 200
            db3 = redis.Redis(port=auth.port, password="s3cret", db=3)
            assert db3.dbsize() == 200  # SELECT 3 came first
            db3.close()
            other = RedisMux(f"redis://:s3cret@127.0.0.1:{auth.port}/0")
            assert await other.execute("DBSIZE") == 0
            await other.aclose()
        finally:
            await mux.aclose()
        wrong = RedisMux(f"redis://:nope@127.0.0.1:{auth.port}/0")
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


async def test_a_caller_waits_at_most_the_timeout_and_a_connection_that_answers_stays(
    own_redis: RedisProcess,
) -> None:
    """Eight scripts of 150 ms each, queued at once behind an ECHO, with a 0.6 s timeout:
    replies keep coming (every 150-300 ms), so the connection is alive and is kept; but
    no caller waits past its own deadline (1 to 1.25 timeouts): those not answered by
    then fail with MuxTimeoutError, their replies are read and dropped when they come,
    and the next command gets its own reply (once, the queue's last waited 1.2 s)."""
    timeout = 0.6
    mux = RedisMux(own_redis.url, timeout_s=timeout)
    sha = mux.register_script(BUSY)
    loop = asyncio.get_running_loop()

    async def timed(call: Awaitable[Any]) -> tuple[Any, float]:
        started = loop.time()  # the call sends at once: this is its sending time
        try:
            reply = await call
        except MuxTimeoutError as exc:
            reply = exc
        return reply, loop.time() - started

    try:
        await mux.evalsha(sha, [], [0])  # loaded, so NOSCRIPT does not split the queue
        calls = [mux.execute("ECHO", "first")]
        calls += [mux.evalsha(sha, [], [150, ALONE]) for _ in range(8)]
        calls.append(mux.execute("ECHO", "last"))
        timings = await asyncio.gather(*(timed(call) for call in calls))
        replies = [reply for reply, _ in timings]
        # The client's own promise (mux.py): a caller fails between 1 and 1.25 timeouts
        # after sending. Not a speed test: never before the timeout, and the upper bound
        # allows 0.35 timeouts (210 ms) past the promise for the watchdog's four timer
        # wake-ups running late on a loaded 2-core machine.
        waits = [wait for reply, wait in timings if isinstance(reply, MuxTimeoutError)]
        assert waits
        assert all(timeout <= wait <= 1.6 * timeout for wait in waits), waits
        assert replies[0] == b"first"
        # Sent together, they share one deadline: answered before it, or failed at it.
        answered = [r for r in replies[1:] if not isinstance(r, BaseException)]
        assert answered == [b"150"] * len(answered)
        assert all(isinstance(r, MuxTimeoutError) for r in replies[1 + len(answered) :])
        assert isinstance(replies[-1], MuxTimeoutError)
        assert mux.errors["command_timeout"] == len(replies) - 1 - len(answered)
        assert mux.errors["timeout"] == mux.errors["connection_lost"] == 0  # not replaced
        assert await mux.execute("ECHO", "next") == b"next"  # in step
    finally:
        await mux.aclose()


async def test_a_timed_out_pipeline_and_transaction_leave_the_connection_in_step(
    own_redis: RedisProcess,
) -> None:
    """A pipeline and a transaction queued behind 1.2 s of scripts, with a 0.6 s timeout:
    every one of their callers fails at its deadline, each future once; their replies,
    when they come, are read and dropped (Redis did run them: outcome unknown), and the
    commands after get their own replies, not those late ones."""
    mux = RedisMux(own_redis.url, timeout_s=0.6)
    sha = mux.register_script(BUSY)
    try:
        await mux.evalsha(sha, [], [0])
        scripts = [mux.evalsha(sha, [], [150, ALONE]) for _ in range(8)]
        late = await asyncio.gather(
            *scripts,
            mux.pipeline(("INCR", "p"), ("ECHO", "pipeline")),
            mux.transaction(("INCR", "t"), ("ECHO", "transaction")),
            return_exceptions=True,
        )
        assert isinstance(late[-2], MuxTimeoutError)
        assert isinstance(late[-1], MuxTimeoutError)
        # 2 pipelined commands, and MULTI, 2 commands, EXEC; more of the scripts maybe.
        assert mux.errors["command_timeout"] >= 6
        assert mux.errors["timeout"] == mux.errors["connection_lost"] == 0  # kept
        echoes = [("ECHO", f"e{i}") for i in range(5)]
        assert await mux.pipeline(*echoes) == [f"e{i}".encode() for i in range(5)]
        assert await mux.transaction(("INCR", "t"), ("ECHO", "x")) == [2, b"x"]
        assert await mux.execute("GET", "p") == b"1"  # the late pipeline ran, once
        assert not mux._pending  # every late reply was matched and dropped
    finally:
        await mux.aclose()


async def test_a_reply_trickling_in_a_byte_at_a_time_is_silence() -> None:
    """A peer that sends a reply's bytes, one every 20 ms, and never its end: bytes are
    not replies, so after the timeout the connection is declared dead (not only the
    caller failed) and replaced."""
    handlers: list[asyncio.Task[None]] = []

    async def trickle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        handlers.append(asyncio.current_task())  # type: ignore[arg-type]
        await reader.read(100)
        writer.write(b"+")
        while not writer.is_closing():
            writer.write(b"P")  # "+PPPP...": a status reply that never ends
            await asyncio.sleep(0.02)

    server = await asyncio.start_server(trickle, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    mux = RedisMux(f"redis://127.0.0.1:{port}/0", timeout_s=0.2)
    try:
        with pytest.raises(MuxTimeoutError):  # the old client waited as long as bytes came
            await asyncio.wait_for(mux.execute("PING"), 2.0)
        assert mux.errors["timeout"] == 1
    finally:
        await mux.aclose()
        server.close()
        for task in handlers:
            task.cancel()


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


async def test_one_turns_writes_stop_at_the_mark_and_the_unsent_fail_as_not_sent(
    own_redis: RedisProcess,
) -> None:
    """SIGSTOP Redis, then 3000 SETs of 10 KB in one event-loop turn (30 MB): the mark
    (64 KiB) counts within the turn too, so the socket's buffer stays near it (the old
    client buffered all of them). Redis never reads: after the timeout those sent fail
    with MuxTimeoutError (outcome unknown) and those that never left with
    MuxNotSentError (safe to retry)."""
    mark, size = 64 * 1024, 10_000
    mux = RedisMux(own_redis.url, timeout_s=0.5, write_buffer_bytes=mark)
    assert own_redis.process is not None
    pid = own_redis.process.pid
    try:
        await mux.execute("PING")
        os.kill(pid, signal.SIGSTOP)
        sets = [asyncio.create_task(mux.execute("SET", f"k{i}", b"v" * size)) for i in range(3000)]
        await asyncio.sleep(0)  # every task runs once: each sends, or waits for room
        assert mux.writing_paused
        assert mux.buffered_bytes() <= mark + size + 100
        results = await asyncio.gather(*sets, return_exceptions=True)
        kinds = {type(r) for r in results}
        assert kinds == {MuxTimeoutError, MuxNotSentError}, kinds
        assert isinstance(results[-1], MuxNotSentError)
    finally:
        os.kill(pid, signal.SIGCONT)
        await mux.aclose()


async def test_past_max_pending_new_commands_fail_at_once_and_the_rest_carry_on(
    own_redis: RedisProcess,
) -> None:
    """With Redis stopped, 100 commands wait for replies (max_pending): the next ones
    fail at once, not sent; SIGCONT, and the 100 get their own replies, and new
    commands are taken again."""
    mux = RedisMux(own_redis.url, timeout_s=10, max_pending=100)
    assert own_redis.process is not None
    pid = own_redis.process.pid
    try:
        await mux.execute("PING")
        os.kill(pid, signal.SIGSTOP)
        calls = [asyncio.create_task(mux.execute("ECHO", f"v{i}")) for i in range(150)]
        await asyncio.sleep(0)
        refused = [task for task in calls if task.done()]
        assert len(refused) == 50
        assert all(isinstance(task.exception(), MuxNotSentError) for task in refused)
        assert mux.errors["too_many_pending"] == 50
        os.kill(pid, signal.SIGCONT)
        assert await asyncio.gather(*calls[:100]) == [f"v{i}".encode() for i in range(100)]
        assert await mux.execute("ECHO", "again") == b"again"
    finally:
        os.kill(pid, signal.SIGCONT)
        await mux.aclose()


async def test_commands_that_change_or_block_the_shared_connection_are_refused(
    own_redis: RedisProcess,
) -> None:
    """CLIENT REPLY OFF would leave every later caller a reply short, MULTI would have them
    answered QUEUED, BLPOP would stall them: refused before sending, in any spelling, in
    a pipeline or a transaction too (nothing of those is sent)."""
    mux = RedisMux(own_redis.url)
    refused: list[tuple[Any, ...]] = [
        ("CLIENT", "REPLY", "OFF"),
        ("multi",),
        (b"Select", 1),
        ("SSUBSCRIBE", "c"),
        ("BLPOP", "q", 0),
        ("XREAD", "COUNT", 1, "BLOCK", 0, "STREAMS", "s", "$"),
        ("WATCH", "k"),
    ]
    try:
        for command in refused:
            with pytest.raises(RefusedCommand):
                await mux.execute(*command)
        with pytest.raises(RefusedCommand):
            await mux.pipeline(("SET", "k", 1), ("CLIENT", "REPLY", "SKIP"))
        with pytest.raises(RefusedCommand):
            await mux.transaction(("SET", "k", 1), ("SELECT", 2))
        assert await mux.execute("EXISTS", "k") == 0  # not even their SETs went
        # XREADGROUP's group named "block" is a value, not the option.
        assert await mux.execute("XREAD", "COUNT", 1, "STREAMS", "s", "0") is None
        with pytest.raises(CommandError, match="NOGROUP"):
            await mux.execute("XREADGROUP", "GROUP", "block", "c", "STREAMS", "s", ">")
        values = await asyncio.gather(*(mux.execute("ECHO", f"e{i}") for i in range(100)))
        assert values == [f"e{i}".encode() for i in range(100)]
    finally:
        await mux.aclose()
