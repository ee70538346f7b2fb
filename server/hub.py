"""The node's one pub/sub connection, delivering node-to-node messages to local sockets.

For now it carries the node's command channel (end a socket this node holds).
Game channels (lobbies, matches, chat) join it with their own listeners.
"""

from __future__ import annotations

import logging

from server.connection import SocketRegistry
from server.protocol import CloseCode, Frame, Push, push
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

    async def on_message(self, channel: str, payload: bytes) -> None:
        if channel == self._command_channel:
            self._apply(payload)

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
