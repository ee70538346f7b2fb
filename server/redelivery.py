"""What a node tells its players again once its pub/sub connection is back.

Pub/sub keeps nothing: a push published on a player's channel while this node
was not subscribed to it (Redis restarting, the connection dropped, the
subscriber still in its reconnect backoff while requests already work again)
never reaches the player. Everything on a player's channel is state the node can
read back, so after every (re)subscribe each local player gets, once their
channel is confirmed:

- ``lobby.updated`` with the open lobby they sit in, as it is now; or, sitting in
  none, the ``lobby.closed`` they were sent in the last minute (kept for this);
- ``party.updated`` with their party as it is now (``change`` null), if in one;
- ``match.started`` for the running match they play (and their socket follows
  the match from its first event, in case the order to follow it was lost too,
  and leaves the started lobby's chat room, as a live match.started has it do);
- their unacknowledged notifications (``notify``).

A player may so get a push twice; the protocol says how clients take that
(docs/protocol.md, section 9). Match events need none of this: match taps read
what they missed from the feeds (hub.py), and orders for sockets (replaced,
expired) are caught up by ``Upkeep.resubscribed``.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging

from server.connection import Connection, SocketRegistry
from server.errors import ArenaError, Unavailable
from server.hub import Hub
from server.hub_out import packed
from server.protocol import Frame
from server.services import Services
from server.services.match_shapes import match_started

log = logging.getLogger(__name__)

# Players read back at once (three small reads each): a big node's catch-up does not
# flood Redis just as it comes back.
AT_ONCE = 100
# A channel not confirmed by then will not be (its socket closed, so it was unsubscribed);
# a connection that drops sooner starts the whole catch-up over anyway.
CONFIRM_WAIT_S = 30.0


class Redelivery:
    def __init__(self, services: Services, registry: SocketRegistry, hub: Hub) -> None:
        self._services = services
        self._registry = registry
        self._hub = hub
        self._task: asyncio.Task[None] | None = None

    def after_resubscribe(self) -> None:
        """Tell every local player, in the background, what may have been published while
        the node was deaf. Each player is told once Redis confirmed their channel on this
        connection: what is read back then cannot predate the subscription, so a change
        published between the read and the subscription is not lost again. A connection
        that drops before confirming is followed by another resubscribe, which starts over."""
        if self._task is not None:
            self._task.cancel()
        self._task = asyncio.create_task(self._tell_all(), name="redelivery")

    async def aclose(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task

    async def _tell_all(self) -> None:
        conns = [conn for conn in self._registry.all() if conn.claimed]
        turns = asyncio.Semaphore(AT_ONCE)
        await asyncio.gather(*(self._tell_when_subscribed(conn, turns) for conn in conns))
        if conns:
            log.info("told %d players their lobby, match and notes again", len(conns))

    async def _tell_when_subscribed(self, conn: Connection, turns: asyncio.Semaphore) -> None:
        channel = self._services.presence.player_channel(conn.player_id)
        try:
            await self._hub.until_subscribed(channel, within_s=CONFIRM_WAIT_S)
        except Unavailable:
            return
        async with turns:
            await self._tell(conn)

    async def _tell(self, conn: Connection) -> None:
        player_id = conn.player_id
        try:
            lobby = await self._services.lobbies.seat_news(player_id)
            closed = (
                [] if lobby is not None else await self._services.lobbies.closed_lately(player_id)
            )
            party = await self._services.parties.party_news(player_id)
            match = await self._services.matches.running_match_of(player_id)
            notes = await self._services.notifications.pending(player_id)
        except ArenaError as exc:
            log.warning("could not tell %s what it missed: %s", player_id, exc.code)
            return
        if self._registry.get(conn.conn_id) is not conn:
            return  # closed meanwhile
        if lobby is not None:
            conn.push(Frame(lobby.message()))
        if party is not None:
            conn.push(Frame(party.message()))
        for tell in closed:
            payload = packed(tell)
            conn.push(Frame(packed=payload))
            self._hub.leave_rooms_after(payload, [conn])
        if match is not None:
            # Following first, as at the start: the player may send as soon as told.
            try:
                await self._hub.follow_match(conn, match.match_id, from_start=True)
            except ArenaError as exc:
                log.warning("could not follow match %s again: %s", match.match_id, exc.code)
            started = match_started(
                match.match_id,
                match.lobby_id,
                match.mode,
                match.roster,
                authoritative=match.hosted,
            )
            conn.push(Frame(started.message()))
            # As a live match.started does (the hub): the lobby's room ended with its start.
            if match.lobby_id:
                room = self._services.chat.lobby_room_channel(match.lobby_id)
                self._hub.leave_rooms([room], [conn])
        for note in notes:
            conn.push(Frame(packed=note.push))
