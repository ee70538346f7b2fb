"""Ratings: each player's skill per mode, learnt from finished matches, and the rating
boards (``ratings:<mode>``) that rank players by them on the leaderboards.

The results worker rates a match once (``rate_match``): one script checks that the match
has not been rated, that no rating it read has changed since, and then moves every
player's rating and board place together. A player in two matches that finish at once
on two workers: the second script finds a rating changed, and that match is computed
again from the new one, so both count. A redone job finds the match rated and changes
nothing.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping, Sequence

from server.boards import ALLTIME_ID, BoardSpec, Operator, Order, Period, Writers
from server.modes import MODE_NAME
from server.services.lobbies import validate_mode
from server.services.rating_model import Rating, rate, sides_of
from server.storage.ratings import ALREADY_RATED, CHANGED_MEANWHILE, RatingChange, RatingStore

Clock = Callable[[], float]

BOARD_PREFIX = "ratings:"
# A rated match is remembered this long: a result job is redone within minutes.
REMEMBER_RATED_MS = 7 * 86400 * 1000
# A mode's ratings and its board expire when no match of it is rated for this long (so a
# mode name a client made up and played once does not stay in Redis for ever).
KEEP_DAYS = 400
# Compare-and-set rounds before the job is put back to try later (each lost round means
# another match of one of its players was rated in between).
TRIES = 50


class RatingContention(Exception):
    """The ratings kept changing under a match's rating: the job tries again later."""


def rating_board_id(mode: str) -> str:
    return BOARD_PREFIX + mode


def rating_board(mode: str) -> BoardSpec:
    """The rating board of a mode: all-time, highest first, each player's current
    ``display`` rating (latest, not best), written by the results worker only."""
    return BoardSpec(
        rating_board_id(mode), Order.DESC, Operator.LATEST, Period.ALLTIME, 0, Writers.SERVER
    )


def rating_board_for(board_id: str) -> BoardSpec | None:
    """The rating board a board id names (``ratings:<mode>``, any well-formed mode), or None."""
    mode = board_id.removeprefix(BOARD_PREFIX)
    if mode == board_id or not MODE_NAME.match(mode):
        return None
    return rating_board(mode)


class RatingService:
    def __init__(self, store: RatingStore, *, clock: Clock = time.time) -> None:
        self._store = store
        self._clock = clock

    async def get(self, player_id: str, mode: str) -> Rating:
        """A player's rating in a mode (a new player's when never rated in it)."""
        return (await self.ratings_of([player_id], mode))[player_id]

    async def ratings_of(self, player_ids: Sequence[str], mode: str) -> dict[str, Rating]:
        """Several players' ratings in a mode, in one round trip."""
        board = rating_board_id(validate_mode(mode))
        raw = await self._store.read(board, ALLTIME_ID, player_ids)
        return {p: Rating.unpack(r) for p, r in zip(player_ids, raw, strict=True)}

    async def rate_match(
        self,
        mode: str,
        match_id: str,
        result: Mapping[str, int],
        *,
        teams: Sequence[Sequence[str]] | None,
        names: Mapping[str, str],
    ) -> dict[str, Rating]:
        """Rate a finished match's players from its result (higher scores win, equal ones
        draw), once per match: their ratings after it. A match rated already changes
        nothing (its players' ratings as they are now); one of fewer than two sides
        teaches nothing ({}). Raises RatingContention when the ratings kept changing."""
        sides = sides_of(result, teams)
        if len(sides) < 2:
            return {}
        players = [p for side in sides for p in side.players]
        board = rating_board_id(mode)
        for _ in range(TRIES):
            read = await self._store.read(board, ALLTIME_ID, players)
            before = {p: Rating.unpack(r) for p, r in zip(players, read, strict=True)}
            after = rate(before, sides)
            changes = [
                RatingChange(p, was, after[p].pack(), after[p].display, names.get(p, p))
                for p, was in zip(players, read, strict=True)
            ]
            outcome = await self._store.apply(
                board,
                ALLTIME_ID,
                match_id,
                changes,
                now_ms=int(self._clock() * 1000),
                remember_ms=REMEMBER_RATED_MS,
                keep_ms=KEEP_DAYS * 86400 * 1000,
            )
            if outcome == ALREADY_RATED:
                return await self.ratings_of(players, mode)
            if outcome != CHANGED_MEANWHILE:
                return after
        raise RatingContention(f"match {match_id}: ratings kept changing; trying later")
