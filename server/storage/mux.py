"""One pipelined Redis connection shared by every task of a process: the hot path's client.

Commands issued during one event-loop turn leave in one write (one per
``write_buffer_bytes`` past that); replies come
back in order on the same connection and resolve their callers' futures. This
is auto-pipelining: a thousand players submitting at once cost Redis and the
kernel a handful of round trips, not a thousand, and each command costs Python
a few microseconds instead of a pooled client's connection checkout, timeout
context and retry wrapper.

It speaks RESP2 through hiredis's reader. It covers what the stores need: plain
commands, pipelines, MULTI/EXEC transactions, and scripts by SHA (loading a
script again when Redis answers NOSCRIPT, e.g. after a restart). The other
connections a process holds are elsewhere: pub/sub has its own (pubsub.py, on
the same hiredis reader), and commands that block (the results workers' BLMOVE)
use a small redis-py pool (clients.py), so nothing here ever waits on Redis.

Failure model (docs/faults.md tells what players see):
- When the connection drops, every command in flight fails with
  ``MuxConnectionError`` (outcome unknown: Redis may have run it); the next
  command reconnects. Commands never sent fail with ``MuxNotSentError`` (safe to
  retry): no connection, no room to send, or ``max_pending`` already waiting.
- ``timeout_s`` is how long a caller waits for its reply: then it fails with
  ``MuxTimeoutError`` (outcome unknown), between 1 and 1.25 ``timeout_s`` after it
  was sent. Its place in the queue stays (its reply, when it comes, is read and
  dropped), so replies stay matched and a connection that is answering is kept.
  No clock is read per command: the watchdog, every quarter ``timeout_s`` while
  commands wait, notes how many had been sent, and fails those sent before its
  note of four looks ago.
- The connection is declared dead (all fail, it is replaced) only when commands
  wait and not one complete reply has come back for ``timeout_s`` (a reply's
  bytes trickling in do not count). Redis runs everything it read at once before
  it writes any reply, and a command (a script) runs to its end before the next:
  work that keeps Redis from answering for longer than ``timeout_s`` (one long
  script, or several sent together) cannot be told from a hung Redis, and fails
  everything in flight. So ``timeout_s`` (ARENA_REDIS_TIMEOUT) must exceed the
  longest work Redis may do without answering.
- Writes have backpressure: once the bytes queued this event-loop turn plus those
  the socket has not taken pass ``write_buffer_bytes``, they are written at once
  and, past the mark, new commands wait until the socket drains (at most
  ``timeout_s``, then ``MuxNotSentError``). Memory stays bounded by that mark and
  by ``max_pending`` commands waiting for replies: a soft cap, looked at as the room
  runs out, so one pipeline under way when it is reached may pass it.
- Commands that change or block the shared connection (MULTI, SELECT, CLIENT,
  SUBSCRIBE, BLPOP, ...: ``commands.CONNECTION_STATE``) are refused before sending.
"""

from __future__ import annotations

import asyncio
import collections
import hashlib
import itertools
from collections.abc import Sequence
from typing import Any

from server.redis_urls import Endpoint
from server.storage.commands import (
    PASSED,
    Arg,
    CommandError,
    Commands,
    MuxConnectionError,
    MuxNotSentError,
    MuxTimeoutError,
    exec_result,
    named,
    pack,
    vet,
)
from server.storage.mux_link import TICKS, MuxLink, log

# The names the stores import from here (commands.py defines them).
__all__ = [
    "Arg",
    "CommandError",
    "Commands",
    "MuxConnectionError",
    "MuxNotSentError",
    "MuxTimeoutError",
    "RedisMux",
    "pack",
]

WRITE_BUFFER_BYTES = 1 << 20  # past this many unsent bytes, new commands wait
MAX_PENDING = 200_000  # commands waiting for replies; past this, new ones fail at once (soft)


class RedisMux(MuxLink):
    """The ``Commands`` of one Redis, over one pipelined connection."""

    def __init__(
        self,
        url: str | Endpoint,
        *,
        timeout_s: float = 5.0,
        connect_timeout_s: float = 1.0,
        write_buffer_bytes: int = WRITE_BUFFER_BYTES,
        max_pending: int = MAX_PENDING,
    ) -> None:
        super().__init__(
            url,
            timeout_s=timeout_s,
            connect_timeout_s=connect_timeout_s,
            write_buffer_bytes=write_buffer_bytes,
            max_pending=max_pending,
        )
        self._scripts: dict[str, bytes] = {}  # sha -> source, for NOSCRIPT
        # SCRIPT LOADs under way, by sha: callers that meet NOSCRIPT together share one.
        self._loading: dict[str, asyncio.Future[Any]] = {}

    async def aclose(self) -> None:
        self._closed = True
        self._lost(MuxConnectionError("client closed"))

    # --- sending --------------------------------------------------------------------

    async def execute(self, *args: Arg) -> Any:
        """Run one command; its reply, or CommandError for an error reply."""
        if args[0] not in PASSED:
            vet(args)
        if not self._ready:
            await self._until_ready()
        try:
            return await self._send_packed(pack(args))
        except CommandError as exc:
            named(exc, args[0])
            raise

    async def pipeline(self, *commands: tuple[Arg, ...]) -> list[Any]:
        """Run commands back to back (nothing else of this client between them); all
        their replies. An error reply raises once every reply has arrived."""
        replies = await self.replies(commands)
        for command, reply in zip(commands, replies, strict=True):
            if isinstance(reply, CommandError):
                raise named(reply, command[0])
        return replies

    async def replies(
        self, commands: Sequence[tuple[Arg, ...]], *, vetted: bool = False
    ) -> list[Any]:
        """``pipeline``, but an error reply is returned in its place, not raised: how
        ClusterMux reads each command's MOVED or ASK. A lost connection still raises.
        ``vetted``: the caller checked the commands itself (or sends MULTI or ASKING
        of its own), so they are not refused here."""
        if not vetted:
            for command in commands:
                if command[0] not in PASSED:
                    vet(command)
        if not self._ready:
            await self._until_ready()
        # Pack everything first: a bad argument must not leave half a batch queued.
        packed = [pack(command) for command in commands]
        futures = [self._send_packed(data) for data in packed]
        replies = await asyncio.gather(*futures, return_exceptions=True)
        for reply in replies:
            if isinstance(reply, BaseException) and not isinstance(reply, CommandError):
                raise reply
        return replies

    async def transaction(self, *commands: tuple[Arg, ...]) -> list[Any]:
        """MULTI ... EXEC; see ``Commands.transaction`` (not all-or-none)."""
        for command in commands:
            if command[0] not in PASSED:
                vet(command)
        replies = await self.replies([("MULTI",), *commands, ("EXEC",)], vetted=True)
        return exec_result(commands, replies)

    def _send_packed(self, data: bytes) -> asyncio.Future[Any]:
        loop = self._loop or asyncio.get_running_loop()
        future: asyncio.Future[Any] = loop.create_future()
        self._outbox.append(data)
        self._pending.append(future)
        self._room -= len(data)
        if self._room < 0:
            self._no_room()
        if not self._flush_scheduled:
            self._flush_scheduled = True
            loop.call_soon(self._flush)
        if self._watchdog is None:
            self._quiet_since = loop.time()
            self._head_before = self._head
            self._marks.clear()
            self._watchdog = loop.call_later(self._timeout_s / TICKS, self._check_progress)
        return future

    def _no_room(self) -> None:
        """This turn's commands have used the room there was: write them now (the
        transport pauses us past the mark), and stop taking more at ``max_pending``.
        While writing is paused, the rest of a pipeline under way stays queued for the
        turn's flush: one write, not one per command."""
        if self._drained is None:
            self._write_out()
        if len(self._pending) >= self._max_pending:
            self._too_many = True
            self._ready = False

    def _flush(self) -> None:
        self._flush_scheduled = False
        self._write_out()

    def _write_out(self) -> None:
        if not self._outbox:
            return
        data = b"".join(self._outbox)
        self._outbox.clear()
        if self._transport is None:
            # Lost between queueing and flushing: _lost already failed those callers.
            return
        self._transport.write(data)
        self._measure_room()

    def _check_progress(self) -> None:
        """Every quarter timeout while commands wait: drop a connection that sent no
        complete reply for ``timeout_s``; fail the callers that waited that long."""
        self._watchdog = None
        if not self._pending:
            return
        loop = asyncio.get_running_loop()
        if self._head != self._head_before:
            self._head_before = self._head
            self._quiet_since = loop.time()
        elif loop.time() - self._quiet_since > self._timeout_s:
            log.warning("Redis sent no reply for %.1fs; dropping the connection", self._timeout_s)
            self._lost(MuxTimeoutError(f"no reply from Redis in {self._timeout_s}s"))
            return
        self._marks.append(self._head + len(self._pending))  # commands sent so far
        if len(self._marks) > TICKS:
            self._expire(self._marks[0])
        self._watchdog = loop.call_later(self._timeout_s / TICKS, self._check_progress)

    def _expire(self, before: int) -> None:
        """Fail the callers of commands numbered below ``before`` (sent ``timeout_s``
        ago or more), each once; their places stay, for their replies to be dropped."""
        start = max(self._expired, self._head)
        if before <= start:
            return
        message = f"no reply from Redis in {self._timeout_s}s (outcome unknown)"
        for future in itertools.islice(self._pending, start - self._head, before - self._head):
            if not future.done():
                future.set_exception(MuxTimeoutError(message))  # one each, as in _fail_pending
                future.exception()
                self.errors["command_timeout"] += 1
        self._expired = before

    async def ping(self) -> bool:
        return bool(await self.execute("PING"))

    def error_counts(self) -> collections.Counter[str]:
        return collections.Counter(self.errors)

    # --- scripts --------------------------------------------------------------------

    def register_script(self, source: str) -> str:
        """Remember a script's source; returns the SHA to call it by."""
        sha = hashlib.sha1(source.encode()).hexdigest()
        self._scripts[sha] = source.encode()
        return sha

    async def evalsha(self, sha: str, keys: list[str], args: list[Arg]) -> Any:
        if not self._ready:
            await self._until_ready()
        try:
            # _send_packed directly: this is the hot path, and every coroutine layer costs.
            return await self._send_packed(pack(("EVALSHA", sha, len(keys), *keys, *args)))
        except CommandError as exc:
            if not str(exc).startswith("NOSCRIPT"):
                raise
            await self._load(sha)
            return await self.execute("EVALSHA", sha, len(keys), *keys, *args)

    async def _load(self, sha: str) -> None:
        """Load a script Redis does not know (first use, or Redis restarted): once, however
        many callers met NOSCRIPT at the same time (a crowd's first closes, say)."""
        loading = self._loading.get(sha)
        if loading is None:
            loading = asyncio.ensure_future(self.execute("SCRIPT", "LOAD", self._scripts[sha]))
            self._loading[sha] = loading
            loading.add_done_callback(lambda done: self._loaded(sha, done))
        await asyncio.shield(loading)

    def _loaded(self, sha: str, done: asyncio.Future[Any]) -> None:
        self._loading.pop(sha, None)
        if not done.cancelled():
            done.exception()  # each waiter raised it; none left must not leave it unread
