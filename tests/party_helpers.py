"""What the party tests share: waiting for a party change, reading ids off a party."""

from __future__ import annotations

import asyncio
import contextlib
from typing import Any

import pytest

from client_sim.client import ArenaClient
from client_sim.login import ArenaError
from server.protocol import Message


async def change(
    client: ArenaClient, what: str, *, about: str | None = None, within_s: float = 5.0
) -> Message:
    """The next ``party.updated`` that says ``what`` changed (of player ``about``, if
    given); others are skipped."""
    async with asyncio.timeout(within_s):
        while True:
            push = await client.next_push("party.updated", timeout=None)
            told = push["change"]
            wanted = told is not None and told["what"] == what
            if wanted and (about is None or told["player_id"] == about):
                return push


def ids(party: dict[str, Any]) -> list[str]:
    """The member ids, oldest first."""
    return [m["player_id"] for m in party["members"]]


async def refused(client: ArenaClient, code: str, op: str, **fields: Any) -> str:
    """Send ``op``, which must fail with ``code``; its message."""
    with pytest.raises(ArenaError) as error:
        await client.request(op, **fields)
    assert error.value.code == code, error.value
    return error.value.message


async def seat_other_in_my_party(arena: str, token: str, other: ArenaClient) -> None:
    """The other player joins an open party the fuzzing player (``token``) creates: what
    party.kick and party.promote need to succeed once."""
    mine = await ArenaClient.connect(arena, token)
    try:
        with contextlib.suppress(ArenaError):  # NOT_IN_PARTY
            await mine.request("party.leave")
        party = (await mine.request("party.create", open=True))["party"]
    finally:
        await mine.close()
    with contextlib.suppress(ArenaError):  # NOT_IN_PARTY
        await other.request("party.leave")
    await other.request("party.join", party_id=party["party_id"])
