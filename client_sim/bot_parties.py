"""Bots that play in parties of two: one in four leads a party and queues it through the
matchmaker, one in four joins its partner's party and plays the matches it is put in.
They meet here: the leader posts its party's id, the partner waits for it."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any, Protocol

from client_sim.client import ArenaClient, ConnectionClosed

Bounded = Callable[[Awaitable[Any], float], Awaitable[Any]]

LEADER, MEMBER = "leader", "member"


def party_role(index: int) -> str | None:
    """Bot 4k + 1 leads a party, bot 4k + 3 joins it; the others play alone."""
    return {1: LEADER, 3: MEMBER}.get(index % 4)


def partner_of(index: int) -> int:
    return index - 2 if index % 4 == 3 else index + 2


@dataclass(slots=True)
class PartyBoard:
    """Where a leader posts its party's id for its partner (bots in one process)."""

    posted: dict[int, asyncio.Future[str]] = field(default_factory=dict)

    def slot(self, leader: int) -> asyncio.Future[str]:
        if leader not in self.posted:
            self.posted[leader] = asyncio.get_running_loop().create_future()
        return self.posted[leader]

    def post(self, leader: int, party_id: str) -> None:
        slot = self.slot(leader)
        if not slot.done():
            slot.set_result(party_id)


async def party_of_two(client: ArenaClient) -> None:
    """Until the bot's party has its second member (a ``party.updated`` saying so)."""
    while True:
        push = await client.next_push("party.updated", timeout=None)
        party = push.get("party") or {}
        if len(party.get("members", [])) >= 2:
            return


async def ticket_outcome(
    client: ArenaClient, ticket_id: str, bounded: Bounded, most_s: float
) -> dict[str, Any] | None:
    """The ``match.started`` the ticket led to; None when the ticket ended without one
    (``mm.status`` cancelled or expired) or nothing came within ``most_s``."""
    done: asyncio.Future[dict[str, Any] | None] = asyncio.get_running_loop().create_future()

    def started(push: dict[str, Any]) -> None:
        if not done.done():
            done.set_result(push)

    def status(push: dict[str, Any]) -> None:
        ended = push.get("state") in ("cancelled", "expired")
        if push.get("ticket_id") == ticket_id and ended and not done.done():
            done.set_result(None)

    client.on("match.started", started)
    client.on("mm.status", status)
    try:
        result: dict[str, Any] | None = await bounded(done, most_s)
        return result
    except TimeoutError:
        return None
    finally:
        client.off("match.started", started)
        client.off("mm.status", status)


class PairingBot(Protocol):
    """What pairing up needs of a bot (client_sim.bots.Bot)."""

    index: int
    parties: PartyBoard
    client: ArenaClient | None

    async def call(self, op: str, **fields: Any) -> dict[str, Any] | None: ...

    async def before_stop(self, waited: Awaitable[Any], most: float) -> Any: ...


async def pair_up(bot: PairingBot, most_s: float) -> bool:
    """A leader makes its party and waits for its partner (a join would cancel a ticket
    queued before it); a member joins its partner's party. True for a member who is in
    (it then waits for the matches its leader queues for)."""
    role = party_role(bot.index)
    if role == LEADER:
        created = await bot.call("party.create", open=True, max_size=2)
        if created is not None and bot.client is not None:
            bot.parties.post(bot.index, created["party"]["party_id"])
            with contextlib.suppress(TimeoutError, ConnectionClosed):
                await bot.before_stop(party_of_two(bot.client), most_s)
        return False
    if role != MEMBER:
        return False
    try:
        party_id = await bot.before_stop(
            asyncio.shield(bot.parties.slot(partner_of(bot.index))), most_s
        )
    except TimeoutError:
        return False
    return await bot.call("party.join", party_id=party_id) is not None
