"""Lobby seats: one per player, taken before the lobby is written, and held as a lease.

A seat key per player, taken with ``SET NX``, keeps a player out of two lobbies. While
the player is connected, their node renews the seat's lease every presence interval;
a dropped socket or a dead node stops the renewals, and the seat frees a grace period
later (any node's upkeep does it), unless the player came back, on any node, in time.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Awaitable, Callable
from typing import TypeGuard

from server.errors import AlreadyInLobby, ArenaError, NotInLobby
from server.services.presence import PresenceService
from server.storage.lobbies import LobbyRecord, LobbyStore
from server.storage.locks import Lease

log = logging.getLogger(__name__)

# Freeing lapsed seats waits only briefly per lobby; a busy one is retried next round.
UPKEEP_WAIT_S = 0.3
UPKEEP_RETRY_MS = 5000
UPKEEP_BUDGET_S = 1.0

# A seat key outlives its lease by this much: a lapsed seat is freed through it (it names
# the lobby), which may take long after a Redis outage or failing rounds; past this, a
# key whose lease was never written (or was dropped) goes by itself.
SEAT_KEY_MARGIN_MS = 3_600_000

# The lobby service's leave: (player_id, lobby_id, lock wait in seconds).
Leave = Callable[[str, str, float], Awaitable[None]]


def sits_in(lobby: LobbyRecord | None, player_id: str) -> TypeGuard[LobbyRecord]:
    """Whether the player sits in the lobby, and it is open (a started lobby has no seats
    left)."""
    return lobby is not None and lobby.status == "open" and is_member(lobby, player_id)


def is_member(lobby: LobbyRecord, player_id: str) -> bool:
    """Whether the player is among the lobby's members, whatever its status."""
    return any(m.player_id == player_id for m in lobby.members)


async def seat_of(store: LobbyStore, player_id: str) -> str:
    """The lobby the player's seat names, or NOT_IN_LOBBY."""
    lobby_id = await store.seat_of(player_id)
    if lobby_id is None:
        raise NotInLobby("not in a lobby")
    return lobby_id


async def take_seat(store: LobbyStore, player_id: str, lobby_id: str, lease_ms: int) -> None:
    """Seat the player, or AlreadyInLobby. A seat that points at a lobby the player is
    not really in (a node died between taking a seat and writing the lobby, or
    before freeing the seats of a started match) is given back first."""
    ttl_ms = seat_key_ttl_ms(lease_ms)
    # Taken and leased in one write.
    elsewhere = await store.take_seat(player_id, lobby_id, ttl_ms, now_ms() + lease_ms)
    if elsewhere is None:
        return
    if sits_in(await store.read(elsewhere), player_id):
        raise AlreadyInLobby(f"already in lobby {elsewhere}")
    await store.free_seats(elsewhere, [player_id])
    if await store.take_seat(player_id, lobby_id, ttl_ms) is not None:
        raise AlreadyInLobby("already in another lobby")
    await store.lease_seat(player_id, now_ms() + lease_ms, ttl_ms)


async def free_seats(store: LobbyStore, lobby_id: str, player_ids: list[str]) -> None:
    await store.free_seats(lobby_id, player_ids)
    await store.drop_lease(player_ids)


async def write_or_give_back(
    store: LobbyStore, lease: Lease, lobby: LobbyRecord, player_id: str
) -> None:
    """Write the lobby with the player seated in it, or give the seat back (LOCK_TIMEOUT
    when the lobby changed hands, or whatever else failed)."""
    try:
        await store.write(lease, lobby)
    except BaseException:
        await free_seats(store, lobby.lobby_id, [player_id])
        raise


async def free_lapsed_seats(
    store: LobbyStore, presence: PresenceService, lease_ms: int, leave: Leave
) -> None:
    """Free the seats whose leases ran out (the player dropped or their node died).
    Any node may run this; each seat is claimed by one, and retried if that fails."""
    now = now_ms()
    # Bounded per round: this shares the node's upkeep with the presence heartbeat.
    stop_at = time.monotonic() + UPKEEP_BUDGET_S
    for player_id in await store.lapsed(now):
        if time.monotonic() > stop_at:
            break  # the rest wait for the next round (their leases stay lapsed)
        if not await store.claim_lapsed(player_id, now, now + UPKEEP_RETRY_MS):
            continue
        try:
            _, online = await presence.lookup([player_id])
            if online[player_id]:
                await store.lease_seat(player_id, now + lease_ms, seat_key_ttl_ms(lease_ms))
                continue  # back on some node just now: its heartbeat takes over
            lobby_id = await store.seat_of(player_id)
            if lobby_id is None:
                await store.drop_lease([player_id])
                continue
            await leave(player_id, lobby_id, UPKEEP_WAIT_S)
        except ArenaError as exc:
            log.info("seat of %s not freed yet (%s); retrying later", player_id, exc.code)


def seat_key_ttl_ms(lease_ms: int) -> int:
    return lease_ms + SEAT_KEY_MARGIN_MS


def now_ms() -> int:
    return int(time.time() * 1000)
