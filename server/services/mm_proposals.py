"""Matches the matchmaker made and has not started: told to their players (proposed),
accepted (a mode with ``accept_s``), called off when time runs out, and started again
when the node that made one died first. Apart from the passes (server/services/
matchmaker.py), which make them."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import Any

import msgpack

from server.errors import ArenaError, NotFound
from server.protocol import Push
from server.services.mm_tickets import Parties, ticket_mode
from server.services.ports import Pushes, Tell
from server.storage.matchmaking import MatchmakingStore, TicketRecord

MADE_RETRY_MS = 3_000  # a made match not started (or told) by then: the next pass does it

Start = Callable[[str, str, dict[str, Any]], Awaitable[None]]  # mode, match id, made
TellTicket = Callable[..., Awaitable[None]]  # (ticket, state, now_ms, **fields)


async def roster_holds(parties: Parties, ticket: TicketRecord) -> bool:
    """Whether the ticket's players are still who its leader would queue now: the same
    party (or none) with the same members. A join, a leave or a kick the matchmaker was
    not told of (a Redis blip, a node that died in between) is caught here."""
    try:
        party_id, members = await parties.members_led_by(ticket.leader)
    except ArenaError:
        return False
    return party_id == ticket.party_id and tuple(members) == ticket.players


class Proposals:
    def __init__(
        self,
        store: MatchmakingStore,
        pushes: Pushes,
        parties: Parties,
        *,
        start: Start,
        tell: TellTicket,
        ttl_ms: Callable[[str], int],
        now_ms: Callable[[], int],
    ) -> None:
        self._store = store
        self._pushes = pushes
        self._parties = parties
        self._start = start
        self._tell = tell
        self._ttl_ms = ttl_ms
        self._now_ms = now_ms

    async def propose(self, mode: str, match_id: str, made: dict[str, Any]) -> None:
        """Tell each ticket's players their match (and, when the mode asks, by when to
        accept it); then note it told."""
        now = self._now_ms()
        for ticket_id, ticket_players, created_ms, _ in made["tickets"]:
            fields = {
                "ticket_id": ticket_id,
                "match_id": match_id,
                "players": made["players"],
                "teams": made["teams"],
                "waited_ms": max(0, now - created_ms),
            }
            if made["accept_by_ms"]:
                fields["accept_by_ms"] = made["accept_by_ms"]
            await self._pushes.to_players(ticket_players, Tell(Push.MM_MATCHED, fields))
        if made["accept_by_ms"]:
            await self._store.told(mode, match_id)

    async def accept(self, player_id: str, ticket_id: str) -> None:
        """The player accepts the match their ticket was proposed, in time; the last
        accept needed starts it."""
        mode = ticket_mode(ticket_id)
        for match_id, payload in (await self._store.made(mode)).items():
            made = msgpack.unpackb(payload)
            if any(t[0] == ticket_id for t in made["tickets"]) and player_id in made["players"]:
                if not made["accept_by_ms"]:
                    return  # nothing to accept: it starts by itself
                needed, by_ms = len(made["players"]), made["accept_by_ms"]
                last = await self._store.accept(
                    mode, match_id, player_id, needed, self._now_ms(), by_ms
                )
                if last is None:
                    break
                if last:
                    await self._start(mode, match_id, made)
                return
        raise NotFound("no match proposed for this ticket (started, called off, or too late)")

    async def settle(self, mode: str, now_ms: int) -> None:
        """Matches made by a node that died before starting or telling them; proposals
        whose time to accept ran out (called off)."""
        for match_id, payload in (await self._store.made(mode)).items():
            made = msgpack.unpackb(payload)
            accept_by = made["accept_by_ms"]
            stale = now_ms - made["made_ms"] >= MADE_RETRY_MS
            if not accept_by:
                if stale:
                    await self._start(mode, match_id, made)
            elif now_ms < accept_by:
                if stale and not await self._store.was_told(mode, match_id):
                    await self.propose(mode, match_id, made)  # its node died first
            else:
                await self._call_off(mode, match_id, made, now_ms)

    async def _call_off(self, mode: str, match_id: str, made: dict[str, Any], now: int) -> None:
        """Time ran out: the tickets whose players all accepted back at their old place
        (every ticket, when the proposal never reached them), the others dropped; unless
        everyone accepted after all (then it starts, if its last accepter has not)."""
        told = await self._store.was_told(mode, match_id)
        tickets = [TicketRecord.unpack(t[0], t[3]) for t in made["tickets"]]
        holds = await asyncio.gather(*(roster_holds(self._parties, t) for t in tickets))
        changed = [t for t, held in zip(tickets, holds, strict=True) if not held]
        keep = [_again(t, now) for t in tickets if t not in changed]
        outcome = await self._store.requeue(
            mode, match_id, keep, ttl_ms=self._ttl_ms(mode), every=not told
        )
        if outcome == "accepted":
            if now - made["accept_by_ms"] >= MADE_RETRY_MS:  # its last accepter's node died
                await self._start(mode, match_id, made)
            return
        if outcome == "gone":
            return  # started or called off by another node meanwhile
        for ticket in tickets:
            if ticket.ticket_id in outcome:
                await self._tell(ticket, "queued", now, match_id=match_id)
            elif ticket in changed:
                await self._tell(ticket, "cancelled", now, reason="the party changed")
            else:  # one of its players did not accept (or, untold, queued again)
                reason = "not accepted" if told else "queued again"
                await self._tell(ticket, "cancelled", now, reason=reason)


def _again(ticket: TicketRecord, now_ms: int) -> TicketRecord:
    """The ticket as put back: its old place (``created_ms``), its time to live anew."""
    return TicketRecord(
        ticket.ticket_id,
        ticket.players,
        ticket.rating,
        ticket.bucket,
        ticket.created_ms,
        ticket.leader,
        ticket.party_id,
        now_ms,
    )
