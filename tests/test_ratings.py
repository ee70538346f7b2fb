"""Ratings: a finished match moves its players' ratings once (teams and free-for-all),
never a disputed or abandoned one; the mode's rating board shows the current ratings."""

from __future__ import annotations

import json
import time

import msgpack
import pytest
import redis as redis_sync

from client_sim.client import ArenaClient
from server.embedded_redis import RedisProcess
from server.services.rating_model import Rating
from server.storage.clients import open_mux, open_redis
from tests.conftest import StartArena, settings_for_test
from tests.helpers import (
    eventually,
    every_key,
    login,
    new_device,
    report_all,
    services_of,
    start_match,
)
from tests.integrity_helpers import LONG_WAIT_S, close_all, make_due, refused
from tests.test_results_queue import redo_result_job

MODES = json.dumps(
    {
        "duel": {"capacity": 2, "result_wait_s": LONG_WAIT_S},
        "squads": {"capacity": 4},
    }
)
# Quick upkeep: a dispute is decided, and a match everyone left is abandoned, within seconds.
QUICK = {"match_abandon_s": 1.0, "presence_interval_s": 0.1, "presence_ttl_s": 2.0}


async def rating(client: ArenaClient, mode: str = "duel") -> Rating:
    got = await client.request("rating.get", mode=mode)
    return Rating(got["mu"], got["sigma"], got["games"])


async def rematch(clients: list[ArenaClient], mode: str) -> str:
    """The same players play another match of the mode, through a lobby."""
    owner = clients[0]
    lobby = (await owner.request("lobby.create", mode=mode, capacity=len(clients)))["lobby"]
    for client in clients[1:]:
        await client.request("lobby.join", lobby_id=lobby["lobby_id"])
    for client in clients:
        await client.request("lobby.ready", ready=True)
    started = {str((await client.next_push("match.started"))["match_id"]) for client in clients}
    assert len(started) == 1
    return started.pop()


async def finish(
    clients: list[ArenaClient], match_id: str, scores: dict[str, int], mode: str = "duel"
) -> None:
    """Everyone reports the scores; returns once the worker applied them (each player's
    result note comes after the ratings moved, and tells the new rating)."""
    await report_all(clients, match_id, scores)
    for client in clients:
        note = (await client.next_push("notify", timeout=10))["data"]
        assert note["match_id"] == match_id
        assert note["rating"] == await client.request("rating.get", mode=mode)


async def test_a_win_moves_the_winner_up_and_the_loser_down_and_the_board_shows_it(
    start_arena: StartArena,
) -> None:
    arena = await start_arena(workers=1, modes=MODES)
    match_id, clients, players = await start_match([arena], 2, mode="duel")
    winner, loser = clients
    win_id, lose_id = players[0].player_id, players[1].player_id
    try:
        fresh = await winner.request("rating.get", mode="duel")
        assert fresh == {"mu": 1500.0, "sigma": 500.0, "display": 0, "games": 0}
        await finish(clients, match_id, {win_id: 3, lose_id: 1})
        up, down = await rating(winner), await rating(loser)
        assert up.mu > 1500 > down.mu
        assert up.sigma < 500
        assert down.sigma < 500
        assert (up.games, down.games) == (1, 1)
        assert await rating(winner, "squads") == Rating()  # one rating per mode

        board = (await winner.request("lb.top", board="ratings:duel"))["entries"]
        assert [(e["player_id"], e["score"]) for e in board] == [
            (win_id, up.display),
            (lose_id, down.display),
        ]
        boards = {b["id"]: b for b in (await loser.request("lb.boards"))["boards"]}
        assert boards["ratings:duel"] == {
            **boards["ratings:duel"],
            "operator": "latest",
            "writers": "server",
            "order": "desc",
        }
        assert await refused(winner, "lb.submit", board="ratings:duel", score=9999) == "FORBIDDEN"

        # The loser wins the rematch: the board takes the current ratings, not the best.
        again = await rematch(clients, "duel")
        await finish(clients, again, {win_id: 0, lose_id: 2})
        after_up, after_down = await rating(winner), await rating(loser)
        assert after_up.mu < up.mu
        assert after_down.mu > down.mu
        assert (after_up.games, after_down.games) == (2, 2)
        rank = await winner.request("lb.rank", board="ratings:duel")
        assert rank["score"] == after_up.display
        rank = await loser.request("lb.rank", board="ratings:duel")
        assert rank["score"] == after_down.display
    finally:
        await close_all(clients)


async def test_the_same_result_applied_twice_moves_nothing(
    start_arena: StartArena, redis_client: redis_sync.Redis
) -> None:
    arena = await start_arena(workers=1, modes=MODES)
    match_id, clients, players = await start_match([arena], 2, mode="duel")
    try:
        await finish(clients, match_id, {players[0].player_id: 1, players[1].player_id: 0})
        once = [await rating(client) for client in clients]
        # The job redone, as after a worker that rated the match and died before its ack.
        await redo_result_job(redis_client, match_id)
        for client, rated in zip(clients, once, strict=True):
            again = await client.next_push("notify", timeout=10)  # at least once
            assert again["data"]["rating"] == rated.as_wire()
        assert [await rating(client) for client in clients] == once
        board = (await clients[0].request("lb.top", board="ratings:duel"))["entries"]
        assert [e["score"] for e in board] == [r.display for r in once]
    finally:
        await close_all(clients)


async def test_a_team_match_rates_each_team_by_its_total(
    start_arena: StartArena, redis_client: redis_sync.Redis
) -> None:
    arena = await start_arena(workers=1, modes=MODES)
    match_id, clients, players = await start_match([arena], 4, mode="squads")
    ids = [p.player_id for p in players]
    # As the matchmaker will record them: p0 and p1 against p2 and p3.
    teams = [[ids[0], ids[1]], [ids[2], ids[3]]]
    redis_client.hset(f"arena:{{match:{match_id}}}:state", "teams", msgpack.packb(teams))
    try:
        # p0 scores most, but p2 and p3 (3 + 3) beat p0 and p1 (5 + 0).
        await finish(clients, match_id, {ids[0]: 5, ids[1]: 0, ids[2]: 3, ids[3]: 3}, "squads")
        after = [await rating(client, "squads") for client in clients]
        assert after[0].mu < 1500
        assert after[1].mu < 1500
        assert after[2].mu > 1500
        assert after[3].mu > 1500
        assert after[0] == after[1]
        assert after[2] == after[3]
        assert {r.games for r in after} == {1}
    finally:
        await close_all(clients)


async def test_a_disputed_or_abandoned_match_moves_nothing(
    start_arena: StartArena, redis_client: redis_sync.Redis, redis_server: RedisProcess
) -> None:
    arena = await start_arena(workers=1, modes=MODES, **QUICK)
    disputed_id, disputed, disputers = await start_match([arena], 2, mode="duel")
    abandoned_id, abandoning, _ = await start_match([arena], 2, mode="duel")
    a, b = (p.player_id for p in disputers)
    await disputed[0].request("match.result", match_id=disputed_id, scores={a: 5, b: 0})
    await disputed[1].request("match.result", match_id=disputed_id, scores={a: 0, b: 5})
    make_due(redis_client, disputed_id)
    for client in disputed:
        assert (await client.next_push("match.ended", timeout=10))["disputed"] is True
    await close_all(abandoning)  # everyone leaves: the match ends abandoned

    async def abandoned() -> bool:
        state = f"arena:{{match:{abandoned_id}}}:state"
        return redis_client.hget(state, "ended_by") == b"abandoned"

    await eventually(abandoned, within_s=10)
    # Whatever job may come for them (a stray or redone one), neither rates anyone.
    settings = settings_for_test(redis_url=redis_server.url, modes=MODES)
    mux = open_mux(redis_server.url, timeout_s=settings.redis_timeout_s)
    blocking = open_redis(redis_server.url, pool_size=1, timeout_s=settings.redis_timeout_s)
    services = services_of(settings, mux, time.time, blocking)
    try:
        for match_id in (disputed_id, abandoned_id):
            await services.results.apply(match_id, f"again-{match_id}")
            match = await services.matches.read(match_id)
            assert match is not None
            assert match.state == "ended"
            assert not match.result
            roster = await services.ratings.ratings_of(match.roster, "duel")
            assert set(roster.values()) == {Rating()}
        assert every_key(redis_client, "arena:lb:{ratings:duel:all}:*") == []
        assert (await disputed[0].request("lb.top", board="ratings:duel"))["entries"] == []
    finally:
        await close_all(disputed)
        await mux.aclose()
        await blocking.aclose()


async def test_a_renamed_player_shows_the_new_name_on_a_named_modes_rating_board(
    start_arena: StartArena,
) -> None:
    arena = await start_arena(workers=1, modes=MODES)
    device = new_device()
    players = [await login(arena, "before", device_id=device), await login(arena, "other")]
    clients = [await ArenaClient.connect(arena, p.token) for p in players]
    renamed_id, other_id = (p.player_id for p in players)
    try:
        match_id = await rematch(clients, "duel")
        await finish(clients, match_id, {renamed_id: 1, other_id: 0})
        assert (await login(arena, "after", device_id=device)).player_id == renamed_id
        # lb.around is read uncached: the name is the one the board holds now.
        around = await clients[1].request("lb.around", board="ratings:duel")
        assert {e["player_id"]: e["name"] for e in around["entries"]} == {
            renamed_id: "after",
            other_id: "other",
        }
    finally:
        await close_all(clients)


async def test_rating_get_refuses_a_malformed_mode(arena: str) -> None:
    _, clients, _ = await start_match([arena], 2)
    try:
        for mode in ("", "Duel", "no spaces", "x" * 33, "ratings:duel"):
            assert await refused(clients[0], "rating.get", mode=mode) == "BAD_REQUEST"
        assert await refused(clients[0], "rating.get") == "BAD_REQUEST"
        assert await refused(clients[0], "rating.get", mode=7) == "BAD_REQUEST"
        # A mode no match of which was rated yet: everyone is new there.
        assert await rating(clients[0], "never-played") == Rating()
        code = await refused(clients[0], "lb.rank", board="ratings:never-played")
        assert code == "NOT_RANKED"
        assert await refused(clients[0], "lb.top", board="ratings:Bad") == "UNKNOWN_BOARD"
    finally:
        await close_all(clients)


async def test_reading_made_up_modes_rating_boards_leaves_nothing_in_redis(
    arena: str, redis_client: redis_sync.Redis
) -> None:
    _, clients, _ = await start_match([arena], 2)
    try:
        for i in range(20):
            board = f"ratings:made-up-{i}"
            assert (await clients[0].request("lb.top", board=board))["entries"] == []
            assert await refused(clients[0], "lb.around", board=board) == "NOT_RANKED"
            assert await refused(clients[0], "lb.rank", board=board) == "NOT_RANKED"
        assert every_key(redis_client, "arena:cache:{lb_top:ratings:*") == []
        assert every_key(redis_client, "arena:lb:{ratings:*") == []
    finally:
        await close_all(clients)


@pytest.mark.parametrize(
    ("board", "code"),
    [
        ("ratings:", "UNKNOWN_BOARD"),
        ("ratings:-x", "UNKNOWN_BOARD"),
        ("ratings:" + "x" * 33, "BAD_REQUEST"),  # past the 40 characters a board id has
    ],
)
async def test_a_rating_board_needs_a_well_formed_mode(arena: str, board: str, code: str) -> None:
    _, clients, _ = await start_match([arena], 2)
    try:
        assert await refused(clients[0], "lb.top", board=board) == code
    finally:
        await close_all(clients)
