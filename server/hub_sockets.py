"""The sockets as the hub sees them, and what a socket command does to one held here:
rename it, or end it with the push and close code its reason calls for."""

from __future__ import annotations

from typing import Protocol

from server.identity import Identity
from server.protocol import CloseCode, Frame, Push, push
from server.storage.socket_commands import SocketCommand, SocketEnd

# How each reason to end a socket reaches the client: a push first (or none), then a close code.
ENDINGS: dict[SocketEnd, tuple[Push | None, CloseCode]] = {
    SocketEnd.REPLACED: (Push.SESSION_REPLACED, CloseCode.SESSION_REPLACED),
    SocketEnd.REVOKED: (None, CloseCode.SESSION_REVOKED),
    SocketEnd.EXPIRED: (None, CloseCode.SESSION_EXPIRED),
    SocketEnd.KICKED: (Push.SESSION_KICKED, CloseCode.KICKED),
    SocketEnd.BANNED: (Push.SESSION_BANNED, CloseCode.BANNED),
}


class Listener(Protocol):
    """A socket as the hub sees it (``Connection`` is one): where pushes go, whose it is,
    and what a socket command changes on it."""

    @property
    def conn_id(self) -> str: ...

    @property
    def player_id(self) -> str: ...

    @property
    def session_hash(self) -> str: ...

    @property
    def identity(self) -> Identity: ...  # a rename sets its name

    @property
    def closing(self) -> bool: ...

    def push(self, frame: Frame, within_s: float = 0.0) -> None: ...

    def close(self, code: int, reason: str = "") -> None: ...


class Sockets(Protocol):
    """The sockets this node holds, by connection id (``SocketRegistry``): a socket that
    closed is no longer there."""

    def get(self, conn_id: str) -> Listener | None: ...


def end_socket(registry: Sockets, conn_id: str, end: SocketEnd) -> None:
    conn = registry.get(conn_id)
    if conn is None:
        return  # already gone
    event, code = ENDINGS[end]
    if event is not None:
        conn.push(Frame(push(event)))
    conn.close(code, str(end))


def apply_command(registry: Sockets, command: SocketCommand) -> Listener | None:
    """Rename or end the command's socket if this node holds it (and it runs the command's
    session, if one is named); the socket, or None."""
    conn = registry.get(command.conn_id)
    if conn is None:
        return None
    if command.only_session is not None and command.only_session != conn.session_hash:
        return None
    if command.new_name is not None:
        conn.identity.name = command.new_name
    if command.end is not None:
        end_socket(registry, command.conn_id, command.end)
    return conn
