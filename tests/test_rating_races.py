"""Two results workers rating matches of one player at once: every match counts once."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from typing import cast

import pytest
import redis as redis_sync

from server.embedded_redis import RedisProcess
from server.services.rating_model import Rating, rate, sides_of
from server.services.ratings import RatingService
from server.storage import keys
from server.storage.clients import open_mux
from server.storage.cluster import slot_of
from server.storage.mux import Commands
from server.storage.ratings import RatingChange, RatingStore
from server.storage.scripts import Scripts
from tests.helpers import every_key

NAMES: dict[str, str] = {}
Entries = list[tuple[bytes, float]]  # ZRANGE ... WITHSCORES


class RatedMeanwhile(RatingStore):
    """A worker's store that, just before its first write, lets another worker rate a
    match (the race at its worst: between this worker's read and its write)."""

    def __init__(self, mux: Commands, meanwhile: Callable[[], Awaitable[object]]) -> None:
        super().__init__(mux, Scripts.load(mux))
        self._meanwhile: Callable[[], Awaitable[object]] | None = meanwhile
        self.writes = 0

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
        self.writes += 1
        if self._meanwhile is not None:
            meanwhile, self._meanwhile = self._meanwhile, None
            await meanwhile()
        return await super().apply(
            board_id, period_id, match_id, changes,
            now_ms=now_ms, remember_ms=remember_ms, keep_ms=keep_ms,
        )  # fmt: skip


@pytest.fixture
async def muxes(
    redis_server: RedisProcess, redis_client: redis_sync.Redis
) -> AsyncIterator[list[Commands]]:
    """Two connections, as two worker processes have."""
    opened = [open_mux(redis_server.url, timeout_s=5.0) for _ in range(2)]
    yield list(opened)
    for mux in opened:
        await mux.aclose()


async def test_a_match_rated_between_anothers_read_and_write_is_not_lost(
    muxes: list[Commands],
) -> None:
    first_mux, second_mux = muxes
    second = RatingService(RatingStore(second_mux, Scripts.load(second_mux)))
    b_result = {"p": 0, "r": 1}

    async def rate_b() -> None:
        assert await second.rate_match("duel", "B", b_result, teams=None, names=NAMES)

    store = RatedMeanwhile(first_mux, rate_b)
    first = RatingService(store)
    a_result = {"p": 1, "q": 0}
    assert await first.rate_match("duel", "A", a_result, teams=None, names=NAMES)
    assert store.writes == 2  # its first write found p changed: read again, wrote again

    # As if B then A had been rated one after the other.
    after_b = rate({"p": Rating(), "r": Rating()}, sides_of(b_result, None))
    after_a = rate({"p": after_b["p"], "q": Rating()}, sides_of(a_result, None))
    got = await first.ratings_of(["p", "q", "r"], "duel")
    assert got == {"p": after_a["p"], "q": after_a["q"], "r": after_b["r"]}
    assert got["p"].games == 2


async def test_many_matches_of_one_player_finishing_at_once_on_two_workers_all_count(
    muxes: list[Commands], redis_client: redis_sync.Redis
) -> None:
    workers = [RatingService(RatingStore(mux, Scripts.load(mux))) for mux in muxes]
    opponents = [f"o{i}" for i in range(30)]
    done = await asyncio.gather(
        *(
            workers[i % 2].rate_match("duel", f"m{i}", {"p": i % 3, o: 1}, teams=None, names={})
            for i, o in enumerate(opponents)
        )
    )
    assert all(done)
    got = await workers[0].ratings_of(["p", *opponents], "duel")
    assert got["p"].games == 30
    assert {got[o].games for o in opponents} == {1}
    board = redis_client.zrevrange("arena:lb:{ratings:duel:all}:scores", 0, -1, withscores=True)
    shown = {member[12:].decode(): int(score) for member, score in cast(Entries, board)}
    assert shown == {p: r.display for p, r in got.items()}
    # Nothing stays for ever: every key of the mode's ratings and board expires (400 days
    # after the mode's last rated match).
    mode_keys = every_key(redis_client, "arena:lb:{ratings:duel:all}:*")
    assert len(mode_keys) == 6
    for key in mode_keys:
        assert 399 * 86400 < redis_client.ttl(key) <= 400 * 86400
    # Each match again, on either worker: nothing moves.
    again = await asyncio.gather(
        *(
            workers[(i + 1) % 2].rate_match("duel", f"m{i}", {"p": 2, o: 0}, teams=None, names={})
            for i, o in enumerate(opponents)
        )
    )
    # (each answers its players' ratings as they stand)
    assert again == [{"p": got["p"], o: got[o]} for o in opponents]
    assert await workers[1].ratings_of(["p", *opponents], "duel") == got


def test_a_modes_ratings_share_a_slot_with_its_rating_board() -> None:
    """What lets one script rate a match and move the board on a cluster."""
    slots = {
        slot_of(key("ratings:duel", "all"))
        for key in (
            keys.board_ratings,
            keys.board_rated,
            keys.board_scores,
            keys.board_members,
            keys.board_names,
            keys.board_arrivals,
        )
    }
    assert len(slots) == 1
