"""What follows a lobby change, still under its lock so that it happens in order: the
open-lobby index, the match start, and the pushes to every member (on whichever node
they are) and to watchers."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from enum import StrEnum
from typing import Any

from server.protocol import Push
from server.services.lobby_seats import free_seats
from server.services.match_shapes import match_started
from server.services.matches import MatchService
from server.services.ports import Pushes, Tell
from server.services.watch import WatchFeed
from server.storage.lobbies import LobbyRecord, LobbyStore


def lobby_wire(lobby: LobbyRecord) -> dict[str, Any]:
    """The one shape a lobby has in replies and pushes."""
    return {
        "lobby_id": lobby.lobby_id,
        "mode": lobby.mode,
        "name": lobby.name,
        "capacity": lobby.capacity,
        "private": lobby.private,
        "owner": lobby.owner,
        "members": [
            {"player_id": m.player_id, "name": m.name, "ready": m.ready} for m in lobby.members
        ],
        # Grows with each change: a client ignores a lobby.updated older than the one it holds.
        "rev": lobby.rev,
    }


class Removal(StrEnum):
    """Why the server took a player out of a lobby they did not leave themselves: the
    ``reason`` of the ``lobby.closed`` they are sent (``"admin"`` is an operator closing
    the whole lobby)."""

    SEAT_LAPSED = "seat_lapsed"  # their node stopped renewing the seat (dropped, stalled)
    KICKED = "kicked"  # an operator kicked them
    BANNED = "banned"  # an operator banned them


class LobbyNews:
    """Tells what a lobby change did, under the change's lock: each step first confirms
    the lock is still held (``LobbyStore.confirm_held``), so a change that lost it stops
    with LOCK_TIMEOUT and tells nothing more."""

    def __init__(
        self, store: LobbyStore, matches: MatchService, watch: WatchFeed, pushes: Pushes
    ) -> None:
        self._store = store
        self._matches = matches
        self._watch = watch
        self._pushes = pushes

    async def after_change(self, lobby: LobbyRecord, left: Sequence[str] = ()) -> None:
        """What follows any change: the open-lobby index, and the pushes (a start stores
        the match, then frees every seat and tells everyone). Idempotent: a change that
        stopped half-way is finished by running this again. ``left``: players whose
        seats the change freed; their leases go with the index (a lease left behind by a
        change that stops first finds no seat when it lapses, and goes then)."""
        store = self._store
        await store.confirm_held()
        members = [m.player_id for m in lobby.members]
        if lobby.status != "started":
            # The index and the pushes in one write, right after the confirm (which gave
            # the lock a full TTL more): nothing of this change waits between them.
            wire = lobby_wire(lobby)
            await asyncio.gather(
                store.index(lobby, left),
                self._pushes.to_players(members, Tell(Push.LOBBY_UPDATED, {"lobby": wire})),
                self.tell_watchers(lobby, wire),
            )
            return
        # A start: the index, then the match stored, each seat freed, everyone told.
        await store.index(lobby, left)
        await store.confirm_held()
        # Before the pushes: each player's socket follows the match before they can send.
        await self._matches.start(lobby.match_id, lobby.lobby_id, lobby.mode, members)
        # Only once the match stands (start is idempotent): a start that stops before
        # this keeps the seats, so a member's retry (join, ready) finds it and finishes it.
        await free_seats(store, lobby.lobby_id, members)
        await store.confirm_held()
        updated = Tell(Push.LOBBY_UPDATED, {"lobby": lobby_wire(lobby)})
        # Together (one write, one round trip): the lock is held meanwhile.
        await asyncio.gather(self._pushes.to_players(members, updated), self.tell_watchers(lobby))
        await store.confirm_held()
        started = match_started(
            lobby.match_id,
            lobby.lobby_id,
            lobby.mode,
            members,
            authoritative=self._matches.authoritative(lobby.mode),
        )
        await self._pushes.to_players(members, started)
        await self._matches.told_started(lobby.match_id, lobby.mode)

    async def tell_removed(self, player_id: str, lobby_id: str, why: Removal) -> None:
        """Tell a player the server took them out of the lobby (``lobby.closed`` to them
        alone: the lobby is closed for them). Their node takes their sockets out of the
        lobby's chat room on it. Kept, as an operator's close is: no lobby state tells
        them later (their seat is gone), and a node whose pub/sub missed it re-sends it."""
        await self._store.confirm_held()
        closed = Tell(Push.LOBBY_CLOSED, {"lobby_id": lobby_id, "reason": str(why)})
        await self._pushes.to_players([player_id], closed, keep=True)

    async def tell_closed(self, lobby: LobbyRecord, members: list[str]) -> None:
        """Tell the members an operator closed the lobby (``lobby.closed``, reason
        ``admin``), and the watchers; after the index."""
        await self._store.confirm_held()
        await self._store.index(lobby)
        await self._store.confirm_held()
        closed = Tell(Push.LOBBY_CLOSED, {"lobby_id": lobby.lobby_id, "reason": "admin"})
        # Kept: no lobby state tells a player of this later (the seat is gone).
        await asyncio.gather(
            self._pushes.to_players(members, closed, keep=True), self.tell_watchers(lobby)
        )

    async def tell_watchers(self, lobby: LobbyRecord, wire: dict[str, Any] | None = None) -> None:
        """``wire``: the lobby's ``lobby_wire``, when the caller made it already."""
        # A private lobby's id is its invitation: watchers (anyone may spectate) never see it.
        if not lobby.private:
            shape = lobby_wire(lobby) if wire is None else wire
            await self._watch.lobby({**shape, "status": lobby.status})

    async def closed_lately(self, player_id: str) -> list[Tell]:
        """The ``lobby.closed`` pushes kept for the player in the last minute, oldest first."""
        return [t for t in await self._pushes.kept(player_id) if t.event == Push.LOBBY_CLOSED]
