"""Who may write scores and results: server-only boards, and each mode's results policy
(consensus, server, any), lived through by real players on real servers."""

from __future__ import annotations

import json
import time
from typing import Any

import aiohttp
import pytest
import redis as redis_sync
from prometheus_client.parser import text_string_to_metric_families

from client_sim.client import ArenaClient, ArenaError
from server.boards import SCORE_MAX
from server.services.consensus import canonical_scores, outcome_of
from server.setting_errors import SettingError
from server.settings import Settings
from tests.conftest import SpawnNode, StartArena
from tests.helpers import connect, eventually, http_json, start_match

SERVER_KEY = "integrity-server-key-0123456789abcdef"
BOARDS = json.dumps(
    [
        {"id": "global", "writers": "server"},
        {"id": "daily", "period": "daily", "writers": "server"},
        {"id": "casual"},
    ]
)
# Due decisions are checked often. Waits are long (a loaded box never passes a deadline
# between two reports); a test makes a decision due on purpose with make_due.
FAST_DECISIONS = {"presence_interval_s": 0.1, "presence_ttl_s": 2.0}
LONG_WAIT_S = 3600
PENDING_RESULTS = "arena:matches:pending-results"


def make_due(redis_client: redis_sync.Redis, match_id: str) -> None:
    """The match's consensus wait is over now (as if result_wait_s had passed)."""
    assert redis_client.zscore(PENDING_RESULTS, match_id) is not None  # a report came
    redis_client.zadd(PENDING_RESULTS, {match_id: int(time.time() * 1000)})


def modes(**definitions: dict[str, object]) -> str:
    return json.dumps(definitions)


async def close_all(clients: list[ArenaClient]) -> None:
    for client in clients:
        await client.close()


async def refused(client: ArenaClient, op: str, **fields: Any) -> str:
    with pytest.raises(ArenaError) as error:
        await client.request(op, **fields)
    return error.value.code


async def metric(base_url: str, name: str) -> float:
    async with aiohttp.ClientSession() as http, http.get(base_url + "/metrics") as resp:
        text = await resp.text()
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            if sample.name == name:
                return float(sample.value)
    raise AssertionError(f"no metric {name}")


# --- boards only the server writes ------------------------------------------------------


async def test_a_player_cannot_submit_to_a_server_board_but_the_server_key_route_can(
    start_arena: StartArena,
) -> None:
    arena = await start_arena(boards=BOARDS, server_key=SERVER_KEY)
    alice, client = await connect(arena, "alice")
    async with client:
        boards = {b["id"]: b["writers"] for b in (await client.request("lb.boards"))["boards"]}
        assert boards == {"global": "server", "daily": "server", "casual": "players"}
        # The outside review's attack: 2^53-1 to rank 1.
        code = await refused(client, "lb.submit", board="global", score=SCORE_MAX)
        assert code == "FORBIDDEN"
        assert (await client.request("lb.top", board="global"))["entries"] == []
        assert await refused(client, "lb.rank", board="global") == "NOT_RANKED"
        # A players' board still takes a player's score (the quick start's way).
        assert (await client.request("lb.submit", board="casual", score=5))["rank"] == 1

        url = f"{arena}/v1/leaderboards/global/scores"
        body = {"player_id": alice.player_id, "score": 1200}
        assert (await http_json("POST", url, token=SERVER_KEY, json=body))[0] == 200
        assert await client.request("lb.rank", board="global") == {"rank": 1, "score": 1200}


# --- consensus ---------------------------------------------------------------------------


async def test_a_losers_lie_cannot_end_the_match_and_no_majority_ends_it_disputed_on_two_nodes(
    spawn_node: SpawnNode, redis_client: redis_sync.Redis
) -> None:
    env = {
        "ARENA_MODES": modes(duel={"capacity": 2, "result_wait_s": LONG_WAIT_S}),
        "ARENA_PRESENCE_INTERVAL": "0.1",
        "ARENA_PRESENCE_TTL": "2",
    }
    a, b = spawn_node(**env), spawn_node(**env)  # a result worker in each
    match_id, clients, players = await start_match([a.url, b.url], 2, mode="duel")
    winner, loser = clients
    truth = {players[0].player_id: 10, players[1].player_id: 3}
    lie = {players[0].player_id: -9_000_000_000_000_000, players[1].player_id: 100}
    try:
        reply = await loser.request("match.result", match_id=match_id, scores=lie)
        assert reply == {"match_id": match_id, "state": "running", "reported": True}
        current = (await winner.request("match.current"))["match"]
        assert current["state"] == "running"  # the lie alone ended nothing
        reply = await winner.request("match.result", match_id=match_id, scores=truth)
        assert reply["state"] == "running"  # two reports that disagree

        # After the wait, one of the two nodes decides: 1 of 2 is no majority.
        make_due(redis_client, match_id)
        for client in clients:
            ended = await client.next_push("match.ended", timeout=10)
            assert (ended["disputed"], ended["scores"], ended["by"]) == (True, {}, "disputed")
        assert await refused(winner, "lb.rank", board="global") == "NOT_RANKED"
        assert (await winner.request("lb.top", board="global"))["entries"] == []
        feed = (await winner.request("match.feed", match_id=match_id))["events"]
        assert [e["ev"] for e in feed].count("match.ended") == 1  # decided once
        assert (await winner.request("stats.get"))["disputed"] == 1
        assert (await http_json("GET", b.url + "/v1/stats"))[1]["disputed"] == 1
        assert await metric(a.url, "arena_matches_disputed_total") == 1
        code = await refused(winner, "match.result", match_id=match_id, scores=truth)
        assert code == "MATCH_ENDED"
    finally:
        await close_all(clients)


async def test_everyone_agreeing_ends_the_match_and_a_second_report_replaces_the_first(
    start_arena: StartArena, redis_client: redis_sync.Redis
) -> None:
    # An 'incr' board: a result counted twice would show.
    total = json.dumps([{"id": "global", "operator": "incr"}, {"id": "daily"}])
    arena = await start_arena(workers=1, boards=total)
    match_id, clients, players = await start_match([arena], 3)
    first, second, third = clients
    agreed = {p.player_id: 10 * i for i, p in enumerate(players)}
    mistaken = {players[0].player_id: 99}
    try:
        assert (await first.request("match.result", match_id=match_id, scores=mistaken))[
            "state"
        ] == "running"
        await second.request("match.result", match_id=match_id, scores=agreed)
        assert (await third.request("match.result", match_id=match_id, scores=agreed))[
            "state"
        ] == "running"  # the first player's report still differs
        reply = await first.request("match.result", match_id=match_id, scores=agreed)
        assert reply["state"] == "ended"  # their new report replaced the old one
        ended = await second.next_push("match.ended")
        assert (ended["scores"], ended["by"]) == (agreed, "consensus")

        await third.next_push("notify", timeout=10)  # the worker applied it

        async def queue_empty() -> bool:
            _, stats = await http_json("GET", arena + "/v1/stats")
            return bool(stats["queues"]["results"] == {"ready": 0, "taken": 0, "dead": 0})

        await eventually(queue_empty, within_s=5)
        rank = await third.request("lb.rank", board="global")
        assert rank == {"rank": 1, "score": 20}
        assert len((await third.request("notify.list"))["notes"]) == 1
        assert redis_client.exists(f"arena:{{match:{match_id}}}:reports") == 0
    finally:
        await close_all(clients)


async def test_after_the_wait_a_majority_of_the_roster_decides(
    start_arena: StartArena, redis_client: redis_sync.Redis
) -> None:
    arena = await start_arena(
        workers=1, modes=modes(trio={"capacity": 3, "result_wait_s": LONG_WAIT_S}), **FAST_DECISIONS
    )
    match_id, clients, players = await start_match([arena], 3, mode="trio")
    majority = {p.player_id: 5 + i for i, p in enumerate(players)}
    dissent = {players[2].player_id: 1000}
    try:
        await clients[0].request("match.result", match_id=match_id, scores=majority)
        await clients[1].request("match.result", match_id=match_id, scores=majority)
        reply = await clients[2].request("match.result", match_id=match_id, scores=dissent)
        assert reply["state"] == "running"  # no decision before the wait is over
        make_due(redis_client, match_id)
        for client in clients:
            ended = await client.next_push("match.ended", timeout=10)
            assert (ended["scores"], ended["by"]) == (majority, "majority")
            assert "disputed" not in ended
        await clients[2].next_push("notify", timeout=10)
        assert (await clients[2].request("lb.rank", board="global"))["score"] == 7
        assert (await clients[0].request("stats.get"))["disputed"] == 0
    finally:
        await close_all(clients)


async def test_a_decided_result_whose_job_was_lost_is_queued_again_at_the_deadline(
    start_arena: StartArena, redis_client: redis_sync.Redis
) -> None:
    # No worker yet: the decided match's job waits in the queue, where we lose it.
    trio = modes(trio={"capacity": 3, "result_wait_s": LONG_WAIT_S})
    arena = await start_arena(modes=trio, **FAST_DECISIONS)
    match_id, clients, players = await start_match([arena], 3, mode="trio")
    scores = {p.player_id: 2 + i for i, p in enumerate(players)}
    try:
        for client in clients:
            await client.request("match.result", match_id=match_id, scores=scores)
        await clients[0].next_push("match.ended")
        # What Redis holds when the deciding node died after the decision and before
        # queueing the job: the match ended with its result, its deadline still pending.
        assert redis_client.delete("arena:queue:{results}:ready") == 1
        due_ms = int(time.time() * 1000)
        redis_client.zadd("arena:matches:pending-results", {match_id: due_ms})

        await start_arena(modes=trio, workers=1, **FAST_DECISIONS)  # a node with a worker
        note = await clients[2].next_push("notify", timeout=10)
        assert (note["data"]["match_id"], note["data"]["score"]) == (match_id, 4)
        assert redis_client.zscore("arena:matches:pending-results", match_id) is None
    finally:
        await close_all(clients)


async def test_when_a_player_leaves_those_still_in_the_match_may_all_agree(
    start_arena: StartArena,
) -> None:
    arena = await start_arena(modes=modes(trio={"capacity": 3, "result_wait_s": 3600}))
    match_id, clients, players = await start_match([arena], 3, mode="trio")
    scores = {players[0].player_id: 3, players[1].player_id: 1}
    try:
        await clients[0].request("match.result", match_id=match_id, scores=scores)
        await clients[1].request("match.result", match_id=match_id, scores=scores)
        await clients[2].request("match.leave", match_id=match_id)
        ended = await clients[0].next_push("match.ended")
        assert (ended["scores"], ended["by"]) == (scores, "consensus")
    finally:
        await close_all(clients)


async def test_the_last_player_left_cannot_decide_the_result_alone(
    start_arena: StartArena, redis_client: redis_sync.Redis
) -> None:
    # The reviewer's duel: the winner reports the truth and leaves; the loser then lies.
    duel = modes(duel={"capacity": 2, "result_wait_s": LONG_WAIT_S})
    arena = await start_arena(workers=1, modes=duel, **FAST_DECISIONS)
    match_id, clients, players = await start_match([arena], 2, mode="duel")
    winner, loser = clients
    truth = {players[0].player_id: 10, players[1].player_id: 3}
    lie = {players[0].player_id: 0, players[1].player_id: 100}
    try:
        await winner.request("match.result", match_id=match_id, scores=truth)
        await winner.request("match.leave", match_id=match_id)
        reply = await loser.request("match.result", match_id=match_id, scores=lie)
        assert reply["state"] == "running"  # the lie alone ends nothing
        current = (await loser.request("match.current"))["match"]
        assert current["state"] == "running"

        # At the deadline: one report of two rosters each is no majority.
        make_due(redis_client, match_id)
        ended = await loser.next_push("match.ended", timeout=10)
        assert (ended["disputed"], ended["scores"], ended["by"]) == (True, {}, "disputed")
        assert await refused(loser, "lb.rank", board="global") == "NOT_RANKED"
    finally:
        await close_all(clients)


async def test_a_leavers_report_agreeing_with_those_still_in_ends_the_match(
    start_arena: StartArena,
) -> None:
    arena = await start_arena(modes=modes(duel={"capacity": 2, "result_wait_s": LONG_WAIT_S}))
    match_id, clients, players = await start_match([arena], 2, mode="duel")
    winner, loser = clients
    truth = {players[0].player_id: 10, players[1].player_id: 3}
    try:
        await winner.request("match.result", match_id=match_id, scores=truth)
        await winner.request("match.leave", match_id=match_id)
        reply = await loser.request("match.result", match_id=match_id, scores=truth)
        assert reply["state"] == "ended"
        ended = await loser.next_push("match.ended")
        assert (ended["scores"], ended["by"]) == (truth, "consensus")
    finally:
        await close_all(clients)


def test_a_majority_is_more_than_half_of_the_roster_and_everyone_means_at_least_one() -> None:
    x, y = canonical_scores({"a": 1}, ["a", "b"]), canonical_scores({"a": 2}, ["a", "b"])
    # Two against two of four: no majority.
    tie = {"a": x, "b": x, "c": y, "d": y}
    assert outcome_of(tie, {"a", "b", "c", "d"}, 4) == ("disputed", b"")
    assert outcome_of({**tie, "d": x}, {"a", "b", "c", "d"}, 4) == ("majority", x)
    # Those still in the match agree, but c and d reported other scores and left: their
    # reports still count, so nothing ends at once, and 2 of 4 is no majority.
    assert outcome_of(tie, {"a", "b"}, 4) == ("disputed", b"")
    # Leavers who reported the same scores, or nothing, do not stand in the way.
    assert outcome_of({"a": x, "b": x, "c": x}, {"a", "b"}, 4) == ("consensus", x)
    assert outcome_of({"a": x, "b": x}, {"a", "b"}, 4) == ("consensus", x)
    # The duel: the winner reported and left; the last one in lies.
    assert outcome_of({"a": x, "b": y}, {"b"}, 2) == ("disputed", b"")
    # Everyone left: one report from a leaver is neither everyone nor a majority.
    assert outcome_of({"a": x}, set(), 2) == ("disputed", b"")
    # The same scores in another order are the same report.
    assert canonical_scores({"b": 1, "a": 2}, ["a", "b"]) == canonical_scores(
        {"a": 2, "b": 1}, ["a", "b"]
    )


# --- server and any ------------------------------------------------------------------------


async def test_a_server_mode_refuses_players_results_and_takes_the_servers(
    start_arena: StartArena,
) -> None:
    arena = await start_arena(server_key=SERVER_KEY, modes=modes(ranked={"results": "server"}))
    match_id, clients, players = await start_match([arena], 2, mode="ranked")
    scores = {players[0].player_id: 4, players[1].player_id: 2}
    try:
        for client in clients:
            code = await refused(client, "match.result", match_id=match_id, scores=scores)
            assert code == "FORBIDDEN"
        url = f"{arena}/v1/matches/{match_id}/result"
        status, body = await http_json("POST", url, token=SERVER_KEY, json={"scores": scores})
        assert (status, body) == (200, {"match_id": match_id, "state": "ended"})
        ended = await clients[1].next_push("match.ended")
        assert (ended["scores"], ended["by"]) == (scores, "server")
    finally:
        await close_all(clients)


async def test_the_server_key_route_ends_a_consensus_match_whatever_was_reported(
    start_arena: StartArena,
) -> None:
    arena = await start_arena(server_key=SERVER_KEY)
    match_id, clients, players = await start_match([arena], 2)
    scores = {players[0].player_id: 8, players[1].player_id: 6}
    try:
        lie = {players[1].player_id: 1000}
        await clients[1].request("match.result", match_id=match_id, scores=lie)
        url = f"{arena}/v1/matches/{match_id}/result"
        assert (await http_json("POST", url, token=SERVER_KEY, json={"scores": scores}))[0] == 200
        ended = await clients[0].next_push("match.ended")
        assert (ended["scores"], ended["by"]) == (scores, "server")
    finally:
        await close_all(clients)


async def test_an_any_mode_takes_the_first_report(start_arena: StartArena) -> None:
    arena = await start_arena(modes=modes(casual={"results": "any"}))
    match_id, clients, players = await start_match([arena], 2, mode="casual")
    first = {players[0].player_id: 1, players[1].player_id: 0}
    try:
        reply = await clients[1].request("match.result", match_id=match_id, scores=first)
        assert reply == {"match_id": match_id, "state": "ended", "reported": True}
        ended = await clients[0].next_push("match.ended")
        assert (ended["scores"], ended["by"]) == (first, players[1].player_id)
        other = {players[0].player_id: 50}
        code = await refused(clients[0], "match.result", match_id=match_id, scores=other)
        assert code == "MATCH_ENDED"
    finally:
        await close_all(clients)


# --- modes shape lobbies and where results go -------------------------------------------


async def test_a_duel_quick_join_makes_two_seats_and_starts_when_the_second_joins(
    start_arena: StartArena,
) -> None:
    arena = await start_arena(modes=modes(duel={"capacity": 2, "start_when_full": True}))
    _, alice = await connect(arena, "alice")
    _, bob = await connect(arena, "bob")
    _, carol = await connect(arena, "carol")
    try:
        lobby = (await alice.request("lobby.quickjoin", mode="duel"))["lobby"]
        assert lobby["capacity"] == 2
        joined = (await bob.request("lobby.quickjoin", mode="duel"))["lobby"]
        assert joined["lobby_id"] == lobby["lobby_id"]
        # Nobody pressed ready: the full lobby started its match.
        started = [await c.next_push("match.started") for c in (alice, bob)]
        assert started[0]["match_id"] == started[1]["match_id"]
        assert started[0]["mode"] == "duel"
        # Unlisted modes keep the default 8 seats; a lobby asks for at most its mode's.
        ffa = (await carol.request("lobby.create", mode="ffa"))["lobby"]
        assert ffa["capacity"] == 8
        await carol.request("lobby.leave")
        code = await refused(carol, "lobby.create", mode="duel", capacity=3)
        assert code == "BAD_REQUEST"
        assert (await carol.request("lobby.create", mode="ffa", capacity=3))["lobby"][
            "capacity"
        ] == 3
    finally:
        await close_all([alice, bob, carol])


async def test_the_results_worker_writes_the_boards_of_the_matchs_mode(
    start_arena: StartArena,
) -> None:
    boards = json.dumps([{"id": "global"}, {"id": "daily", "period": "daily"}, {"id": "duels"}])
    arena = await start_arena(
        workers=1, boards=boards, modes=modes(duel={"capacity": 2, "boards": ["duels"]})
    )
    match_id, clients, players = await start_match([arena], 2, mode="duel")
    scores = {players[0].player_id: 12, players[1].player_id: 4}
    try:
        for client in clients:
            await client.request("match.result", match_id=match_id, scores=scores)
        note = await clients[0].next_push("notify", timeout=10)
        assert set(note["data"]["boards"]) == {"duels"}
        assert (await clients[0].request("lb.rank", board="duels"))["score"] == 12
        assert await refused(clients[0], "lb.rank", board="global") == "NOT_RANKED"
    finally:
        await close_all(clients)


# --- the setting --------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("raw", "says"),
    [
        (
            '{"duel": {"results": "majority"}}',
            "mode 'duel': results must be consensus, server or any",
        ),
        ('{"duel": {"capacity": 1}}', "mode 'duel': capacity must be an integer 2..64"),
        ('{"duel": {"capacity": true}}', "mode 'duel': capacity"),
        ('{"duel": {"start_when_full": "yes"}}', "mode 'duel': start_when_full must be true"),
        ('{"duel": {"result_wait_s": 0}}', "mode 'duel': result_wait_s must be a number"),
        ('{"duel": {"result_wait_s": 4000}}', "mode 'duel': result_wait_s"),
        (
            '{"duel": {"boards": ["weekly"]}}',
            "mode 'duel': boards must be ids of boards",
        ),
        ('{"duel": {"seats": 2}}', "mode 'duel': fields must be boards, capacity"),
        ('{"Duel Mode": {}}', "mode names must be 1 to 32 of a-z, 0-9, _ and -"),
        ('{"duel": 2}', "mode 'duel' must be a JSON object, got 2"),
        ('["duel"]', "must be a JSON object of mode name"),
        ("{duel", "not valid JSON"),
        ("@/no/such/modes.json", "readable JSON file, got '@/no/such/modes.json'"),
    ],
)
def test_a_bad_arena_modes_is_refused_in_one_line(raw: str, says: str) -> None:
    with pytest.raises(SettingError, match=r"^ARENA_MODES[: ]") as error:
        Settings.from_env({"ARENA_MODES": raw})
    message = str(error.value)
    assert error.value.env == "ARENA_MODES"
    assert says in message
    assert "\n" not in message


def test_a_mode_taking_any_report_may_not_feed_a_board_only_the_server_writes() -> None:
    env = {"ARENA_BOARDS": BOARDS, "ARENA_MODES": modes(casual={"results": "any"})}
    # casual feeds the default global and daily, both server boards here.
    with pytest.raises(SettingError) as error:
        Settings.from_env(env)
    assert str(error.value) == (
        "ARENA_MODES: mode 'casual': results must be consensus or server while it feeds "
        "'global', a board whose writers is server (any would let every player write it), "
        "got 'any'"
    )
    star = {"ARENA_BOARDS": BOARDS, "ARENA_MODES": json.dumps({"*": {"results": "any"}})}
    with pytest.raises(SettingError, match=r"^ARENA_MODES: mode '\*': results"):
        Settings.from_env(star)
    # The same mode feeding only a players' board is allowed.
    allowed = modes(casual={"results": "any", "boards": ["casual"]})
    book = Settings.from_env({"ARENA_BOARDS": BOARDS, "ARENA_MODES": allowed}).mode_book()
    assert book.spec_for("casual").results == "any"


def test_arena_modes_reads_a_file_and_its_star_entry(tmp_path: object) -> None:
    path = f"{tmp_path}/modes.json"
    with open(path, "w") as file:
        json.dump({"*": {"capacity": 4, "results": "server"}, "duel": {"capacity": 2}}, file)
    book = Settings.from_env({"ARENA_MODES": "@" + path}).mode_book()
    assert (book.spec_for("ffa").capacity, book.spec_for("ffa").results) == (4, "server")
    duel = book.spec_for("duel")
    assert (duel.capacity, duel.results, duel.result_wait_s, duel.boards) == (
        2,
        "consensus",
        15.0,
        ("global", "daily"),
    )


def test_own_boards_without_global_need_a_star_entry_and_are_told_so() -> None:
    with pytest.raises(SettingError, match="ARENA_MODES") as error:
        Settings.from_env({"ARENA_BOARDS": '[{"id": "total"}]'})
    assert str(error.value) == (
        """ARENA_MODES must be a JSON object with a "*" entry naming the boards modes not """
        """listed feed, e.g. {"*": {"boards": ["total"]}} (by default they feed global, """
        "daily, and ARENA_BOARDS does not define 'global')"
    )
    book = Settings.from_env(
        {"ARENA_BOARDS": '[{"id": "total"}]', "ARENA_MODES": '{"*": {"boards": ["total"]}}'}
    ).mode_book()
    assert book.spec_for("any-mode").boards == ("total",)


def test_a_board_with_unknown_writers_is_refused_in_one_line() -> None:
    with pytest.raises(ValueError, match="writers") as error:
        Settings.from_env({"ARENA_BOARDS": '[{"id": "global", "writers": "admins"}]'})
    assert str(error.value) == (
        "ARENA_BOARDS: board 'global': writers must be players or server, got 'admins'"
    )


async def test_an_early_report_from_a_minority_ends_nothing_and_play_goes_on(
    start_arena: StartArena, redis_client: redis_sync.Redis
) -> None:
    # The attacker's grief: one player of four reports at once, to force a dispute.
    squad = modes(squad={"capacity": 4, "result_wait_s": LONG_WAIT_S})
    arena = await start_arena(workers=1, modes=squad, **FAST_DECISIONS)
    match_id, clients, players = await start_match([arena], 4, mode="squad")
    ids = [p.player_id for p in players]
    truth = {ids[0]: 30, ids[1]: 20, ids[2]: 10, ids[3]: 0}

    async def deadline_handled() -> bool:
        return redis_client.zscore(PENDING_RESULTS, match_id) is None

    try:
        await clients[3].request("match.result", match_id=match_id, scores={ids[3]: 99})
        make_due(redis_client, match_id)
        await eventually(deadline_handled, within_s=10)
        # Nothing ended: the match plays on, and the next report starts a new wait.
        sent = await clients[0].request("match.send", match_id=match_id, type="move", data={})
        assert sent["id"]
        assert (await clients[0].request("match.current"))["match"]["state"] == "running"
        await clients[1].request("match.result", match_id=match_id, scores=truth)
        assert redis_client.zscore(PENDING_RESULTS, match_id) is not None
        # Two reports of four that disagree are no majority either.
        make_due(redis_client, match_id)
        await eventually(deadline_handled, within_s=10)
        for client in clients:
            await client.request("match.result", match_id=match_id, scores=truth)
        ended = await clients[0].next_push("match.ended", timeout=10)
        assert (ended["scores"], ended["by"]) == (truth, "consensus")
        assert (await clients[0].request("stats.get"))["disputed"] == 0
    finally:
        await close_all(clients)
