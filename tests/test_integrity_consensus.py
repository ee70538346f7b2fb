"""Consensus: players' reports decide a match's result only when everyone still in agrees,
or a majority of the roster does at the deadline; a lie, a leaver's word or an early
minority report decides nothing, on one node or two."""

from __future__ import annotations

import json
import time

import redis as redis_sync

from server.services.consensus import canonical_scores, outcome_of
from tests.conftest import SpawnNode, StartArena
from tests.helpers import eventually, http_json, start_match
from tests.integrity_helpers import (
    FAST_DECISIONS,
    LONG_WAIT_S,
    PENDING_RESULTS,
    close_all,
    make_due,
    metric,
    modes,
    refused,
)


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
