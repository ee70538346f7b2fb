"""Taking players out of a lobby: a player leaving, the server removing one (their
seat lapsed, an operator kicked or banned them: they are told, lobby_news.py's
``tell_removed``), and an operator closing a lobby on all its players. Each is a change
under the lobby's lock, followed by what any change implies (lobbies.py's rules)."""

from __future__ import annotations

import secrets

from server.errors import LobbyNotFound
from server.services.lobby_news import LobbyNews, Removal
from server.services.lobby_seats import free_seats, sits_in
from server.storage.lobbies import LobbyRecord, LobbyStore


def start_if_all_ready(lobby: LobbyRecord) -> None:
    """Start the lobby if every member (at least two) is ready: after a ready, and after
    a leave (those left may all be ready)."""
    # Under the lock, open -> started happens once, however many nodes race.
    if len(lobby.members) >= 2 and all(m.ready for m in lobby.members):
        lobby.status = "started"
        lobby.match_id = secrets.token_hex(8)


async def take_out(
    store: LobbyStore,
    news: LobbyNews,
    player_id: str,
    lobby_id: str,
    wait_s: float,
    *,
    removed: Removal | None,
) -> None:
    """Take the player out of the lobby: they left (``removed`` None), or the server
    removed them (``removed`` says why; they are told)."""
    async with store.holding(lobby_id, wait_s=wait_s) as lease:
        lobby = await store.read(lobby_id)
        if not sits_in(lobby, player_id):
            # Gone, started, or a seat that was never really taken: only free the seat.
            await free_seats(store, lobby_id, [player_id])
            return
        lobby.members = [m for m in lobby.members if m.player_id != player_id]
        if not lobby.members:
            lobby.status = "closed"  # the last one out closes it
        elif lobby.owner == player_id:
            lobby.owner = lobby.members[0].player_id  # the longest-seated takes over
        start_if_all_ready(lobby)  # those left may all be ready
        await store.write(lease, lobby)
        if removed is None:
            await store.free_seats(lobby_id, [player_id])  # its lease goes with the index
            await news.after_change(lobby, left=[player_id])
            return
        # Told before the index: the lease goes with the seat, or a player who heard and
        # at once sat down elsewhere would lose that new seat's lease to this change.
        await free_seats(store, lobby_id, [player_id])
        await news.tell_removed(player_id, lobby_id, removed)
        await news.after_change(lobby)


async def close_for_all(
    store: LobbyStore, news: LobbyNews, lobby_id: str, wait_s: float
) -> LobbyRecord:
    """An operator closes an open lobby: its players lose their seats and are told
    (``lobby.closed``, reason ``admin``); the lobby leaves the lists."""
    async with store.holding(lobby_id, wait_s=wait_s) as lease:
        lobby = await store.read(lobby_id)
        if lobby is None or lobby.status != "open":
            raise LobbyNotFound("no such open lobby")
        members = [m.player_id for m in lobby.members]
        lobby.status = "closed"
        await store.write(lease, lobby)
        await free_seats(store, lobby_id, members)
        await news.tell_closed(lobby, members)
    return lobby
