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

import logging
from typing import Any

import msgpack

from server.errors import ArenaError
from server.protocol import Push, push
from server.storage import keys
from server.storage.pubsub import Publisher

log = logging.getLogger(__name__)

TOP_RANKS = 10  # a score reaching this rank or better is pushed


class WatchFeed:
    def __init__(self, publisher: Publisher) -> None:
        self._publisher = publisher

    @property
    def channel(self) -> str:
        return keys.watch_channel()

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
        try:
            await self._publisher.publish(self.channel, msgpack.packb(push(event, **fields)))
        except ArenaError as exc:
            log.warning("watch push %s not sent: %s", event, exc.message)
