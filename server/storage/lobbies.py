"""Lobbies in Redis: one fenced hash per lobby and the locks that guard it, a seat key per
player, open-lobby indexes."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from contextvars import ContextVar
from dataclasses import dataclass, field
from typing import Any

import msgpack

from server.errors import LockTimeout
from server.storage import keys
from server.storage.connection import client_values, text, translate_redis_errors
from server.storage.feeds import ROOM_ENDED_TTL_S
from server.storage.locks import Lease, Locks
from server.storage.mux import Commands
from server.storage.scripts import Scripts

# A closed lobby's hash stays this long, so late readers get a clear "not found".
CLOSED_TTL_S = 60
# A lobby's lock, renewed every third of this while a change holds it: a holder that died
# blocks the lobby this long at most.
LOCK_TTL_MS = 2000
# Quick-join's per-mode lock (renewed too): it outlasts the candidates a quick-join tries
# in it (10 x 0.2 s) and the lobby it then creates, even with a renewal missed.
MODE_LOCK_TTL_MS = 8000


@dataclass(slots=True)
class Member:
    player_id: str
    name: str
    ready: bool = False


@dataclass(slots=True)
class LobbyRecord:
    lobby_id: str
    mode: str
    name: str
    capacity: int
    private: bool
    owner: str
    status: str  # open | started | closed
    members: list[Member] = field(default_factory=list)
    match_id: str = ""
    # The fencing number of the lobby's last write (the hash's 'fence' field, set by the
    # fenced write): grows with every change, so a client can tell an older copy apart.
    rev: int = 0

    def fields(self) -> dict[str, Any]:
        return {
            "lobby_id": self.lobby_id,
            "mode": self.mode,
            "name": self.name,
            "capacity": self.capacity,
            "private": int(self.private),
            "owner": self.owner,
            "status": self.status,
            "match_id": self.match_id,
            "members": msgpack.packb([[m.player_id, m.name, int(m.ready)] for m in self.members]),
        }

    @classmethod
    def parse(cls, raw: list[bytes]) -> LobbyRecord | None:
        if not raw:
            return None
        flat = {text(raw[i]): raw[i + 1] for i in range(0, len(raw), 2)}
        members = [Member(p, n, bool(r)) for p, n, r in msgpack.unpackb(flat["members"])]
        return cls(
            lobby_id=text(flat["lobby_id"]),
            mode=text(flat["mode"]),
            name=text(flat["name"]),
            capacity=int(flat["capacity"]),
            private=flat["private"] == b"1",
            owner=text(flat["owner"]),
            status=text(flat["status"]),
            members=members,
            match_id=text(flat.get("match_id", b"")),
            rev=int(flat.get("fence", b"0")),
        )


class LobbyStore:
    def __init__(self, mux: Commands, scripts: Scripts, locks: Locks) -> None:
        self._mux = mux
        self._scripts = scripts
        self._locks = locks
        # The lobby lock the running change holds, each task its own (a context variable
        # per store, so two stores in one process never see each other's): what
        # ``confirm_held`` confirms.
        self._held: ContextVar[Lease | None] = ContextVar("held_lobby_lock", default=None)

    # --- the locks a change holds (docs/locks.md) -------------------------------------

    @asynccontextmanager
    async def holding(self, lobby_id: str, *, wait_s: float) -> AsyncIterator[Lease]:
        """Hold the lobby's lock for the block (renewed while it runs; LOCK_TIMEOUT after
        ``wait_s``): its lease goes to ``write``, and ``confirm_held`` confirms it."""
        # The lobby's hash is read with the acquire: the change's first ``read`` of it
        # costs no round trip (nobody else writes it while the lock is held).
        async with self._locks.hold(
            keys.lobby_resource(lobby_id),
            ttl_ms=LOCK_TTL_MS,
            wait_s=wait_s,
            reading=keys.lobby(lobby_id),
        ) as lease:
            held = self._held.set(lease)
            try:
                yield lease
            finally:
                self._held.reset(held)

    async def confirm_held(self) -> None:
        """Raise LOCK_TIMEOUT if the running change lost its lobby's lock: a newer holder
        may have acted since, and what this one would index or push would be out of date
        or out of order. Outside ``holding``, nothing to confirm."""
        lease = self._held.get()
        if lease is not None:
            await self._locks.confirm(lease)

    @asynccontextmanager
    async def holding_mode(self, mode: str, *, wait_s: float) -> AsyncIterator[None]:
        """Hold the mode's lock for the block: one quick-join at a time creates its lobby."""
        async with self._locks.hold(
            keys.mode_resource(mode), ttl_ms=MODE_LOCK_TTL_MS, wait_s=wait_s
        ):
            yield

    @translate_redis_errors
    async def read(self, lobby_id: str) -> LobbyRecord | None:
        lease = self._held.get()
        if (
            lease is not None
            and lease.state.read is not None
            and lease.resource == keys.lobby_resource(lobby_id)
        ):
            # Under the lobby's lock, its first read: as the acquire read it.
            raw, lease.state.read = lease.state.read, None
            return LobbyRecord.parse(raw)
        return LobbyRecord.parse(await self._mux.execute("HGETALL", keys.lobby(lobby_id)))

    @translate_redis_errors
    async def read_many(self, lobby_ids: list[str]) -> list[LobbyRecord | None]:
        raws = await asyncio.gather(
            *(self._mux.execute("HGETALL", keys.lobby(i)) for i in lobby_ids)
        )
        return [LobbyRecord.parse(raw) for raw in raws]

    async def write(self, lease: Lease, lobby: LobbyRecord) -> None:
        """Write the lobby under its lock (``holding``'s lease); LOCK_TIMEOUT, nothing
        written, when a newer holder of the lock exists (fencing)."""
        if not await self._locks.write_fenced(lease, keys.lobby(lobby.lobby_id), lobby.fields()):
            raise changed_hands()
        lobby.rev = lease.fence  # as the hash now says
        if lobby.status != "open":
            await self._expire(lobby.lobby_id)

    @translate_redis_errors
    async def _expire(self, lobby_id: str) -> None:
        # The lobby's chat room ended with it (closed, or its match started): its log
        # goes soon too (LT: never lengthened; another slot on a cluster, so apart).
        await self._mux.pipeline(
            ("EXPIRE", keys.lobby(lobby_id), CLOSED_TTL_S),
            ("EXPIRE", keys.chat_log(f"lobby:{lobby_id}"), ROOM_ENDED_TTL_S, "LT"),
        )

    # --- seats: one lobby per player ------------------------------------------------

    @translate_redis_errors
    async def take_seat(
        self, player_id: str, lobby_id: str, ttl_ms: int, until_ms: int | None = None
    ) -> str | None:
        """Seat the player in ``lobby_id`` unless they sit elsewhere; returns where they sit
        if it is not here (``SET NX GET``: two joins racing on two nodes cannot both win).
        The seat key lives ``ttl_ms`` unless renewed with its lease (``lease_seat``,
        ``renew_seats``): one left behind (its lease never written) goes by itself.
        ``until_ms``: lease the seat too, in the same write (``lease_seat``'s commands
        after the SET). A player found seated elsewhere has that seat's lease and key
        renewed by it, as their node's heartbeat would: they are connected."""
        seat = keys.player_lobby(player_id)
        take = ("SET", seat, lobby_id, "NX", "GET", "PX", ttl_ms)
        if until_ms is None:
            held = await self._mux.execute(*take)
        else:
            held, _ = await self._mux.pipeline(
                take, ("ZADD", keys.seat_leases(), until_ms, player_id)
            )
        if held is None:
            return None
        if text(held) == lobby_id:
            if until_ms is not None:  # seated here already (SET NX kept the key's TTL)
                await self._mux.execute("PEXPIRE", seat, ttl_ms)
            return None
        return text(held)

    @translate_redis_errors
    async def free_seats(self, lobby_id: str, player_ids: list[str]) -> None:
        if len(player_ids) == 1:  # a leave: no task for one script
            await self._scripts.delete_if_equal(
                keys=[keys.player_lobby(player_ids[0])], args=[lobby_id]
            )
            return
        await asyncio.gather(
            *(
                self._scripts.delete_if_equal(keys=[keys.player_lobby(p)], args=[lobby_id])
                for p in player_ids
            )
        )

    @translate_redis_errors
    async def seat_of(self, player_id: str) -> str | None:
        held = await self._mux.execute("GET", keys.player_lobby(player_id))
        return None if held is None else text(held)

    # --- the open-lobby indexes -----------------------------------------------------

    @translate_redis_errors
    async def open_count(self) -> int:
        """Open public lobbies with a free seat (stale entries included until a list tidies)."""
        return int(await self._mux.execute("ZCARD", keys.open_lobbies(None)))

    @translate_redis_errors
    async def index(self, lobby: LobbyRecord, drop_leases: Sequence[str] = ()) -> None:
        """List the lobby (fullest first) while it is open, public and has a free seat.
        ``drop_leases``: seat leases to drop in the same write (seats freed just before)."""
        listed = lobby.status == "open" and not lobby.private
        listed = listed and len(lobby.members) < lobby.capacity
        commands: list[tuple[Any, ...]] = []
        for key in (keys.open_lobbies(lobby.mode), keys.open_lobbies(None)):
            if listed:
                commands.append(("ZADD", key, len(lobby.members), lobby.lobby_id))
            else:
                commands.append(("ZREM", key, lobby.lobby_id))
        if drop_leases:
            commands.append(("ZREM", keys.seat_leases(), *drop_leases))
        await self._mux.pipeline(*commands)

    @translate_redis_errors
    async def unindex(self, lobby_id: str, mode: str | None) -> None:
        """Drop a stale lobby id from the all-modes index and, when known, its mode's."""
        commands: list[tuple[Any, ...]] = [("ZREM", keys.open_lobbies(None), lobby_id)]
        if mode is not None:
            commands.append(("ZREM", keys.open_lobbies(mode), lobby_id))
        await self._mux.pipeline(*commands)

    @client_values
    async def fullest(self, mode: str | None, limit: int) -> list[str]:
        ids = await self._mux.execute("ZREVRANGE", keys.open_lobbies(mode), 0, limit - 1)
        return [text(i) for i in ids]

    # --- seat leases: a seat lasts while its player's node keeps renewing it -----------

    @translate_redis_errors
    async def lease_seat(self, player_id: str, until_ms: int, ttl_ms: int) -> None:
        """Lease the player's seat until ``until_ms``; their seat key lives ``ttl_ms``."""
        await asyncio.gather(
            self._mux.execute("ZADD", keys.seat_leases(), until_ms, player_id),
            self._mux.execute("PEXPIRE", keys.player_lobby(player_id), ttl_ms),
        )

    @translate_redis_errors
    async def renew_seats(self, player_ids: list[str], until_ms: int, ttl_ms: int) -> None:
        """Renew the leases of these players that hold one (XX: nobody else gains one),
        and their seat keys' lives (a player without a seat has no key to renew)."""
        for start in range(0, len(player_ids), 1000):
            chunk = player_ids[start : start + 1000]
            # One pipeline, not a command (and a task) a player: this runs for every
            # connected player every heartbeat.
            await self._mux.pipeline(
                ("ZADD", keys.seat_leases(), "XX", *(x for p in chunk for x in (until_ms, p))),
                *(("PEXPIRE", keys.player_lobby(p), ttl_ms) for p in chunk),
            )

    @translate_redis_errors
    async def drop_lease(self, player_ids: list[str]) -> None:
        if player_ids:
            await self._mux.execute("ZREM", keys.seat_leases(), *player_ids)

    @translate_redis_errors
    async def lapsed(self, now_ms: int, limit: int = 100) -> list[str]:
        """Players whose seat lease ran out (their node stopped renewing it)."""
        due = await self._mux.execute(
            "ZRANGEBYSCORE", keys.seat_leases(), "-inf", now_ms, "LIMIT", 0, limit
        )
        return [text(p) for p in due]

    @translate_redis_errors
    async def claim_lapsed(self, player_id: str, now_ms: int, retry_at_ms: int) -> bool:
        """Take on freeing one lapsed seat: pushes the lease to ``retry_at_ms`` so no other
        node frees it meanwhile, and so it is tried again if this attempt fails.
        False when another node claimed it first (or the player renewed it)."""
        claimed = await self._scripts.claim_lapsed(
            keys=[keys.seat_leases()], args=[player_id, now_ms, retry_at_ms]
        )
        return bool(claimed)


def changed_hands() -> LockTimeout:
    """A change that lost the lobby's lock to a newer holder: the client tries again."""
    return LockTimeout("lobby changed hands; try again", retry_after_ms=50)
