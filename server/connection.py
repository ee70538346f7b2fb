"""Each socket's bounded outbox, the node's frame flusher, and the registry of local sockets.

Only a socket's handler task reads from it. Anything may send to it, and
sending never blocks: the ready-made WebSocket frame (header and payload, the
same bytes for every recipient) is queued on the connection, and once per
event-loop turn the ``Flusher`` writes each connection's queue to its transport
in one ``write``. No task per socket, no task switch per frame, one system
call per socket per turn however many frames it got. A match's pushes may wait
longer when its mode says so (``push_window_ms``): then the frames of several
turns share one write, until the window closes or anything else is written.

Backpressure: bytes the kernel has not taken yet wait in the transport's
buffer. A socket whose buffer grows past ``outbox_bytes`` has stopped reading;
it is closed with 4008 instead of slowing anyone else or growing without bound.

Closing: a socket told to close while one of its requests is being handled (a
node draining on SIGTERM, a socket replaced) closes once that request's reply is
queued, so the reply goes out before the close frame; pushes stop at once.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import secrets
import time

from aiohttp import web
from multidict import CIMultiDict, CIMultiDictProxy

from server.identity import Identity
from server.protocol import CloseCode, Format, Frame, Message, encode, ws_frame

log = logging.getLogger(__name__)

# Frames that wait for their window (a mode's push_window_ms) are written at once past this
# many bytes queued on the socket: the window saves system calls, not memory.
WINDOW_BYTES_MAX = 64 * 1024


# A socket's response headers once sent with its 101 (server/ws.py): empty, read-only.
SENT_HEADERS = CIMultiDictProxy(CIMultiDict[str]())


class UpgradeCheck(web.WebSocketResponse):
    """Only asks whether a request can upgrade (``can_prepare``), then goes; never prepared.

    A class of its own, and each socket's response made only once its session is known
    and prepared at once, for CPython 3.11's shared attribute keys: a class's instances
    share one table of up to 30 attribute names, and each instance made shrinks what is
    left of it. A ``WebSocketResponse`` sets 29 names by its first ``receive``; made
    before the session's await (server/ws.py), a hundred sockets opening at once used
    the table up before the first had set them all, and every socket's response then got
    a dict of its own (832 to 1,584 bytes a socket). Made and prepared with no await
    between, the first response sets all its names before another is made, as the bare
    server's do."""


class FloodGate:
    """Per-socket message rate limit (token bucket), kept in process: no Redis per frame."""

    __slots__ = ("_burst", "_per_s", "_stamp", "_tokens")

    def __init__(self, burst: int, per_s: float) -> None:
        self._burst = float(burst)
        self._per_s = per_s
        self._tokens = float(burst)
        self._stamp = time.monotonic()

    def admit(self) -> int:
        """0 when the message may pass, else the ms until one more token is there."""
        now = time.monotonic()
        self._tokens = min(self._burst, self._tokens + (now - self._stamp) * self._per_s)
        self._stamp = now
        if self._tokens >= 1.0:
            self._tokens -= 1.0
            return 0
        return max(1, int((1.0 - self._tokens) / self._per_s * 1000) + 1)


class Flusher:
    """Writes every connection that got frames, once: at the end of the event-loop turn,
    or, for frames that may wait (a mode's ``push_window_ms``), when their window closes,
    so that the frames of several turns leave in one write."""

    def __init__(self) -> None:
        self._dirty: dict[Connection, None] = {}  # insertion-ordered set
        self._scheduled = False
        self._waiting: dict[float, dict[Connection, None]] = {}  # window -> connections
        # Kept: on Python 3.11 every asyncio.get_running_loop() is a getpid() system call.
        self._loop: asyncio.AbstractEventLoop | None = None

    def mark(self, conn: Connection) -> None:
        self._dirty[conn] = None
        if not self._scheduled:
            self._scheduled = True
            (self._loop or self._bind()).call_soon(self._flush)

    def mark_within(self, conn: Connection, within_s: float) -> None:
        """Write ``conn`` within ``within_s``: one timer per window, started by the first
        connection that waits, writes every connection that waited for it."""
        waiting = self._waiting.get(within_s)
        if waiting is None:
            waiting = self._waiting[within_s] = {}
            (self._loop or self._bind()).call_later(within_s, self._flush_window, within_s)
        waiting[conn] = None

    def _bind(self) -> asyncio.AbstractEventLoop:
        self._loop = asyncio.get_running_loop()
        return self._loop

    def _flush(self) -> None:
        self._scheduled = False
        dirty, self._dirty = self._dirty, {}
        for conn in dirty:
            conn.flush()

    def _flush_window(self, within_s: float) -> None:
        for conn in self._waiting.pop(within_s, {}):
            conn.flush()  # nothing to write if a turn's flush took its frames meanwhile


class Connection:
    """A player's socket on this node."""

    # Thousands per node: no per-instance dict.
    __slots__ = (
        "_close_code",
        "_close_reason",
        "_close_timeout_s",
        "_closer",
        "_ended",
        "_flusher",
        "_handled",
        "_handling",
        "_outbox",
        "_outbox_bytes",
        "_queued",
        "_transport",
        "claimed",
        "conn_id",
        "flood_gate",
        "identity",
        "player_id",
        "push_format",
        "session_hash",
        "session_touched",
        "ws",
    )

    def __init__(
        self,
        ws: web.WebSocketResponse,
        transport: asyncio.Transport,
        *,
        identity: Identity,
        session_hash: str,
        outbox_bytes: int,
        flood_gate: FloodGate,
        flusher: Flusher,
        close_timeout_s: float = 5.0,
    ) -> None:
        self.conn_id = secrets.token_hex(6)
        self.ws = ws
        self.identity = identity
        self.player_id = identity.player_id
        self.session_hash = session_hash
        self.flood_gate = flood_gate
        self.push_format = Format.MSGPACK  # pushes follow the client's last request
        self.session_touched = time.monotonic()
        # Set once the socket's claim (the player's live socket) is stored: before that,
        # a check for displaced sockets would take it for a replaced one.
        self.claimed = False
        self._transport = transport
        self._flusher = flusher
        self._outbox: list[bytes] = []
        self._queued = 0  # bytes in _outbox
        self._outbox_bytes = outbox_bytes
        self._close_code: int | None = None
        self._close_reason = ""
        self._closer: asyncio.Task[None] | None = None
        self._ended = False  # closed without our handshake (closed_already)
        self._close_timeout_s = close_timeout_s
        # A request is being handled: a close waits for its reply (see request_done).
        self._handling = False
        self._handled: asyncio.Future[None] | None = None  # made when someone waits for it

    @property
    def closing(self) -> bool:
        return self._close_code is not None

    @property
    def close_code(self) -> int | None:
        """The code this server closed (or is closing) the socket with."""
        return self._close_code

    def reply(self, message: Message, fmt: Format) -> None:
        # The reply to the request a close is waiting for still goes out.
        self._enqueue(ws_frame(encode(message, fmt)), closing_ok=self._handling)

    def push(self, frame: Frame, within_s: float = 0.0) -> None:
        """Queue a push; written at the end of this event-loop turn, or, with ``within_s``,
        at most that much later, beside the frames that come meanwhile."""
        self._enqueue(frame.wire(self.push_format), within_s=within_s)

    def request_started(self) -> None:
        """The read loop is handling a request: a close now waits for its reply."""
        self._handling = True

    def request_done(self) -> None:
        """The request's reply, if any, is queued: a close that waited for it goes on."""
        self._handling = False
        if self._close_code is not None:
            self._flusher.mark(self)
        if self._handled is not None and not self._handled.done():
            self._handled.set_result(None)

    def _enqueue(self, data: bytes, *, closing_ok: bool = False, within_s: float = 0.0) -> None:
        if self._close_code is not None and not (closing_ok and self._closer is None):
            return
        if self._transport.get_write_buffer_size() > self._outbox_bytes:
            log.info("slow reader: closing socket %s of %s", self.conn_id, self.player_id)
            self._outbox.clear()
            self._queued = 0
            self.close(CloseCode.SLOW_CONSUMER, "slow consumer", now=True)
            return
        self._outbox.append(data)
        self._queued += len(data)
        if within_s and self._queued < WINDOW_BYTES_MAX:
            self._flusher.mark_within(self, within_s)
        else:
            self._flusher.mark(self)

    def flush(self) -> None:
        """Write what is queued in one go; then, if asked to, start the closing handshake."""
        if self._outbox:
            data = b"".join(self._outbox) if len(self._outbox) > 1 else self._outbox[0]
            self._outbox.clear()
            self._queued = 0
            if not self._transport.is_closing():
                self._transport.write(data)
        if self._close_code is not None and self._closer is None and not self._handling:
            if self._ended:  # closed already: no handshake of ours to run
                return
            self._closer = asyncio.create_task(self._close(), name=f"ws-close-{self.conn_id}")

    def close(self, code: int, reason: str = "", *, now: bool = False) -> None:
        """Send what is queued, then close with ``code``. Safe to call from any task, twice.

        A request being handled gets its reply out first, unless ``now`` (a reader that
        stopped reading would not take it anyway)."""
        if self._close_code is not None:
            return
        self._close_code = code
        self._close_reason = reason[:120]
        if now:
            self._handling = False
        self._flusher.mark(self)

    def closed_already(self) -> None:
        """The socket closed without a closing handshake of ours to wait for (the peer
        left, or answered one): nothing more goes out on it, and no task is made to close
        it again. A code set before (a close of ours) is kept."""
        self._ended = True  # a flush still due (a push window's timer) makes no task
        if self._close_code is None:
            self._close_code = CloseCode.NORMAL

    async def _close(self) -> None:
        """The closing handshake, bounded: a peer that reads nothing cannot hold it open."""
        assert self._close_code is not None
        try:
            async with asyncio.timeout(self._close_timeout_s):
                await self.ws.close(code=self._close_code, message=self._close_reason.encode())
        except TimeoutError:
            log.info("socket %s did not finish closing; dropping it", self.conn_id)
            self._transport.abort()
        except (ConnectionError, RuntimeError) as exc:
            log.debug("closing %s: %s", self.conn_id, exc)

    async def wait_closed(self, within_s: float) -> None:
        """Wait up to ``within_s`` for the closing handshake this connection started, and
        for the request it waits for; a request still running then is not waited for."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + within_s
        if self._closer is None and self._handling:
            if self._handled is None or self._handled.done():
                self._handled = loop.create_future()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(asyncio.shield(self._handled), within_s)
            self._handling = False  # past the bound: close without the reply
        if self._closer is None:
            self.flush()  # a close() whose flush has not run yet
        closer = self._closer
        if closer is None or closer.done():
            return
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(asyncio.shield(closer), max(0.0, deadline - loop.time()))


class SocketRegistry:
    """The sockets this node holds, by connection id."""

    def __init__(self) -> None:
        self._by_conn: dict[str, Connection] = {}
        self.flusher = Flusher()

    def add(self, conn: Connection) -> None:
        self._by_conn[conn.conn_id] = conn

    def remove(self, conn: Connection) -> None:
        self._by_conn.pop(conn.conn_id, None)

    def get(self, conn_id: str) -> Connection | None:
        return self._by_conn.get(conn_id)

    def all(self) -> list[Connection]:
        """A snapshot: safe to iterate while sockets come and go."""
        return list(self._by_conn.values())

    def __len__(self) -> int:
        return len(self._by_conn)
