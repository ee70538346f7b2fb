"""The node's one pub/sub connection, delivering node-to-node messages to local sockets.

Two kinds of channel arrive here:

- the node's command channel: orders for one socket this node holds (end it,
  rename its player), sent by whichever node decided it;
- game channels (a lobby's, a match's, a chat room's): pushes for every local
  socket listening. The node subscribes to a game channel while it has at least
  one local listener and unsubscribes when the last one leaves (reference
  counted), so Redis sends each node only what its players need. A push comes
  msgpack-encoded; it is framed once per format and the same bytes are queued
  on every listening socket.
"""

from __future__ import annotations

import logging

from server.connection import Connection, SocketRegistry
from server.protocol import CloseCode, Frame, Push, push
from server.storage.pubsub import Subscriber
from server.storage.socket_commands import SocketCommand, SocketEnd

log = logging.getLogger(__name__)

# How each reason to end a socket reaches the client: a push first (or none), then a close code.
ENDINGS: dict[SocketEnd, tuple[Push | None, CloseCode]] = {
    SocketEnd.REPLACED: (Push.SESSION_REPLACED, CloseCode.SESSION_REPLACED),
    SocketEnd.REVOKED: (None, CloseCode.SESSION_REVOKED),
    SocketEnd.EXPIRED: (None, CloseCode.SESSION_EXPIRED),
}


def end_socket(registry: SocketRegistry, conn_id: str, end: SocketEnd) -> None:
    conn = registry.get(conn_id)
    if conn is None:
        return  # already gone
    event, code = ENDINGS[end]
    if event is not None:
        conn.push(Frame(push(event)))
    conn.close(code, str(end))


class Hub:
    def __init__(self, registry: SocketRegistry, command_channel: str) -> None:
        self._registry = registry
        self._command_channel = command_channel
        self.subscriber: Subscriber | None = None  # set by the composition root
        self._listeners: dict[str, dict[str, Connection]] = {}  # channel -> conn_id -> conn
        self._channels_of: dict[str, set[str]] = {}  # conn_id -> channels

    async def listen(self, channel: str, conn: Connection) -> None:
        """Deliver the channel's pushes to ``conn``; subscribes on the first local listener."""
        listeners = self._listeners.get(channel)
        if listeners is None:
            listeners = self._listeners[channel] = {}
            assert self.subscriber is not None
            await self.subscriber.subscribe(channel)
        listeners[conn.conn_id] = conn
        self._channels_of.setdefault(conn.conn_id, set()).add(channel)

    async def unlisten(self, channel: str, conn: Connection) -> None:
        """Stop delivering to ``conn``; unsubscribes when no local listener is left."""
        self._channels_of.get(conn.conn_id, set()).discard(channel)
        listeners = self._listeners.get(channel)
        if listeners is None:
            return
        listeners.pop(conn.conn_id, None)
        if not listeners:
            del self._listeners[channel]
            assert self.subscriber is not None
            await self.subscriber.unsubscribe(channel)

    async def forget(self, conn: Connection) -> None:
        """A socket closed: drop it from every channel it listened to."""
        for channel in list(self._channels_of.pop(conn.conn_id, ())):
            await self.unlisten(channel, conn)

    def listening(self, channel: str) -> int:
        """How many local sockets listen to ``channel``."""
        return len(self._listeners.get(channel, ()))

    async def on_message(self, channel: str, payload: bytes) -> None:
        if channel == self._command_channel:
            self._apply(payload)
            return
        listeners = self._listeners.get(channel)
        if not listeners:
            return
        frame = Frame(packed=payload)
        for conn in list(listeners.values()):
            conn.push(frame)

    def _apply(self, payload: bytes) -> None:
        try:
            command = SocketCommand.decode(payload)
        except Exception:
            log.warning("dropping undecodable socket command")
            return
        conn = self._registry.get(command.conn_id)
        if conn is None:
            return
        if command.only_session is not None and command.only_session != conn.session_hash:
            return
        if command.new_name is not None:
            conn.identity.name = command.new_name
        if command.end is not None:
            end_socket(self._registry, command.conn_id, command.end)
