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

From the server it imports only ``server.protocol``: copy it out with its siblings
``login.py`` and ``following.py`` and that one module.
"""

from __future__ import annotations

import asyncio
import contextlib
import inspect
import itertools
import logging
import random
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from types import TracebackType
from typing import Any

import aiohttp

from client_sim.following import MatchFollowing
from client_sim.login import ArenaError, DeviceSecrets, Login, guest_login, ws_url
from server.protocol import (
    FEED_PAGE_MAX,
    FINAL_CLOSE_CODES,
    CloseCode,
    Format,
    FrameError,
    Message,
    decode,
    encode,
)

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

MATCH_PUSHES = frozenset({"match.event", "match.left", "match.presence", "match.ended"})
PUSH_QUEUE_MAX = 1000
HEARTBEAT_S = 20.0
HANDSHAKE_TIMEOUT_S = 10.0
CATCH_UP_TRIES = 5

PushCallback = Callable[[Message], Any]


class ConnectionClosed(Exception):
    """The socket is closed; ``final`` when its close code forbids coming back."""

    def __init__(self, code: int | None) -> None:
        super().__init__(f"socket closed ({close_reason(code)})")
        self.code = code
        self.final = code in FINAL_CLOSE_CODES


def close_reason(code: int | None) -> str:
    """``code 4004 KICKED, final``: a close code as a person reads it."""
    if code is None:
        return "no close code: the link dropped"
    try:
        name = f" {CloseCode(code).name}"
    except ValueError:
        name = ""
    return f"code {code}{name}{', final' if code in FINAL_CLOSE_CODES else ''}"


@dataclass(frozen=True, slots=True)
class Backoff:
    """Waits between reconnect attempts: doubling from ``first_s`` up to ``max_s``, jittered."""

    first_s: float = 0.1
    max_s: float = 5.0
    give_up_after_s: float = 60.0

    def delays(self) -> itertools.chain[float]:
        delay = self.first_s
        steps = []
        while delay < self.max_s:
            steps.append(delay)
            delay *= 2
        return itertools.chain(steps, itertools.repeat(self.max_s))


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
        # Bounded: a game that only uses callbacks never empties it (see _queue_push).
        self.pushes: asyncio.Queue[Message] = asyncio.Queue(maxsize=max(1, push_queue_max))
        self.pushes_dropped = 0
        # Failures of fire-and-forget requests (no rid) land here.
        self.errors: asyncio.Queue[Message] = asyncio.Queue()
        self.close_code: int | None = None
        self.reconnects = 0
        self._callbacks: dict[str, list[PushCallback]] = {}
        self._callback_tasks: set[asyncio.Future[Any]] = set()
        self._closing = False
        self._closed = asyncio.Event()
        self._open = asyncio.Event()
        self._open.set()
        self._arrival = asyncio.Event()  # set on each push and on close
        # Matches followed: match id -> the last feed id handed on (None: none yet).
        self.following = MatchFollowing()
        self.rooms: set[str] = set()
        # The lobby as last told, newest rev (None: in no lobby as far as we know).
        self.lobby: Message | None = None
        self._restoring: asyncio.Task[None] | None = None
        self._runner = asyncio.create_task(self._run())

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
            ws = await cls._open_socket(http, base_url, token)
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

    @staticmethod
    async def _open_socket(
        http: aiohttp.ClientSession, base_url: str, token: str
    ) -> aiohttp.ClientWebSocketResponse:
        # Heartbeats find a silently dead link (the peer vanished without a FIN), and a
        # handshake that hangs gives up, so a reconnect moves on.
        async with asyncio.timeout(HANDSHAKE_TIMEOUT_S):
            return await http.ws_connect(
                ws_url(base_url),
                headers={"Authorization": f"Bearer {token}"},
                max_msg_size=0,
                heartbeat=HEARTBEAT_S,
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
        self._remember(op, fields)
        if op.startswith("lobby."):
            self._hold_lobby(op, result.get("lobby"))
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

    def _remember(self, op: str, fields: Message) -> None:
        """What a reconnect must restore: rooms joined, matches left."""
        if op == "chat.join":
            self.rooms.add(str(fields.get("room")))
        elif op == "chat.leave":
            self.rooms.discard(str(fields.get("room")))
        elif op == "match.leave":
            self.following.finish(str(fields.get("match_id")))

    # --- pushes ---------------------------------------------------------------------

    def on(self, event: str, callback: PushCallback) -> None:
        """Call ``callback(push)`` for every push of ``event`` (a coroutine runs as a task).
        Pushes handed to callbacks still reach the queue."""
        self._callbacks.setdefault(event, []).append(callback)

    def off(self, event: str, callback: PushCallback) -> None:
        """Stop calling ``callback`` for ``event``."""
        callbacks = self._callbacks.get(event, [])
        if callback in callbacks:
            callbacks.remove(callback)

    async def events(self, *names: str) -> AsyncIterator[Message]:
        """The pushes (of ``names``, or all), as they come, until the socket is closed."""
        while True:
            try:
                push = await self.next_push(timeout=None)
            except ConnectionClosed:
                return
            if not names or push.get("ev") in names:
                yield push

    async def next_push(self, event: str | None = None, *, timeout: float | None = 5.0) -> Message:
        """The next push (of ``event``, skipping others); TimeoutError after ``timeout``."""
        async with asyncio.timeout(timeout):
            while True:
                if not self.pushes.empty():
                    push = self.pushes.get_nowait()
                    if event is None or push.get("ev") == event:
                        return push
                    continue
                if self._closed.is_set():
                    raise ConnectionClosed(self.close_code)
                await self._arrival.wait()
                self._arrival.clear()

    def _queue_push(self, push: Message) -> None:
        """Queue ``push``; when the queue is full, the oldest unread push makes room."""
        if self.pushes.full():
            self.pushes.get_nowait()
            self.pushes_dropped += 1
            if self.pushes_dropped == 1:
                log.warning(
                    "push queue full (%d unread): dropping the oldest; read it, or use "
                    "callbacks only and ignore it",
                    self.pushes.maxsize,
                )
        self.pushes.put_nowait(push)

    def _hand_on(self, push: Message) -> None:
        self._queue_push(push)
        self._arrival.set()
        for callback in list(self._callbacks.get(str(push.get("ev")), ())):
            try:
                result = callback(push)
            except Exception:
                # A game's handler failing must not take the socket down with it.
                log.exception("push callback for %s failed", push.get("ev"))
                continue
            if inspect.isawaitable(result):
                task = asyncio.ensure_future(result)
                self._callback_tasks.add(task)
                task.add_done_callback(self._callback_done)

    def _callback_done(self, task: asyncio.Future[Any]) -> None:
        self._callback_tasks.discard(task)
        if not task.cancelled() and task.exception() is not None:
            log.error("push callback failed", exc_info=task.exception())

    def _hold_lobby(self, op: str, lobby: object) -> bool:
        """Hold ``lobby`` unless it is an older copy of the one held; whether it was new."""
        if op == "lobby.leave":
            self.lobby = None
            return True
        if not isinstance(lobby, dict) or op == "lobby.get":
            return True  # not about our seat
        held = self.lobby
        if (
            held is not None
            and held.get("lobby_id") == lobby.get("lobby_id")
            and int(lobby.get("rev", 0)) < int(held.get("rev", 0))
        ):
            return False
        self.lobby = lobby
        return True

    def _on_push(self, push: Message) -> None:
        event = push.get("ev")
        if event == "lobby.updated":
            if not self._hold_lobby(event, push.get("lobby")):
                return  # an older copy (re-sent after a pub/sub gap): the newer one stands
        elif event == "lobby.closed":
            if self.lobby is not None and self.lobby.get("lobby_id") == push.get("lobby_id"):
                self.lobby = None
        elif event == "match.started":
            if self.following.knows(str(push.get("match_id"))):
                return  # told again after a node's pub/sub gap: not a new match
            self.following.start(str(push.get("match_id")))
        elif event in MATCH_PUSHES:
            match_id = str(push.get("match_id"))
            if self.following.held(match_id, push):
                return
            if not self.following.is_new(match_id, push):
                return  # seen already: the feed and the socket overlapped
        self._hand_on(push)
        if event == "match.ended":
            self.following.finish(str(push.get("match_id")))

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
            self._arrival.set()
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
        loop = asyncio.get_running_loop()
        deadline = loop.time() + self._backoff.give_up_after_s
        for delay in self._backoff.delays():
            if self._closing or loop.time() > deadline:
                return False
            await asyncio.sleep(delay * random.uniform(0.5, 1.0))
            try:
                ws = await self._open_socket(self._http, self._base_url, self._token)
            except aiohttp.WSServerHandshakeError as exc:
                if exc.status == 401:
                    return False  # the session is gone: log in again
            except (aiohttp.ClientError, OSError, TimeoutError):
                pass
            else:
                if self._closing:  # close() came while this socket was opening
                    await ws.close()
                    return False
                self.ws = ws
                return True
        return False  # pragma: no cover - delays() never ends

    async def _restore(self) -> None:
        for room in list(self.rooms):
            with contextlib.suppress(ArenaError, ConnectionClosed, TimeoutError):
                await self.request("chat.join", room=room)
        try:
            for match_id in self.following.matches():
                await self._catch_up(match_id)
        except ConnectionClosed:
            return  # dropped again: the next reconnect restores from the start
        for push in self.following.release():
            self._on_push(push)

    async def _catch_up(self, match_id: str) -> None:
        """Hand on what the match's feed holds after the last id seen, page by page.

        Transient refusals (Redis away, a rate limit, a slow reply) are retried with a
        pause while live pushes stay held; only NOT_IN_MATCH ends the following. A drop
        of the socket cancels this, and the next reconnect starts over.
        """
        failures = 0
        while match_id in self.following:
            after = self.following.last[match_id]
            fields: Message = {"match_id": match_id, "limit": FEED_PAGE_MAX}
            if after is not None:
                fields["after"] = after
            try:
                events = (await self.request("match.feed", **fields))["events"]
            except ArenaError as exc:
                if exc.code == "FEED_TRIMMED":
                    self.following.from_start(match_id)
                    continue
                if exc.code == "NOT_IN_MATCH" or failures >= CATCH_UP_TRIES:
                    log.warning("cannot catch match %s up: %s", match_id, exc.code)
                    self.following.finish(match_id)
                    return
                failures += 1
                await asyncio.sleep((exc.retry_after_ms or 200 * 2**failures) / 1000)
                continue
            except TimeoutError:
                failures += 1
                if failures >= CATCH_UP_TRIES:
                    log.warning("cannot catch match %s up: no reply", match_id)
                    self.following.finish(match_id)
                    return
                continue
            for push in events:
                if self.following.is_new(match_id, push):
                    self._hand_on(push)
                    if push.get("ev") == "match.ended":
                        self.following.finish(match_id)
            if len(events) < FEED_PAGE_MAX:  # the server's page is the protocol's
                return

    async def close(self) -> None:
        self._closing = True
        if self._restoring is not None:
            self._restoring.cancel()
        for task in list(self._callback_tasks):
            task.cancel()
        with contextlib.suppress(Exception):
            await self.ws.close()
        self._runner.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await self._runner
        if self._own_http:
            await self._http.close()
