"""Orders for a socket on whichever node holds it, carried over that node's channel.

A player's live socket is recorded in Redis as a ``SocketRef`` ("node_id conn_id");
a ``SocketCommand`` published on ``keys.node_channel(node_id)`` reaches that node's hub.
Pub/sub keeps nothing, so an order that must not be lost (end a socket, rename it) is
also kept a minute beside its player (``keys.socket_orders``), first: a node whose
pub/sub was not subscribed when it was published reads it when it resubscribes.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from enum import StrEnum

import msgpack

from server.storage import keys
from server.storage.connection import text, translate_redis_errors
from server.storage.mux import Commands
from server.storage.pubsub import Publisher

ORDERS_KEPT = 8  # per player: more than a node could miss in one gap
ORDERS_TTL_MS = 60_000  # far past a pub/sub gap (a reconnect takes about a second)


class SocketEnd(StrEnum):
    """Why the server ends a socket; the transport maps each to a push and a close code."""

    REPLACED = "replaced"  # the player opened another socket
    REVOKED = "revoked"  # the session was revoked
    EXPIRED = "expired"  # the session is gone
    KICKED = "kicked"  # an operator kicked the player
    BANNED = "banned"  # an operator banned the player


@dataclass(frozen=True, slots=True)
class SocketRef:
    node_id: str
    conn_id: str

    def encode(self) -> str:
        return f"{self.node_id} {self.conn_id}"

    @classmethod
    def decode(cls, raw: str) -> SocketRef:
        node_id, _, conn_id = raw.partition(" ")
        return cls(node_id, conn_id)


@dataclass(frozen=True, slots=True)
class SocketCommand:
    """An order for one socket: end it, tell it the player's new name, or have it follow
    a match's events from the match's first one.

    ``only_session``: only if the socket runs this session (token hash).
    """

    conn_id: str
    end: SocketEnd | None = None
    only_session: str | None = None
    new_name: str | None = None
    follow_match: str | None = None

    def encode(self) -> bytes:
        end = None if self.end is None else str(self.end)
        return msgpack.packb(  # type: ignore[no-any-return]
            [self.conn_id, end, self.only_session, self.new_name, self.follow_match]
        )

    @classmethod
    def decode(cls, payload: bytes) -> SocketCommand:
        # Older nodes send four fields: a rolling upgrade must not drop their commands.
        fields = [*msgpack.unpackb(payload), None][:5]
        conn_id, end, only_session, new_name, follow_match = fields
        return cls(
            str(conn_id),
            None if end is None else SocketEnd(end),
            only_session,
            new_name,
            follow_match,
        )


class SocketCommandBus:
    def __init__(self, publisher: Publisher, mux: Commands) -> None:
        self._publisher = publisher
        self._mux = mux

    @staticmethod
    def channel(node_id: str) -> str:
        return keys.node_channel(node_id)

    async def send(
        self, ref: SocketRef, command: SocketCommand, *, keep_for: str | None = None
    ) -> None:
        """Publish the order to the socket's node. ``keep_for`` (the socket's player): keep
        it too, before publishing, for that node to find if its pub/sub misses it."""
        if keep_for is not None:
            await self._keep(keep_for, ref, command)
        await self._publisher.publish(keys.node_channel(ref.node_id), command.encode())

    @translate_redis_errors
    async def _keep(self, player_id: str, ref: SocketRef, command: SocketCommand) -> None:
        key = keys.socket_orders(player_id)
        await self._mux.pipeline(
            ("RPUSH", key, msgpack.packb([ref.encode(), command.encode()])),
            ("LTRIM", key, -ORDERS_KEPT, -1),
            ("PEXPIRE", key, ORDERS_TTL_MS),
        )

    @translate_redis_errors
    async def kept(self, player_ids: list[str]) -> list[tuple[SocketRef, SocketCommand]]:
        """The orders kept for these players' sockets (the last minute's), oldest first."""
        lists = await asyncio.gather(
            *(self._mux.execute("LRANGE", keys.socket_orders(p), 0, -1) for p in player_ids)
        )
        orders = []
        for raws in lists:
            for raw in raws:
                ref, command = msgpack.unpackb(raw)
                orders.append((SocketRef.decode(text(ref)), SocketCommand.decode(command)))
        return orders
