"""What follows a lobby change, still under its lock so that it happens in order: the
open-lobby index, the match start, and the pushes to every member (on whichever node
they are, through each member's player channel) and to watchers."""

from __future__ import annotations

import asyncio
from enum import StrEnum
from typing import Any

import msgpack

from server.protocol import Push, push
from server.services.lobby_lock import still_held
from server.services.lobby_seats import free_seats
from server.services.matches import MatchService
from server.services.watch import WatchFeed
from server.storage import keys
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


async def tell_watchers(watch: WatchFeed, lobby: LobbyRecord) -> None:
    # A private lobby's id is its invitation: watchers (anyone may spectate) never see it.
    if not lobby.private:
        await watch.lobby({**lobby_wire(lobby), "status": lobby.status})


class Removal(StrEnum):
    """Why the server took a player out of a lobby they did not leave themselves: the
    ``reason`` of the ``lobby.closed`` they are sent (``"admin"`` is an operator closing
    the whole lobby)."""

    SEAT_LAPSED = "seat_lapsed"  # their node stopped renewing the seat (dropped, stalled)
    KICKED = "kicked"  # an operator kicked them
    BANNED = "banned"  # an operator banned them


async def tell_removed(store: LobbyStore, player_id: str, lobby_id: str, why: Removal) -> None:
    """Tell a player the server took them out of the lobby (``lobby.closed`` to them
    alone: the lobby is closed for them), still under the lock. Their node takes their
    sockets out of the lobby's chat room on it. Kept first, as an operator's close is:
    no lobby state tells them later (their seat is gone), and a node whose pub/sub
    missed it re-sends it."""
    await still_held(store.locks)
    closed = msgpack.packb(push(Push.LOBBY_CLOSED, lobby_id=lobby_id, reason=str(why)))
    await store.keep_push([player_id], closed)
    await store.publish([keys.player_channel(player_id)], closed)


async def after_change(
    store: LobbyStore, matches: MatchService, watch: WatchFeed, lobby: LobbyRecord
) -> None:
    """What follows any change, still under the lock so that it happens in order: the
    open-lobby index, and the pushes (a start stores the match, then frees every seat
    and tells everyone). Each step first confirms the lock is still held. Idempotent:
    a change that stopped half-way is finished by running this again."""
    await still_held(store.locks)
    await store.index(lobby)
    members = [m.player_id for m in lobby.members]
    channels = [keys.player_channel(p) for p in members]
    if lobby.status == "started":
        await still_held(store.locks)
        # Before the pushes: each player's socket follows the match before they can send.
        await matches.start(lobby.match_id, lobby.lobby_id, lobby.mode, members)
        # Only once the match stands (start is idempotent): a start that stops before
        # this keeps the seats, so a member's retry (join, ready) finds it and finishes it.
        await free_seats(store, lobby.lobby_id, members)
    await still_held(store.locks)
    # Together (one write, one round trip): the lock is held meanwhile.
    await asyncio.gather(
        store.publish(channels, msgpack.packb(push(Push.LOBBY_UPDATED, lobby=lobby_wire(lobby)))),
        tell_watchers(watch, lobby),
    )
    if lobby.status == "started":
        await still_held(store.locks)
        await store.publish(
            channels,
            msgpack.packb(
                push(
                    Push.MATCH_STARTED,
                    match_id=lobby.match_id,
                    lobby_id=lobby.lobby_id,
                    mode=lobby.mode,
                    players=members,
                )
            ),
        )
