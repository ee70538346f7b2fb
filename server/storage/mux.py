"""One pipelined Redis connection shared by every task of a process: the hot path's client.

Commands issued during one event-loop turn leave in one write; replies come
back in order on the same connection and resolve their callers' futures. This
is auto-pipelining: a thousand players submitting at once cost Redis and the
kernel a handful of round trips, not a thousand, and each command costs Python
a few microseconds instead of a pooled client's connection checkout, timeout
context and retry wrapper.

It speaks RESP2 through hiredis's reader. It covers what the stores need:
plain commands and scripts by SHA (loading a script again when Redis answers
NOSCRIPT, e.g. after a restart). Blocking commands and pub/sub stay on
redis-py, which holds their connections apart.

Failure model: when the connection drops, every command in flight fails with
``MuxConnectionError`` (callers see ``Unavailable``); the next command
reconnects. A command that gets no reply within ``timeout_s`` fails the same way,
and the connection is replaced, so nothing waits forever.
"""

from __future__ import annotations

import asyncio
import collections
import hashlib
import logging
import time
from typing import Any, Protocol

import hiredis

from server.redis_urls import Endpoint

log = logging.getLogger(__name__)

Arg = bytes | str | int | float


class MuxConnectionError(ConnectionError):
    """Redis could not be reached, or the connection dropped with commands in flight."""


class MuxTimeoutError(TimeoutError):
    """Redis did not answer in time."""


class CommandError(Exception):
    """Redis answered with an error reply."""

    # The command (or script) that got it, for the log; set where the caller is known.
    command: str = ""


def _named(exc: CommandError, command: Arg) -> CommandError:
    if not exc.command:
        exc.command = command.decode() if isinstance(command, bytes) else str(command)
    return exc


class Commands(Protocol):
    """What the stores need from a Redis client: one Redis (RedisMux) or a cluster's
    slot-routing client (cluster.ClusterMux) alike."""

    async def execute(self, *args: Arg) -> Any: ...

    async def pipeline(self, *commands: tuple[Arg, ...]) -> list[Any]: ...

    async def transaction(self, *commands: tuple[Arg, ...]) -> list[Any]: ...

    def register_script(self, source: str) -> str: ...

    async def evalsha(self, sha: str, keys: list[str], args: list[Arg]) -> Any: ...

    async def ping(self) -> bool:
        """Redis answers (on a cluster: every master does)."""
        ...

    def error_counts(self) -> collections.Counter[str]:
        """Connection failures so far, by kind (on a cluster: over every master)."""
        ...

    async def aclose(self) -> None: ...


def pack(args: tuple[Arg, ...]) -> bytes:
    """One command in RESP, packed by hiredis in C (four times faster than Python here)."""
    return hiredis.pack_command(args)  # type: ignore[arg-type,no-any-return]


class _Protocol(asyncio.Protocol):
    def __init__(self, mux: RedisMux) -> None:
        self._mux = mux
        self._reader = hiredis.Reader(replyError=CommandError)

    def data_received(self, data: bytes) -> None:
        self._reader.feed(data)
        pending = self._mux._pending
        while True:
            reply = self._reader.gets()
            if reply is False:
                return
            if not pending:
                log.error("reply with no command waiting for it; dropping the connection")
                self._mux._lost(MuxConnectionError("protocol out of step"), self)
                return
            future, _ = pending.popleft()
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


class RedisMux:
    def __init__(
        self, url: str | Endpoint, *, timeout_s: float = 5.0, connect_timeout_s: float = 1.0
    ) -> None:
        self._endpoint = url if isinstance(url, Endpoint) else Endpoint.from_url(url)
        self._timeout_s = timeout_s
        self._connect_timeout_s = connect_timeout_s
        self._transport: asyncio.Transport | None = None  # set once ready for commands
        self._protocol: _Protocol | None = None  # the current connection's, even while setting up
        self._connecting: asyncio.Future[None] | None = None
        self._pending: collections.deque[tuple[asyncio.Future[Any], float]] = collections.deque()
        self._outbox: list[bytes] = []
        self._flush_scheduled = False
        self._watchdog: asyncio.TimerHandle | None = None
        self._scripts: dict[str, bytes] = {}  # sha -> source, for NOSCRIPT
        self._closed = False
        # Failures by kind (connect_failed, connection_lost, timeout), for the metrics.
        self.errors: collections.Counter[str] = collections.Counter()

    # --- connecting -----------------------------------------------------------------

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
            self._pending.extend((future, time.monotonic()) for future in futures)
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

    def _fail_pending(self, exc: Exception) -> None:
        pending, self._pending = self._pending, collections.deque()
        for future, _ in pending:
            if not future.done():
                future.set_exception(exc)
                future.exception()  # seen here; a caller that waits still gets it

    def _lost(self, exc: Exception, protocol: _Protocol | None = None) -> None:
        """The connection is gone (or must go): fail what is in flight.

        ``protocol`` names the connection that reported it; a report from an
        older, already-replaced connection is ignored.
        """
        if protocol is not None and protocol is not self._protocol:
            return
        if self._protocol is not None and not self._closed:
            self.errors["timeout" if isinstance(exc, MuxTimeoutError) else "connection_lost"] += 1
        self._protocol = None
        transport, self._transport = self._transport, None
        if transport is not None:
            transport.abort()
        self._fail_pending(exc)
        self._outbox.clear()

    async def aclose(self) -> None:
        self._closed = True
        if self._watchdog is not None:
            self._watchdog.cancel()
        self._lost(MuxConnectionError("client closed"))

    # --- sending --------------------------------------------------------------------

    async def execute(self, *args: Arg) -> Any:
        """Run one command; its reply, or CommandError for an error reply."""
        if self._transport is None:
            await self._ensure_connected()
        try:
            return await self._send(args)
        except CommandError as exc:
            _named(exc, args[0])
            raise

    async def pipeline(self, *commands: tuple[Arg, ...]) -> list[Any]:
        """Run commands back to back (nothing else interleaves); all their replies.

        An error reply raises its CommandError once every reply has arrived.
        """
        if self._transport is None:
            await self._ensure_connected()
        # Pack everything first: a bad argument must not leave half a batch queued.
        packed = [pack(command) for command in commands]
        futures = [self._send_packed(data) for data in packed]
        replies = await asyncio.gather(*futures, return_exceptions=True)
        for command, reply in zip(commands, replies, strict=True):
            if isinstance(reply, CommandError):
                raise _named(reply, command[0])
            if isinstance(reply, BaseException):
                raise reply
        return list(replies)

    async def transaction(self, *commands: tuple[Arg, ...]) -> list[Any]:
        """MULTI ... EXEC: all of ``commands`` or none; their replies (an error reply raises)."""
        replies = await self.pipeline(("MULTI",), *commands, ("EXEC",))
        result = replies[-1]
        if result is None:
            raise MuxConnectionError("transaction aborted")
        for command, reply in zip(commands, result, strict=False):
            if isinstance(reply, CommandError):
                raise _named(reply, command[0])
        return list(result)

    def _send(self, args: tuple[Arg, ...]) -> asyncio.Future[Any]:
        return self._send_packed(pack(args))

    def _send_packed(self, data: bytes) -> asyncio.Future[Any]:
        loop = asyncio.get_running_loop()
        future: asyncio.Future[Any] = loop.create_future()
        self._outbox.append(data)
        self._pending.append((future, time.monotonic()))
        if not self._flush_scheduled:
            self._flush_scheduled = True
            loop.call_soon(self._flush)
        if self._watchdog is None:
            self._watchdog = loop.call_later(self._timeout_s / 4, self._check_overdue)
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

    def _check_overdue(self) -> None:
        self._watchdog = None
        if not self._pending:
            return
        _, oldest = self._pending[0]
        if time.monotonic() - oldest > self._timeout_s:
            log.warning("Redis did not answer in %.1fs; dropping the connection", self._timeout_s)
            self._lost(MuxTimeoutError(f"no reply from Redis in {self._timeout_s}s"))
            return
        self._watchdog = asyncio.get_running_loop().call_later(
            self._timeout_s / 4, self._check_overdue
        )

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
        if self._transport is None:
            await self._ensure_connected()
        try:
            # _send directly: this is the hot path, and every coroutine layer costs.
            return await self._send(("EVALSHA", sha, len(keys), *keys, *args))
        except CommandError as exc:
            if not str(exc).startswith("NOSCRIPT"):
                raise
            await self.execute("SCRIPT", "LOAD", self._scripts[sha])
            return await self.execute("EVALSHA", sha, len(keys), *keys, *args)
