"""Server-run matches on one node: a tic-tac-toe game from a quick-join to a result on the
boards, inputs checked and acknowledged, the game's events in the feed, a refused move
told to its sender only, match.create and match.join through the game's join_attempt."""

from __future__ import annotations

import json
from typing import Any

from client_sim.client import ArenaClient
from tests.conftest import StartArena
from tests.helpers import connect, eventually, http_json
from tests.integrity_helpers import close_all, refused


async def next_state(client: ArenaClient, match_id: str) -> dict[str, Any]:
    while True:
        push = await client.next_push("match.event")
        if push["match_id"] == match_id and push["type"] == "state":
            assert push["from"] == "server"
            assert isinstance(push["tick"], int)
            return dict(push["data"])


async def test_tictactoe_from_quick_join_to_a_win_on_the_boards(start_arena: StartArena) -> None:
    arena = await start_arena(workers=1)
    (a, alice), (b, bob) = await connect(arena, "alice"), await connect(arena, "bob")
    ids = {alice: a.player_id, bob: b.player_id}
    try:
        await alice.request("lobby.quickjoin", mode="tictactoe")
        await bob.request("lobby.quickjoin", mode="tictactoe")
        started = [await c.next_push("match.started") for c in (alice, bob)]
        assert started[0]["authoritative"] is True
        match_id = started[0]["match_id"]
        state = await next_state(alice, match_id)
        await next_state(bob, match_id)
        players = {a.player_id: alice, b.player_id: bob}
        first = players[state["turn"]]
        second = bob if first is alice else alice
        # A move out of turn is refused to its sender alone, and changes nothing.
        reply = await second.request(
            "match.input", match_id=match_id, type="move", data={"cell": 4}
        )
        assert reply["id"]
        rejected = await second.next_push("match.event")
        assert rejected["type"] == "rejected"
        assert rejected["to"] == [ids[second]]
        # first takes 0, 1, 2 while second takes 3, 4.
        for mover, cell in [(first, 0), (second, 3), (first, 1), (second, 4), (first, 2)]:
            await mover.request("match.input", match_id=match_id, type="move", data={"cell": cell})
            state = await next_state(first, match_id)
            while cell not in [i for i, c in enumerate(state["board"]) if c]:
                state = await next_state(first, match_id)
        assert state["winner"] == ids[first]
        ended = await first.next_push("match.ended")
        assert ended["scores"] == {ids[first]: 1, ids[second]: 0}
        assert ended["by"] == "server"

        async def on_the_board() -> bool:
            top = await first.request("lb.top", board="global", limit=10)
            return any(e["player_id"] == ids[first] for e in top["entries"])

        await eventually(on_the_board, within_s=10)
        # The catch-up feed has the game's events, the refusal only for its player.
        events = (await first.request("match.feed", match_id=match_id))["events"]
        assert any(e.get("type") == "state" for e in events)
        assert not any(e.get("type") == "rejected" for e in events)
    finally:
        await close_all([alice, bob])


async def test_inputs_are_only_for_server_run_matches_and_sends_only_for_relayed(
    start_arena: StartArena,
) -> None:
    arena = await start_arena()
    (_, alice), (b, bob) = await connect(arena, "alice"), await connect(arena, "bob")
    try:
        match = (await alice.request("match.create", mode="tictactoe"))["match"]
        assert match["authoritative"] is True
        match_id = match["match_id"]
        started = await alice.next_push("match.started")
        assert started["match_id"] == match_id
        assert (
            await refused(alice, "match.send", match_id=match_id, type="x", data=1) == "FORBIDDEN"
        )
        assert (
            await refused(bob, "match.input", match_id=match_id, type="move", data={})
            == "NOT_IN_MATCH"
        )
        # Bob asks; the game takes him (a free seat); he hears match.started.
        assert (await bob.request("match.join", match_id=match_id))["state"] == "asked"
        joined = await bob.next_push("match.started")
        assert joined["match_id"] == match_id
        assert b.player_id in joined["players"]
        await next_state(bob, match_id)
        # Carol finds no seat: the mode's capacity is 2.
        _, carol = await connect(arena, "carol")
        assert await refused(carol, "match.join", match_id=match_id) == "MATCH_FULL"
        await carol.close()
        current = (await bob.request("match.current"))["match"]
        assert current["match_id"] == match_id
        assert current["epoch"] == 1
        assert current["host"]
    finally:
        await close_all([alice, bob])


async def test_healthz_names_the_node_that_match_current_calls_the_host(
    start_arena: StartArena,
) -> None:
    arena = await start_arena(node_id="node-a")
    status, body = await http_json("GET", arena + "/healthz")
    assert (status, body) == (200, {"status": "alive", "node": "node-a"})
    _, alice = await connect(arena, "alice")
    try:
        match_id = (await alice.request("match.create", mode="tictactoe"))["match"]["match_id"]

        async def hosted_here() -> bool:
            current = (await alice.request("match.current"))["match"]
            return bool(current["match_id"] == match_id and current["host"] == "node-a")

        await eventually(hosted_here, within_s=5)
    finally:
        await alice.close()


async def test_a_creator_sets_only_the_params_the_mode_opens_and_an_emptied_match_ends(
    start_arena: StartArena,
) -> None:
    modes = {
        "ttt": {
            "game": "server.games.tictactoe:TicTacToe",
            "capacity": 2,
            "create": True,
            "create_params": ["move_clock_s"],
        }
    }
    arena = await start_arena(modes=json.dumps(modes))
    _, alice = await connect(arena, "alice")
    try:
        assert await refused(alice, "match.create", mode="ttt", params={"win": 1}) == "BAD_REQUEST"
        match = await alice.request("match.create", mode="ttt", params={"move_clock_s": 5})
        match_id = match["match"]["match_id"]
        await alice.next_push("match.started")
        # Alice leaves before anyone joins: no player is left, so the match ends.
        await alice.request("match.leave", match_id=match_id)

        async def ended() -> bool:
            running = (await alice.request("match.list", limit=100))["matches"]
            return match_id not in [m["match_id"] for m in running]

        await eventually(ended, within_s=5)
        assert await refused(alice, "match.join", match_id=match_id) == "MATCH_ENDED"
    finally:
        await alice.close()
