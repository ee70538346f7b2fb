"""One socket's outbox and writer, and the registry of the sockets this node holds.

Only the socket's handler task reads from it; anything may send to it, by
putting ready-encoded bytes in its outbox, which never blocks. A writer task
drains the outbox. When a reader falls behind by more than ``outbox_limit``
frames, the socket is closed (4008) rather than let it slow anyone else.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import secrets
import time
from collections import deque

from aiohttp import web

from server.protocol import CloseCode, Format, Frame, Message, encode

log = logging.getLogger(__name__)


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


class Connection:
    """A player's socket on this node."""

    def __init__(
        self,
        ws: web.WebSocketResponse,
        *,
        player_id: str,
        session_hash: str,
        outbox_limit: int,
        flood_gate: FloodGate,
    ) -> None:
        self.conn_id = secrets.token_hex(6)
        self.ws = ws
        self.player_id = player_id
        self.session_hash = session_hash
        self.flood_gate = flood_gate
        self.push_format = Format.MSGPACK  # pushes follow the client's last request
        self.session_touched = time.monotonic()
        self._outbox: deque[bytes | str] = deque()
        self._outbox_limit = outbox_limit
        self._wakeup = asyncio.Event()
        self._close_code: int | None = None
        self._close_reason = b""
        self._writer: asyncio.Task[None] | None = None

    @property
    def closing(self) -> bool:
        return self._close_code is not None

    def start(self) -> None:
        self._writer = asyncio.create_task(self._write_loop(), name=f"ws-writer-{self.conn_id}")

    def reply(self, message: Message, fmt: Format) -> None:
        self._enqueue(encode(message, fmt))

    def push(self, frame: Frame) -> None:
        self._enqueue(frame.encoded(self.push_format))

    def close(self, code: int, reason: str = "") -> None:
        """Send what is queued, then close with ``code``. Safe to call from any task, twice."""
        if self._close_code is not None:
            return
        self._close_code = code
        self._close_reason = reason.encode()[:120]
        self._wakeup.set()

    def _enqueue(self, data: bytes | str) -> None:
        if self._close_code is not None:
            return
        if len(self._outbox) >= self._outbox_limit:
            log.info("slow reader: closing socket %s of %s", self.conn_id, self.player_id)
            self._outbox.clear()
            self.close(CloseCode.SLOW_CONSUMER, "slow consumer")
            return
        self._outbox.append(data)
        self._wakeup.set()

    async def _write_loop(self) -> None:
        ws = self.ws
        try:
            while True:
                await self._wakeup.wait()
                self._wakeup.clear()
                while self._outbox:
                    data = self._outbox.popleft()
                    if isinstance(data, bytes):
                        await ws.send_bytes(data)
                    else:
                        await ws.send_str(data)
                if self._close_code is not None:
                    await ws.close(code=self._close_code, message=self._close_reason)
                    return
        except (ConnectionError, RuntimeError) as exc:
            # The peer went away mid-write; the read loop sees the close and cleans up.
            log.debug("writer for %s stopped: %s", self.conn_id, exc)

    async def stop(self) -> None:
        """Stop the writer (the socket is already closed or closing)."""
        if self._writer is not None and not self._writer.done():
            self._writer.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._writer

    async def wait_closed(self, within_s: float) -> None:
        """Wait up to ``within_s`` for the writer to flush and close the socket."""
        writer = self._writer
        if writer is None or writer.done():
            return
        try:
            await asyncio.wait_for(asyncio.shield(writer), within_s)
        except TimeoutError:
            pass
        except asyncio.CancelledError:
            if not writer.cancelled():
                raise  # we were cancelled ourselves: let it through


class SocketRegistry:
    """The sockets this node holds, by connection id and by player."""

    def __init__(self) -> None:
        self._by_conn: dict[str, Connection] = {}
        self._by_player: dict[str, Connection] = {}

    def add(self, conn: Connection) -> None:
        self._by_conn[conn.conn_id] = conn
        self._by_player[conn.player_id] = conn

    def remove(self, conn: Connection) -> None:
        self._by_conn.pop(conn.conn_id, None)
        if self._by_player.get(conn.player_id) is conn:
            del self._by_player[conn.player_id]

    def get(self, conn_id: str) -> Connection | None:
        return self._by_conn.get(conn_id)

    def for_player(self, player_id: str) -> Connection | None:
        return self._by_player.get(player_id)

    def all(self) -> list[Connection]:
        """A snapshot: safe to iterate while sockets come and go."""
        return list(self._by_conn.values())

    def __len__(self) -> int:
        return len(self._by_conn)

    def player_ids(self) -> list[str]:
        return list(self._by_player)
