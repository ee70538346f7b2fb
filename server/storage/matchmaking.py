"""Matchmaking tickets in Redis: a mode's queue, the matches its passes made, and the
lease that lets one node at a time run a mode's passes. Every key of a mode's queue
shares the mode's hash tag, so each script touches one slot (Redis Cluster)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import msgpack

from server.errors import AlreadyQueued, QueueFull
from server.storage import keys
from server.storage.connection import text, translate_redis_errors
from server.storage.mux import Commands
from server.storage.scripts import Scripts

MODES_KEEP_MS = 86_400_000  # a mode quiet this long drops out of the modes index
MODES_QUIET_MS = 60_000  # an empty queue this long without an enqueue leaves the index
READ_CHUNK = 1000  # tickets read whole per command


@dataclass(frozen=True, slots=True)
class TicketRecord:
    """A waiting ticket. ``leader``: who queued it (a party's leader, or its player);
    ``created_ms`` orders the queue (a ticket put back keeps it); ``since_ms``, when it
    last entered the queue, is what its time to live counts from."""

    ticket_id: str
    players: tuple[str, ...]
    rating: float
    bucket: tuple[str, ...]
    created_ms: int
    leader: str
    party_id: str | None = None
    since_ms: int = 0

    @property
    def waiting_since_ms(self) -> int:
        return self.since_ms or self.created_ms

    def pack(self) -> bytes:
        packed: bytes = msgpack.packb(
            [
                list(self.players),
                self.rating,
                list(self.bucket),
                self.created_ms,
                self.leader,
                self.party_id,
                self.since_ms,
            ]
        )
        return packed

    @classmethod
    def unpack(cls, ticket_id: str, blob: bytes) -> TicketRecord:
        players, rating, bucket, created_ms, leader, party_id, since = msgpack.unpackb(blob)
        return cls(
            ticket_id, tuple(players), rating, tuple(bucket), created_ms, leader, party_id, since
        )


def _mode_keys(mode: str) -> list[str]:
    return [keys.mm_tickets(mode), keys.mm_queue(mode), keys.mm_holders(mode)]


class MatchmakingStore:
    def __init__(self, mux: Commands, scripts: Scripts) -> None:
        self._mux = mux
        self._scripts = scripts

    @translate_redis_errors
    async def enqueue(self, mode: str, ticket: TicketRecord, *, ttl_ms: int, most: int) -> None:
        """Queue ``ticket``; AlreadyQueued when one of its players waits in the mode,
        QueueFull at the mode's cap."""
        reply = await self._scripts.mm_enqueue(
            keys=_mode_keys(mode),
            args=[
                ticket.ticket_id,
                ticket.created_ms,
                ticket.pack(),
                ttl_ms,
                most,
                *ticket.players,
            ],
        )
        if reply[0] != 1:
            if text(reply[1]) == "full":
                raise QueueFull(f"mode {mode}'s queue holds {most:,} tickets: try again soon")
            raise AlreadyQueued(
                f"player {text(reply[2])} already waits in ticket {text(reply[3])} of mode {mode}"
            )

    @translate_redis_errors
    async def note_party_ticket(self, party_id: str, ticket_id: str, ttl_ms: int) -> None:
        key = keys.mm_party_tickets(party_id)
        await self._mux.execute("SADD", key, ticket_id)
        await self._mux.execute("PEXPIRE", key, ttl_ms)

    @translate_redis_errors
    async def party_tickets(self, party_id: str) -> list[str]:
        """The tickets a party queued (some may be gone: matched, expired, cancelled)."""
        # SPOP takes them in one step: a ticket noted meanwhile is left for the next change
        # (and the pass checks every party's roster anyway).
        popped = await self._mux.execute("SPOP", keys.mm_party_tickets(party_id), 1000)
        return [text(i) for i in popped or []]

    @translate_redis_errors
    async def note_mode(self, mode: str, now_ms: int) -> None:
        """The mode has a queue to look at (the modes index every node's passes read)."""
        await self._mux.execute("ZADD", keys.mm_modes(), now_ms, mode)

    @translate_redis_errors
    async def ticket(self, mode: str, ticket_id: str) -> TicketRecord | None:
        blob = await self._mux.execute("HGET", keys.mm_tickets(mode), ticket_id)
        return None if blob is None else TicketRecord.unpack(ticket_id, blob)

    @translate_redis_errors
    async def holder(self, mode: str, player_id: str) -> str | None:
        held = await self._mux.execute("HGET", keys.mm_holders(mode), player_id)
        return None if held is None else text(held)

    @translate_redis_errors
    async def waiting(
        self, mode: str, known: dict[str, TicketRecord] | None = None
    ) -> list[TicketRecord]:
        """Every waiting ticket of the mode, oldest first. ``known``: the tickets a
        previous call returned (updated here): only new ones are read whole, so a pass
        over a long queue reads its ids and what joined it since."""
        if known is None:
            known = {}
        ids = [text(i) for i in await self._mux.execute("ZRANGE", keys.mm_queue(mode), 0, -1)]
        new = [i for i in ids if i not in known]
        for start in range(0, len(new), READ_CHUNK):
            chunk = new[start : start + READ_CHUNK]
            blobs = await self._mux.execute("HMGET", keys.mm_tickets(mode), *chunk)
            for ticket_id, blob in zip(chunk, blobs, strict=True):
                if blob is not None:
                    known[ticket_id] = TicketRecord.unpack(ticket_id, blob)
        present = set(ids)
        for gone in [i for i in known if i not in present]:
            del known[gone]
        return [known[i] for i in ids if i in known]

    @translate_redis_errors
    async def remove(self, mode: str, tickets: list[TicketRecord]) -> list[str]:
        """Take the tickets out of the queue; the ids of those that were still in it."""
        if not tickets:
            return []
        args: list[Any] = []
        for ticket in tickets:
            args += [ticket.ticket_id, len(ticket.players), *ticket.players]
        removed = await self._scripts.mm_remove(keys=_mode_keys(mode), args=args)
        return [text(r) for r in removed]

    @translate_redis_errors
    async def commit(
        self, mode: str, match_id: str, made: bytes, tickets: list[TicketRecord], *, ttl_ms: int
    ) -> bool:
        """Make the match of ``tickets`` (all still queued) and keep it as made; False
        when one of them left the queue meanwhile (nothing changed)."""
        players = [p for ticket in tickets for p in ticket.players]
        reply = await self._scripts.mm_commit(
            keys=[*_mode_keys(mode), keys.mm_made(mode)],
            args=[match_id, made, ttl_ms, len(tickets), *(t.ticket_id for t in tickets), *players],
        )
        return bool(reply)

    @translate_redis_errors
    async def made(self, mode: str) -> dict[str, bytes]:
        """The matches made and not yet started: match id -> payload."""
        flat = await self._mux.execute("HGETALL", keys.mm_made(mode))
        return {text(flat[i]): flat[i + 1] for i in range(0, len(flat), 2)}

    @translate_redis_errors
    async def started(self, mode: str, match_id: str) -> None:
        await self._mux.execute("HDEL", keys.mm_made(mode), match_id)
        await self._mux.execute("HDEL", keys.mm_accepts(mode), match_id, f"{match_id}:told")

    @translate_redis_errors
    async def accept(
        self, mode: str, match_id: str, player_id: str, needed: int, now_ms: int, by_ms: int
    ) -> bool | None:
        """The player accepts the proposed match: None when it is no longer proposed (or
        ``now_ms`` is past its deadline ``by_ms``), else whether this was the last accept
        it needed (then the caller starts it)."""
        reply = await self._scripts.mm_accept(
            keys=[keys.mm_made(mode), keys.mm_accepts(mode)],
            args=[match_id, player_id, needed, now_ms, by_ms],
        )
        return None if reply == -1 else bool(reply[1])

    @translate_redis_errors
    async def accepted(self, mode: str, match_id: str) -> set[str]:
        ids = await self._mux.execute("HGET", keys.mm_accepts(mode), match_id)
        return set() if ids is None else set(text(ids).split())

    @translate_redis_errors
    async def requeue(
        self,
        mode: str,
        match_id: str,
        tickets: list[TicketRecord],
        *,
        ttl_ms: int,
        every: bool = False,
    ) -> list[str] | str:
        """Call off the proposed match, decided against the accepts as they are now: the
        tickets whose players all accepted (``every``: all of them, the proposal was
        lost) back at their old places, unless one of their players queued again; their
        ids. "gone" when it was no longer proposed, "accepted" when everyone accepted
        (nothing changed: the match stands)."""
        args: list[Any] = [match_id, ttl_ms, int(every)]
        for t in tickets:
            args += [t.ticket_id, t.created_ms, t.pack(), len(t.players), *t.players]
        reply = await self._scripts.mm_requeue(
            keys=[*_mode_keys(mode), keys.mm_made(mode), keys.mm_accepts(mode)], args=args
        )
        if reply == -1:
            return "gone"
        if reply == -2:
            return "accepted"
        return [text(r) for r in reply]

    @translate_redis_errors
    async def told(self, mode: str, match_id: str) -> None:
        """The proposal reached its players (a match made but never told is told again)."""
        await self._mux.execute("HSET", keys.mm_accepts(mode), f"{match_id}:told", 1)

    @translate_redis_errors
    async def was_told(self, mode: str, match_id: str) -> bool:
        return bool(await self._mux.execute("HEXISTS", keys.mm_accepts(mode), f"{match_id}:told"))

    @translate_redis_errors
    async def forget_mode(self, mode: str, now_ms: int) -> None:
        """The mode's queue and made matches are empty: it leaves the modes index unless
        a ticket was queued in it lately (an enqueue notes its mode each time)."""
        await self._scripts.mm_forget_mode(
            keys=[keys.mm_modes()], args=[mode, now_ms - MODES_QUIET_MS]
        )

    @translate_redis_errors
    async def is_empty(self, mode: str) -> bool:
        """No ticket waits in the mode and no match of it is made and not started."""
        waiting = await self._mux.execute("ZCARD", keys.mm_queue(mode))
        made = await self._mux.execute("HLEN", keys.mm_made(mode))
        return not waiting and not made

    @translate_redis_errors
    async def modes(self, now_ms: int) -> list[str]:
        """The modes with a queue to look at (a ticket queued in the last day)."""
        await self._mux.execute("ZREMRANGEBYSCORE", keys.mm_modes(), "-inf", now_ms - MODES_KEEP_MS)
        return [text(m) for m in await self._mux.execute("ZRANGE", keys.mm_modes(), 0, -1)]

    @translate_redis_errors
    async def lead(self, mode: str, token: str, ttl_ms: int) -> str | None:
        """Keep ("kept") or take ("taken") the lease on the mode's passes; None when
        another node holds it."""
        lease = keys.mm_lease(mode)
        if await self._scripts.lock_extend(keys=[lease], args=[token, ttl_ms]):
            return "kept"
        taken = await self._mux.execute("SET", lease, token, "NX", "PX", ttl_ms)
        return "taken" if taken else None

    @translate_redis_errors
    async def step_down(self, mode: str, token: str) -> None:
        await self._scripts.delete_if_equal(keys=[keys.mm_lease(mode)], args=[token])
