"""A small async client for Arena's protocol, usable as is by a Python game or tool.

    login = await guest_login("http://127.0.0.1:8080", "device-0001", "alice")
    async with await ArenaClient.connect("http://127.0.0.1:8080", login.token) as client:
        print(await client.request("ping"))
        push = await client.next_push("session.replaced")

It imports only ``server.protocol`` from the server, so it can be copied out.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
from dataclasses import dataclass
from types import TracebackType
from typing import Any

import aiohttp

from server.protocol import Format, FrameError, Message, decode, encode


class ArenaError(Exception):
    """An error reply: ``code`` is stable, ``message`` is for people."""

    def __init__(self, code: str, message: str, retry_after_ms: int | None = None) -> None:
        super().__init__(f"{code}: {message}")
        self.code = code
        self.message = message
        self.retry_after_ms = retry_after_ms

    @classmethod
    def from_reply(cls, reply: Message) -> ArenaError:
        error = reply.get("error") or {}
        return cls(
            str(error.get("code", "UNKNOWN")),
            str(error.get("message", "")),
            error.get("retry_after_ms"),
        )


class ConnectionClosed(Exception):
    def __init__(self, code: int | None) -> None:
        super().__init__(f"socket closed (code {code})")
        self.code = code


@dataclass(frozen=True, slots=True)
class Login:
    token: str
    player_id: str
    name: str
    expires_in: int


async def guest_login(
    base_url: str,
    device_id: str,
    name: str,
    *,
    http: aiohttp.ClientSession | None = None,
) -> Login:
    """``POST /v1/auth/guest``; raises ArenaError with the server's code on refusal."""
    own = http is None
    http = http or aiohttp.ClientSession()
    try:
        async with http.post(
            base_url.rstrip("/") + "/v1/auth/guest", json={"device_id": device_id, "name": name}
        ) as resp:
            body = await resp.json()
            if resp.status != 200:
                raise ArenaError.from_reply(body)
            return Login(body["token"], body["player_id"], body["name"], body["expires_in"])
    finally:
        if own:
            await http.close()


def ws_url(base_url: str) -> str:
    base = base_url.rstrip("/")
    if base.startswith("http"):
        base = "ws" + base[len("http") :]
    return base + "/v1/ws"


class ArenaClient:
    """One socket to Arena: requests matched to replies by ``rid``, pushes queued."""

    def __init__(
        self,
        http: aiohttp.ClientSession,
        ws: aiohttp.ClientWebSocketResponse,
        fmt: Format,
        own: bool,
    ) -> None:
        self._http = http
        self._own_http = own
        self.ws = ws
        self.format = fmt
        self._rids = itertools.count(1)
        self._waiting: dict[int, asyncio.Future[Message]] = {}
        self.pushes: asyncio.Queue[Message] = asyncio.Queue()
        # Failures of fire-and-forget requests (no rid) land here.
        self.errors: asyncio.Queue[Message] = asyncio.Queue()
        self.close_code: int | None = None
        self._closed = asyncio.Event()
        self._arrival = asyncio.Event()  # set on each push and on close
        self._reader = asyncio.create_task(self._read_loop())

    @classmethod
    async def connect(
        cls,
        base_url: str,
        token: str,
        *,
        fmt: Format = Format.MSGPACK,
        http: aiohttp.ClientSession | None = None,
    ) -> ArenaClient:
        own = http is None
        http = http or aiohttp.ClientSession()
        try:
            ws = await http.ws_connect(
                ws_url(base_url), headers={"Authorization": f"Bearer {token}"}, max_msg_size=0
            )
        except BaseException:
            if own:
                await http.close()
            raise
        return cls(http, ws, fmt, own)

    async def __aenter__(self) -> ArenaClient:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.close()

    async def _send(self, message: Message) -> None:
        data = encode(message, self.format)
        if isinstance(data, bytes):
            await self.ws.send_bytes(data)
        else:
            await self.ws.send_str(data)

    async def request(self, op: str, *, timeout: float = 5.0, **fields: Any) -> Message:
        """Send a request and wait for its reply; an error reply raises ArenaError."""
        rid = next(self._rids)
        future: asyncio.Future[Message] = asyncio.get_running_loop().create_future()
        self._waiting[rid] = future
        try:
            await self._send({"op": op, "rid": rid, **fields})
            reply = await asyncio.wait_for(future, timeout)
        finally:
            self._waiting.pop(rid, None)
        if not reply.get("ok"):
            raise ArenaError.from_reply(reply)
        return {k: v for k, v in reply.items() if k not in ("rid", "ok")}

    async def send(self, op: str, **fields: Any) -> None:
        """Fire-and-forget: no reply on success; a failure arrives in ``errors``."""
        await self._send({"op": op, **fields})

    async def next_push(self, event: str | None = None, *, timeout: float = 5.0) -> Message:
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

    async def wait_closed(self, timeout: float = 5.0) -> int | None:
        """Wait for the server to close the socket; returns the close code."""
        await asyncio.wait_for(self._closed.wait(), timeout)
        return self.close_code

    async def _read_loop(self) -> None:
        try:
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
        finally:
            self.close_code = self.ws.close_code
            self._closed.set()
            self._arrival.set()
            for future in self._waiting.values():
                if not future.done():
                    future.set_exception(ConnectionClosed(self.close_code))

    def _route(self, message: Message) -> None:
        if "ev" in message:
            self.pushes.put_nowait(message)
            self._arrival.set()
            return
        rid = message.get("rid")
        future = self._waiting.get(rid) if isinstance(rid, int) else None
        if future is not None and not future.done():
            future.set_result(message)
        elif not message.get("ok", True):
            self.errors.put_nowait(message)

    async def close(self) -> None:
        with contextlib.suppress(Exception):
            await self.ws.close()
        self._reader.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await self._reader
        if self._own_http:
            await self._http.close()
