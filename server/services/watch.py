"""The game-wide watch channel: what a dashboard shows, pushed as it happens.

A socket that sends ``watch`` (a spectator's dashboard, typically) receives
``watch.lobby``, ``watch.match``, ``watch.score`` and ``watch.activity`` pushes
from every node. Each is one publish at a moment that is already slow (a locked
lobby change, a match starting or ending, an activity entry) or rare (a score
landing in a board's top 10), so players' hot paths pay nothing for it.

Delivery is best effort, like any push: a failed publish is logged and the
change itself stands. A dashboard re-reads its snapshot now and then.
"""

from __future__ import annotations

from typing import Any

from server.protocol import Push
from server.services.ports import Pushes, Tell

TOP_RANKS = 10  # a score reaching this rank or better is pushed


class WatchFeed:
    def __init__(self, pushes: Pushes, *, channel: str) -> None:
        self._pushes = pushes
        self.channel = channel  # what a watching socket listens to

    async def lobby(self, lobby: dict[str, Any]) -> None:
        await self._publish(Push.WATCH_LOBBY, lobby=lobby)

    async def match(self, match: dict[str, Any]) -> None:
        await self._publish(Push.WATCH_MATCH, match=match)

    async def score(self, *, board: str, period: str, player_id: str, name: str, score: int,
                    rank: int) -> None:  # fmt: skip
        if rank <= TOP_RANKS:
            await self._publish(
                Push.WATCH_SCORE, board=board, period=period, player_id=player_id, name=name,
                score=score, rank=rank,
            )  # fmt: skip

    async def activity(self, entries: list[dict[str, Any]]) -> None:
        for entry in entries:
            await self._publish(Push.WATCH_ACTIVITY, entry=entry)

    async def _publish(self, event: Push, **fields: Any) -> None:
        await self._pushes.to_watchers(Tell(event, fields))
