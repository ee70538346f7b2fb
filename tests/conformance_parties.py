"""The party part of a day of Arena (tests/conformance_flows.py): a party made, joined by
invite, led by another, kicked from, renewed by a heartbeat, left until it ends; an open
one closed; a dead node's member dropped by the sweeper once their grace ran out."""

from __future__ import annotations

import asyncio
import secrets
import time
from typing import Any

import pytest

from server.errors import Forbidden, NotInParty
from server.services import Services

IP = "203.0.113.9"


async def parties(
    main: Services, doomed: Services, sweeper: Services, ann: Any, bob: Any, cat: Any
) -> None:
    party = await main.parties.create(ann.id, ann.name, is_open=False, max_size=3)
    party_id = party.party_id
    with pytest.raises(Forbidden):
        await main.parties.join(cat.id, cat.name, party_id)
    await main.parties.invite(ann.id, ann.name, bob.id)
    await main.parties.join(bob.id, bob.name, party_id)
    await main.parties.join(bob.id, bob.name, party_id)  # a retry: already a member
    await main.parties.promote(ann.id, bob.id)
    await main.parties.kick(bob.id, ann.id)
    await main.parties.renew_seats([ann.id, bob.id, cat.id])
    assert await main.parties.party_of(bob.id) == party_id
    assert await main.parties.party_news(bob.id) is not None
    await main.parties.leave(bob.id)  # the last one out: it ends
    assert await main.parties.get(party_id) is None
    with pytest.raises(NotInParty):
        await main.parties.leave(bob.id)

    open_id = (await main.parties.create(cat.id, cat.name, is_open=True, max_size=8)).party_id
    await main.parties.join(ann.id, ann.name, open_id)
    await main.parties.close(cat.id)
    assert await main.parties.party_of(ann.id) is None

    # A member on the dead node keeps their place until their lease runs out; then the
    # (steady) sweeper takes them out.
    device = f"device-fay-{secrets.token_hex(4)}"
    fay = await doomed.sessions.guest_login(device, None, "fay", client_ip=IP)
    lapsed = await doomed.parties.create(fay.player_id, "fay", is_open=True, max_size=2)
    lapsed_id = lapsed.party_id
    await main.parties.join(ann.id, ann.name, lapsed_id)
    leased_ms = int(time.time() * 1000) + doomed.parties.lease_ms
    await asyncio.sleep(max(0.0, leased_ms / 1000 + 0.02 - time.time()))  # its deadline
    await sweeper.parties.free_lapsed_seats()
    assert await main.parties.party_of(fay.player_id) is None
    left = await main.parties.get(lapsed_id)
    assert left is not None
    assert left.leader == ann.id
    await main.parties.leave(ann.id)
