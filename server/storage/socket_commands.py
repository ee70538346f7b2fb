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
    def __init__(self, publisher: Publisher) -> None:
        self._publisher = publisher

    @staticmethod
    def channel(node_id: str) -> str:
        return keys.node_channel(node_id)

    async def send(self, ref: SocketRef, command: SocketCommand) -> None:
        await self._publisher.publish(keys.node_channel(ref.node_id), command.encode())
