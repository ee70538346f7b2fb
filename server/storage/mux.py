"""One pipelined Redis connection shared by every task of a process: the hot path's client.

Commands issued during one event-loop turn leave in one write; replies come
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

Failure model:
- When the connection drops, every command in flight fails with
  ``MuxConnectionError`` (callers see ``Unavailable``); the next command reconnects.
- Timeouts judge progress, not age: the connection is declared dead (every
  command in flight fails with ``MuxTimeoutError``, and it is replaced) only when
  commands are waiting and nothing at all has come back for ``timeout_s``. Redis
  runs one command at a time, so a slow command (a long script) delays every reply
  behind it; while replies keep arriving the connection is alive, however long
  the queue. A single command silent for ``timeout_s`` is indistinguishable from a
  hung Redis and fails, with those behind it (whose outcome is then unknown).
  The watchdog looks every quarter of ``timeout_s`` (no clock read per command),
  so a silent connection is dropped between 1 and 1.5 ``timeout_s`` after its
  last reply; and while replies keep arriving, no single command has a deadline
  of its own (a caller that needs one wraps its await).
- Writes have backpressure: when the socket's write buffer passes
  ``write_buffer_bytes`` (Redis is not reading), new commands wait until it
  drains; they fail with the rest if the connection is declared dead meanwhile.
  So memory stays bounded by that mark plus one event-loop turn's commands.
"""

from __future__ import annotations

import asyncio
import collections
import hashlib
import logging
from collections.abc import Sequence
from typing import Any

import hiredis

from server.redis_urls import Endpoint
from server.storage.commands import (
    Arg,
    CommandError,
    Commands,
    MuxConnectionError,
    MuxTimeoutError,
    exec_result,
    named,
    pack,
)

# The names the stores import from here (commands.py defines them).
__all__ = [
    "Arg",
    "CommandError",
    "Commands",
    "MuxConnectionError",
    "MuxTimeoutError",
    "RedisMux",
    "pack",
]

log = logging.getLogger(__name__)

WRITE_BUFFER_BYTES = 1 << 20  # past this many unsent bytes, new commands wait


class _Protocol(asyncio.Protocol):
    def __init__(self, mux: RedisMux) -> None:
        self._mux = mux
        self._reader = hiredis.Reader(replyError=CommandError)

    def data_received(self, data: bytes) -> None:
        mux = self._mux
        mux._heard += 1  # progress, for the watchdog: a partial reply counts too
        self._reader.feed(data)
        pending = mux._pending
        while True:
            reply = self._reader.gets()
            if reply is False:
                return
            if not pending:
                log.error("reply with no command waiting for it; dropping the connection")
                mux._lost(MuxConnectionError("protocol out of step"), self)
                return
            future = pending.popleft()
            if not future.done():
                if isinstance(reply, CommandError):
                    future.set_exception(reply)
                else:
                    future.set_result(reply)

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        # Known from the first moment, so a loss during set-up is recognised as this one's.
        self._mux._protocol = self

    def connection_lost(self, exc: Exception | None) -> None:
        self._mux._lost(MuxConnectionError(f"connection to Redis lost: {exc or 'closed'}"), self)

    def pause_writing(self) -> None:
        self._mux._pause(self)

    def resume_writing(self) -> None:
        self._mux._resume(self)


class RedisMux:
    """The ``Commands`` of one Redis, over one pipelined connection."""

    def __init__(
        self,
        url: str | Endpoint,
        *,
        timeout_s: float = 5.0,
        connect_timeout_s: float = 1.0,
        write_buffer_bytes: int = WRITE_BUFFER_BYTES,
    ) -> None:
        self._endpoint = url if isinstance(url, Endpoint) else Endpoint.from_url(url)
        self._timeout_s = timeout_s
        self._connect_timeout_s = connect_timeout_s
        self._write_buffer_bytes = write_buffer_bytes
        self._transport: asyncio.Transport | None = None  # set once ready for commands
        self._protocol: _Protocol | None = None  # the current connection's, even while setting up
        self._connecting: asyncio.Future[None] | None = None
        # Set while Redis is not reading (the write buffer is past its mark): resolved
        # when it drains, failed when the connection goes.
        self._drained: asyncio.Future[None] | None = None
        # Connected and writable: a command may be queued at once. The hot path's one check.
        self._ready = False
        self._pending: collections.deque[asyncio.Future[Any]] = collections.deque()
        self._outbox: list[bytes] = []
        self._flush_scheduled = False
        self._watchdog: asyncio.TimerHandle | None = None
        self._heard = 0  # reads so far: the watchdog's measure of progress
        self._heard_before = 0  # ...as the watchdog last saw it
        self._quiet_since = 0.0  # since when nothing was read, as far as the watchdog knows
        self._scripts: dict[str, bytes] = {}  # sha -> source, for NOSCRIPT
        self._closed = False
        # Failures by kind (connect_failed, connection_lost, timeout), for the metrics.
        self.errors: collections.Counter[str] = collections.Counter()

    @property
    def writing_paused(self) -> bool:
        """Redis is not reading what was sent: new commands wait."""
        return self._drained is not None

    def buffered_bytes(self) -> int:
        """Bytes written but not yet taken by the socket (Redis not reading)."""
        return 0 if self._transport is None else self._transport.get_write_buffer_size()

    # --- connecting -----------------------------------------------------------------

    async def _until_ready(self) -> None:
        """Connect if need be; wait while Redis is not reading what was sent."""
        while not self._ready:
            if self._transport is None:
                await self._ensure_connected()
            elif self._drained is not None:
                await asyncio.shield(self._drained)

    async def _ensure_connected(self) -> None:
        if self._transport is not None:
            return
        if self._closed:
            raise MuxConnectionError("client closed")
        if self._connecting is None:
            self._connecting = asyncio.get_running_loop().create_future()
            task = asyncio.ensure_future(self._connect())
            task.add_done_callback(self._connected)
        await asyncio.shield(self._connecting)

    def _connected(self, task: asyncio.Future[None]) -> None:
        waiting, self._connecting = self._connecting, None
        assert waiting is not None
        if task.cancelled():
            waiting.set_exception(MuxConnectionError("connect cancelled"))
        elif (error := task.exception()) is not None:
            waiting.set_exception(error)
        else:
            waiting.set_result(None)
        # Mark any failure as seen: callers waiting on it raise it themselves, and
        # with none left waiting it must not be reported as never retrieved.
        waiting.exception()

    async def _connect(self) -> None:
        loop = asyncio.get_running_loop()
        ep = self._endpoint
        try:
            transport, protocol = await asyncio.wait_for(
                loop.create_connection(
                    lambda: _Protocol(self), ep.host, ep.port, ssl=ep.ssl_context()
                ),
                self._connect_timeout_s,
            )
        except (OSError, TimeoutError) as exc:
            self.errors["connect_failed"] += 1
            raise MuxConnectionError(f"cannot reach Redis at {ep.host}:{ep.port}: {exc}") from exc
        if self._protocol is not protocol:  # it dropped before we got here
            transport.abort()
            raise MuxConnectionError("connection to Redis lost while connecting")
        transport.set_write_buffer_limits(high=self._write_buffer_bytes)
        hello: list[tuple[Arg, ...]] = []
        if ep.password is not None:
            hello.append(
                ("AUTH", ep.username, ep.password) if ep.username else ("AUTH", ep.password)
            )
        if ep.db:
            hello.append(("SELECT", ep.db))
        if hello:
            # Nobody else can send yet (the transport is not published), so these
            # replies are the first to come back; other callers wait for the set-up.
            futures = [loop.create_future() for _ in hello]
            self._pending.extend(futures)
            transport.write(b"".join(pack(command) for command in hello))
            try:
                await asyncio.wait_for(asyncio.gather(*futures), self._connect_timeout_s)
            except (CommandError, TimeoutError, MuxConnectionError) as exc:
                self._protocol = None
                transport.abort()
                self._fail_pending(MuxConnectionError(f"Redis refused the set-up: {exc}"))
                raise MuxConnectionError(f"Redis refused the connection's set-up: {exc}") from exc
        if self._protocol is not protocol or self._closed:  # dropped, or closed meanwhile
            self._protocol = None
            transport.abort()
            raise MuxConnectionError("connection to Redis lost while connecting")
        self._transport = transport
        self._ready = self._drained is None

    def _pause(self, protocol: _Protocol) -> None:
        if protocol is self._protocol and self._drained is None:
            self._drained = asyncio.get_running_loop().create_future()
            self._ready = False

    def _resume(self, protocol: _Protocol) -> None:
        if protocol is self._protocol and self._drained is not None:
            drained, self._drained = self._drained, None
            drained.set_result(None)
            self._ready = self._transport is not None

    def _fail_pending(self, exc: Exception) -> None:
        pending, self._pending = self._pending, collections.deque()
        for future in pending:
            if not future.done():
                future.set_exception(exc)
                future.exception()  # seen here; a caller that waits still gets it

    def _lost(self, exc: Exception, protocol: _Protocol | None = None) -> None:
        """The connection is gone (or must go): fail what is in flight, and what waits
        for it to drain.

        ``protocol`` names the connection that reported it; a report from an
        older, already-replaced connection is ignored.
        """
        if protocol is not None and protocol is not self._protocol:
            return
        if self._protocol is not None and not self._closed:
            self.errors["timeout" if isinstance(exc, MuxTimeoutError) else "connection_lost"] += 1
        self._protocol = None
        self._ready = False
        transport, self._transport = self._transport, None
        if transport is not None:
            transport.abort()
        if self._watchdog is not None:  # the next connection's starts afresh
            self._watchdog.cancel()
            self._watchdog = None
        drained, self._drained = self._drained, None
        if drained is not None and not drained.done():
            drained.set_exception(exc)
            drained.exception()
        self._fail_pending(exc)
        self._outbox.clear()

    async def aclose(self) -> None:
        self._closed = True
        self._lost(MuxConnectionError("client closed"))

    # --- sending --------------------------------------------------------------------

    async def execute(self, *args: Arg) -> Any:
        """Run one command; its reply, or CommandError for an error reply."""
        if not self._ready:
            await self._until_ready()
        try:
            return await self._send_packed(pack(args))
        except CommandError as exc:
            named(exc, args[0])
            raise

    async def pipeline(self, *commands: tuple[Arg, ...]) -> list[Any]:
        """Run commands back to back, in one write (nothing else of this client between
        them); all their replies. An error reply raises once every reply has arrived."""
        replies = await self.replies(commands)
        for command, reply in zip(commands, replies, strict=True):
            if isinstance(reply, CommandError):
                raise named(reply, command[0])
        return replies

    async def replies(self, commands: Sequence[tuple[Arg, ...]]) -> list[Any]:
        """``pipeline``, but an error reply is returned in its place, not raised: how
        ClusterMux reads each command's MOVED or ASK. A lost connection still raises."""
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
        """MULTI ... EXEC: all of ``commands`` or none; their replies (an error reply raises)."""
        return exec_result(commands, await self.replies([("MULTI",), *commands, ("EXEC",)]))

    def _send_packed(self, data: bytes) -> asyncio.Future[Any]:
        loop = asyncio.get_running_loop()
        future: asyncio.Future[Any] = loop.create_future()
        self._outbox.append(data)
        self._pending.append(future)
        if not self._flush_scheduled:
            self._flush_scheduled = True
            loop.call_soon(self._flush)
        if self._watchdog is None:
            self._quiet_since = loop.time()
            self._heard_before = self._heard
            self._watchdog = loop.call_later(self._timeout_s / 4, self._check_progress)
        return future

    def _flush(self) -> None:
        self._flush_scheduled = False
        if not self._outbox:
            return
        data = b"".join(self._outbox)
        self._outbox.clear()
        if self._transport is None:
            # Lost between queueing and flushing: _lost already failed those callers.
            return
        self._transport.write(data)

    def _check_progress(self) -> None:
        """Every quarter timeout while commands wait: has anything come back since the
        last look? Dead only after ``timeout_s`` of silence."""
        self._watchdog = None
        if not self._pending:
            return
        loop = asyncio.get_running_loop()
        if self._heard != self._heard_before:
            self._heard_before = self._heard
            self._quiet_since = loop.time()
        elif loop.time() - self._quiet_since > self._timeout_s:
            log.warning("Redis sent nothing for %.1fs; dropping the connection", self._timeout_s)
            self._lost(MuxTimeoutError(f"no reply from Redis in {self._timeout_s}s"))
            return
        self._watchdog = loop.call_later(self._timeout_s / 4, self._check_progress)

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
            await self.execute("SCRIPT", "LOAD", self._scripts[sha])
            return await self.execute("EVALSHA", sha, len(keys), *keys, *args)
