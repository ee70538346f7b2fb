"""A match as its players live it on one node: events, the feed, leaving, the result."""

from __future__ import annotations

import asyncio
from typing import Any

import msgpack
import pytest
import redis as redis_sync

from client_sim.client import ArenaClient, ArenaError
from tests.conftest import StartArena
from tests.helpers import eventually, http_json, start_match


async def events_of(
    client: ArenaClient, count: int, *, timeout: float = 5.0
) -> list[dict[str, Any]]:
    return [await client.next_push("match.event", timeout=timeout) for _ in range(count)]


def drain(client: ArenaClient) -> list[dict[str, Any]]:
    """The pushes the client has received and not read yet."""
    pushes = []
    while not client.pushes.empty():
        pushes.append(client.pushes.get_nowait())
    return pushes


async def close_all(clients: list[ArenaClient]) -> None:
    for client in clients:
        await client.close()


async def test_an_event_reaches_every_player_the_sender_included(arena: str) -> None:
    match_id, clients, players = await start_match([arena], 3)
    alice = clients[0]
    try:
        # Fire-and-forget: no reply; the sender's own echo is its acknowledgement.
        await alice.send("match.send", match_id=match_id, type="move", data={"x": 1, "y": 2})
        pushes = [await client.next_push("match.event") for client in clients]
        assert {p["id"] for p in pushes} == {pushes[0]["id"]}
        first = pushes[0]
        assert first["from"] == players[0].player_id
        assert (first["match_id"], first["type"], first["data"]) == (
            match_id,
            "move",
            {"x": 1, "y": 2},
        )
        assert isinstance(first["ts"], int)
        # With a rid, the reply carries the feed id; the feed holds both events, in order.
        reply = await clients[1].request("match.send", match_id=match_id, type="shoot", data=None)
        feed = (await clients[2].request("match.feed", match_id=match_id))["events"]
        assert [e["id"] for e in feed] == [first["id"], reply["id"]]
        assert feed[0] == first  # the feed's entries are the pushes, byte for byte
        assert alice.errors.empty()
    finally:
        await close_all(clients)


async def test_json_clients_get_the_same_events(arena: str) -> None:
    match_id, clients, _ = await start_match([arena], 2)
    try:
        clients[1].format = clients[1].format.JSON  # the client speaks JSON from now on
        await clients[1].request("ping")
        await clients[0].send("match.send", match_id=match_id, type="move", data={"k": [1, "two"]})
        pushed = await clients[1].next_push("match.event")
        assert pushed["data"] == {"k": [1, "two"]}
        feed = (await clients[1].request("match.feed", match_id=match_id))["events"]
        assert feed == [pushed]
    finally:
        await close_all(clients)


async def test_outsiders_and_bad_events_get_clear_errors(arena: str) -> None:
    match_id, clients, _ = await start_match([arena], 2)
    _other_id, others, _ = await start_match([arena], 2)
    player, outsider = clients[0], others[0]
    try:
        cases: list[tuple[ArenaClient, str, dict[str, Any], str]] = [
            (outsider, "match.send", {"match_id": match_id, "type": "move"}, "NOT_IN_MATCH"),
            (outsider, "match.feed", {"match_id": match_id}, "NOT_IN_MATCH"),
            (player, "match.send", {"match_id": "f" * 16, "type": "move"}, "NOT_IN_MATCH"),
            (player, "match.send", {"match_id": "nope", "type": "move"}, "NOT_IN_MATCH"),
            (player, "match.send", {"match_id": match_id, "type": "bad type!"}, "BAD_REQUEST"),
            (player, "match.send", {"match_id": match_id, "type": "x" * 33}, "BAD_REQUEST"),
            (player, "match.send", {"match_id": match_id}, "BAD_REQUEST"),
            (
                player,
                "match.send",
                {"match_id": match_id, "type": "m", "data": "x" * 4096},
                "BAD_REQUEST",
            ),
            (player, "match.feed", {"match_id": match_id, "after": "yesterday"}, "BAD_REQUEST"),
            (player, "match.feed", {"match_id": match_id, "limit": 501}, "BAD_REQUEST"),
            (
                player,
                "match.result",
                {"match_id": match_id, "scores": {"someone": 1}},
                "BAD_REQUEST",
            ),
            (player, "match.result", {"match_id": match_id, "scores": []}, "BAD_REQUEST"),
            (outsider, "match.result", {"match_id": match_id, "scores": {}}, "NOT_IN_MATCH"),
            (outsider, "match.leave", {"match_id": match_id}, "NOT_IN_MATCH"),
        ]
        for client, op, fields, code in cases:
            with pytest.raises(ArenaError) as refused:
                await client.request(op, **fields)
            assert refused.value.code == code, (op, fields, refused.value)
            assert refused.value.message
        # Only what JSON players can read too: no binary, no huge integers, no deep nesting.
        deep: Any = "x"
        for _ in range(40):
            deep = [deep]
        for data in (b"\x00bytes", 2**60, float("nan"), deep, {"k": b"v"}):
            with pytest.raises(ArenaError) as refused:
                await player.request("match.send", match_id=match_id, type="m", data=data)
            assert refused.value.code == "BAD_REQUEST", data
        # Feed ids Redis would choke on are refused like any bad field.
        for after in ("99999999999999999999-0", "1-18446744073709551616", "-1", "1-"):
            with pytest.raises(ArenaError) as refused:
                await player.request("match.feed", match_id=match_id, after=after)
            assert refused.value.code == "BAD_REQUEST", after
        # Just under the limit is fine: 4096 bytes encoded (a str8 header is 2 bytes).
        await player.request("match.send", match_id=match_id, type="m", data="x" * 4093)
        # A fire-and-forget failure comes back without a rid.
        await outsider.send("match.send", match_id=match_id, type="move")
        error = await asyncio.wait_for(outsider.errors.get(), 5)
        assert error["error"]["code"] == "NOT_IN_MATCH"
        assert "rid" not in error
    finally:
        await close_all(clients + others)


async def test_sends_are_rate_limited_per_player(start_arena: StartArena) -> None:
    arena = await start_arena(rate_limits="match.send=5/1")
    match_id, clients, _ = await start_match([arena], 2)
    try:
        for _ in range(5):
            await clients[0].request("match.send", match_id=match_id, type="m")
        with pytest.raises(ArenaError) as refused:
            await clients[0].request("match.send", match_id=match_id, type="m")
        assert refused.value.code == "RATE_LIMITED"
        assert refused.value.retry_after_ms is not None
        assert refused.value.retry_after_ms > 0
        await clients[1].request("match.send", match_id=match_id, type="m")  # per player
    finally:
        await close_all(clients)


async def test_the_feed_reads_after_an_id_and_says_when_that_was_trimmed(
    start_arena: StartArena,
) -> None:
    arena = await start_arena(match_feed_max=5)
    match_id, clients, _ = await start_match([arena], 2)
    player = clients[0]
    try:
        ids = [
            (await player.request("match.send", match_id=match_id, type="m", data=i))["id"]
            for i in range(8)
        ]
        kept = (await player.request("match.feed", match_id=match_id))["events"]
        assert [e["data"] for e in kept] == [3, 4, 5, 6, 7]  # capped at 5
        after = await player.request("match.feed", match_id=match_id, after=ids[4], limit=2)
        assert [e["data"] for e in after["events"]] == [5, 6]
        assert (await player.request("match.feed", match_id=match_id, after=ids[7]))["events"] == []
        with pytest.raises(ArenaError) as trimmed:
            await player.request("match.feed", match_id=match_id, after=ids[0])
        assert trimmed.value.code == "FEED_TRIMMED"
    finally:
        await close_all(clients)


async def test_a_player_who_leaves_is_gone_from_the_match(arena: str) -> None:
    match_id, clients, players = await start_match([arena], 3)
    leaver, stayer = clients[0], clients[1]
    try:
        await leaver.request("match.leave", match_id=match_id)
        left = await stayer.next_push("match.left")
        assert left["player_id"] == players[0].player_id
        assert left["match_id"] == match_id
        with pytest.raises(ArenaError) as refused:
            await leaver.request("match.send", match_id=match_id, type="m")
        assert refused.value.code == "NOT_IN_MATCH"
        await stayer.request("match.send", match_id=match_id, type="m", data="after")
        assert (await clients[2].next_push("match.event"))["data"] == "after"
        # The leaver no longer follows the match, but may still read what happened.
        await leaver.request("ping")
        assert all(p.get("ev") != "match.event" for p in drain(leaver))
        feed = (await leaver.request("match.feed", match_id=match_id))["events"]
        assert [e["ev"] for e in feed] == ["match.left", "match.event"]
    finally:
        await close_all(clients)


async def test_the_agreed_result_ends_the_match_and_reaches_the_boards_once(
    start_arena: StartArena, redis_client: redis_sync.Redis
) -> None:
    arena = await start_arena(workers=1)  # a results worker inside the server, as by default
    match_id, clients, players = await start_match([arena], 2)
    alice, bob = clients
    scores = {players[0].player_id: 30, players[1].player_id: 10}
    try:
        # The default mode's results are a consensus: one report waits for the others.
        reply = await alice.request("match.result", match_id=match_id, scores=scores)
        assert reply == {"match_id": match_id, "state": "running", "reported": True}
        reply = await bob.request("match.result", match_id=match_id, scores=scores)
        assert reply == {"match_id": match_id, "state": "ended", "reported": True}
        for client in clients:
            ended = await client.next_push("match.ended")
            assert (ended["scores"], ended["by"]) == (scores, "consensus")
            assert "disputed" not in ended
        with pytest.raises(ArenaError) as late:
            await bob.request("match.result", match_id=match_id, scores={players[1].player_id: 99})
        assert late.value.code == "MATCH_ENDED"
        with pytest.raises(ArenaError) as closed:
            await bob.request("match.send", match_id=match_id, type="m")
        assert closed.value.code == "MATCH_ENDED"
        # The worker (inside the server) applies it: each player hears their new standing.
        note = await bob.next_push("notify")
        assert note["kind"] == "match.result"
        assert note["data"]["boards"]["global"] == {"rank": 2, "score": 10, "improved": True}
        assert (await alice.request("lb.rank", board="global"))["score"] == 30
        activity = (await alice.request("feed.global", limit=10))["entries"]
        result = next(e for e in activity if e["kind"] == "match.result")
        assert (result["match_id"], result["scores"]) == (match_id, scores)
        assert result["names"] == {players[0].player_id: "p0", players[1].player_id: "p1"}
        assert {e["player_id"] for e in activity if e["kind"] == "personal_best"} == set(scores)

        async def queue_empty() -> bool:
            _, stats = await http_json("GET", arena + "/v1/stats")
            return bool(stats["queues"]["results"] == {"ready": 0, "taken": 0, "dead": 0})

        await eventually(queue_empty, within_s=3)
        state = redis_client.hgetall(f"arena:{{match:{match_id}}}:state")
        assert state[b"state"] == b"ended"
        assert state[b"applied"] == b"1"
        assert msgpack.unpackb(state[b"result"]) == scores
    finally:
        await close_all(clients)


async def test_a_game_server_reports_the_result_over_http(start_arena: StartArena) -> None:
    arena = await start_arena(server_key="s3cret-key-for-game-servers-0123456789")
    match_id, clients, players = await start_match([arena], 2)
    url = f"{arena}/v1/matches/{match_id}/result"
    body = {"scores": {players[0].player_id: 1, players[1].player_id: 2}}
    try:
        assert (await http_json("POST", url, json=body))[0] == 401
        assert (await http_json("POST", url, token="wrong", json=body))[0] == 403
        status, bad = await http_json(
            "POST", url, token="s3cret-key-for-game-servers-0123456789", json={"scores": {"x": 1}}
        )
        assert (status, bad["error"]["code"]) == (400, "BAD_REQUEST")
        missing = f"{arena}/v1/matches/{'0' * 16}/result"
        assert (
            await http_json(
                "POST", missing, token="s3cret-key-for-game-servers-0123456789", json=body
            )
        )[0] == 404
        assert await http_json(
            "POST", url, token="s3cret-key-for-game-servers-0123456789", json=body
        ) == (
            200,
            {"match_id": match_id, "state": "ended"},
        )
        assert (await clients[0].next_push("match.ended"))["by"] == "server"
        status, again = await http_json(
            "POST", url, token="s3cret-key-for-game-servers-0123456789", json=body
        )
        assert (status, again["error"]["code"]) == (409, "MATCH_ENDED")
    finally:
        await close_all(clients)


async def test_a_player_who_stops_reading_is_cut_off_and_the_match_goes_on(
    start_arena: StartArena,
) -> None:
    arena = await start_arena(
        outbox_bytes=64 * 1024,
        rate_limits="match.send=100000/100000",
        msg_rate_burst=100_000,
        msg_rate_per_s=100_000.0,
    )
    match_id, clients, _ = await start_match([arena], 3)
    sender, watcher, stalled = clients
    # The stalled player's client stops reading its socket: the kernel's buffers fill,
    # then the server's outbox for it.
    connection = stalled.ws._conn
    assert connection is not None
    assert connection.transport is not None
    transport = connection.transport
    transport.pause_reading()
    blob = "x" * 4000
    rounds = 60  # 60 x 50 events of 4 KB: 12 MB, far more than the socket buffers hold
    try:
        for _ in range(rounds):
            for _ in range(50):
                await sender.send("match.send", match_id=match_id, type="blob", data=blob)
            # The others get every event meanwhile, at the pace they are sent.
            got = [await watcher.next_push("match.event") for _ in range(50)]
            assert {e["type"] for e in got} == {"blob"}
        transport.resume_reading()
        # What was buffered before the cut, then the close frame with its code.
        assert await stalled.wait_closed(timeout=10) == 4008
        received = 0
        while not stalled.pushes.empty():
            received += stalled.pushes.get_nowait().get("ev") == "match.event"
        assert received < rounds * 50
        await sender.request("match.send", match_id=match_id, type="after", data=None)
        assert (await watcher.next_push("match.event"))["type"] == "after"
    finally:
        await close_all(clients)


async def test_a_player_back_after_a_reload_asks_which_match_they_are_in(arena: str) -> None:
    match_id, clients, players = await start_match([arena], 2)
    try:
        current = (await clients[0].request("match.current"))["match"]
        assert current["match_id"] == match_id
        assert current["roster"] == [p.player_id for p in players]
        assert current["state"] == "running"
        scores = {p.player_id: 1 for p in players}
        for client in clients:
            await client.request("match.result", match_id=match_id, scores=scores)
        assert (await clients[1].request("match.current"))["match"] is None
    finally:
        for client in clients:
            await client.close()
