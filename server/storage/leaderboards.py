"""Leaderboards on sorted sets: one script per write, one per page read (names included)."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from server.storage import keys
from server.storage.connection import client_values, text, translate_redis_errors
from server.storage.mux import Arg
from server.storage.scripts import Scripts


@dataclass(frozen=True, slots=True)
class Entry:
    rank: int
    player_id: str
    name: str
    score: int

    def as_wire(self) -> dict[str, Any]:
        return {
            "rank": self.rank,
            "player_id": self.player_id,
            "name": self.name,
            "score": self.score,
        }


@dataclass(frozen=True, slots=True)
class Submitted:
    score: int
    rank: int
    improved: bool


def _board_keys(board_id: str, period_id: str) -> list[str]:
    return [
        keys.board_scores(board_id, period_id),
        keys.board_members(board_id, period_id),
        keys.board_names(board_id, period_id),
    ]


def _score(raw: bytes | str | int) -> int:
    """A score as Redis prints it. Scores are integers below 2**53, so the double Redis
    holds is exact; some Redis versions print large ones with an exponent (5e+15)."""
    if isinstance(raw, int):
        return raw
    value = text(raw)
    try:
        return int(value)
    except ValueError:
        return int(float(value))


def _entries(reply: Sequence[Any]) -> list[Entry]:
    first_rank = int(reply[0])
    return [
        Entry(
            first_rank + i, text(reply[1 + 3 * i]), text(reply[3 + 3 * i]), _score(reply[2 + 3 * i])
        )
        for i in range((len(reply) - 1) // 3)
    ]


class LeaderboardStore:
    def __init__(self, scripts: Scripts) -> None:
        self._scripts = scripts

    @client_values
    async def submit(
        self,
        board_id: str,
        period_id: str,
        *,
        player_id: str,
        score: int,
        order: str,
        operator: str,
        name: str,
        expire_at_ms: int,
        score_max: int,
        once: str | None = None,
        now_ms: int = 0,
    ) -> Submitted | None:
        """Apply the operator atomically; None when the result would leave the score range.

        With ``once``, a score with the same once-id is applied at most once per board
        period (a redone match result); a repeat returns the standing unchanged.
        """
        board_keys = [*_board_keys(board_id, period_id), keys.board_arrivals(board_id, period_id)]
        args: list[Arg] = [player_id, score, order, operator, name, expire_at_ms, score_max]
        if once is not None:
            board_keys.append(keys.board_applied(board_id, period_id))
            args += [once, now_ms]
        reply = await self._scripts.lb_submit(keys=board_keys, args=args)
        if reply[0] == 0:
            return None
        return Submitted(score=int(reply[1]), rank=int(reply[2]), improved=bool(reply[3]))

    @client_values
    async def top(
        self, board_id: str, period_id: str, order: str, *, offset: int, limit: int
    ) -> list[Entry]:
        reply = await self._scripts.lb_page(
            keys=_board_keys(board_id, period_id), args=[order, "top", offset, limit]
        )
        return _entries(reply)

    @client_values
    async def size(self, board_id: str, period_id: str) -> int:
        """How many entries the board period holds."""
        reply = await self._scripts.lb_page(
            keys=_board_keys(board_id, period_id), args=["desc", "size", 0, 0]
        )
        return int(reply)

    @client_values
    async def around(
        self, board_id: str, period_id: str, order: str, *, player_id: str, radius: int
    ) -> list[Entry] | None:
        reply = await self._scripts.lb_page(
            keys=_board_keys(board_id, period_id), args=[order, "around", player_id, radius]
        )
        return _entries(reply) if reply else None

    @client_values
    async def rank(
        self, board_id: str, period_id: str, order: str, *, player_id: str
    ) -> Entry | None:
        reply = await self._scripts.lb_page(
            keys=_board_keys(board_id, period_id), args=[order, "rank", player_id, 0]
        )
        return _entries(reply)[0] if reply else None

    @translate_redis_errors
    async def rename(self, boards: list[tuple[str, str]], player_id: str, name: str) -> None:
        """Show a new name on each of these board periods the player is on, in one round trip."""
        await asyncio.gather(
            *(
                self._scripts.lb_rename(
                    keys=[keys.board_names(board_id, period_id)], args=[player_id, name]
                )
                for board_id, period_id in boards
            )
        )
