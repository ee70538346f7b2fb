"""The sockets as the hub sees them, one socket's channels through it (``HubChannels``),
and what a socket command does to one held here: rename it, or end it with the push and
close code its reason calls for."""

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


class Following(Protocol):
    """What a socket's channels need of the hub (``Hub`` is one)."""

    async def listen(self, channel: str, conn: Listener) -> None: ...

    async def unlisten(self, channel: str, conn: Listener) -> None: ...

    def following(self, conn: Listener) -> set[str]: ...


class HubChannels:
    """One socket's subscriptions through the node's hub (``OpContext.channels``)."""

    __slots__ = ("_conn", "_hub", "_joined")

    def __init__(self, hub: Following, conn: Listener) -> None:
        self._hub = hub
        self._conn = conn
        # Made on the first join: most sockets join nothing, and there are thousands.
        self._joined: set[str] | None = None

    async def join(self, channel: str) -> None:
        if self._joined is None:
            self._joined = set()
        self._joined.add(channel)
        await self._hub.listen(channel, self._conn)

    async def leave(self, channel: str) -> None:
        if self._joined is not None:
            self._joined.discard(channel)
        await self._hub.unlisten(channel, self._conn)

    def joined(self) -> set[str]:
        if not self._joined:
            return set()
        # The hub may have taken the socket out of a room meanwhile (its lobby closed).
        return self._joined & self._hub.following(self._conn)


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
