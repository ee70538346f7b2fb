"""Ratings per mode: one hash per mode beside the mode's rating board (same hash tag), moved
by one compare-and-set script per rated match."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from server.storage import keys
from server.storage.connection import text, translate_redis_errors
from server.storage.mux import Arg, Commands
from server.storage.scripts import Scripts

RATED = 1
ALREADY_RATED = 0
CHANGED_MEANWHILE = -1


@dataclass(frozen=True, slots=True)
class RatingChange:
    """One player's move: ``read`` is the stored rating the new one was computed from
    ('' for a player never rated), ``new`` what replaces it."""

    player_id: str
    read: str
    new: str
    display: int
    name: str


class RatingStore:
    def __init__(self, mux: Commands, scripts: Scripts) -> None:
        self._mux = mux
        self._scripts = scripts

    @translate_redis_errors
    async def read(self, board_id: str, period_id: str, player_ids: Sequence[str]) -> list[str]:
        """The stored ratings of the players, in order ('' for one never rated); one round trip."""
        if not player_ids:
            return []
        reply = await self._mux.execute(
            "HMGET", keys.board_ratings(board_id, period_id), *player_ids
        )
        return ["" if raw is None else text(raw) for raw in reply]

    @translate_redis_errors
    async def apply(
        self,
        board_id: str,
        period_id: str,
        match_id: str,
        changes: Sequence[RatingChange],
        *,
        now_ms: int,
        remember_ms: int,
        keep_ms: int,
    ) -> int:
        """RATED, ALREADY_RATED (nothing changed), or CHANGED_MEANWHILE (nothing changed:
        some ``read`` no longer holds)."""
        args: list[Arg] = [match_id, now_ms, remember_ms, keep_ms, len(changes)]
        for change in changes:
            args += [change.player_id, change.read, change.new, change.display, change.name]
        reply = await self._scripts.rating_apply(
            keys=[
                keys.board_ratings(board_id, period_id),
                keys.board_rated(board_id, period_id),
                keys.board_scores(board_id, period_id),
                keys.board_members(board_id, period_id),
                keys.board_names(board_id, period_id),
                keys.board_arrivals(board_id, period_id),
            ],
            args=args,
        )
        return int(reply)
