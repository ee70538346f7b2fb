"""The pipelined connection's life, under ``mux.RedisMux``: connecting (with the URL's
AUTH and SELECT), reading replies in order, backpressure, and failing what waits when
the connection goes. mux.py's docstring has the failure model; sending is there too.
"""

from __future__ import annotations

import asyncio
import collections
import logging
from typing import Any

import hiredis

from server.redis_urls import Endpoint
from server.storage.commands import (
    Arg,
    CommandError,
    MuxConnectionError,
    MuxNotSentError,
    MuxTimeoutError,
    pack,
)

log = logging.getLogger("server.storage.mux")

MIN_COMMAND_BYTES = 11  # the shortest packed command: *1\r\n$1\r\nX\r\n
TICKS = 4  # watchdog looks per timeout_s


class _Protocol(asyncio.Protocol):
    def __init__(self, mux: MuxLink) -> None:
        self._mux = mux
        self._reader = hiredis.Reader(replyError=CommandError)

    def data_received(self, data: bytes) -> None:
        mux = self._mux
        self._reader.feed(data)
        pending = mux._pending
        waiting = len(pending)
        while True:
            reply = self._reader.gets()
            if reply is False:
                break
            if not pending:
                mux._head += waiting  # the replies just read count, as below
                log.error("reply with no command waiting for it; dropping the connection")
                mux._lost(MuxConnectionError("protocol out of step"), self)
                return
            future = pending.popleft()
            if not future.done():  # else cancelled, or failed by its deadline: dropped
                if isinstance(reply, CommandError):
                    future.set_exception(reply)
                else:
                    future.set_result(reply)
        mux._head += waiting - len(pending)  # complete replies: the watchdog's progress
        if mux._too_many and len(pending) < mux._max_pending:
            mux._too_many = False
            mux._set_ready()

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        # Known from the first moment, so a loss during set-up is recognised as this one's.
        self._mux._protocol = self

    def connection_lost(self, exc: Exception | None) -> None:
        self._mux._lost(MuxConnectionError(f"connection to Redis lost: {exc or 'closed'}"), self)

    def pause_writing(self) -> None:
        self._mux._pause(self)

    def resume_writing(self) -> None:
        self._mux._resume(self)


class MuxLink:
    """One pipelined connection's state and life; ``RedisMux`` sends over it."""

    def __init__(
        self,
        url: str | Endpoint,
        *,
        timeout_s: float = 5.0,
        connect_timeout_s: float = 1.0,
        write_buffer_bytes: int,
        max_pending: int,
    ) -> None:
        self._endpoint = url if isinstance(url, Endpoint) else Endpoint.from_url(url)
        self._timeout_s = timeout_s
        self._connect_timeout_s = connect_timeout_s
        self._write_buffer_bytes = write_buffer_bytes
        self._max_pending = max_pending
        self._transport: asyncio.Transport | None = None  # set once ready for commands
        # The loop the connection runs on, kept: on Python 3.11 every
        # asyncio.get_running_loop() is a getpid() system call, too dear per command.
        self._loop: asyncio.AbstractEventLoop | None = None
        self._protocol: _Protocol | None = None  # the current connection's, even while setting up
        self._connecting: asyncio.Future[None] | None = None
        # Set while Redis is not reading (the write buffer is past its mark): resolved
        # when it drains, failed when the connection goes.
        self._drained: asyncio.Future[None] | None = None
        self._too_many = False  # max_pending commands wait for replies
        # Connected, writable, not too many waiting: a command may be queued at once.
        # The hot path's one check.
        self._ready = False
        self._pending: collections.deque[asyncio.Future[Any]] = collections.deque()
        self._outbox: list[bytes] = []
        # Bytes that may still be queued before the room is measured again (the
        # write buffer's mark, less what the socket holds; fewer near max_pending).
        self._room = write_buffer_bytes
        self._flush_scheduled = False
        self._watchdog: asyncio.TimerHandle | None = None
        self._head = 0  # number of the command at the head of _pending (replies so far)
        self._head_before = 0  # ...as the watchdog last saw it
        self._quiet_since = 0.0  # since when no reply came, as far as the watchdog knows
        self._marks: collections.deque[int] = collections.deque(maxlen=TICKS + 1)
        self._expired = 0  # commands numbered below this have been failed by their deadline
        self._closed = False
        # Failures by kind, for the metrics: connect_failed, connection_lost, timeout (the
        # connection dropped as silent), command_timeout (a caller's deadline passed),
        # too_many_pending and no_room (refused before sending).
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
        """Connect if need be; wait while Redis is not reading what was sent (at most
        ``timeout_s``); refuse at once while ``max_pending`` commands wait."""
        deadline = None
        while not self._ready:
            if self._too_many:
                self.errors["too_many_pending"] += 1
                raise MuxNotSentError(
                    f"not sent: {len(self._pending)} commands already wait for Redis's replies"
                )
            if self._transport is None:
                await self._ensure_connected()
            elif self._drained is not None:
                loop = asyncio.get_running_loop()
                deadline = deadline or loop.time() + self._timeout_s
                try:
                    async with asyncio.timeout_at(deadline):
                        await asyncio.shield(self._drained)
                except TimeoutError:
                    self.errors["no_room"] += 1
                    raise MuxNotSentError(
                        f"not sent: Redis did not take the commands ahead in {self._timeout_s}s"
                    ) from None

    async def _ensure_connected(self) -> None:
        if self._transport is not None:
            return
        if self._closed:
            raise MuxNotSentError("client closed")
        if self._connecting is None:
            self._connecting = asyncio.get_running_loop().create_future()
            task = asyncio.ensure_future(self._connect())
            task.add_done_callback(self._connected)
        await asyncio.shield(self._connecting)

    def _connected(self, task: asyncio.Future[None]) -> None:
        waiting, self._connecting = self._connecting, None
        assert waiting is not None
        if task.cancelled():
            waiting.set_exception(MuxNotSentError("connect cancelled"))
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
            raise MuxNotSentError(f"cannot reach Redis at {ep.host}:{ep.port}: {exc}") from exc
        if self._protocol is not protocol:  # it dropped before we got here
            transport.abort()
            raise MuxNotSentError("connection to Redis lost while connecting")
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
                raise MuxNotSentError(f"Redis refused the connection's set-up: {exc}") from exc
        if self._protocol is not protocol or self._closed:  # dropped, or closed meanwhile
            self._protocol = None
            transport.abort()
            raise MuxNotSentError("connection to Redis lost while connecting")
        self._transport, self._loop = transport, loop
        self._measure_room()
        self._set_ready()

    def _set_ready(self) -> None:
        self._ready = self._transport is not None and self._drained is None and not self._too_many

    def _pause(self, protocol: _Protocol) -> None:
        if protocol is self._protocol and self._drained is None:
            self._drained = asyncio.get_running_loop().create_future()
            self._ready = False

    def _resume(self, protocol: _Protocol) -> None:
        if protocol is self._protocol and self._drained is not None:
            drained, self._drained = self._drained, None
            drained.set_result(None)
            self._set_ready()

    def _fail_pending(self, exc: Exception, unsent: int = 0) -> None:
        """Fail every command waiting for a reply; the last ``unsent`` never left."""
        pending, self._pending = self._pending, collections.deque()
        self._head += len(pending)
        # An exception of its own for each caller: one instance raised in many tasks
        # would gather each one's traceback and context onto the others'.
        for i, future in enumerate(pending, start=unsent - len(pending)):
            if not future.done():
                future.set_exception(
                    MuxNotSentError(f"not sent: {exc}") if i >= 0 else type(exc)(*exc.args)
                )
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
        self._too_many = False
        transport, self._transport = self._transport, None
        if transport is not None:
            transport.abort()
        if self._watchdog is not None:  # the next connection's starts afresh
            self._watchdog.cancel()
            self._watchdog = None
        drained, self._drained = self._drained, None
        if drained is not None and not drained.done():
            drained.set_exception(MuxNotSentError(f"not sent: {exc}"))
            drained.exception()
        unsent = len(self._outbox)
        self._outbox.clear()
        self._fail_pending(exc, unsent)

    def _measure_room(self) -> None:
        # Each command is at least MIN_COMMAND_BYTES long: room runs out before
        # max_pending is passed, and _no_room then looks.
        self._room = min(
            self._write_buffer_bytes - self.buffered_bytes(),
            (self._max_pending - len(self._pending)) * MIN_COMMAND_BYTES,
        )
