"""Lobbies: create, list, join, leave, ready, quick-join; the rules that keep them honest.

- Every change to a lobby happens under its distributed lock, and the write is
  fenced: a holder that lost its lock cannot write (docs/locks.md).
- A lobby is never overfilled: the member count is checked and written under the lock.
- A player is never in two lobbies: a seat key per player, taken with ``SET NX``
  before the lobby is written (and given back if the write does not happen).
- When every member is ready (at least two), the lobby starts a match exactly once:
  the status moves from open to started under the lock, so two nodes seeing the
  last "ready" at the same moment cannot both start it.
- Every member gets ``lobby.updated`` on every change, on whichever node they are
  (the ``Pushes`` port reaches each member's socket there).
- A seat is a lease: while the player is connected, their node renews it every
  presence interval. A dropped socket or a dead node stops the renewals, and the
  seat frees a grace period later (any node's upkeep does it), unless the player
  came back, on any node, in time.
- Everything a change implies (the index of open lobbies, the pushes) happens
  before the lock is released, so pushes leave in the order the changes happened.
- The lock is renewed while a change runs, and the change confirms it still holds
  it before each step after the write (the index and the pushes, sent together; a
  start confirms before the index, the match start and each push): a change that
  lost its lock stops with LOCK_TIMEOUT and pushes nothing more. Its
  write may stand: the same request sent again finishes what followed it (a member
  joining again, a ready again, a quick-join again; a started lobby keeps its
  members' seats until its match stands, which is how a retry recognises it).

The parts: the store holds the locks (``LobbyStore.holding``, ``confirm_held``),
lobby_seats.py (seats and their leases), lobby_news.py (the index and pushes that
follow a change, the wire shape), lobby_removals.py (taking players out: a leave, a
seat lapse, a kick or ban, an operator's close).
"""

from __future__ import annotations

import re
import secrets

from server.errors import BadRequest, LobbyFull, LobbyNotFound, LockTimeout, NotInLobby
from server.modes import ModeBook
from server.protocol import Push
from server.services.lobby_news import LobbyNews, Removal, lobby_wire
from server.services.lobby_removals import close_for_all, start_if_all_ready, take_out
from server.services.lobby_seats import (
    free_lapsed_seats,
    free_seats,
    is_member,
    now_ms,
    seat_key_ttl_ms,
    seat_of,
    sits_in,
    take_seat,
    write_or_give_back,
)
from server.services.matches import MatchService
from server.services.ports import Pushes, Tell
from server.services.presence import PresenceService
from server.services.ratelimits import RateLimiter
from server.services.watch import WatchFeed
from server.storage.lobbies import LobbyRecord, LobbyStore, Member
from server.text import clean_text

MODE = re.compile(r"^[a-z0-9][a-z0-9_-]{0,31}$")
LOBBY_ID = re.compile(r"^[0-9a-f]{12}$")
CAPACITY_MIN, CAPACITY_MAX = 2, 64
NAME_MAX = 32
# Hundreds of players may queue for one popular lobby; each turn holds it a millisecond or two.
LOCK_WAIT_S = 3.0
QUICKJOIN_CANDIDATES = 10
# Inside quick-join's mode lock, a busy candidate is skipped quickly (the mode lock's TTL,
# storage/lobbies.py's MODE_LOCK_TTL_MS, outlasts them all and the create after them).
CANDIDATE_WAIT_S = 0.2


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
        pushes: Pushes,
        *,
        grace_s: float,
        renew_interval_s: float,
        modes: ModeBook,
    ) -> None:
        self._store = store
        self._rate_limiter = rate_limiter
        self._presence = presence
        self._news = LobbyNews(store, matches, watch, pushes)
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
        return sits_in(await self._store.read(lobby_id), player_id)

    async def seated_in(self, player_id: str) -> LobbyRecord | None:
        """The open lobby the player sits in, as it is now (a node re-telling its players
        after its pub/sub came back), or None."""
        lobby_id = await self._store.seat_of(player_id)
        lobby = None if lobby_id is None else await self._store.read(lobby_id)
        return lobby if sits_in(lobby, player_id) else None

    async def seat_news(self, player_id: str) -> Tell | None:
        """``lobby.updated`` with the open lobby the player sits in, as it is now (a socket
        opening, or a node whose pub/sub came back, tells them again), or None."""
        lobby = await self.seated_in(player_id)
        return None if lobby is None else Tell(Push.LOBBY_UPDATED, {"lobby": lobby_wire(lobby)})

    async def closed_lately(self, player_id: str) -> list[Tell]:
        """The ``lobby.closed`` pushes the player got in the last minute, oldest first, for
        a node that may have missed them."""
        return await self._news.closed_lately(player_id)

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
        async with self._store.holding(lobby.lobby_id, wait_s=LOCK_WAIT_S) as lease:
            await take_seat(self._store, player_id, lobby.lobby_id, self._lease_ms)
            await write_or_give_back(self._store, lease, lobby, player_id)
            await self._news.after_change(lobby)
        return lobby

    async def join(self, player_id: str, player_name: str, lobby_id: str) -> LobbyRecord:
        # Counted before any lookup: probing for lobby ids costs the same as joining.
        await self._rate_limiter.check("lobby.join", player_id)
        return await self._join(player_id, player_name, validate_lobby_id(lobby_id), LOCK_WAIT_S)

    async def _join(
        self, player_id: str, player_name: str, lobby_id: str, wait_s: float
    ) -> LobbyRecord:
        async with self._store.holding(lobby_id, wait_s=wait_s) as lease:
            lobby = await self._store.read(lobby_id)
            if lobby is not None and await self._start_unfinished(lobby, player_id):
                # A retry of the join that started the match and stopped after its write
                # (it lost the lock, or Redis failed): finish the start, as ready() does.
                await self._news.after_change(lobby)
                return lobby
            if lobby is None or lobby.status != "open":
                await self._store.unindex(lobby_id, None if lobby is None else lobby.mode)
                raise LobbyNotFound("no such lobby")
            if is_member(lobby, player_id):
                # Back in a seat they kept (a reconnect), or a retry of a join that stopped
                # after its write (it lost the lock): index and announce the lobby again.
                await self._news.after_change(lobby)
                return lobby
            if len(lobby.members) >= lobby.capacity:
                raise LobbyFull("the lobby is full")
            await take_seat(self._store, player_id, lobby_id, self._lease_ms)
            lobby.members.append(Member(player_id, player_name))
            self._start_if_full(lobby)
            await write_or_give_back(self._store, lease, lobby, player_id)
            await self._news.after_change(lobby)
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
        async with self._store.holding_mode(mode, wait_s=LOCK_WAIT_S):
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
        candidates = await self._store.fullest(mode, QUICKJOIN_CANDIDATES)
        # A retried quick-join whose join started a match and stopped after its write
        # (the lobby is no longer listed) finishes that start first.
        unfinished = await self._unfinished_start_of(player_id, mode)
        if unfinished is not None:
            candidates = [unfinished, *(c for c in candidates if c != unfinished)]
        for lobby_id in candidates:
            try:
                return await self._join(player_id, player_name, lobby_id, wait_s)
            except LobbyNotFound:
                await self._store.unindex(lobby_id, mode)
            except LobbyFull:
                continue
            except LockTimeout:
                if await self._store.seat_of(player_id) == lobby_id:
                    raise  # its write stands (the player sits there): a retry finishes it
                continue
        return None

    async def _unfinished_start_of(self, player_id: str, mode: str) -> str | None:
        """The lobby of the mode whose start the player's own change left unfinished."""
        lobby_id = await self._store.seat_of(player_id)
        lobby = None if lobby_id is None else await self._store.read(lobby_id)
        if lobby is None or lobby.mode != mode:
            return None
        return lobby.lobby_id if await self._start_unfinished(lobby, player_id) else None

    async def _start_unfinished(self, lobby: LobbyRecord, player_id: str) -> bool:
        """Whether the lobby started a match that the player, a member still seated in it,
        was not sent to yet: a start frees its members' seats only once the match stands,
        so a seat still held means the start stopped half-way (after_change finishes it
        again; every step of it is idempotent)."""
        return (
            lobby.status == "started"
            and is_member(lobby, player_id)
            and await self._store.seat_of(player_id) == lobby.lobby_id
        )

    async def leave(self, player_id: str) -> str:
        """Give up the player's seat; the lobby they left."""
        await self._rate_limiter.check("lobby.leave", player_id)
        lobby_id = await seat_of(self._store, player_id)
        await self._leave(player_id, lobby_id, LOCK_WAIT_S)
        return lobby_id

    async def _leave(
        self, player_id: str, lobby_id: str, wait_s: float, removed: Removal | None = None
    ) -> None:
        """Take the player out of the lobby: they left (``removed`` None), or the server
        removed them (``removed`` says why; they are told)."""
        await take_out(self._store, self._news, player_id, lobby_id, wait_s, removed=removed)

    async def _free_lapsed(self, player_id: str, lobby_id: str, wait_s: float) -> None:
        await self._leave(player_id, lobby_id, wait_s, Removal.SEAT_LAPSED)

    async def ready(self, player_id: str, ready: bool) -> LobbyRecord:
        await self._rate_limiter.check("lobby.ready", player_id)
        lobby_id = await seat_of(self._store, player_id)
        async with self._store.holding(lobby_id, wait_s=LOCK_WAIT_S) as lease:
            lobby = await self._store.read(lobby_id)
            if lobby is not None and lobby.status == "started" and is_member(lobby, player_id):
                # A retry after a failure half-way through the start: finish it again.
                await self._news.after_change(lobby)
                return lobby
            if not sits_in(lobby, player_id):
                await free_seats(self._store, lobby_id, [player_id])  # a stale seat
                raise NotInLobby("not in an open lobby")
            for member in lobby.members:
                if member.player_id == player_id:
                    member.ready = ready
            start_if_all_ready(lobby)
            await self._store.write(lease, lobby)
            await self._news.after_change(lobby)
        return lobby

    async def close_by_operator(self, lobby_id: str) -> LobbyRecord:
        """An operator closes an open lobby: its players lose their seats and are told
        (``lobby.closed``); the lobby leaves the lists."""
        return await close_for_all(
            self._store, self._news, validate_lobby_id(lobby_id), LOCK_WAIT_S
        )

    async def remove(self, player_id: str, why: Removal) -> str | None:
        """Take the player out of their lobby (an operator's kick or ban), telling them;
        the lobby, if any."""
        lobby_id = await self._store.seat_of(player_id)
        if lobby_id is not None:
            await self._leave(player_id, lobby_id, LOCK_WAIT_S, why)
        return lobby_id

    async def open_count(self) -> int:
        return await self._store.open_count()

    # --- seat leases ------------------------------------------------------------------

    async def renew_seats(self, player_ids: list[str]) -> None:
        """A node's heartbeat: its connected players keep their seats."""
        await self._store.renew_seats(
            player_ids, now_ms() + self._lease_ms, seat_key_ttl_ms(self._lease_ms)
        )

    async def free_lapsed_seats(self) -> None:
        """Free the seats whose leases ran out (the player dropped or their node died).
        Any node may run this; each seat is claimed by one, and retried if that fails.

        Only once this node's heartbeat is steady (unbroken for a presence TTL): after a
        Redis outage every node's leases ran out together, and a live node renews its
        players' seats at its first heartbeat after it, which may come a presence interval
        later than ours. By the time we are steady, every live node has stamped its
        players online again, and a lapsed seat of an online player is renewed, not freed
        (``lobby_seats.free_lapsed_seats``): a connected player on a live node never loses
        a seat."""
        if not self._presence.steady():
            return
        await free_lapsed_seats(self._store, self._presence, self._lease_ms, self._free_lapsed)

    # --- the steps every change shares -------------------------------------------------

    def _start_if_full(self, lobby: LobbyRecord) -> None:
        # A start_when_full mode starts the moment its last seat fills, no ready needed.
        full = len(lobby.members) >= lobby.capacity
        if full and self._modes.spec_for(lobby.mode).start_when_full:
            lobby.status = "started"
            lobby.match_id = secrets.token_hex(8)
