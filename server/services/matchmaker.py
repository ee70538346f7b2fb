"""The matchmaker: tickets in, matches out, across every node (issue 17).

A player alone, or a party's leader for the whole party, queues a ticket for a mode
(``mm.enqueue``); each mode's passes run on one node at a time, under a lease any node
may take when its holder dies (``run``). A pass reads the mode's waiting tickets, lets
``mm_pass.plan`` group them by the mode's rules (``ARENA_MODES``' ``matchmaker``),
commits each group in one script (a ticket is never in two matches: one cancelled or
matched meanwhile makes its group stale), then starts each match exactly as a full
lobby does. The made match stays in Redis until it has started, so a node dying in
between loses nothing: the next pass, on any node, starts it.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import secrets
import time
from collections.abc import Callable
from typing import Any

import msgpack

from server.errors import ArenaError, BadRequest, Forbidden, NotFound
from server.metrics import Histogram
from server.mm_rules import MatchRules
from server.modes import MODE_NAME, ModeBook
from server.protocol import Push
from server.services.match_shapes import match_started
from server.services.matches import MatchService
from server.services.mm_pass import Group, Waiting, plan
from server.services.mm_proposals import Proposals, roster_holds
from server.services.mm_tickets import (
    WAIT_BOUNDS,
    NoParties,
    NoRatings,
    Parties,
    PassCounts,
    Ratings,
    bucket_of,
    made_record,
    ticket_mode,
)
from server.services.ports import Pushes, Tell
from server.services.ratelimits import RateLimiter
from server.storage.matchmaking import MatchmakingStore, TicketRecord

log = logging.getLogger(__name__)

QUEUE_MAX = 100_000  # tickets waiting in one mode
STARTS_AT_ONCE = 64  # groups a pass commits and starts concurrently


class Matchmaker:
    def __init__(
        self,
        store: MatchmakingStore,
        matches: MatchService,
        pushes: Pushes,
        rate_limiter: RateLimiter,
        *,
        modes: ModeBook,
        ratings: Ratings | None = None,
        parties: Parties | None = None,
        node_id: str,
        pass_s: float = 0.5,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._store = store
        self._matches = matches
        self._pushes = pushes
        self._rate_limiter = rate_limiter
        self._modes = modes
        self._ratings = ratings or NoRatings()
        self._parties = parties or NoParties()
        self._token = f"{node_id}:{secrets.token_hex(4)}"
        self._pass_s = pass_s
        self._clock = clock
        self.counts = PassCounts()
        self._known: dict[str, dict[str, TicketRecord]] = {}  # per mode, for the passes
        self._proposals = Proposals(
            store,
            pushes,
            self._parties,
            start=self._start,
            tell=self._tell,
            ttl_ms=lambda mode: int(self.rules(mode).ticket_ttl_s * 1000) * 2,
            now_ms=self._now_ms,
        )
        self._stopping = asyncio.Event()

    def _now_ms(self) -> int:
        return int(self._clock() * 1000)

    def rules(self, mode: str) -> MatchRules:
        return self._modes.spec_for(mode).match_rules

    # --- players --------------------------------------------------------------------

    async def enqueue(self, player_id: str, mode: str, properties: object) -> str:
        """Queue the player (or, from a party's leader, the whole party) for ``mode``;
        the ticket's id. The same request again while that ticket waits answers its id
        (idempotent); another while one of its players waits is ALREADY_QUEUED."""
        if not MODE_NAME.match(mode):
            raise BadRequest("mode: 1 to 32 of a-z, 0-9, _ and -")
        rules = self.rules(mode)
        bucket = bucket_of(rules, properties)
        _, (party_id, players), held, ratings = await asyncio.gather(  # one round trip
            self._rate_limiter.check("mm.enqueue", player_id),
            self._parties.members_led_by(player_id),
            self._store.holder(mode, player_id),
            self._ratings.ratings_of([player_id], mode),  # a party's are read below
        )
        if len(players) > rules.players[1] or (rules.teams and len(players) > rules.team_size):
            raise Forbidden(f"a party of {len(players)} does not fit a match of mode {mode}")
        same = None if held is None else await self._store.ticket(mode, held)
        if same is not None and same.players == tuple(players) and same.bucket == bucket:
            return same.ticket_id  # a retry (its reply lost?): the ticket it made
        if len(players) > 1:
            ratings = await self._ratings.ratings_of(players, mode)
        now = self._now_ms()
        ticket = TicketRecord(
            f"{mode}.{secrets.token_hex(8)}",
            tuple(players),
            sum(ratings[p].mu for p in players) / len(players),
            bucket,
            now,
            player_id,
            party_id,
        )
        ttl_ms = int(rules.ticket_ttl_s * 1000) * 2
        await self._store.enqueue(mode, ticket, ttl_ms=ttl_ms, most=QUEUE_MAX)
        if party_id is not None:
            await self._store.note_party_ticket(party_id, ticket.ticket_id, ttl_ms)
            # A change of the party between the enqueue and that note found no ticket
            # to cancel: looked at again now that any later change will find it.
            try:
                _, members = await self._parties.members_led_by(player_id)
            except ArenaError:
                members = []
            if tuple(members) != ticket.players:
                if await self._store.remove(mode, [ticket]):
                    await self._tell(ticket, "cancelled", now, reason="the party changed")
                return ticket.ticket_id
        # Noted each time: the passes forget a mode whose queue stayed empty a while.
        await asyncio.gather(self._tell(ticket, "queued", now), self._store.note_mode(mode, now))
        return ticket.ticket_id

    async def cancel(self, player_id: str, ticket_id: str) -> None:
        """Take a ticket out of the queue (its leader, or any of its players)."""
        await self._rate_limiter.check("mm.cancel", player_id)
        mode = ticket_mode(ticket_id)
        ticket = await self._store.ticket(mode, ticket_id)
        if ticket is None or player_id not in ticket.players:
            raise NotFound("no such ticket waiting (matched, expired or cancelled)")
        if await self._store.remove(mode, [ticket]):
            await self._tell(ticket, "cancelled", self._now_ms())

    async def party_changed(self, party_id: str, change: str) -> None:
        """The party's membership changed (``change``: joined, left, kicked, dropped,
        promoted, closed): its waiting tickets go, ``mm.status {state: "cancelled",
        reason: "the party changed", change}``. The parties' port (PartyTickets)."""
        for ticket_id in await self._store.party_tickets(party_id):
            mode = ticket_mode(ticket_id)
            ticket = await self._store.ticket(mode, ticket_id)
            if ticket is not None and await self._store.remove(mode, [ticket]):
                await self._tell(
                    ticket, "cancelled", self._now_ms(), reason="the party changed", change=change
                )

    async def _tell(self, ticket: TicketRecord, state: str, now_ms: int, **more: Any) -> None:
        fields = {
            "ticket_id": ticket.ticket_id,
            "state": state,
            "waited_ms": max(0, now_ms - ticket.created_ms),
            **more,
        }
        await self._pushes.to_players(ticket.players, Tell(Push.MM_STATUS, fields))

    # --- the passes -------------------------------------------------------------------

    async def run(self) -> None:
        """Every ``pass_s``: each mode with a queue whose lease this node holds (or takes)
        gets a pass. Until ``stop``."""
        while not self._stopping.is_set():
            try:
                for mode in await self._store.modes(self._now_ms()):
                    lead = await self._store.lead(mode, self._token, self._lease_ms())
                    if lead == "taken":  # other nodes ran passes meanwhile: read afresh
                        self._known.pop(mode, None)
                    if lead is not None:
                        await self.pass_once(mode)
            except ArenaError as exc:  # Redis away: the next round tries again
                log.warning("matchmaking pass failed: %s", exc.code)
            except Exception:  # a bug: said, and the passes go on
                log.exception("matchmaking pass failed")
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._stopping.wait(), self._pass_s)

    def _lease_ms(self) -> int:
        return int(max(self._pass_s * 4, 1.0) * 1000)

    async def stop(self) -> None:
        """Stop running passes and hand the leases back (a Redis away now: they lapse by
        themselves, and another node takes over a little later)."""
        self._stopping.set()
        try:
            for mode in await self._store.modes(self._now_ms()):
                await self._store.step_down(mode, self._token)
        except ArenaError as exc:
            log.warning("matchmaker leases not handed back (%s): they will lapse", exc.code)

    async def pass_once(self, mode: str) -> list[Group]:
        """One pass over the mode's queue: expire, group, then commit and start each
        group (many at once: each is a few round trips)."""
        rules = self.rules(mode)
        now = self._now_ms()
        await self._proposals.settle(mode, now)
        tickets = await self._store.waiting(mode, self._known.setdefault(mode, {}))
        old = [t for t in tickets if now - t.waiting_since_ms > rules.ticket_ttl_s * 1000]
        for ticket_id in await self._store.remove(mode, old):
            ticket = next(t for t in old if t.ticket_id == ticket_id)
            self.counts.expired += 1
            await self._tell(ticket, "expired", now)
        gone = {t.ticket_id for t in old}
        waiting = [t for t in tickets if t.ticket_id not in gone]
        self.counts.passes += 1
        self.counts.waiting[mode] = len(waiting)
        by_id = {t.ticket_id: t for t in waiting}
        pool = [Waiting(t.ticket_id, t.players, t.rating, t.bucket, t.created_ms) for t in waiting]
        room = asyncio.Semaphore(STARTS_AT_ONCE)

        async def make(group: Group) -> Group | None:
            async with room:
                records = [by_id[t.ticket_id] for t in group.tickets]
                return await self._make(mode, rules, records, group, now)

        made = [g for g in await asyncio.gather(*(make(g) for g in plan(pool, rules, now))) if g]
        if sum(len(g.tickets) for g in made) == len(waiting) and await self._store.is_empty(mode):
            await self._store.forget_mode(mode, now)  # back in the index at its next ticket
        return made

    async def _make(
        self, mode: str, rules: MatchRules, records: list[TicketRecord], group: Group, now: int
    ) -> Group | None:
        """Commit one group as a match, then propose or start it; None when stale (a
        party's roster changed since it queued: its ticket goes, the rest wait on)."""
        holds = await asyncio.gather(*(roster_holds(self._parties, r) for r in records))
        changed = [r for r, held in zip(records, holds, strict=True) if not held]
        if changed:
            self.counts.stale += 1
            for ticket_id in await self._store.remove(mode, changed):
                ticket = next(r for r in changed if r.ticket_id == ticket_id)
                await self._tell(ticket, "cancelled", now, reason="the party changed")
            return None
        match_id = secrets.token_hex(8)
        accept_by = now + int(rules.accept_s * 1000) if rules.accept_s else 0
        payload = made_record(records, group, now, accept_by)
        ttl_ms = int(rules.ticket_ttl_s * 1000) * 2
        if not await self._store.commit(mode, match_id, payload, records, ttl_ms=ttl_ms):
            self.counts.stale += 1
            return None
        known = self._known.get(mode, {})
        for record in records:  # a ticket put back later is read again, not remembered
            known.pop(record.ticket_id, None)
        self.counts.matches += 1
        self.counts.widened += group.widened
        self.counts.waiting[mode] -= len(records)
        waits = self.counts.time_to_match.setdefault(mode, Histogram(WAIT_BOUNDS))
        for record in records:
            waits.observe((now - record.created_ms) / 1000)
        made_match = msgpack.unpackb(payload)
        await self._proposals.propose(mode, match_id, made_match)
        if not accept_by:
            await self._start(mode, match_id, made_match)
        return group

    async def accept(self, player_id: str, ticket_id: str) -> None:
        """The player accepts the match their ticket was proposed (``accept_s``)."""
        await self._proposals.accept(player_id, ticket_id)

    async def _start(self, mode: str, match_id: str, made: dict[str, Any]) -> None:
        """Start a made match as a full lobby's starts (idempotent: a retry after a crash
        sends the same pushes again), then forget it as made."""
        players: list[str] = made["players"]
        await self._matches.start(match_id, "", mode, players, teams=made["teams"] or None)
        authoritative = self._matches.authoritative(mode)
        started = match_started(match_id, "", mode, players, authoritative=authoritative)
        await self._pushes.to_players(players, started)
        await self._matches.told_started(match_id, mode)
        await self._store.started(mode, match_id)
