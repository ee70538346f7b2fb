"""A synchronous Arena socket for gevent: what the Locust users speak through.

Locust runs every simulated user as a gevent greenlet in one process, with the
standard library monkey-patched (``import locust`` calls ``gevent.monkey.patch_all()``).
A client for that world must block in the ordinary, synchronous way and let gevent
turn the blocking into switches. This one is websocket-client
(``websocket.create_connection``) over those patched sockets:

- **Not aiohttp/asyncio.** An asyncio event loop inside a greenlet blocks gevent's hub
  while it runs, so one user's ``run_until_complete`` would freeze every other user
  and Locust's own timers; the way around it (an asyncio thread per process, and
  requests handed across threads) puts a thread hop into every measured response
  time and a second scheduler beside gevent's. ``client_sim.client`` stays the
  asyncio client; this module is its gevent twin.
- **Not geventhttpclient.** It is the HTTP/1.1 client under Locust's ``FastHttpUser``:
  it has no WebSocket upgrade and no framing, so it cannot hold a socket open.
- **websocket-client** is plain blocking socket code (handshake, framing, masking,
  answering the server's pings inside ``recv``): over patched sockets each blocking
  call is a greenlet switch. It is also what Locust's own Socket.IO user ends up on
  (python-engineio's synchronous client uses it).

One socket has two greenlets: the user's, which sends requests and waits for their
replies, and a reader spawned here, the only one that reads. The reader matches each
reply to its request by ``rid`` (gevent ``AsyncResult``s) and hands pushes and
rid-less failures to callbacks. Every wait is bounded: sends and reads by the socket
timeout, a reply by ``timeout_s``.
"""

from __future__ import annotations

import contextlib
import itertools
import struct
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import gevent
import websocket
from gevent.event import AsyncResult

from server.protocol import Format, FrameError, Message, decode, encode

# Called in the reader greenlet with the decoded message and its size on the wire.
FrameHandler = Callable[[Message, int], None]

# How long the reader blocks in one read before looking at its stop flag again.
READ_TICK_S = 5.0


class ConnectionClosed(Exception):
    """The socket is gone: closed by the server, or broken."""

    def __init__(self, code: int | None) -> None:
        super().__init__(f"socket closed (code {code})")
        self.code = code


class ReplyTimeout(Exception):
    """No reply within the client's timeout."""


@dataclass(frozen=True, slots=True)
class Reply:
    """One reply: the message as decoded, its payload size, and the round trip in ms."""

    message: Message
    size: int
    elapsed_ms: float

    @property
    def ok(self) -> bool:
        return bool(self.message.get("ok"))

    @property
    def code(self) -> str | None:
        """The error code of a failure, None for a success."""
        if self.ok:
            return None
        error = self.message.get("error") or {}
        return str(error.get("code", "UNKNOWN"))

    @property
    def error_message(self) -> str:
        error = self.message.get("error") or {}
        return str(error.get("message", ""))


def ws_url(base_url: str) -> str:
    """``http://host:port`` -> ``ws://host:port/v1/ws`` (``https`` -> ``wss``)."""
    base = base_url.rstrip("/")
    if base.startswith("http"):
        base = "ws" + base[len("http") :]
    return base + "/v1/ws"


class ArenaSocket:
    """One authenticated socket; use from a single greenlet (plus the reader it spawns)."""

    def __init__(
        self,
        base_url: str,
        token: str,
        *,
        fmt: Format = Format.MSGPACK,
        timeout_s: float = 10.0,
        on_push: FrameHandler | None = None,
        on_orphan_error: FrameHandler | None = None,
    ) -> None:
        self.format = fmt
        self.timeout_s = timeout_s
        self.close_code: int | None = None
        self._on_push = on_push
        self._on_orphan_error = on_orphan_error
        self._rids = itertools.count(1)
        self._waiting: dict[int, AsyncResult] = {}
        self._closed = False
        # Raises websocket.WebSocketBadStatusException (e.g. 401) or OSError.
        self._ws = websocket.create_connection(
            ws_url(base_url),
            timeout=min(timeout_s, READ_TICK_S),
            header=[f"Authorization: Bearer {token}"],
            enable_multithread=True,  # a lock around sends and one around reads
            skip_utf8_validation=True,
        )
        self._reader = gevent.spawn(self._read_loop)

    @property
    def closed(self) -> bool:
        return self._closed

    def request(self, op: str, **fields: Any) -> Reply:
        """Send ``op`` with a fresh rid and wait for its reply (a failure is a Reply too).

        Raises ReplyTimeout, ConnectionClosed, or websocket/OS errors from the send.
        """
        if self._closed:
            raise ConnectionClosed(self.close_code)
        rid = next(self._rids)
        waiter = AsyncResult()
        self._waiting[rid] = waiter
        start = time.perf_counter()
        try:
            self._send({"op": op, "rid": rid, **fields})
            message, size = waiter.get(timeout=self.timeout_s)
        except gevent.Timeout:
            raise ReplyTimeout(f"{op}: no reply in {self.timeout_s:g}s") from None
        finally:
            self._waiting.pop(rid, None)
        return Reply(message, size, (time.perf_counter() - start) * 1000)

    def send(self, op: str, **fields: Any) -> int:
        """Fire-and-forget (no rid): no reply on success, a failure goes to on_orphan_error.

        Returns the payload size sent."""
        if self._closed:
            raise ConnectionClosed(self.close_code)
        return self._send({"op": op, **fields})

    def close(self) -> None:
        """Stop the reader, then close with 1000 (waiting at most a second for the echo)."""
        self._closed = True
        self._reader.kill(block=True, timeout=1.0)
        with contextlib.suppress(websocket.WebSocketException, OSError):
            self._ws.close(timeout=1.0)
        self._fail_waiting()

    def _send(self, message: Message) -> int:
        data = encode(message, self.format)
        if isinstance(data, bytes):
            self._ws.send(data, websocket.ABNF.OPCODE_BINARY)
            return len(data)
        self._ws.send(data)
        return len(data.encode())

    def _read_loop(self) -> None:
        try:
            while not self._closed:
                try:
                    opcode, data = self._ws.recv_data()  # answers pings by itself
                except websocket.WebSocketTimeoutException:
                    continue  # idle; look at the stop flag again
                if opcode == websocket.ABNF.OPCODE_CLOSE:
                    if len(data) >= 2:
                        self.close_code = struct.unpack("!H", data[:2])[0]
                    return
                fmt = Format.MSGPACK if opcode == websocket.ABNF.OPCODE_BINARY else Format.JSON
                try:
                    message = decode(data, fmt)
                except FrameError:
                    continue
                self._route(message, len(data))
        except (websocket.WebSocketException, OSError):
            return  # the socket broke: the finally tells everyone waiting
        finally:
            self._closed = True
            self._fail_waiting()

    def _route(self, message: Message, size: int) -> None:
        if "ev" in message:
            if self._on_push is not None:
                self._on_push(message, size)
            return
        rid = message.get("rid")
        waiter = self._waiting.get(rid) if isinstance(rid, int) else None
        if waiter is not None:
            waiter.set((message, size))
        elif not message.get("ok", True) and self._on_orphan_error is not None:
            self._on_orphan_error(message, size)

    def _fail_waiting(self) -> None:
        for waiter in list(self._waiting.values()):
            if not waiter.ready():
                waiter.set_exception(ConnectionClosed(self.close_code))
