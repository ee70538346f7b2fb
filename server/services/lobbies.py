"""Lobbies: create, list, join, leave, ready, quick-join; the rules that keep them honest.

- Every change to a lobby happens under its distributed lock, and the write is
  fenced: a holder that lost its lock cannot write (locks.py).
- A lobby is never overfilled: the member count is checked and written under the lock.
- A player is never in two lobbies: a seat key per player, taken with ``SET NX``
  before the lobby is written (and given back if the write does not happen).
- When every member is ready (at least two), the lobby starts a match exactly once:
  the status moves from open to started under the lock, so two nodes seeing the
  last "ready" at the same moment cannot both start it.
- Every member gets ``lobby.updated`` on every change, on whichever node they are
  (published to each member's player channel).
- A player whose socket drops keeps the seat for a grace period; after it, any
  node's upkeep frees the seat and tells the others.
"""

from __future__ import annotations

import re
import secrets
import time
from typing import Any

import msgpack

from server.errors import (
    AlreadyInLobby,
    BadRequest,
    LobbyFull,
    LobbyNotFound,
    LockTimeout,
    NotInLobby,
)
from server.protocol import Push, push
from server.services.presence import PresenceService
from server.services.ratelimits import RateLimiter
from server.storage import keys
from server.storage.lobbies import LobbyRecord, LobbyStore, Member

MODE = re.compile(r"^[a-z0-9][a-z0-9_-]{0,31}$")
LOBBY_ID = re.compile(r"^[0-9a-f]{12}$")
CAPACITY_MIN, CAPACITY_MAX = 2, 64
NAME_MAX = 32
LOCK_TTL_MS = 2000
# Hundreds of players may queue for one popular lobby; each turn holds it a millisecond or two.
LOCK_WAIT_S = 3.0
QUICKJOIN_CANDIDATES = 10


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
    }


def validate_mode(mode: object) -> str:
    if not isinstance(mode, str) or not MODE.match(mode):
        raise BadRequest("mode: 1 to 32 of a-z, 0-9, _ and -, starting with a letter or digit")
    return mode


def validate_lobby_id(lobby_id: object) -> str:
    if not isinstance(lobby_id, str) or not LOBBY_ID.match(lobby_id):
        raise LobbyNotFound("no such lobby")
    return lobby_id


class LobbyService:
    def __init__(
        self,
        store: LobbyStore,
        rate_limiter: RateLimiter,
        presence: PresenceService,
        *,
        grace_s: float,
        quickjoin_capacity: int,
    ) -> None:
        self._store = store
        self._rate_limiter = rate_limiter
        self._presence = presence
        self._grace_ms = int(grace_s * 1000)
        self._quickjoin_capacity = quickjoin_capacity

    # --- reads ----------------------------------------------------------------------

    async def get(self, lobby_id: str) -> LobbyRecord:
        lobby = await self._store.read(validate_lobby_id(lobby_id))
        if lobby is None or lobby.status != "open":
            raise LobbyNotFound("no such lobby")
        return lobby

    async def list_open(self, mode: str | None, limit: int) -> list[LobbyRecord]:
        """Open public lobbies with free seats, fullest first."""
        if mode is not None:
            validate_mode(mode)
        ids = await self._store.fullest(mode, limit * 2)
        lobbies = await self._store.read_many(ids)
        found = [
            lobby
            for lobby in lobbies
            if lobby is not None
            and lobby.status == "open"
            and not lobby.private
            and len(lobby.members) < lobby.capacity
        ]
        return found[:limit]

    # --- changes --------------------------------------------------------------------

    async def create(
        self,
        player_id: str,
        player_name: str,
        *,
        mode: str,
        capacity: int,
        name: str | None,
        private: bool,
        rate_limited: bool = True,
    ) -> LobbyRecord:
        if rate_limited:
            await self._rate_limiter.check("lobby.create", player_id)
        mode = validate_mode(mode)
        if not CAPACITY_MIN <= capacity <= CAPACITY_MAX:
            raise BadRequest(f"capacity: must be {CAPACITY_MIN} to {CAPACITY_MAX}")
        title = (name or f"{player_name}'s lobby").strip()[:NAME_MAX] or "lobby"
        lobby = LobbyRecord(
            lobby_id=secrets.token_hex(6),
            mode=mode,
            name=title,
            capacity=capacity,
            private=private,
            owner=player_id,
            status="open",
            members=[Member(player_id, player_name)],
        )
        await self._take_seat(player_id, lobby.lobby_id)
        try:
            async with self._store.locks.hold(
                keys.lobby_resource(lobby.lobby_id), ttl_ms=LOCK_TTL_MS, wait_s=LOCK_WAIT_S
            ) as lease:
                if not await self._store.write(lease, lobby):
                    raise LockTimeout("lobby changed hands; try again", retry_after_ms=50)
        except BaseException:
            await self._store.free_seats(lobby.lobby_id, [player_id])
            raise
        await self._store.index(lobby)
        await self._tell(lobby)
        return lobby

    async def join(self, player_id: str, player_name: str, lobby_id: str) -> LobbyRecord:
        # Counted before any lookup: probing for lobby ids costs the same as joining.
        await self._rate_limiter.check("lobby.join", player_id)
        return await self._join(player_id, player_name, validate_lobby_id(lobby_id))

    async def _join(self, player_id: str, player_name: str, lobby_id: str) -> LobbyRecord:
        async with self._store.locks.hold(
            keys.lobby_resource(lobby_id), ttl_ms=LOCK_TTL_MS, wait_s=LOCK_WAIT_S
        ) as lease:
            lobby = await self._store.read(lobby_id)
            if lobby is None or lobby.status != "open":
                raise LobbyNotFound("no such lobby")
            if any(m.player_id == player_id for m in lobby.members):
                return lobby  # back in a seat they kept (a reconnect): nothing changes
            if len(lobby.members) >= lobby.capacity:
                raise LobbyFull("the lobby is full")
            await self._take_seat(player_id, lobby_id)
            lobby.members.append(Member(player_id, player_name))
            if not await self._store.write(lease, lobby):
                await self._store.free_seats(lobby_id, [player_id])
                raise LockTimeout("lobby changed hands; try again", retry_after_ms=50)
        await self._store.index(lobby)
        await self._tell(lobby)
        return lobby

    async def _take_seat(self, player_id: str, lobby_id: str) -> None:
        """Seat the player, or AlreadyInLobby. A seat that points at a lobby the player is
        not really in (a node died between taking a seat and writing the lobby, or
        before freeing the seats of a started match) is given back first."""
        elsewhere = await self._store.take_seat(player_id, lobby_id)
        if elsewhere is None:
            return
        other = await self._store.read(elsewhere)
        really_there = (
            other is not None
            and other.status == "open"
            and any(m.player_id == player_id for m in other.members)
        )
        if really_there:
            raise AlreadyInLobby(f"already in lobby {elsewhere}")
        await self._store.free_seats(elsewhere, [player_id])
        if await self._store.take_seat(player_id, lobby_id) is not None:
            raise AlreadyInLobby("already in another lobby")

    async def quickjoin(self, player_id: str, player_name: str, mode: str) -> LobbyRecord:
        """Join the fullest open lobby of the mode, or create one."""
        await self._rate_limiter.check("lobby.quickjoin", player_id)
        mode = validate_mode(mode)
        lobby = await self._try_candidates(player_id, player_name, mode)
        if lobby is not None:
            return lobby
        # None open: create one, but only one at a time per mode, so a crowd pressing
        # Quick Join on an empty mode fills one lobby instead of making a hundred.
        async with self._store.locks.hold(
            keys.mode_resource(mode), ttl_ms=LOCK_TTL_MS, wait_s=LOCK_WAIT_S
        ):
            lobby = await self._try_candidates(player_id, player_name, mode)
            if lobby is not None:
                return lobby
            return await self.create(
                player_id,
                player_name,
                mode=mode,
                capacity=self._quickjoin_capacity,
                name=None,
                private=False,
                rate_limited=False,
            )

    async def _try_candidates(
        self, player_id: str, player_name: str, mode: str
    ) -> LobbyRecord | None:
        for lobby_id in await self._store.fullest(mode, QUICKJOIN_CANDIDATES):
            try:
                return await self._join(player_id, player_name, lobby_id)
            except (LobbyFull, LobbyNotFound, LockTimeout):
                continue
        return None

    async def leave(self, player_id: str) -> None:
        lobby_id = await self._store.seat_of(player_id)
        if lobby_id is None:
            raise NotInLobby("not in a lobby")
        await self._leave(player_id, lobby_id)

    async def _leave(self, player_id: str, lobby_id: str) -> None:
        async with self._store.locks.hold(
            keys.lobby_resource(lobby_id), ttl_ms=LOCK_TTL_MS, wait_s=LOCK_WAIT_S
        ) as lease:
            lobby = await self._store.read(lobby_id)
            if lobby is None or not any(m.player_id == player_id for m in lobby.members):
                await self._store.free_seats(lobby_id, [player_id])
                return
            lobby.members = [m for m in lobby.members if m.player_id != player_id]
            if not lobby.members:
                lobby.status = "closed"  # the last one out closes it
            elif lobby.owner == player_id:
                lobby.owner = lobby.members[0].player_id  # the longest-seated takes over
            if not await self._store.write(lease, lobby):
                raise LockTimeout("lobby changed hands; try again", retry_after_ms=50)
        await self._store.free_seats(lobby_id, [player_id])
        await self._store.index(lobby)
        if lobby.members:
            await self._tell(lobby)

    async def ready(self, player_id: str, ready: bool) -> LobbyRecord:
        lobby_id = await self._store.seat_of(player_id)
        if lobby_id is None:
            raise NotInLobby("not in a lobby")
        async with self._store.locks.hold(
            keys.lobby_resource(lobby_id), ttl_ms=LOCK_TTL_MS, wait_s=LOCK_WAIT_S
        ) as lease:
            lobby = await self._store.read(lobby_id)
            if lobby is None or lobby.status != "open":
                raise NotInLobby("not in an open lobby")
            for member in lobby.members:
                if member.player_id == player_id:
                    member.ready = ready
            starts = len(lobby.members) >= 2 and all(m.ready for m in lobby.members)
            if starts:
                # Under the lock, open -> started happens once, however many nodes race.
                lobby.status = "started"
                lobby.match_id = secrets.token_hex(8)
            if not await self._store.write(lease, lobby):
                raise LockTimeout("lobby changed hands; try again", retry_after_ms=50)
        if not starts:
            await self._tell(lobby)
            return lobby
        await self._store.unindex(lobby.mode, lobby.lobby_id)
        await self._store.free_seats(lobby.lobby_id, [m.player_id for m in lobby.members])
        await self._tell(lobby)
        await self._store.publish(
            [keys.player_channel(m.player_id) for m in lobby.members],
            msgpack.packb(
                push(
                    Push.MATCH_STARTED,
                    match_id=lobby.match_id,
                    lobby_id=lobby.lobby_id,
                    mode=lobby.mode,
                    players=[m.player_id for m in lobby.members],
                )
            ),
        )
        return lobby

    # --- dropped sockets --------------------------------------------------------------

    async def player_disconnected(self, player_id: str) -> None:
        """Keep the seat for the grace period."""
        lobby_id = await self._store.seat_of(player_id)
        if lobby_id is not None:
            await self._store.mark_away(
                player_id, lobby_id, int(time.time() * 1000) + self._grace_ms
            )

    async def player_connected(self, player_id: str) -> None:
        lobby_id = await self._store.seat_of(player_id)
        if lobby_id is not None:
            await self._store.back(player_id, lobby_id)

    async def free_expired_seats(self) -> None:
        """Free the seats of players whose grace ran out. Any node may run this: each
        seat is claimed by one. A player who came back took their entry out already."""
        for player_id, lobby_id in await self._store.claim_due(int(time.time() * 1000)):
            # A reconnect can land between a drop's release and its away mark; a player
            # with a live socket again keeps the seat.
            _, online = await self._presence.lookup([player_id])
            if not online[player_id]:
                await self._leave(player_id, lobby_id)

    async def _tell(self, lobby: LobbyRecord) -> None:
        payload = msgpack.packb(push(Push.LOBBY_UPDATED, lobby=lobby_wire(lobby)))
        await self._store.publish(
            [keys.player_channel(m.player_id) for m in lobby.members], payload
        )
