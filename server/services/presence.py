"""Presence: one live socket per player across all nodes, and who is online.

Each player has at most one live socket anywhere. Opening a socket claims the
player in Redis (``SET ... GET``, so the last claim wins and returns the one it
displaced); the displaced socket's node is told through its node channel to
close it. Nodes re-stamp their players' presence every ``presence_interval``;
a node that dies stops stamping, and its players drop out of the online count
within ``presence_ttl`` seconds.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

import msgpack

from server.protocol import CloseCode, Push
from server.storage import keys
from server.storage.presence import PresenceStore
from server.storage.pubsub import Publisher


def _now_ms() -> int:
    return int(time.time() * 1000)


@dataclass(frozen=True, slots=True)
class SocketCommand:
    """An order for the node holding a socket: push an event (optionally), then close it."""

    conn_id: str
    close_code: int
    push: str | None = None
    # Close only if the socket runs this session (revoking one token spares the others).
    only_session: str | None = None

    def encode(self) -> bytes:
        return msgpack.packb(  # type: ignore[no-any-return]
            [self.conn_id, self.close_code, self.push, self.only_session]
        )

    @classmethod
    def decode(cls, payload: bytes) -> SocketCommand:
        conn_id, close_code, push, only_session = msgpack.unpackb(payload)
        return cls(str(conn_id), int(close_code), push, only_session)


class PresenceService:
    def __init__(
        self,
        store: PresenceStore,
        publisher: Publisher,
        *,
        node_id: str,
        presence_ttl_s: float,
        session_ttl_s: int,
    ) -> None:
        self._store = store
        self._publisher = publisher
        self.node_id = node_id
        self._presence_ttl_ms = int(presence_ttl_s * 1000)
        self._session_ttl_s = session_ttl_s

    @property
    def command_channel(self) -> str:
        """The channel this node listens on for SocketCommands."""
        return keys.node_channel(self.node_id)

    def _socket_ref(self, conn_id: str) -> str:
        return f"{self.node_id} {conn_id}"

    async def socket_opened(self, player_id: str, conn_id: str) -> None:
        """Make this socket the player's live one; close whichever socket held them before."""
        previous = await self._store.claim_live_socket(
            player_id,
            self._socket_ref(conn_id),
            online_until_ms=_now_ms() + self._presence_ttl_ms,
            ttl_s=self._session_ttl_s,
        )
        if previous is not None and previous != self._socket_ref(conn_id):
            await self._send(
                previous,
                close_code=CloseCode.SESSION_REPLACED,
                push=Push.SESSION_REPLACED,
                only_session=None,
            )

    async def socket_closed(self, player_id: str, conn_id: str) -> None:
        await self._store.release_live_socket(player_id, self._socket_ref(conn_id))

    async def close_socket(
        self, player_id: str, *, close_code: int, push: str | None, only_session: str | None
    ) -> None:
        """Close the player's live socket on whichever node holds it."""
        ref = await self._store.live_socket(player_id)
        if ref is not None:
            await self._send(ref, close_code=close_code, push=push, only_session=only_session)

    async def _send(
        self, socket_ref: str, *, close_code: int, push: str | None, only_session: str | None
    ) -> None:
        node_id, _, conn_id = socket_ref.partition(" ")
        command = SocketCommand(conn_id, close_code, push, only_session)
        await self._publisher.publish(keys.node_channel(node_id), command.encode())

    async def heartbeat(self, player_ids: list[str]) -> None:
        now = _now_ms()
        await self._store.heartbeat(self.node_id, player_ids, now, now + self._presence_ttl_ms)

    async def node_stopping(self) -> None:
        await self._store.leave_node(self.node_id)

    async def online_count(self) -> int:
        return await self._store.online_count(_now_ms())

    async def lookup(self, player_ids: list[str]) -> tuple[int, dict[str, bool]]:
        """How many are online, and which of ``player_ids`` are."""
        count, statuses = await self._store.online(player_ids, _now_ms())
        return count, dict(zip(player_ids, statuses, strict=True))

    async def nodes_alive(self) -> int:
        return await self._store.nodes_alive(_now_ms())
