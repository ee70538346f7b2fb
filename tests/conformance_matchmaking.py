"""The matchmaking part of a day of Arena (tests/conformance_flows.py): a ticket queued,
retried and cancelled; two made into a match; a proposal accepted by one and declined by
time (the one who accepted back at their place); then accepted by both; a party's
ticket cancelled by a member leaving."""

from __future__ import annotations

import json
from typing import Any

from server.modes import DEFAULT_MODES
from server.services import Services

ACCEPT_S = 5
# The example games, and a mode whose matched players must accept.
MODES = json.dumps(
    {**DEFAULT_MODES, "pair": {"capacity": 2, "matchmaker": {"max": 2, "accept_s": ACCEPT_S}}}
)


async def matchmaking(main: Services, clock: Any, ann: Any, bob: Any, cat: Any) -> None:
    maker = main.matchmaker
    ticket = await maker.enqueue(ann.id, "tictactoe", None)
    assert await maker.enqueue(ann.id, "tictactoe", None) == ticket  # a retry
    await maker.cancel(ann.id, ticket)
    await maker.enqueue(ann.id, "tictactoe", None)
    await maker.enqueue(bob.id, "tictactoe", None)
    assert len(await maker.pass_once("tictactoe")) == 1

    first = await maker.enqueue(ann.id, "pair", None)
    await maker.enqueue(cat.id, "pair", None)
    assert len(await maker.pass_once("pair")) == 1  # proposed
    await maker.accept(ann.id, first)
    await maker.accept(ann.id, first)  # again: already counted
    clock.offset_s += ACCEPT_S + 1
    assert await maker.pass_once("pair") == []  # called off: ann back, cat dropped
    again = await maker.enqueue(cat.id, "pair", None)
    assert len(await maker.pass_once("pair")) == 1
    await maker.accept(ann.id, first)
    await maker.accept(cat.id, again)  # the last accept starts the match

    # A party's ticket, cancelled when a member leaves.
    party = await main.parties.create(ann.id, ann.name, is_open=True, max_size=2)
    await main.parties.join(bob.id, bob.name, party.party_id)
    await maker.enqueue(ann.id, "dots", None)
    await main.parties.leave(bob.id)
    await main.parties.leave(ann.id)
