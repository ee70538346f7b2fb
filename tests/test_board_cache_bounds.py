"""Top-page reads that name nothing (a period long expired, an offset past the end) get
an empty page and leave nothing in the cache: a reader cannot grow Redis by varying
``period`` and ``offset``."""

from __future__ import annotations

import time

import redis as redis_sync

from server.boards import current
from server.settings import Settings
from tests.conftest import StartArena
from tests.helpers import connect, every_key, http_json

CACHE_KEYS = "arena:cache:{lb_top:*"


def cache_keys(redis_client: redis_sync.Redis) -> set[bytes | str]:
    return set(every_key(redis_client, CACHE_KEYS))


def fill_board(redis_client: redis_sync.Redis, board: str, period: str, count: int) -> None:
    """``count`` entries written as the submit script writes them (test setup)."""
    prefix = f"arena:lb:{{{board}:{period}}}"
    pipe = redis_client.pipeline()
    for i in range(count):
        player, member = f"p{i:04d}", f"{i:012x}p{i:04d}"
        pipe.zadd(f"{prefix}:scores", {member: 10_000 - i})
        pipe.hset(f"{prefix}:members", player, member)
        pipe.hset(f"{prefix}:names", player, player)
    pipe.execute()


async def test_a_period_past_its_retention_is_empty_and_never_cached(
    start_arena: StartArena, redis_client: redis_sync.Redis
) -> None:
    arena = await start_arena(rate_limits="http.read=10000/1000")
    _, client = await connect(arena, "alice")
    async with client:
        await client.request("lb.submit", board="daily", score=5)
        before = cache_keys(redis_client)
        for day in range(1, 29):
            for offset in (0, 100, 999_900):
                reply = await client.request(
                    "lb.top", board="daily", period=f"1990-02-{day:02d}", offset=offset, limit=10
                )
                assert reply["entries"] == []
                status, body = await http_json(
                    "GET",
                    f"{arena}/v1/leaderboards/daily/top?period=1990-03-{day:02d}&offset={offset}",
                )
                assert (status, body["entries"]) == (200, [])
        assert cache_keys(redis_client) == before
        # A period within retention still reads as before.
        page = await client.request("lb.top", board="daily", period="current", limit=10)
        assert [e["score"] for e in page["entries"]] == [5]


async def test_an_offset_past_the_board_is_empty_and_never_cached(
    start_arena: StartArena, redis_client: redis_sync.Redis
) -> None:
    arena = await start_arena(rate_limits="http.read=10000/1000")
    _, client = await connect(arena, "alice")
    async with client:
        await client.request("lb.submit", board="global", score=5)
        await client.request("lb.top", board="global", offset=0, limit=10)  # page 0: cached
        before = cache_keys(redis_client)
        for offset in range(100, 1_000_000, 9_900):
            reply = await client.request("lb.top", board="global", offset=offset, limit=100)
            assert reply["entries"] == []
            status, body = await http_json(
                "GET", f"{arena}/v1/leaderboards/global/top?offset={offset + 1}&limit=100"
            )
            assert (status, body["entries"]) == (200, [])
        assert cache_keys(redis_client) == before


async def test_pages_inside_a_long_board_still_come_from_the_cache(
    start_arena: StartArena, redis_client: redis_sync.Redis
) -> None:
    arena = await start_arena(lb_cache_ttl_s=60)
    board = next(b for b in Settings.from_env({}).board_specs() if b.id == "daily")
    period = current(board, time.time()).period_id
    fill_board(redis_client, "daily", period, 250)
    _, client = await connect(arena, "alice")
    async with client:
        page = await client.request("lb.top", board="daily", offset=195, limit=10)
        assert [e["rank"] for e in page["entries"]] == list(range(196, 206))
        assert page["entries"][0]["player_id"] == "p0195"
        page = await client.request("lb.top", board="daily", offset=245, limit=10)
        assert [e["player_id"] for e in page["entries"]] == [f"p{i:04d}" for i in range(245, 250)]
        assert (await client.request("lb.top", board="daily", offset=250, limit=10))[
            "entries"
        ] == []
    fresh = {k.decode() if isinstance(k, bytes) else k for k in cache_keys(redis_client)}
    pages = sorted(k.split(":")[-2].rstrip("}") for k in fresh if k.endswith(":fresh"))
    assert pages == ["100", "200"]  # the pages read, none past the end
