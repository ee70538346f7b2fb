"""Orders for a socket on whichever node holds it, carried over that node's channel.

A player's live socket is recorded in Redis as a ``SocketRef`` ("node_id conn_id");
a ``SocketCommand`` published on ``keys.node_channel(node_id)`` reaches that node's hub.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

import msgpack

from server.storage import keys
from server.storage.pubsub import Publisher


class SocketEnd(StrEnum):
    """Why the server ends a socket; the transport maps each to a push and a close code."""

    REPLACED = "replaced"  # the player opened another socket
    REVOKED = "revoked"  # the session was revoked
    EXPIRED = "expired"  # the session is gone


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
    """End one socket. ``only_session``: only if it runs this session (token hash)."""

    conn_id: str
    end: SocketEnd
    only_session: str | None = None

    def encode(self) -> bytes:
        return msgpack.packb([self.conn_id, str(self.end), self.only_session])  # type: ignore[no-any-return]

    @classmethod
    def decode(cls, payload: bytes) -> SocketCommand:
        conn_id, end, only_session = msgpack.unpackb(payload)
        return cls(str(conn_id), SocketEnd(end), only_session)


class SocketCommandBus:
    def __init__(self, publisher: Publisher) -> None:
        self._publisher = publisher

    @staticmethod
    def channel(node_id: str) -> str:
        return keys.node_channel(node_id)

    async def send(
        self, ref: SocketRef, end: SocketEnd, *, only_session: str | None = None
    ) -> None:
        command = SocketCommand(ref.conn_id, end, only_session)
        await self._publisher.publish(keys.node_channel(ref.node_id), command.encode())
