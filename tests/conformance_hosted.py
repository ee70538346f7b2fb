"""The server-run part of a day of Arena (tests/conformance_flows.py): a tic-tac-toe match
created, listed by its label, joined through the game, played, left (the game ends it and
its result is queued), and a second one handed off by a draining node and taken over by
another, restored from its snapshot."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from server.errors import MatchEnded
from server.services import Services
from tests.helpers import eventually


async def server_run(main: Services, other: Services, ann: Any, bob: Any, cat: Any) -> None:
    running = asyncio.create_task(main.host.run())
    try:
        match_id = (await main.hosted.create(ann.id, "tictactoe", {}))["match_id"]

        async def hosted() -> bool:
            current = await main.hosted.current_of(ann.id)
            return current is not None and current.get("host") is not None

        await eventually(hosted, within_s=5)
        assert await main.hosted.join(bob.id, match_id, {}) == "asked"

        async def joined() -> bool:
            return await main.matches.in_match(match_id, bob.id)

        await eventually(joined, within_s=5)
        full = await main.hosted.listing(ann.id, 10, "tictactoe", {"open": {"max": 0}}, False)
        assert [m["match_id"] for m in full] == [match_id]
        await main.hosted.input(ann.id, match_id, "move", {"cell": 4})
        await main.hosted.input(bob.id, match_id, "move", {"cell": 0})
        # Bob leaves: the game gives Ann the win and ends the match.
        await main.matches.leave(bob.id, match_id)

        async def ended() -> bool:
            match = await main.matches.read(match_id)
            return match is not None and match.state == "ended"

        await eventually(ended, within_s=5)
        with pytest.raises(MatchEnded):
            await main.hosted.input(ann.id, match_id, "move", {"cell": 5})
        second = (await main.hosted.create(cat.id, "tictactoe", {}))["match_id"]

        async def held() -> bool:
            current = await main.hosted.current_of(cat.id)
            return current is not None and current.get("epoch") == 1

        await eventually(held, within_s=5)
    finally:
        await main.host.drain()  # snapshots and hands off the second match
        await running
    assert await other.host.adopt(second)  # restored from the snapshot, epoch 2
    current = await other.hosted.current_of(cat.id)
    assert current is not None
    assert current["epoch"] == 2
