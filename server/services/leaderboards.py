"""Leaderboards: the board rules (operators, order, periods, ties) and cached top pages."""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence

from server.boards import (
    SCORE_MAX,
    SCORE_MIN,
    BoardPeriod,
    BoardSpec,
    Period,
    Writers,
    current,
    resolve,
)
from server.errors import BadRequest, Forbidden, NotRanked, RateLimited, UnknownBoard
from server.protocol import Format
from server.services.cache import ReadThroughCache
from server.services.profiles import ProfileService
from server.services.ratelimits import RateLimiter
from server.services.ratings import rating_board_for
from server.services.top_pages import CACHE_PAGE, BoardSizes, SplitPages, join, pack_page
from server.services.watch import TOP_RANKS, WatchFeed
from server.storage.leaderboards import Entry, LeaderboardStore, Limited, SubmitLimit, Submitted

Clock = Callable[[], float]

SUBMIT = "lb.submit"  # the rate-limited action

TOP_LIMIT_MAX = 100
AROUND_RADIUS_MAX = 50
OFFSET_MAX = 1_000_000


def _where(at: BoardPeriod) -> str:
    if at.board.period is Period.ALLTIME:
        return f"board {at.board.id!r}"
    return f"board {at.board.id!r} for {at.period_id}"


def validate_score(score: object) -> int:
    """An integer in [SCORE_MIN, SCORE_MAX]; booleans, floats and strings are refused."""
    if not isinstance(score, int) or isinstance(score, bool):
        raise BadRequest("score: must be an integer")
    if not SCORE_MIN <= score <= SCORE_MAX:
        raise BadRequest(f"score: must be between {SCORE_MIN} and {SCORE_MAX}")
    return score


class LeaderboardService:
    def __init__(
        self,
        store: LeaderboardStore,
        profiles: ProfileService,
        rate_limiter: RateLimiter,
        top_cache: ReadThroughCache,
        boards: Sequence[BoardSpec],
        watch: WatchFeed,
        *,
        clock: Clock = time.time,
    ) -> None:
        self._store = store
        self._profiles = profiles
        self._rate_limiter = rate_limiter
        self._top_cache = top_cache
        self._split_pages = SplitPages()
        self._sizes = BoardSizes(store)
        self._boards = {board.id: board for board in boards}
        self._watch = watch
        self._clock = clock
        # A configured board's current period, kept for the UTC day it was worked out on
        # (every period starts at a UTC midnight): (day, period) by board id.
        self._periods: dict[str, tuple[int, BoardPeriod]] = {}
        try:
            limit = rate_limiter.limit(SUBMIT)
        except KeyError:  # no limit on submits
            self._submit_limit: SubmitLimit | None = None
        else:
            self._submit_limit = SubmitLimit(SUBMIT, 1000.0 / limit.per_s, limit.burst)

    @property
    def boards(self) -> list[BoardSpec]:
        return list(self._boards.values())

    def current_period(self, board: BoardSpec) -> str:
        """The id of the board's period now (what ``period`` names in replies and pushes)."""
        return current(board, self._clock()).period_id

    def _board(self, board_id: str) -> BoardSpec:
        board = self._boards.get(board_id) or rating_board_for(board_id)
        if board is None:
            raise UnknownBoard(f"no board {board_id[:32]!r}")
        return board

    def _period(self, board_id: str, period: str | None) -> BoardPeriod:
        try:
            return resolve(self._board(board_id), period, self._clock())
        except ValueError as exc:
            raise BadRequest(f"period: {exc}") from None

    async def submit(self, player_id: str, name: str, board_id: str, score: int) -> Submitted:
        """A player's own submit: rate-limited per player (every attempt counts); refused
        on a board only the server writes. The attempt is counted in the submit's own
        script (one round trip), or on its own first when the submit goes no further."""
        board = self._boards.get(board_id) or rating_board_for(board_id)
        limit = self._submit_limit
        if (
            board is None
            or board.writers is Writers.SERVER
            or limit is None
            or type(score) is not int
            or not SCORE_MIN <= score <= SCORE_MAX
        ):
            await self._rate_limiter.check(SUBMIT, player_id)
            if board is not None and board.writers is Writers.SERVER:
                raise Forbidden(f"board {board_id!r} takes scores from the game server only")
            return await self._record(player_id, name, self._board(board_id), score)
        return await self._record(player_id, name, board, score, limit=limit)

    async def record(self, player_id: str, board_id: str, score: object) -> Submitted:
        """A trusted game server's submit: no rate limit; the player must exist. A rating
        board takes ratings only, from the results worker."""
        if rating_board_for(board_id) is not None:
            raise Forbidden(f"board {board_id[:48]!r} shows ratings; results move them")
        board = self._board(board_id)
        score = validate_score(score)
        profile = await self._profiles.get(player_id)
        return await self._record(player_id, profile.name, board, score)

    async def record_once(
        self, player_id: str, name: str, board_id: str, score: int, *, once: str, at_s: float
    ) -> Submitted:
        """A match result's score, on the board period current at ``at_s`` (when the match
        ended, however late the job runs): applied at most once per ``once`` id (a redone
        job changes nothing and gets the standing as it is)."""
        board = self._board(board_id)
        return await self._record(player_id, name, board, score, once=once, at_s=at_s)

    def _current(self, board: BoardSpec, now_s: float) -> BoardPeriod:
        """``current(board, now_s)``, worked out once a UTC day for a configured board."""
        day = int(now_s // 86400)
        kept = self._periods.get(board.id)
        if kept is not None and kept[0] == day and kept[1].board is board:
            return kept[1]
        at = current(board, now_s)
        if self._boards.get(board.id) is board:  # not a rating board: their names are many
            self._periods[board.id] = (day, at)
        return at

    async def _record(
        self,
        player_id: str,
        name: str,
        board: BoardSpec,
        score: int,
        *,
        once: str | None = None,
        at_s: float | None = None,
        limit: SubmitLimit | None = None,
    ) -> Submitted:
        """Apply a score under the board's operator, in one script (``limit``: after
        counting the attempt against the player's rate limit)."""
        score = validate_score(score)
        now = self._clock()
        at = self._current(board, now if at_s is None else at_s)
        result = await self._store.submit(
            board.id,
            at.period_id,
            player_id=player_id,
            score=score,
            order=board.order,
            operator=board.operator,
            name=name,
            expire_at_ms=at.expire_at_ms,
            score_max=SCORE_MAX,
            once=once,
            now_ms=int(now * 1000),
            limit=limit,
        )
        if isinstance(result, Limited):
            self._rate_limiter.refusals[SUBMIT] += 1
            raise RateLimited(
                f"too many {SUBMIT} attempts; retry in {result.retry_after_ms} ms",
                retry_after_ms=result.retry_after_ms,
            )
        if result is None:
            raise BadRequest(f"score: the total would leave {SCORE_MIN}..{SCORE_MAX}")
        if result.improved and result.rank <= TOP_RANKS:  # rare: no cost on most submits
            await self._watch.score(
                board=board.id, period=at.period_id, player_id=player_id, name=name,
                score=result.score, rank=result.rank,
            )  # fmt: skip
        return result

    async def top_page(
        self, board_id: str, *, offset: int, limit: int, period: str | None, fmt: Format
    ) -> bytes:
        """The encoded ``entries`` list of a top page, cut from the cache's whole pages
        (each at most TTL old).

        The cache holds only whole pages of CACHE_PAGE entries at offsets that are
        multiples of CACHE_PAGE: however a reader varies ``offset`` and ``limit``, it
        reaches at most two of them (``limit`` is at most CACHE_PAGE), and a board
        period has at most OFFSET_MAX / CACHE_PAGE + 1 of them to build.

        Nor does a read that names nothing build a page: a period past its retention
        (its keys have expired) or an offset past the end of the board is answered with
        an empty page, so varying ``period`` and ``offset`` cannot fill Redis.
        """
        at = self._period(board_id, period)
        if at.expire_at_ms and at.expire_at_ms <= self._clock() * 1000:
            return join([], fmt)
        first = offset - offset % CACHE_PAGE
        # Page 0 (the hot one) is one per board period: only later pages check the size,
        # and page 0 of a rating board no setting lists (any mode name names one).
        unlisted = at.board.id not in self._boards
        size = await self._sizes.size(at) if first or unlisted else CACHE_PAGE
        if offset >= size:
            return join([], fmt)
        entries = await self._cached_page(at, first, fmt)
        end = offset + limit
        if (
            end > first + CACHE_PAGE  # spans the next page...
            and len(entries) == CACHE_PAGE
            and await self._sizes.size(at) > first + CACHE_PAGE  # ...which holds entries
        ):
            entries = entries + await self._cached_page(at, first + CACHE_PAGE, fmt)
        return join(entries[offset - first : end - first], fmt)

    async def _cached_page(self, at: BoardPeriod, first: int, fmt: Format) -> list[bytes]:
        """The whole cached page starting at ``first``, its entries encoded one by one."""
        item = f"{at.board.id}:{at.period_id}:{first}"

        async def build() -> bytes:
            entries = await self._top(at, offset=first, limit=CACHE_PAGE)
            return pack_page([e.as_wire() for e in entries])

        return self._split_pages.entries(item, await self._top_cache.get(item, build), fmt)

    async def _top(self, at: BoardPeriod, *, offset: int, limit: int) -> list[Entry]:
        return await self._store.top(
            at.board.id, at.period_id, at.board.order, offset=offset, limit=limit
        )

    async def rank(self, board_id: str, player_id: str, *, period: str | None) -> Entry:
        at = self._period(board_id, period)
        entry = await self._store.rank(
            at.board.id, at.period_id, at.board.order, player_id=player_id
        )
        if entry is None:
            raise NotRanked(f"{player_id[:64]!r} has no score on {_where(at)}")
        return entry

    async def around(
        self, board_id: str, player_id: str, *, radius: int, period: str | None
    ) -> list[Entry]:
        at = self._period(board_id, period)
        entries = await self._store.around(
            at.board.id, at.period_id, at.board.order, player_id=player_id, radius=radius
        )
        if entries is None:
            raise NotRanked(f"{player_id[:64]!r} has no score on {_where(at)}")
        return entries


class BoardNames:
    """The names boards show beside scores, kept current when a player renames."""

    def __init__(
        self, store: LeaderboardStore, boards: Sequence[BoardSpec], *, clock: Clock = time.time
    ) -> None:
        self._store = store
        self._boards = list(boards)
        self._clock = clock

    async def player_renamed(self, player_id: str, name: str) -> None:
        """Show the new name on every board's current period (past periods keep the old one)."""
        now = self._clock()
        periods = [current(board, now) for board in self._boards]
        await self._store.rename([(p.board.id, p.period_id) for p in periods], player_id, name)
