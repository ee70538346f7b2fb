"""A small async client for Arena's protocol, usable as is by a Python game or tool.

    login = await guest_login("http://127.0.0.1:8080", "device-0001", "alice")
    # login.device_secret: keep it; later logins of device-0001 send device_secret=...
    async with await ArenaClient.connect(BASE_URL, login.token, reconnect=True) as client:
        client.on("match.event", lambda push: print(push["data"]))
        print(await client.request("ping"))
        async for push in client.events("match.started"):
            ...

- ``request(op, **fields)`` returns the result, or raises ``ArenaError`` carrying
  the error's ``code`` and ``retry_after_ms``; ``send`` is fire-and-forget.
- Pushes: ``on(event, callback)``, ``events(*names)`` (an async iterator), or
  ``next_push(event)``.
- Every push is queued in ``pushes`` (callbacks or not), a bounded queue:
  past ``push_queue_max`` (default 1000) unread pushes, the oldest is dropped
  to make room and counted in ``pushes_dropped``. A game that uses callbacks
  only never reads the queue: it holds the latest pushes and no more.
- ``reconnect=True``: a dropped socket (network, a node stopping, a slow-reader
  cut) comes back with backoff on the same session; the matches the client
  follows are caught up from their feeds (``match.feed`` after the last id it
  saw), so the pushes it hands on have nothing missing or doubled; chat rooms
  are joined again. Requests waiting when the socket dropped fail with
  ``ConnectionClosed``; new ones wait for the reconnect. A close code in the
  protocol's ``FINAL_CLOSE_CODES`` (replaced by another socket, session revoked
  or expired, kicked, banned, frame too big) ends the client for good:
  ``close_code`` and the ``ConnectionClosed`` that requests then raise say why.
- ``lobby``: the lobby as last told (a reply or ``lobby.updated``). A
  ``lobby.updated`` of the same lobby with a lower ``rev`` (an older copy re-sent
  after a server node's pub/sub gap, overtaken by a live change) is dropped.

The parts live beside it: ``link.py`` (opening, closing, reopening the socket),
``inbox.py`` (the push queue and callbacks), ``memory.py`` (lobby, rooms and
matches followed), ``following.py`` and ``catch_up.py`` (a match's feed after a
reconnect), ``login.py`` (HTTP login, ``ArenaError``). From the server they import
only ``server.protocol``: copy out the folder's client modules and that one module.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import logging
from collections.abc import AsyncIterator
from types import TracebackType
from typing import Any

import aiohttp

from client_sim.catch_up import catch_up
from client_sim.following import MatchFollowing
from client_sim.inbox import PUSH_QUEUE_MAX, PushCallback, PushInbox
from client_sim.link import (
    Backoff,
    ConnectionClosed,
    close_reason,
    open_socket,
    reopen,
)
from client_sim.login import ArenaError, DeviceSecrets, Login, guest_login, ws_url
from client_sim.memory import SessionMemory
from server.protocol import FINAL_CLOSE_CODES, Format, FrameError, Message, decode, encode

__all__ = [
    "ArenaClient",
    "ArenaError",
    "Backoff",
    "ConnectionClosed",
    "DeviceSecrets",
    "Login",
    "close_reason",
    "guest_login",
    "ws_url",
]

log = logging.getLogger(__name__)


class ArenaClient:
    """One player's socket to Arena: requests matched to replies by ``rid``, pushes queued."""

    def __init__(
        self,
        http: aiohttp.ClientSession,
        ws: aiohttp.ClientWebSocketResponse,
        fmt: Format,
        own: bool,
        *,
        base_url: str = "",
        token: str = "",
        reconnect: Backoff | None = None,
        push_queue_max: int = PUSH_QUEUE_MAX,
    ) -> None:
        self._http = http
        self._own_http = own
        self.ws = ws
        self.format = fmt
        self._base_url = base_url
        self._token = token
        self._backoff = reconnect
        self._rids = itertools.count(1)
        self._waiting: dict[int, asyncio.Future[Message]] = {}
        # Bounded: a game that only uses callbacks never empties it (see inbox.py).
        self._inbox = PushInbox(push_queue_max)
        self.pushes: asyncio.Queue[Message] = self._inbox.queue
        # Failures of fire-and-forget requests (no rid) land here.
        self.errors: asyncio.Queue[Message] = asyncio.Queue()
        self.close_code: int | None = None
        self.reconnects = 0
        self._closing = False
        self._closed = asyncio.Event()
        self._open = asyncio.Event()
        self._open.set()
        self._memory = SessionMemory()
        self.following: MatchFollowing = self._memory.following
        self.rooms: set[str] = self._memory.rooms
        self._restoring: asyncio.Task[None] | None = None
        self._runner = asyncio.create_task(self._run())

    @property
    def pushes_dropped(self) -> int:
        """Pushes dropped unread, the queue being full."""
        return self._inbox.dropped

    @property
    def lobby(self) -> Message | None:
        """The lobby as last told, newest rev (None: in no lobby as far as we know)."""
        return self._memory.lobby

    @classmethod
    async def connect(
        cls,
        base_url: str,
        token: str,
        *,
        fmt: Format = Format.MSGPACK,
        http: aiohttp.ClientSession | None = None,
        reconnect: bool | Backoff = False,
        push_queue_max: int = PUSH_QUEUE_MAX,
    ) -> ArenaClient:
        own = http is None
        http = http or aiohttp.ClientSession()
        try:
            ws = await open_socket(http, base_url, token)
        except BaseException:
            if own:
                await http.close()
            raise
        backoff = Backoff() if reconnect is True else (reconnect or None)
        return cls(
            http,
            ws,
            fmt,
            own,
            base_url=base_url,
            token=token,
            reconnect=backoff,
            push_queue_max=push_queue_max,
        )

    async def __aenter__(self) -> ArenaClient:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.close()

    # --- requests -------------------------------------------------------------------

    async def _send(self, message: Message) -> None:
        data = encode(message, self.format)
        try:
            if isinstance(data, bytes):
                await self.ws.send_bytes(data)
            else:
                await self.ws.send_str(data)
        except (aiohttp.ClientError, ConnectionError, RuntimeError) as exc:
            # The socket went away under us: the same signal as a reply that never comes.
            raise ConnectionClosed(self.ws.close_code) from exc

    async def request(self, op: str, *, timeout: float = 5.0, **fields: Any) -> Message:
        """Send a request and wait for its reply; an error reply raises ArenaError."""
        async with asyncio.timeout(timeout):
            await self._wait_open()
            rid = next(self._rids)
            future: asyncio.Future[Message] = asyncio.get_running_loop().create_future()
            self._waiting[rid] = future
            try:
                await self._send({"op": op, "rid": rid, **fields})
                reply = await future
            finally:
                self._waiting.pop(rid, None)
        if not reply.get("ok"):
            raise ArenaError.from_reply(reply)
        result = {k: v for k, v in reply.items() if k not in ("rid", "ok")}
        self._memory.replied(op, fields, result)
        return result

    async def send(self, op: str, *, timeout: float = 5.0, **fields: Any) -> None:
        """Fire-and-forget: no reply on success; a failure arrives in ``errors``."""
        async with asyncio.timeout(timeout):
            await self._wait_open()
            await self._send({"op": op, **fields})

    async def _wait_open(self) -> None:
        if not self._open.is_set():
            await self._open.wait()
        if self._closed.is_set():
            raise ConnectionClosed(self.close_code)

    # --- pushes ---------------------------------------------------------------------

    def on(self, event: str, callback: PushCallback) -> None:
        """Call ``callback(push)`` for every push of ``event`` (a coroutine runs as a task).
        Pushes handed to callbacks still reach the queue."""
        self._inbox.on(event, callback)

    def off(self, event: str, callback: PushCallback) -> None:
        """Stop calling ``callback`` for ``event``."""
        self._inbox.off(event, callback)

    def events(self, *names: str) -> AsyncIterator[Message]:
        """The pushes (of ``names``, or all), as they come, until the socket is closed."""
        return self._inbox.events(*names)

    async def next_push(self, event: str | None = None, *, timeout: float | None = 5.0) -> Message:
        """The next push (of ``event``, skipping others); TimeoutError after ``timeout``."""
        return await self._inbox.next_push(event, timeout=timeout)

    def _on_push(self, push: Message) -> None:
        if self._memory.is_news(push):
            self._inbox.hand_on(push)
            self._memory.handed_on(push)

    # --- the socket's life ----------------------------------------------------------

    async def wait_closed(self, timeout: float = 5.0) -> int | None:
        """Wait for the socket to close for good; returns the close code."""
        await asyncio.wait_for(self._closed.wait(), timeout)
        return self.close_code

    async def _run(self) -> None:
        try:
            while True:
                await self._read_until_closed()
                if self._restoring is not None:
                    self._restoring.cancel()  # dropped again: the next restore starts over
                code = self.ws.close_code
                self._fail_waiting(code)
                if code in FINAL_CLOSE_CODES and not self._closing:
                    log.info("socket closed for good (%s): not reconnecting", close_reason(code))
                if self._closing or self._backoff is None or code in FINAL_CLOSE_CODES:
                    self.close_code = code
                    return
                if not await self._reconnect():
                    self.close_code = code
                    return
                self.reconnects += 1
                # Live match pushes wait until each followed match is caught up from its
                # feed (what they hold is in the feed too, should this socket drop again).
                self.following.hold()
                self._open.set()
                self._restoring = asyncio.create_task(self._restore())
        finally:
            self._closed.set()
            self._open.set()  # wake waiting senders: they see the close
            self._inbox.close(self.close_code)
            self._fail_waiting(self.close_code)

    async def _read_until_closed(self) -> None:
        async for msg in self.ws:
            if msg.type is aiohttp.WSMsgType.BINARY:
                fmt = Format.MSGPACK
            elif msg.type is aiohttp.WSMsgType.TEXT:
                fmt = Format.JSON
            else:
                break
            try:
                message = decode(msg.data, fmt)
            except FrameError:
                continue
            self._route(message)

    def _fail_waiting(self, code: int | None) -> None:
        for future in self._waiting.values():
            if not future.done():
                future.set_exception(ConnectionClosed(code))

    def _route(self, message: Message) -> None:
        if "ev" in message:
            self._on_push(message)
            return
        rid = message.get("rid")
        future = self._waiting.get(rid) if isinstance(rid, int) else None
        if future is not None and not future.done():
            future.set_result(message)
        elif not message.get("ok", True):
            self.errors.put_nowait(message)

    async def _reconnect(self) -> bool:
        """Open a new socket on the same session, with backoff; False to give up."""
        assert self._backoff is not None
        self._open.clear()
        ws = await reopen(
            self._http, self._base_url, self._token, self._backoff, lambda: self._closing
        )
        if ws is None:
            return False
        self.ws = ws
        return True

    async def _restore(self) -> None:
        for room in list(self.rooms):
            with contextlib.suppress(ArenaError, ConnectionClosed, TimeoutError):
                await self.request("chat.join", room=room)
        try:
            for match_id in self.following.matches():
                await catch_up(self.following, match_id, self.request, self._inbox.hand_on)
        except ConnectionClosed:
            return  # dropped again: the next reconnect restores from the start
        for push in self.following.release():
            self._on_push(push)

    async def close(self) -> None:
        self._closing = True
        if self._restoring is not None:
            self._restoring.cancel()
        self._inbox.cancel_callbacks()
        with contextlib.suppress(Exception):
            await self.ws.close()
        self._runner.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await self._runner
        if self._own_http:
            await self._http.close()
