"""Server-run games that misbehave, and players who push too hard: a game that raises
ends its own match with an error, and its node and the node's other matches go on; a
game that overruns its tick delays, but harms no other match, and the ticks it made the
node miss are skipped and counted; an input flood is refused with RATE_LIMITED and
every input taken is applied; a game's join_attempt refuses a player with its reason."""

from __future__ import annotations

import asyncio
import signal

from client_sim.client import ArenaClient, ArenaError
from tests.balancer import Balancer
from tests.conftest import SpawnNode, StartArena
from tests.helpers import connect, eventually, login
from tests.hosted_helpers import BOARDS, MODES, next_event, node_env
from tests.integrity_helpers import close_all, metric, refused


async def create(client: ArenaClient, mode: str, **params: object) -> str:
    match = (await client.request("match.create", mode=mode, params=params))["match"]
    assert (await client.next_push("match.started"))["match_id"] == match["match_id"]
    return str(match["match_id"])


async def alone_in_a_counter(start_arena: StartArena) -> tuple[ArenaClient, str]:
    """A node with the test games, and alice alone in a counter match on it."""
    arena = await start_arena(modes=MODES, boards=BOARDS, host_lease_s=2.0)
    _, alice = await connect(arena, "alice")
    return alice, await create(alice, "counter")


async def add(client: ArenaClient, match_id: str, n: int) -> None:
    """An input the Counter applies, and its word that it did."""
    await client.request("match.input", match_id=match_id, type="add", data=n)
    assert (await next_event(client, match_id, "added"))["data"] == {"n": n}


async def test_a_game_that_raises_ends_its_match_with_an_error_and_nothing_else(
    spawn_node: SpawnNode,
) -> None:
    node = spawn_node(**node_env("solo"))
    (_, alice), (_, bob) = await connect(node.url, "alice"), await connect(node.url, "bob")
    try:
        doomed = await create(alice, "boom")
        other = await create(bob, "counter")
        await add(alice, doomed, 1)
        await alice.request("match.input", match_id=doomed, type="boom")
        ended = await alice.next_push("match.ended")
        assert ended["match_id"] == doomed
        assert ended["by"] == "error"
        assert ended["reason"] == "error"
        assert ended["scores"] == {}
        assert await refused(alice, "match.input", match_id=doomed, type="add", data=2) == (
            "MATCH_ENDED"
        )

        # The same node's other match goes on, and it takes new ones of the same game.
        await add(bob, other, 5)
        again = await create(alice, "boom")
        await add(alice, again, 3)

        async def logged() -> bool:
            return "RuntimeError: boom, as the test asked" in node.log()

        await eventually(logged, within_s=5)  # with its traceback
    finally:
        await close_all([alice, bob])


async def test_a_game_that_overruns_its_tick_harms_no_other_match(spawn_node: SpawnNode) -> None:
    node = spawn_node(**node_env("solo"))
    (_, alice), (_, bob) = await connect(node.url, "alice"), await connect(node.url, "bob")
    try:
        slow = await create(alice, "slow")
        other = await create(bob, "counter")
        await add(bob, other, 1)
        # Half a second in one tick of a 10 Hz game: the node's loop stalls for it.
        await alice.request("match.input", match_id=slow, type="slow", data=0.5)
        await bob.request("match.input", match_id=other, type="add", data=2)
        await add(alice, slow, 7)
        assert (await next_event(bob, other, "added"))["data"] == {"n": 2}
        await add(bob, other, 3)
        await bob.request("match.input", match_id=other, type="report")
        report = (await next_event(bob, other, "report"))["data"]
        assert list(report["applied"].values()) == [[1, 2, 3]]
    finally:
        await close_all([alice, bob])


async def test_the_ticks_an_overrun_skipped_are_counted_in_the_metrics(
    spawn_node: SpawnNode,
) -> None:
    node = spawn_node(**node_env("solo"))
    _, alice = await connect(node.url, "alice")
    try:
        slow = await create(alice, "slow")
        await add(alice, slow, 1)
        await alice.request("match.input", match_id=slow, type="slow", data=0.5)
        await add(alice, slow, 2)  # ticked again after the overrun

        async def counted() -> bool:
            # 0.5 s at 10 Hz: the grid points it stalled past, less rounding.
            return await metric(node.url, "arena_match_skipped_total") >= 3

        await eventually(counted, within_s=5)
    finally:
        await alice.close()


async def test_an_input_flood_is_rate_limited_and_every_input_taken_is_applied(
    start_arena: StartArena,
) -> None:
    alice, match_id = await alone_in_a_counter(start_arena)
    try:
        replies = await asyncio.gather(
            *(
                alice.request("match.input", match_id=match_id, type="add", data=n)
                for n in range(1, 101)
            ),
            return_exceptions=True,
        )
        taken = [n for n, reply in enumerate(replies, 1) if not isinstance(reply, BaseException)]
        errors = [reply for reply in replies if isinstance(reply, BaseException)]
        assert errors
        assert all(isinstance(e, ArenaError) and e.code == "RATE_LIMITED" for e in errors)
        assert all(isinstance(e, ArenaError) and e.retry_after_ms for e in errors)
        assert len(taken) >= 60  # the burst
        # Once the limit lets it, a report: the game applied exactly the inputs taken.
        while True:
            try:
                await alice.request("match.input", match_id=match_id, type="report")
                break
            except ArenaError as exc:
                if exc.code != "RATE_LIMITED":
                    raise
                await asyncio.sleep((exc.retry_after_ms or 100) / 1000)
        report = (await next_event(alice, match_id, "report"))["data"]
        (applied,) = report["applied"].values()
        assert sorted(applied) == taken
    finally:
        await alice.close()


async def test_a_game_refusing_a_join_tells_the_player_why(start_arena: StartArena) -> None:
    arena = await start_arena(modes=MODES, boards=BOARDS, host_lease_s=2.0)
    (_, alice), (b, bob), (c, carol) = [
        await connect(arena, name) for name in ("alice", "bob", "carol")
    ]
    try:
        match_id = await create(alice, "guarded", **{"pass": "sesame"})
        reply = await bob.request("match.join", match_id=match_id, meta={"pass": "open up"})
        assert reply["state"] == "asked"
        assert await bob.next_push("match.refused") == {
            "ev": "match.refused",
            "match_id": match_id,
            "reason": "wrong pass",
        }
        assert (
            await refused(bob, "match.input", match_id=match_id, type="add", data=1)
            == "NOT_IN_MATCH"
        )
        await carol.request("match.join", match_id=match_id, meta={"pass": "sesame"})
        joined = await carol.next_push("match.started")
        assert joined["match_id"] == match_id
        assert c.player_id in joined["players"]
        assert b.player_id not in joined["players"]
        await add(carol, match_id, 4)
    finally:
        await close_all([alice, bob, carol])


async def test_a_game_whose_snapshot_raises_ends_its_match_and_nothing_else(
    spawn_node: SpawnNode,
) -> None:
    node = spawn_node(**node_env("solo"))
    (_, alice), (_, bob) = await connect(node.url, "alice"), await connect(node.url, "bob")
    try:
        doomed = await create(alice, "boom")
        other = await create(bob, "counter")
        await alice.request("match.input", match_id=doomed, type="boom_later")
        ended = await alice.next_push("match.ended", timeout=10)  # at its next snapshot
        assert ended["match_id"] == doomed
        assert ended["by"] == "error"
        # The node still ticks its other match, and takes new ones.
        await add(bob, other, 5)
        await add(alice, await create(alice, "counter"), 6)
    finally:
        await close_all([alice, bob])


async def test_a_game_ending_with_scores_no_board_takes_ends_with_an_error(
    start_arena: StartArena,
) -> None:
    alice, match_id = await alone_in_a_counter(start_arena)
    try:
        await alice.request("match.input", match_id=match_id, type="end", data={"nobody": 1})
        ended = await alice.next_push("match.ended", timeout=10)
        assert ended["by"] == "error"
        assert ended["scores"] == {}
    finally:
        await alice.close()


async def test_a_node_draining_a_game_whose_snapshot_raises_still_hands_off_the_others(
    spawn_node: SpawnNode,
) -> None:
    # Snapshots come rarely here: the one that raises is the drain's.
    draining = spawn_node(**node_env("draining", ARENA_HOST_SNAPSHOT_S="600"))
    # The players come back through the balancer, on the node started later.
    balancer = await Balancer([draining.port]).start()
    accounts = [await login(draining.url, name) for name in ("alice", "bob")]
    alice, bob = [
        await ArenaClient.connect(balancer.url, a.token, reconnect=True) for a in accounts
    ]
    try:
        doomed = await create(alice, "boom")
        other = await create(bob, "counter")
        await add(bob, other, 1)
        await alice.request("match.input", match_id=doomed, type="boom_later")
        await add(alice, doomed, 2)  # applied: the next snapshot raises
        taker = spawn_node(**node_env("taker"))
        balancer.backend_ports.append(taker.port)
        draining.signal(signal.SIGTERM)
        assert await asyncio.to_thread(draining.wait, 15) == 0
        ended = await alice.next_push("match.ended", timeout=10)
        assert ended["match_id"] == doomed
        assert ended["by"] == "error"
        # The other match was handed off: it goes on on the node left.
        resync = await bob.next_push("match.resync", timeout=10)
        assert resync["epoch"] == 2
        await add(bob, other, 3)
    finally:
        await close_all([alice, bob])
        await balancer.aclose()


async def test_a_game_saying_what_no_client_can_read_ends_its_match_with_an_error(
    start_arena: StartArena,
) -> None:
    alice, match_id = await alone_in_a_counter(start_arena)
    try:
        await alice.request("match.input", match_id=match_id, type="unreadable")
        ended = await alice.next_push("match.ended", timeout=10)
        assert ended["by"] == "error"
        assert ended["reason"] == "error"
    finally:
        await alice.close()


async def test_a_player_the_game_kicks_is_out_and_the_game_hears_it(
    start_arena: StartArena,
) -> None:
    arena = await start_arena(modes=MODES, boards=BOARDS, host_lease_s=2.0)
    (_, alice), (b, bob) = await connect(arena, "alice"), await connect(arena, "bob")
    try:
        match_id = await create(alice, "counter")
        await bob.request("match.join", match_id=match_id)
        assert (await bob.next_push("match.started"))["match_id"] == match_id
        await alice.request("match.input", match_id=match_id, type="kick", data=b.player_id)
        left = await alice.next_push("match.left", timeout=10)
        assert left["player_id"] == b.player_id
        assert left["reason"] == "kicked"
        heard = await next_event(alice, match_id, "left")
        assert heard["data"] == {"players": [b.player_id], "reason": "kicked"}
        assert (
            await refused(bob, "match.input", match_id=match_id, type="add", data=1)
            == "NOT_IN_MATCH"
        )
        await add(alice, match_id, 1)
    finally:
        await close_all([alice, bob])
