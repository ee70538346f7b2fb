"""Parties in Redis: four keys per party under its hash tag, changed only by Lua scripts
(two nodes racing on one party stay consistent), a pointer per player to their party,
and the seat leases that free a dropped member's seat after the reconnect grace."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any

from server.storage import keys
from server.storage.connection import text, translate_redis_errors
from server.storage.locks import Locks
from server.storage.mux import Arg, Commands
from server.storage.scripts import Script, Scripts

PARTS = ("state", "members", "names", "invites")
# One player's party.create or party.join at a time: a lock held for two or three
# round trips, renewed while held.
PLAYER_LOCK_TTL_MS = 2000


@dataclass(frozen=True, slots=True)
class PartyMember:
    player_id: str
    name: str


@dataclass(frozen=True, slots=True)
class Party:
    """A party as one script read it: its members oldest first (the first leads when the
    leader goes), its live invites, and ``rev``, which grows with every change."""

    party_id: str
    leader: str
    open: bool
    max_size: int
    members: tuple[PartyMember, ...]
    invited: tuple[str, ...]
    rev: int
    created_ms: int

    @property
    def member_ids(self) -> list[str]:
        return [m.player_id for m in self.members]

    def has(self, player_id: str) -> bool:
        return any(m.player_id == player_id for m in self.members)

    @classmethod
    def parse(cls, party_id: str, raw: list[Any]) -> Party:
        leader, is_open, max_size, rev, created_ms, flat, invited = raw
        members = tuple(
            PartyMember(text(flat[i]), text(flat[i + 1])) for i in range(0, len(flat), 2)
        )
        return cls(
            party_id=party_id,
            leader=text(leader),
            open=text(is_open) == "1",
            max_size=int(max_size),
            members=members,
            invited=tuple(text(p) for p in invited),
            rev=int(rev),
            created_ms=int(created_ms),
        )


@dataclass(frozen=True, slots=True)
class Outcome:
    """What a party script answered: ``status`` ('ok', or why not) and the party after."""

    status: str
    party: Party | None = None
    until_ms: int = 0  # 'too_many': when the oldest live invite expires


class PartyStore:
    def __init__(self, mux: Commands, scripts: Scripts, locks: Locks) -> None:
        self._mux = mux
        self._scripts = scripts
        self._locks = locks

    @asynccontextmanager
    async def holding_player(self, player_id: str, *, wait_s: float) -> AsyncIterator[None]:
        """Hold the player's party lock: their creates and joins run one at a time, so a
        player racing two joins cannot end up in two parties."""
        async with self._locks.hold(
            keys.party_player_resource(player_id), ttl_ms=PLAYER_LOCK_TTL_MS, wait_s=wait_s
        ):
            yield

    @translate_redis_errors
    async def _run(self, script: Script, party_id: str, *args: Arg) -> Outcome:
        reply = await script(keys=[keys.party(party_id, p) for p in PARTS], args=list(args))
        status = text(reply[0])
        if status == "too_many":
            return Outcome(status, until_ms=int(reply[1]))
        return Outcome(status, Party.parse(party_id, reply[1]) if len(reply) > 1 else None)

    async def create(
        self, party_id: str, leader: str, name: str, *, is_open: bool, max_size: int, now_ms: int,
        ttl_ms: int,
    ) -> Outcome:  # fmt: skip
        return await self._run(
            self._scripts.party_create,
            party_id,
            leader,
            name,
            "1" if is_open else "0",
            max_size,
            now_ms,
            ttl_ms,
        )

    async def join(
        self, party_id: str, player_id: str, name: str, now_ms: int, ttl_ms: int
    ) -> Outcome:
        return await self._run(self._scripts.party_join, party_id, player_id, name, now_ms, ttl_ms)

    async def leave(
        self, party_id: str, player_id: str, by: str, now_ms: int, ttl_ms: int
    ) -> Outcome:
        """Take the player out (``by`` '' when they go themselves, else the kicker)."""
        return await self._run(self._scripts.party_leave, party_id, player_id, by, now_ms, ttl_ms)

    async def promote(
        self, party_id: str, by: str, player_id: str, now_ms: int, ttl_ms: int
    ) -> Outcome:
        return await self._run(self._scripts.party_promote, party_id, by, player_id, now_ms, ttl_ms)

    async def invite(
        self, party_id: str, by: str, player_id: str, *, now_ms: int, expires_ms: int,
        most: int, ttl_ms: int,
    ) -> Outcome:  # fmt: skip
        return await self._run(
            self._scripts.party_invite, party_id, by, player_id, now_ms, expires_ms, most, ttl_ms
        )

    @translate_redis_errors
    async def close(self, party_id: str, by: str) -> tuple[str, list[str]]:
        """End the party if ``by`` leads it: ('ok', its members), or ``by``'s role."""
        reply = await self._scripts.party_close(
            keys=[keys.party(party_id, p) for p in PARTS], args=[by]
        )
        members = [text(p) for p in reply[1]] if len(reply) > 1 else []
        return text(reply[0]), members

    @translate_redis_errors
    async def read(self, party_id: str, now_ms: int) -> Party | None:
        reply = await self._scripts.party_read(
            keys=[keys.party(party_id, p) for p in PARTS], args=[now_ms]
        )
        return None if not reply else Party.parse(party_id, reply)

    # --- the pointer from a player to their party --------------------------------------

    @translate_redis_errors
    async def party_of(self, player_id: str) -> str | None:
        """The party the player's pointer names (check they are in it: it may be stale)."""
        held = await self._mux.execute("GET", keys.player_party(player_id))
        return None if held is None else text(held)

    @translate_redis_errors
    async def point(self, player_id: str, party_id: str, ttl_ms: int) -> None:
        await self._mux.execute("SET", keys.player_party(player_id), party_id, "PX", ttl_ms)

    @translate_redis_errors
    async def unpoint(self, party_id: str, player_ids: list[str]) -> None:
        """Drop the players' pointers that still name this party, and their leases."""
        await asyncio.gather(
            *(
                self._scripts.delete_if_equal(keys=[keys.player_party(p)], args=[party_id])
                for p in player_ids
            )
        )
        if player_ids:
            await self._mux.execute("ZREM", keys.party_leases(), *player_ids)

    # --- seat leases: a member keeps their seat while their node renews it ----------------

    @translate_redis_errors
    async def lease(self, player_id: str, until_ms: int) -> None:
        await self._mux.execute("ZADD", keys.party_leases(), until_ms, player_id)

    @translate_redis_errors
    async def renew(self, player_ids: list[str], until_ms: int, ttl_ms: int) -> None:
        """Renew the leases of these players that are in a party (those holding a lease),
        their pointers, and their parties' keys (a party of connected members never ends
        by itself, however long nothing changes)."""
        for start in range(0, len(player_ids), 1000):
            chunk = player_ids[start : start + 1000]
            scores = await self._mux.execute("ZMSCORE", keys.party_leases(), *chunk)
            seated = [p for p, s in zip(chunk, scores, strict=True) if s is not None]
            if not seated:
                continue
            pointers = await asyncio.gather(
                *(self._mux.execute("GET", keys.player_party(p)) for p in seated)
            )
            parties = {text(p) for p in pointers if p is not None}
            commands: list[tuple[Arg, ...]] = [
                ("ZADD", keys.party_leases(), "XX", *(x for p in seated for x in (until_ms, p))),
                *(("PEXPIRE", keys.player_party(p), ttl_ms) for p in seated),
                *(("PEXPIRE", keys.party(i, part), ttl_ms) for i in parties for part in PARTS),
            ]
            await self._mux.pipeline(*commands)

    @translate_redis_errors
    async def lapsed(self, now_ms: int, limit: int = 100) -> list[str]:
        due = await self._mux.execute(
            "ZRANGEBYSCORE", keys.party_leases(), "-inf", now_ms, "LIMIT", 0, limit
        )
        return [text(p) for p in due]

    @translate_redis_errors
    async def claim_lapsed(self, player_id: str, now_ms: int, retry_at_ms: int) -> bool:
        """Take on freeing one lapsed seat (no other node frees it meanwhile; retried at
        ``retry_at_ms`` if this attempt does not finish). False when renewed or taken."""
        return bool(
            await self._scripts.claim_lapsed(
                keys=[keys.party_leases()], args=[player_id, now_ms, retry_at_ms]
            )
        )

    @translate_redis_errors
    async def drop_leases(self, player_ids: list[str]) -> None:
        if player_ids:
            await self._mux.execute("ZREM", keys.party_leases(), *player_ids)
