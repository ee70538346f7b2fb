"""The node's one pub/sub connection, delivering node-to-node messages to local sockets.

For now it carries the node's command channel (close or replace a socket this
node holds). Game channels (lobbies, matches, chat) join it with their own
listeners.
"""

from __future__ import annotations

import logging

from server.connection import SocketRegistry
from server.protocol import Frame, push
from server.services.presence import SocketCommand
from server.storage.pubsub import Subscriber

log = logging.getLogger(__name__)


class Hub:
    def __init__(self, registry: SocketRegistry, command_channel: str) -> None:
        self._registry = registry
        self._command_channel = command_channel
        self.subscriber: Subscriber | None = None

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
            return  # already gone
        if command.only_session is not None and command.only_session != conn.session_hash:
            return
        if command.push is not None:
            conn.push(Frame(push(command.push)))
        conn.close(command.close_code, command.push or "closed by server")
