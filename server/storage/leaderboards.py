"""Leaderboards on sorted sets: one script per write, one per page read (names included)."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from server.storage import keys
from server.storage.command_keys import CrossSlot
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


@dataclass(frozen=True, slots=True)
class Limited:
    """A player's submit the rate limit refused: nothing was applied."""

    retry_after_ms: int


@dataclass(frozen=True, slots=True)
class SubmitLimit:
    """The per-player rate limit a player's own submit is counted against first."""

    action: str
    interval_ms: float  # 1000 / rate per second
    burst: int


SUBMIT_KEYS_KEPT = 1024


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


def _submitted(reply: Sequence[Any]) -> Submitted | None:
    if reply[0] == 1:
        return Submitted(score=int(reply[1]), rank=int(reply[2]), improved=bool(reply[3]))
    return None


class LeaderboardStore:
    def __init__(self, scripts: Scripts, *, one_redis: bool) -> None:
        self._scripts = scripts
        # One Redis: a submit's rate key may go in the board's script; a cluster holds them
        # in different slots.
        self._one_redis = one_redis
        # The keys a submit touches, by board period (not to be changed: shared).
        self._submit_keys: dict[tuple[str, str], list[str]] = {}

    def _keep_submit_keys(self, board_id: str, period_id: str) -> list[str]:
        if len(self._submit_keys) >= SUBMIT_KEYS_KEPT:  # old periods' go now and then
            self._submit_keys.clear()
        found = [*_board_keys(board_id, period_id), keys.board_arrivals(board_id, period_id)]
        self._submit_keys[board_id, period_id] = found
        return found

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
        limit: SubmitLimit | None = None,
    ) -> Submitted | Limited | None:
        """Apply the operator atomically; None when the result would leave the score range.

        With ``once``, a score with the same once-id is applied at most once per board
        period (a redone match result); a repeat returns the standing unchanged.

        With ``limit``, the attempt is first counted against the player's rate limit
        (``Limited``: refused, nothing applied). On one Redis that is done in the submit's
        own script, one round trip. On a cluster the player's rate key and the board are
        in different slots: the rate script runs first, then the submit.
        """
        board_keys = self._submit_keys.get((board_id, period_id))
        if board_keys is None:
            board_keys = self._keep_submit_keys(board_id, period_id)
        args: list[Arg] = [player_id, score, order, operator, name, expire_at_ms, score_max]
        if once is not None:
            board_keys = [*board_keys, keys.board_applied(board_id, period_id)]
            args += ["once", once, now_ms]
        elif limit is not None:
            rate_key = keys.rate_limit(limit.action, player_id)
            rate_args: list[Arg] = [limit.interval_ms, limit.burst]
            if self._one_redis:
                try:
                    reply = await self._scripts.lb_submit(
                        keys=[*board_keys, rate_key], args=[*args, "limit", *rate_args]
                    )
                except CrossSlot:  # a cluster after all: refused before it was sent
                    self._one_redis = False
                else:
                    if reply[0] != 2:
                        return _submitted(reply)
                    return await self._refused(rate_key, rate_args)
            allowed, _ = await self._scripts.rate_limit(keys=[rate_key], args=[*rate_args, 1])
            if not allowed:
                return await self._refused(rate_key, rate_args)
        return _submitted(await self._scripts.lb_submit(keys=board_keys, args=args))

    async def _refused(self, rate_key: str, rate_args: list[Arg]) -> Limited:
        """A refused attempt's wait, asked of the rate script without counting (refusals
        are rare; the submit's script answers only that it refused)."""
        _, retry_after_ms = await self._scripts.rate_limit(keys=[rate_key], args=[*rate_args, 0])
        return Limited(max(1, int(retry_after_ms)))  # the wait may have just run out

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
