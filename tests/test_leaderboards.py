"""Leaderboards as players live them: submitting, ranking, ties, periods, bad input."""

from __future__ import annotations

import asyncio
import datetime as dt
import json
import math
import random
from typing import Any

import aiohttp
import msgpack
import pytest
import redis as redis_sync

from client_sim.client import ArenaClient, ArenaError
from server.boards import SCORE_MAX
from server.protocol import Format
from tests.conftest import StartArena
from tests.helpers import connect, http_json, login

BOARDS = json.dumps(
    [
        {"id": "global", "order": "desc", "operator": "best", "period": "alltime"},
        {"id": "race", "order": "asc", "operator": "best", "period": "alltime"},
        {"id": "last", "order": "desc", "operator": "latest", "period": "alltime"},
        {"id": "coins", "order": "desc", "operator": "incr", "period": "alltime"},
        {"id": "daily", "order": "desc", "operator": "best", "period": "daily", "retention": 2},
        {"id": "weekly", "order": "asc", "operator": "best", "period": "weekly"},
    ]
)
SERVER_KEY = "test-server-key-" + "0123456789" * 2


class Clock:
    """A clock the test moves by hand."""

    def __init__(self, at: dt.datetime) -> None:
        self.now = at.timestamp()

    def __call__(self) -> float:
        return self.now


@pytest.fixture
async def boards(start_arena: StartArena) -> str:
    return await start_arena(
        boards=BOARDS, server_key=SERVER_KEY, rate_limits="lb.submit=1000/1000"
    )


async def submit(client: ArenaClient, board: str, score: Any) -> dict[str, Any]:
    return await client.request("lb.submit", board=board, score=score)


async def test_best_keeps_the_higher_score_on_a_desc_board(boards: str) -> None:
    _, alice = await connect(boards, "alice")
    async with alice:
        assert await submit(alice, "global", 10) == {"score": 10, "rank": 1, "improved": True}
        assert await submit(alice, "global", 5) == {"score": 10, "rank": 1, "improved": False}
        assert await submit(alice, "global", 20) == {"score": 20, "rank": 1, "improved": True}


async def test_best_keeps_the_lower_time_on_an_asc_board(boards: str) -> None:
    _, alice = await connect(boards, "alice")
    _, bob = await connect(boards, "bob")
    async with alice, bob:
        assert await submit(alice, "race", 300) == {"score": 300, "rank": 1, "improved": True}
        assert await submit(bob, "race", 250) == {"score": 250, "rank": 1, "improved": True}
        assert await submit(alice, "race", 400) == {"score": 300, "rank": 2, "improved": False}
        assert await submit(alice, "race", 200) == {"score": 200, "rank": 1, "improved": True}


async def test_latest_overwrites_even_with_a_worse_score(boards: str) -> None:
    _, alice = await connect(boards, "alice")
    async with alice:
        await submit(alice, "last", 10)
        assert await submit(alice, "last", 5) == {"score": 5, "rank": 1, "improved": False}
        assert await submit(alice, "last", 7) == {"score": 7, "rank": 1, "improved": True}


async def test_incr_adds_and_refuses_to_leave_the_range(boards: str) -> None:
    _, alice = await connect(boards, "alice")
    async with alice:
        assert (await submit(alice, "coins", 5))["score"] == 5
        assert await submit(alice, "coins", 3) == {"score": 8, "rank": 1, "improved": True}
        assert await submit(alice, "coins", -2) == {"score": 6, "rank": 1, "improved": False}
        await submit(alice, "coins", SCORE_MAX - 6)
        with pytest.raises(ArenaError) as overflow:
            await submit(alice, "coins", 1)
        assert overflow.value.code == "BAD_REQUEST"
        assert (await alice.request("lb.rank", board="coins"))["score"] == SCORE_MAX


async def test_the_largest_scores_keep_full_precision(boards: str) -> None:
    _, alice = await connect(boards, "alice")
    _, bob = await connect(boards, "bob")
    async with alice, bob:
        await submit(alice, "global", SCORE_MAX)
        await submit(bob, "global", SCORE_MAX - 1)
        top = (await alice.request("lb.top", board="global"))["entries"]
        assert [e["score"] for e in top] == [SCORE_MAX, SCORE_MAX - 1]
        assert [e["name"] for e in top] == ["alice", "bob"]


async def test_equal_scores_rank_by_who_reached_them_first(boards: str) -> None:
    clients = [await connect(boards, name) for name in ("first", "second", "third")]
    try:
        for board in ("global", "race"):
            for _, client in clients:
                await submit(client, board, 100)
            top = (await clients[0][1].request("lb.top", board=board))["entries"]
            assert [e["name"] for e in top] == ["first", "second", "third"], board
            assert [e["rank"] for e in top] == [1, 2, 3]
        # Submitting the score you already hold keeps your place ('latest').
        await submit(clients[0][1], "last", 100)
        await submit(clients[1][1], "last", 100)
        await submit(clients[0][1], "last", 100)  # same score again: keeps its place
        top = (await clients[0][1].request("lb.top", board="last"))["entries"]
        assert [e["name"] for e in top] == ["first", "second"]
    finally:
        for _, client in clients:
            await client.close()


async def test_top_rank_and_around_pages(boards: str) -> None:
    players = []
    for i in range(12):
        player, client = await connect(boards, f"p{i:02d}")
        await submit(client, "global", i * 10)
        players.append((player, client))
    try:
        client = players[0][1]
        page = (await client.request("lb.top", board="global", limit=3, offset=2))["entries"]
        assert [(e["rank"], e["name"], e["score"]) for e in page] == [
            (3, "p09", 90),
            (4, "p08", 80),
            (5, "p07", 70),
        ]
        assert (await client.request("lb.rank", board="global")) == {"rank": 12, "score": 0}
        p05 = players[5][0].player_id
        assert await client.request("lb.rank", board="global", player_id=p05) == {
            "rank": 7,
            "score": 50,
        }
        around = (await client.request("lb.around", board="global", player_id=p05, radius=2))[
            "entries"
        ]
        assert [e["rank"] for e in around] == [5, 6, 7, 8, 9]
        assert around[2]["player_id"] == p05
        edge = (await client.request("lb.around", board="global", radius=3))["entries"]
        assert [e["rank"] for e in edge] == [9, 10, 11, 12]  # nobody below the last
        beyond = await client.request("lb.top", board="global", limit=5, offset=50)
        assert beyond == {"entries": []}
    finally:
        for _, c in players:
            await c.close()


async def test_unranked_players_and_unknown_boards(boards: str) -> None:
    _, alice = await connect(boards, "alice")
    async with alice:
        for op, fields in [("lb.rank", {}), ("lb.around", {"radius": 1})]:
            with pytest.raises(ArenaError) as unranked:
                await alice.request(op, board="global", **fields)
            assert unranked.value.code == "NOT_RANKED"
        for op, fields in [
            ("lb.submit", {"score": 1}),
            ("lb.top", {}),
            ("lb.rank", {}),
            ("lb.around", {}),
        ]:
            with pytest.raises(ArenaError) as unknown:
                await alice.request(op, board="nope", **fields)
            assert unknown.value.code == "UNKNOWN_BOARD", op


@pytest.mark.parametrize(
    "score",
    [True, 1.5, 1.0, "10", None, [1], SCORE_MAX + 1, -SCORE_MAX - 1, 2**64],
)
async def test_scores_that_are_not_integers_in_range_are_bad_requests(
    boards: str, score: Any
) -> None:
    _, alice = await connect(boards, "alice", fmt=Format.JSON)  # JSON carries 2**64 too
    async with alice:
        with pytest.raises(ArenaError) as refused:
            await submit(alice, "global", score)
        assert refused.value.code == "BAD_REQUEST"
        assert "score" in refused.value.message


async def test_nan_and_infinity_in_msgpack_are_bad_requests(boards: str) -> None:
    player = await login(boards)
    async with (
        aiohttp.ClientSession() as http,
        http.ws_connect(
            boards + "/v1/ws", headers={"Authorization": f"Bearer {player.token}"}
        ) as ws,
    ):
        for rid, value in enumerate([math.nan, math.inf]):
            await ws.send_bytes(
                msgpack.packb({"op": "lb.submit", "rid": rid, "board": "global", "score": value})
            )
            reply = msgpack.unpackb((await ws.receive(timeout=5)).data)
            assert reply["error"]["code"] == "BAD_REQUEST"


async def test_bad_page_fields_are_bad_requests(boards: str) -> None:
    _, alice = await connect(boards, "alice")
    async with alice:
        bad_fields: list[dict[str, Any]] = [
            {"limit": 101},
            {"limit": 0},
            {"offset": -1},
            {"limit": "10"},
            {"period": 2026},
            {"period": "2026-13-45"},
        ]
        for fields in bad_fields:
            with pytest.raises(ArenaError) as refused:
                await alice.request("lb.top", board="daily", **fields)
            assert refused.value.code == "BAD_REQUEST", fields
        with pytest.raises(ArenaError) as refused:
            await alice.request("lb.around", board="global", radius=51)
        assert refused.value.code == "BAD_REQUEST"


async def test_submits_are_rate_limited_per_player_before_any_lookup(
    start_arena: StartArena,
) -> None:
    arena = await start_arena(rate_limits="lb.submit=3/1")
    _, alice = await connect(arena, "alice")
    _, bob = await connect(arena, "bob")
    async with alice, bob:
        await submit(alice, "global", 1)
        await submit(alice, "global", 2)
        with pytest.raises(ArenaError):
            await submit(alice, "no-such-board", 3)  # probing counts too
        with pytest.raises(ArenaError) as limited:
            await submit(alice, "global", 4)
        assert limited.value.code == "RATE_LIMITED"
        assert 0 < (limited.value.retry_after_ms or 0) <= 1001
        assert (await submit(bob, "global", 5))["rank"] == 1  # bob is not slowed by alice
        # Waiting as told is what is tested: the limit runs on Redis's clock (TIME in
        # lua/lib/gcra.lua), which no test can move.
        await asyncio.sleep((limited.value.retry_after_ms or 0) / 1000)
        assert (await submit(alice, "global", 6))["score"] == 6


def _midnight_today() -> dt.datetime:
    """Real dates: Redis expires keys by its own clock, so the test's periods must be recent."""
    now = dt.datetime.now(dt.UTC)
    return dt.datetime(now.year, now.month, now.day, tzinfo=dt.UTC)


async def test_periodic_boards_roll_over_at_midnight_utc(
    start_arena: StartArena, redis_client: redis_sync.Redis
) -> None:
    today = _midnight_today()
    yesterday = today - dt.timedelta(days=1)
    clock = Clock(today - dt.timedelta(seconds=2))  # 23:59:58 yesterday
    arena = await start_arena(boards=BOARDS, clock=clock, lb_cache_ttl_s=0.001)
    _, alice = await connect(arena, "alice")
    async with alice:
        await submit(alice, "global", 50)
        await submit(alice, "daily", 50)
        assert len((await alice.request("lb.top", board="daily"))["entries"]) == 1
        clock.now += 5  # 00:00:03 today
        assert (await alice.request("lb.top", board="daily"))["entries"] == []
        assert await submit(alice, "daily", 10) == {"score": 10, "rank": 1, "improved": True}
        previous = await alice.request("lb.top", board="daily", period="previous")
        assert [e["score"] for e in previous["entries"]] == [50]
        by_id = await alice.request("lb.top", board="daily", period=f"{yesterday:%Y-%m-%d}")
        assert by_id == previous
        assert await alice.request("lb.rank", board="daily", period=f"{yesterday:%Y-%m-%d}") == {
            "rank": 1,
            "score": 50,
        }
        tomorrow = today + dt.timedelta(days=1)
        with pytest.raises(ArenaError) as future:
            await alice.request("lb.top", board="daily", period=f"{tomorrow:%Y-%m-%d}")
        assert future.value.code == "BAD_REQUEST"
    # Yesterday's board expires when yesterday ends, plus 2 days of retention.
    expire_at_ms = redis_client.pexpiretime(f"arena:lb:{{daily:{yesterday:%Y-%m-%d}}}:scores")
    assert expire_at_ms == int((today + dt.timedelta(days=2)).timestamp() * 1000)
    assert redis_client.pexpiretime("arena:lb:{global:all}:scores") == -1


async def test_weekly_boards_use_iso_weeks(start_arena: StartArena) -> None:
    today = _midnight_today()
    this_monday = today - dt.timedelta(days=today.weekday())
    clock = Clock(this_monday - dt.timedelta(hours=1))  # last Sunday, 23:00
    arena = await start_arena(boards=BOARDS, clock=clock, lb_cache_ttl_s=0.001)
    _, alice = await connect(arena, "alice")
    async with alice:
        await submit(alice, "weekly", 70)
        clock.now += 2 * 3600  # Monday 01:00: a new ISO week
        assert (await alice.request("lb.top", board="weekly"))["entries"] == []
        year, week, _ = (this_monday - dt.timedelta(days=1)).isocalendar()
        last_week = await alice.request("lb.top", board="weekly", period=f"{year}-W{week:02d}")
        assert [e["score"] for e in last_week["entries"]] == [70]
        with pytest.raises(ArenaError) as bad:
            await alice.request("lb.top", board="weekly", period="2025-W53")  # 2025 has 52
        assert bad.value.code == "BAD_REQUEST"


async def test_200_concurrent_best_submits_leave_exactly_the_max(boards: str) -> None:
    player = await login(boards, "racer")
    scores = random.Random(7).sample(range(1, 100_000), 200)
    async with aiohttp.ClientSession() as http:

        async def post(score: int) -> int:
            async with http.post(
                f"{boards}/v1/leaderboards/global/scores",
                json={"player_id": player.player_id, "score": score},
                headers={"Authorization": f"Bearer {SERVER_KEY}"},
            ) as resp:
                return resp.status

        statuses = await asyncio.gather(*(post(s) for s in scores))
    assert statuses == [200] * 200
    status, body = await http_json(
        "GET", f"{boards}/v1/leaderboards/global/players/{player.player_id}"
    )
    assert status == 200
    assert body["score"] == max(scores)
    assert body["rank"] == 1


async def test_200_pipelined_submits_on_one_socket_keep_the_max(
    start_arena: StartArena,
) -> None:
    arena = await start_arena(rate_limits="lb.submit=1000/1000")
    player = await login(arena)
    client = await ArenaClient.connect(arena, player.token, fmt=Format.JSON)
    async with client:
        scores = list(range(1, 201))
        random.Random(3).shuffle(scores)
        await asyncio.gather(*(submit(client, "global", s) for s in scores))
        assert (await client.request("lb.rank", board="global"))["score"] == 200


async def test_a_new_name_shows_on_the_current_boards(boards: str) -> None:
    device = "rename-device-0001"
    player = await login(boards, "oldname", device_id=device)
    old_socket = await ArenaClient.connect(boards, player.token)
    async with old_socket:
        await submit(old_socket, "global", 42)
        renamed = await login(boards, "newname", device_id=device)
        assert renamed.player_id == player.player_id
        # A socket opened before the rename submits again: it must not undo the rename,
        # neither where the player was (global) nor where they first appear now (daily).
        await submit(old_socket, "global", 43)

        # The new name reaches the old socket through its node's command channel. Commands
        # arrive in order, so once a later command (replacing another player's socket on
        # the same node) has arrived, so has the rename.
        marker = await login(boards, "marker")
        first = await ArenaClient.connect(boards, marker.token)
        await first.request("ping")
        async with await ArenaClient.connect(boards, marker.token):
            assert await first.wait_closed() == 4001
        await first.close()
        await submit(old_socket, "daily", 5)
        daily = (await old_socket.request("lb.top", board="daily"))["entries"]
        assert daily[0]["name"] == "newname"
    async with await ArenaClient.connect(boards, renamed.token) as client:
        assert (await client.request("session.get"))["name"] == "newname"
        entries = (await client.request("lb.around", board="global", radius=0))["entries"]
        assert entries[0]["name"] == "newname"
        assert entries[0]["score"] == 43


async def test_scores_near_the_limits_read_back_exactly(boards: str) -> None:
    _, alice = await connect(boards, "alice")
    _, bob = await connect(boards, "bob")
    async with alice, bob:
        await submit(alice, "last", -SCORE_MAX)
        await submit(bob, "last", 5 * 10**15)
        top = (await alice.request("lb.top", board="last"))["entries"]
        assert [e["score"] for e in top] == [5 * 10**15, -SCORE_MAX]
