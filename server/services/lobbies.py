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
- A seat is a lease: while the player is connected, their node renews it every
  presence interval. A dropped socket or a dead node stops the renewals, and the
  seat frees a grace period later (any node's upkeep does it), unless the player
  came back, on any node, in time.
- Everything a change implies (the index of open lobbies, the pushes) happens
  before the lock is released, so pushes leave in the order the changes happened.
- The lock is renewed while a change runs, and the change confirms it still holds
  it before each step after the write (the index, the match start, each publish):
  a change that lost its lock stops with LOCK_TIMEOUT and pushes nothing.
"""

from __future__ import annotations

import asyncio
import logging
import re
import secrets
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from contextvars import ContextVar
from typing import Any

import msgpack

from server.errors import (
    AlreadyInLobby,
    ArenaError,
    BadRequest,
    LobbyFull,
    LobbyNotFound,
    LockTimeout,
    NotInLobby,
)
from server.modes import ModeBook
from server.protocol import Push, push
from server.services.matches import MatchService
from server.services.presence import PresenceService
from server.services.ratelimits import RateLimiter
from server.services.watch import WatchFeed
from server.storage import keys
from server.storage.lobbies import LobbyRecord, LobbyStore, Member
from server.storage.locks import Lease
from server.text import clean_text

log = logging.getLogger(__name__)

MODE = re.compile(r"^[a-z0-9][a-z0-9_-]{0,31}$")
LOBBY_ID = re.compile(r"^[0-9a-f]{12}$")
CAPACITY_MIN, CAPACITY_MAX = 2, 64
NAME_MAX = 32
LOCK_TTL_MS = 2000
# Hundreds of players may queue for one popular lobby; each turn holds it a millisecond or two.
LOCK_WAIT_S = 3.0
QUICKJOIN_CANDIDATES = 10
# Inside quick-join's mode lock, a busy candidate is skipped quickly: the mode lock's TTL
# must outlast every candidate tried (10 x 0.2 s) plus creating a lobby.
CANDIDATE_WAIT_S = 0.2
MODE_LOCK_TTL_MS = 8000
# Freeing lapsed seats waits only briefly per lobby; a busy one is retried next round.
UPKEEP_WAIT_S = 0.3
UPKEEP_RETRY_MS = 5000
UPKEEP_BUDGET_S = 1.0

# The lobby lock the running change holds (each task its own): what ``_changed`` confirms.
_HELD: ContextVar[Lease | None] = ContextVar("held_lobby_lock", default=None)


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
        matches: MatchService,
        watch: WatchFeed,
        *,
        grace_s: float,
        renew_interval_s: float,
        modes: ModeBook,
    ) -> None:
        self._store = store
        self._rate_limiter = rate_limiter
        self._presence = presence
        self._matches = matches
        self._watch = watch
        # A lease outlives one missed renewal, so a connected player never loses a seat.
        self._lease_ms = int((grace_s + renew_interval_s) * 1000)
        self._modes = modes

    # --- reads ----------------------------------------------------------------------

    async def get(self, player_id: str, lobby_id: str) -> LobbyRecord:
        # Counted before the lookup, like a join: ids (of private lobbies too) cost to probe.
        await self._rate_limiter.check("lobby.get", player_id)
        lobby = await self._store.read(validate_lobby_id(lobby_id))
        if lobby is None or lobby.status != "open":
            raise LobbyNotFound("no such lobby")
        return lobby

    async def is_member(self, lobby_id: str, player_id: str) -> bool:
        """Whether the player sits in the open lobby (a started lobby has no seats left)."""
        if not LOBBY_ID.match(lobby_id):
            return False
        lobby = await self._store.read(lobby_id)
        return (
            lobby is not None
            and lobby.status == "open"
            and any(m.player_id == player_id for m in lobby.members)
        )

    async def seated_in(self, player_id: str) -> LobbyRecord | None:
        """The open lobby the player sits in, as it is now (a node re-telling its players
        after its pub/sub came back), or None."""
        lobby_id = await self._store.seat_of(player_id)
        lobby = None if lobby_id is None else await self._store.read(lobby_id)
        if lobby is None or lobby.status != "open":
            return None
        return lobby if any(m.player_id == player_id for m in lobby.members) else None

    async def closed_lately(self, player_id: str) -> list[bytes]:
        """The ``lobby.closed`` pushes the player got in the last minute (as sent), for a
        node that may have missed them."""
        return await self._store.kept_pushes(player_id)

    async def list_open(self, mode: str | None, limit: int) -> list[LobbyRecord]:
        """Open public lobbies with free seats, fullest first."""
        if mode is not None:
            validate_mode(mode)
        ids = await self._store.fullest(mode, limit * 2)
        found = []
        for lobby_id, lobby in zip(ids, await self._store.read_many(ids), strict=True):
            if lobby is None or lobby.status != "open":
                await self._store.unindex(lobby_id, mode)  # a stale entry: tidy it
                continue
            if not lobby.private and len(lobby.members) < lobby.capacity:
                found.append(lobby)
        return found[:limit]

    # --- changes --------------------------------------------------------------------

    async def create(
        self,
        player_id: str,
        player_name: str,
        *,
        mode: str,
        capacity: int | None,
        name: str | None,
        private: bool,
        rate_limited: bool = True,
    ) -> LobbyRecord:
        if rate_limited:
            await self._rate_limiter.check("lobby.create", player_id)
        mode = validate_mode(mode)
        # The mode's capacity is the default and the most a lobby of it may have.
        most = self._modes.spec_for(mode).capacity
        if capacity is None:
            capacity = most
        if not CAPACITY_MIN <= capacity <= most:
            raise BadRequest(f"capacity: must be {CAPACITY_MIN} to {most} for mode {mode!r}")
        title = (
            f"{player_name}'s lobby"[:NAME_MAX]
            if name is None
            else clean_text(name, field="name", max_len=NAME_MAX)
        )
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
        async with self._lock(lobby.lobby_id, LOCK_WAIT_S) as lease:
            await self._take_seat(player_id, lobby.lobby_id)
            await self._write_or_give_back(lease, lobby, player_id)
            await self._changed(lobby)
        return lobby

    async def join(self, player_id: str, player_name: str, lobby_id: str) -> LobbyRecord:
        # Counted before any lookup: probing for lobby ids costs the same as joining.
        await self._rate_limiter.check("lobby.join", player_id)
        return await self._join(player_id, player_name, validate_lobby_id(lobby_id), LOCK_WAIT_S)

    async def _join(
        self, player_id: str, player_name: str, lobby_id: str, wait_s: float
    ) -> LobbyRecord:
        async with self._lock(lobby_id, wait_s) as lease:
            lobby = await self._store.read(lobby_id)
            if lobby is None or lobby.status != "open":
                await self._store.unindex(lobby_id, None if lobby is None else lobby.mode)
                raise LobbyNotFound("no such lobby")
            if any(m.player_id == player_id for m in lobby.members):
                # Back in a seat they kept (a reconnect), or a retry of a join that stopped
                # after its write (it lost the lock): index and announce the lobby again.
                await self._changed(lobby)
                return lobby
            if len(lobby.members) >= lobby.capacity:
                raise LobbyFull("the lobby is full")
            await self._take_seat(player_id, lobby_id)
            lobby.members.append(Member(player_id, player_name))
            self._start_if_full(lobby)
            await self._write_or_give_back(lease, lobby, player_id)
            await self._changed(lobby)
        return lobby

    async def quickjoin(self, player_id: str, player_name: str, mode: str) -> LobbyRecord:
        """Join the fullest open lobby of the mode, or create one."""
        await self._rate_limiter.check("lobby.quickjoin", player_id)
        mode = validate_mode(mode)
        lobby = await self._try_candidates(player_id, player_name, mode, LOCK_WAIT_S)
        if lobby is not None:
            return lobby
        # None open: create one, but only one at a time per mode, so a crowd pressing
        # Quick Join on an empty mode fills one lobby instead of making a hundred.
        async with self._store.locks.hold(
            keys.mode_resource(mode), ttl_ms=MODE_LOCK_TTL_MS, wait_s=LOCK_WAIT_S
        ):
            lobby = await self._try_candidates(player_id, player_name, mode, CANDIDATE_WAIT_S)
            if lobby is not None:
                return lobby
            return await self.create(
                player_id,
                player_name,
                mode=mode,
                capacity=None,  # the mode's
                name=None,
                private=False,
                rate_limited=False,
            )

    async def _try_candidates(
        self, player_id: str, player_name: str, mode: str, wait_s: float
    ) -> LobbyRecord | None:
        for lobby_id in await self._store.fullest(mode, QUICKJOIN_CANDIDATES):
            try:
                return await self._join(player_id, player_name, lobby_id, wait_s)
            except LobbyNotFound:
                await self._store.unindex(lobby_id, mode)
            except (LobbyFull, LockTimeout):
                continue
        return None

    async def leave(self, player_id: str) -> str:
        """Give up the player's seat; the lobby they left."""
        await self._rate_limiter.check("lobby.leave", player_id)
        lobby_id = await self._store.seat_of(player_id)
        if lobby_id is None:
            raise NotInLobby("not in a lobby")
        await self._leave(player_id, lobby_id, LOCK_WAIT_S)
        return lobby_id

    async def _leave(self, player_id: str, lobby_id: str, wait_s: float) -> None:
        async with self._lock(lobby_id, wait_s) as lease:
            lobby = await self._store.read(lobby_id)
            here = lobby is not None and any(m.player_id == player_id for m in lobby.members)
            if lobby is None or lobby.status != "open" or not here:
                # Gone, started, or a seat that was never really taken: only free the seat.
                await self._free_seats(lobby_id, [player_id])
                return
            lobby.members = [m for m in lobby.members if m.player_id != player_id]
            if not lobby.members:
                lobby.status = "closed"  # the last one out closes it
            elif lobby.owner == player_id:
                lobby.owner = lobby.members[0].player_id  # the longest-seated takes over
            self._start_if_all_ready(lobby)  # those left may all be ready
            if not await self._store.write(lease, lobby):
                raise LockTimeout("lobby changed hands; try again", retry_after_ms=50)
            await self._free_seats(lobby_id, [player_id])
            await self._changed(lobby)

    async def ready(self, player_id: str, ready: bool) -> LobbyRecord:
        await self._rate_limiter.check("lobby.ready", player_id)
        lobby_id = await self._store.seat_of(player_id)
        if lobby_id is None:
            raise NotInLobby("not in a lobby")
        async with self._lock(lobby_id, LOCK_WAIT_S) as lease:
            lobby = await self._store.read(lobby_id)
            here = lobby is not None and any(m.player_id == player_id for m in lobby.members)
            if lobby is not None and here and lobby.status == "started":
                # A retry after a failure half-way through the start: finish it again.
                await self._changed(lobby)
                return lobby
            if lobby is None or lobby.status != "open" or not here:
                await self._free_seats(lobby_id, [player_id])  # a stale seat
                raise NotInLobby("not in an open lobby")
            for member in lobby.members:
                if member.player_id == player_id:
                    member.ready = ready
            self._start_if_all_ready(lobby)
            if not await self._store.write(lease, lobby):
                raise LockTimeout("lobby changed hands; try again", retry_after_ms=50)
            await self._changed(lobby)
        return lobby

    async def close_by_operator(self, lobby_id: str) -> LobbyRecord:
        """An operator closes an open lobby: its players lose their seats and are told
        (``lobby.closed``); the lobby leaves the lists."""
        lobby_id = validate_lobby_id(lobby_id)
        async with self._lock(lobby_id, LOCK_WAIT_S) as lease:
            lobby = await self._store.read(lobby_id)
            if lobby is None or lobby.status != "open":
                raise LobbyNotFound("no such open lobby")
            members = [m.player_id for m in lobby.members]
            lobby.status = "closed"
            if not await self._store.write(lease, lobby):
                raise LockTimeout("lobby changed hands; try again", retry_after_ms=50)
            await self._free_seats(lobby_id, members)
            await self._still_held()
            await self._store.index(lobby)
            await self._still_held()
            closed = msgpack.packb(push(Push.LOBBY_CLOSED, lobby_id=lobby_id, reason="admin"))
            # Kept first: no lobby state tells a player of this later (the seat is gone).
            await self._store.keep_push(members, closed)
            await asyncio.gather(
                self._store.publish([keys.player_channel(p) for p in members], closed),
                self._watched(lobby),
            )
        return lobby

    async def remove(self, player_id: str) -> str | None:
        """Take the player out of their lobby (an operator's kick); the lobby, if any."""
        lobby_id = await self._store.seat_of(player_id)
        if lobby_id is not None:
            await self._leave(player_id, lobby_id, LOCK_WAIT_S)
        return lobby_id

    async def open_count(self) -> int:
        return await self._store.open_count()

    # --- seat leases ------------------------------------------------------------------

    async def renew_seats(self, player_ids: list[str]) -> None:
        """A node's heartbeat: its connected players keep their seats."""
        await self._store.renew_seats(player_ids, _now_ms() + self._lease_ms)

    async def free_lapsed_seats(self) -> None:
        """Free the seats whose leases ran out (the player dropped or their node died).
        Any node may run this; each seat is claimed by one, and retried if that fails."""
        now = _now_ms()
        # Bounded per round: this shares the node's upkeep with the presence heartbeat.
        stop_at = time.monotonic() + UPKEEP_BUDGET_S
        for player_id in await self._store.lapsed(now):
            if time.monotonic() > stop_at:
                break  # the rest wait for the next round (their leases stay lapsed)
            if not await self._store.claim_lapsed(player_id, now, now + UPKEEP_RETRY_MS):
                continue
            try:
                _, online = await self._presence.lookup([player_id])
                if online[player_id]:
                    await self._store.lease_seat(player_id, now + self._lease_ms)
                    continue  # back on some node just now: its heartbeat takes over
                lobby_id = await self._store.seat_of(player_id)
                if lobby_id is None:
                    await self._store.drop_lease([player_id])
                    continue
                await self._leave(player_id, lobby_id, UPKEEP_WAIT_S)
            except ArenaError as exc:
                log.info("seat of %s not freed yet (%s); retrying later", player_id, exc.code)

    # --- the steps every change shares -------------------------------------------------

    @asynccontextmanager
    async def _lock(self, lobby_id: str, wait_s: float) -> AsyncIterator[Lease]:
        """Hold the lobby's lock (renewed while held); ``_still_held`` confirms it."""
        async with self._store.locks.hold(
            keys.lobby_resource(lobby_id), ttl_ms=LOCK_TTL_MS, wait_s=wait_s
        ) as lease:
            held = _HELD.set(lease)
            try:
                yield lease
            finally:
                _HELD.reset(held)

    async def _still_held(self) -> None:
        """Raise LOCK_TIMEOUT if this change lost its lock: a newer holder may have acted
        since, and what this one would index or push would be out of date or out of order."""
        lease = _HELD.get()
        if lease is not None:
            await self._store.locks.confirm(lease)

    async def _take_seat(self, player_id: str, lobby_id: str) -> None:
        """Seat the player, or AlreadyInLobby. A seat that points at a lobby the player is
        not really in (a node died between taking a seat and writing the lobby, or
        before freeing the seats of a started match) is given back first."""
        elsewhere = await self._store.take_seat(player_id, lobby_id)
        if elsewhere is None:
            await self._store.lease_seat(player_id, _now_ms() + self._lease_ms)
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
        await self._store.lease_seat(player_id, _now_ms() + self._lease_ms)

    async def _write_or_give_back(self, lease: Lease, lobby: LobbyRecord, player_id: str) -> None:
        """Write the lobby with the player seated in it, or give the seat back."""
        try:
            written = await self._store.write(lease, lobby)
        except BaseException:
            await self._free_seats(lobby.lobby_id, [player_id])
            raise
        if not written:
            await self._free_seats(lobby.lobby_id, [player_id])
            raise LockTimeout("lobby changed hands; try again", retry_after_ms=50)

    @staticmethod
    def _start_if_all_ready(lobby: LobbyRecord) -> None:
        # Under the lock, open -> started happens once, however many nodes race.
        if len(lobby.members) >= 2 and all(m.ready for m in lobby.members):
            lobby.status = "started"
            lobby.match_id = secrets.token_hex(8)

    def _start_if_full(self, lobby: LobbyRecord) -> None:
        # A start_when_full mode starts the moment its last seat fills, no ready needed.
        full = len(lobby.members) >= lobby.capacity
        if full and self._modes.spec_for(lobby.mode).start_when_full:
            lobby.status = "started"
            lobby.match_id = secrets.token_hex(8)

    async def _free_seats(self, lobby_id: str, player_ids: list[str]) -> None:
        await self._store.free_seats(lobby_id, player_ids)
        await self._store.drop_lease(player_ids)

    async def _watched(self, lobby: LobbyRecord) -> None:
        # A private lobby's id is its invitation: watchers (anyone may spectate) never see it.
        if not lobby.private:
            await self._watch.lobby({**lobby_wire(lobby), "status": lobby.status})

    async def _changed(self, lobby: LobbyRecord) -> None:
        """What follows any change, still under the lock so that it happens in order: the
        open-lobby index, and the pushes (a start frees every seat and tells everyone).
        Each step first confirms the lock is still held."""
        await self._still_held()
        await self._store.index(lobby)
        members = [m.player_id for m in lobby.members]
        channels = [keys.player_channel(p) for p in members]
        if lobby.status == "started":
            await self._still_held()
            await self._free_seats(lobby.lobby_id, members)
            # Before the pushes: each player's socket follows the match before they can send.
            await self._matches.start(lobby.match_id, lobby.lobby_id, lobby.mode, members)
        await self._still_held()
        # Together (one write, one round trip): the lock is held meanwhile.
        await asyncio.gather(
            self._store.publish(
                channels, msgpack.packb(push(Push.LOBBY_UPDATED, lobby=lobby_wire(lobby)))
            ),
            self._watched(lobby),
        )
        if lobby.status == "started":
            await self._still_held()
            await self._store.publish(
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


def _now_ms() -> int:
    return int(time.time() * 1000)
