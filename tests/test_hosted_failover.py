"""Server-run matches across real nodes: tic-tac-toe with its players on two nodes, its
host SIGKILLed mid-game (another node resumes it from what Redis holds), and its host
SIGSTOPped past its lease then SIGCONTed (it says nothing more once replaced)."""

from __future__ import annotations

import asyncio
import signal

import redis as redis_sync

from client_sim.client import ArenaClient
from client_sim.synced import SyncedMatch
from server.protocol import Format
from server.storage import keys
from tests.balancer import Balancer
from tests.conftest import SpawnNode
from tests.helpers import Pushes, connect, eventually, http_json, login
from tests.hosted_helpers import (
    MatchPushes,
    committed_in_redis,
    host_of,
    move,
    next_event,
    node_env,
    state_with,
)
from tests.integrity_helpers import close_all
from tests.nodes import NodeProcess

RESUMED_WITHIN_S = 8.0  # the aim, with the default 5 s lease


async def quick_join(clients: list[ArenaClient]) -> str:
    for client in clients:
        await client.request("lobby.quickjoin", mode="tictactoe")
    started = [await client.next_push("match.started") for client in clients]
    assert all(push["authoritative"] is True for push in started)
    assert len({push["match_id"] for push in started}) == 1
    return str(started[0]["match_id"])


async def who_moves_first(
    match_id: str, players: dict[str, ArenaClient]
) -> tuple[ArenaClient, ArenaClient]:
    """(first, second) from the state the game broadcasts once both are seated."""
    states = [await state_with(client, match_id, 0) for client in players.values()]
    first = players[states[0]["turn"]]
    second = next(c for c in players.values() if c is not first)
    return first, second


async def test_tictactoe_between_two_nodes_to_a_win_that_reaches_the_boards_once(
    spawn_node: SpawnNode, redis_client: redis_sync.Redis
) -> None:
    # One node runs the result worker: the result goes through the queue once.
    one, two = spawn_node(**node_env("one", workers=1)), spawn_node(**node_env("two"))
    (a, alice), (b, bob) = await connect(one.url, "alice"), await connect(two.url, "bob")
    ids = {alice: a.player_id, bob: b.player_id}
    try:
        match_id = await quick_join([alice, bob])
        first, second = await who_moves_first(match_id, {a.player_id: alice, b.player_id: bob})
        seen = {client: MatchPushes(client) for client in (first, second)}
        # A move out of turn: refused to its sender alone, whose node is not the other's.
        await move(second, match_id, 4)
        rejected = await next_event(second, match_id, "rejected")
        assert rejected["to"] == [ids[second]]
        # first takes 0, 1, 2 while second takes 3, 4.
        for mover, cell in [(first, 0), (second, 3), (first, 1), (second, 4), (first, 2)]:
            await move(mover, match_id, cell)
        for client in (alice, bob):
            final = await state_with(client, match_id, 5)
            assert final["winner"] == ids[first]
            ended = await client.next_push("match.ended")
            assert ended["by"] == "server"
            assert ended["scores"] == {ids[first]: 1, ids[second]: 0}
        assert [p["type"] for p in seen[first].events()] == ["state"] * 5
        assert [p["type"] for p in seen[second].events()] == ["rejected"] + ["state"] * 5

        async def applied() -> bool:
            waiting = redis_client.llen(keys.queue_ready("results"))
            taken = redis_client.llen(keys.queue_taken("results"))
            top = await first.request("lb.top", board="wins", limit=10)
            on_board = any(e["player_id"] == ids[first] for e in top["entries"])
            return on_board and waiting + taken == 0

        await eventually(applied, within_s=10)
        top = (await first.request("lb.top", board="wins", limit=10))["entries"]
        # "wins" adds up: a result applied twice would read 2.
        assert [e["score"] for e in top if e["player_id"] == ids[first]] == [1]
    finally:
        await close_all([alice, bob])


async def balanced_players(
    nodes: list[NodeProcess],
) -> tuple[list[ArenaClient], list[str], list[Balancer]]:
    """Two players, each reaching the nodes through a balancer that prefers a different
    one: their sockets start on different nodes, and one whose node dies comes back on
    the other (the client reconnects by itself, then catches up from the feed)."""
    balancers = [
        await Balancer([nodes[0].port, nodes[1].port]).start(),
        await Balancer([nodes[1].port, nodes[0].port]).start(),
    ]
    logins = [await login(node.url, name) for node, name in zip(nodes, ["ann", "ben"], strict=True)]
    clients = [  # one socket of each format: synced state reads the same on both
        await ArenaClient.connect(balancer.url, player.token, reconnect=True, fmt=fmt)
        for balancer, player, fmt in zip(
            balancers, logins, [Format.MSGPACK, Format.JSON], strict=True
        )
    ]
    return clients, [player.player_id for player in logins], balancers


async def test_a_host_killed_after_three_moves_resumes_on_the_other_node_with_all_three(
    spawn_node: SpawnNode,
) -> None:
    nodes = {name: spawn_node(**node_env(name, lease_s=5.0)) for name in ("left", "right")}
    clients, ids, balancers = await balanced_players(list(nodes.values()))
    try:
        match_id = await quick_join(clients)
        # Each player's live replica of the synced board (a keyframe asked for when the
        # first frames came before it was made, after the takeover, after a reconnect).
        boards = [SyncedMatch(client, match_id) for client in clients]
        first, second = await who_moves_first(match_id, dict(zip(ids, clients, strict=True)))
        resyncs = [Pushes(client, "match.resync") for client in clients]
        for mover, cell in [(first, 0), (second, 3), (first, 1)]:
            await move(mover, match_id, cell)  # acknowledged: stored, maybe not yet applied
        host, epoch = await host_of(first)
        assert epoch == 1
        doomed = nodes[host]
        doomed.signal(signal.SIGKILL)
        killed_at = asyncio.get_running_loop().time()
        deadline = killed_at + RESUMED_WITHIN_S
        assert await asyncio.to_thread(doomed.wait, 5) == -signal.SIGKILL

        # Both hear the new host: the one whose node died through the feed it catches
        # up from, on the node its balancer sent it to.
        async with asyncio.timeout_at(deadline):
            for pushes in resyncs:
                await pushes.until(lambda items: bool(items), within_s=RESUMED_WITHIN_S)
        print(f"resumed {asyncio.get_running_loop().time() - killed_at:.2f}s after the kill")
        for pushes in resyncs:
            assert pushes.items[0]["match_id"] == match_id
            assert pushes.items[0]["epoch"] == 2
        survivor = next(name for name in nodes if name != host)
        assert await host_of(second) == (survivor, 2)

        # The three moves made before the kill are on the board; the game goes on to a win.
        await move(second, match_id, 4)
        for client in clients:
            state = await state_with(client, match_id, 4)
            assert [i for i, cell in enumerate(state["board"]) if cell] == [0, 1, 3, 4]
        await move(first, match_id, 2)
        for client in clients:
            ended = await client.next_push("match.ended")
            assert ended["scores"][ids[clients.index(first)]] == 1
        winner = ids[clients.index(first)]

        async def replicas_whole() -> bool:
            return all(b.state is not None and b.state["winner"] == winner for b in boards)

        await eventually(replicas_whole, within_s=5)
        for board in boards:  # what each replica holds is the server's final board
            assert [i for i, cell in enumerate(board.state["cells"]) if cell] == [0, 1, 2, 3, 4]
            assert board.state["cells"][0] == winner
        # One resync each, whether it came live or from the feed after a reconnect.
        assert [len(pushes.items) for pushes in resyncs] == [1, 1]
    finally:
        await close_all(clients)
        for balancer in balancers:
            await balancer.aclose()


async def test_a_host_paused_past_its_lease_says_nothing_once_another_node_took_over(
    spawn_node: SpawnNode, redis_client: redis_sync.Redis
) -> None:
    nodes = {name: spawn_node(**node_env(name)) for name in ("left", "right")}
    logins = [await login(nodes["left"].url, name) for name in ("ann", "ben")]
    clients = [await ArenaClient.connect(nodes["left"].url, p.token) for p in logins]
    try:
        match_id = await quick_join(clients)
        ids = [p.player_id for p in logins]
        first, second = await who_moves_first(match_id, dict(zip(ids, clients, strict=True)))
        host, _ = await host_of(first)
        # Both players move to the node that does not host: only Redis links them to the
        # host, so what it sends reaches them only through a commit.
        order = [clients.index(first), clients.index(second)]
        await close_all(clients)
        other = next(name for name in nodes if name != host)
        clients = [await ArenaClient.connect(nodes[other].url, p.token) for p in logins]
        first, second = (clients[i] for i in order)
        seen = [MatchPushes(client) for client in clients]
        await move(first, match_id, 0)
        await move(second, match_id, 3)
        for client in clients:
            await state_with(client, match_id, 2)

        paused = nodes[host]
        paused.signal(signal.SIGSTOP)
        try:
            for pushes in seen:
                await pushes.until_resync(within_s=10)
            # A move the new host plays; the paused one has not read it yet.
            await move(first, match_id, 1)
            for client in clients:
                await state_with(client, match_id, 3)
        finally:
            paused.signal(signal.SIGCONT)

        # Resumed, the old host plays that move on its own copy, and its commit of the
        # state it would say is refused.
        async def fenced() -> bool:
            return f"match {match_id}: another node holds it now" in paused.log()

        await eventually(fenced, within_s=10)
        for mover, cell in [(second, 4), (first, 2)]:
            await move(mover, match_id, cell)
        for client in clients:
            await client.next_push("match.ended", timeout=10)

        resync_tick = seen[0].resyncs()[0]["tick"]
        for pushes in seen:
            (resync,) = pushes.resyncs()
            assert resync["epoch"] == 2
            assert resync["tick"] == resync_tick
            after = pushes.items[pushes.items.index(resync) + 1 :]
            # After the new host's word, only its own ticks: none the old one ran.
            assert after
            assert all(p["tick"] > resync_tick for p in after)
            ticks = [p["tick"] for p in pushes.events()]
            assert ticks == sorted(ticks)
        # Redis holds each tick's outputs from one epoch only, the old epoch's first.
        committed = committed_in_redis(redis_client, match_id)
        epochs = [e.epoch for e in committed]
        assert epochs == sorted(epochs)
        assert set(epochs) == {1, 2}
        assert all(e.tick <= resync_tick for e in committed if e.epoch == 1)
        assert all(e.tick >= resync_tick for e in committed if e.epoch == 2)
    finally:
        await close_all(clients)


async def test_a_match_ended_while_its_host_was_dead_is_left_alone_once_seen_ended(
    spawn_node: SpawnNode, redis_client: redis_sync.Redis
) -> None:
    admin_key = "failover-admin-key-0123456789abcdef"
    nodes = {name: spawn_node(**node_env(name, ARENA_ADMIN_KEY=admin_key)) for name in "ab"}
    _, alice = await connect(nodes["a"].url, "alice")
    try:
        match_id = (await alice.request("match.create", mode="counter"))["match"]["match_id"]
        await alice.request("match.input", match_id=match_id, type="add", data=1)
        await next_event(alice, match_id, "added")
        host, _ = await host_of(alice)
        survivor = nodes["b" if host == "a" else "a"]
        nodes[host].signal(signal.SIGKILL)
        assert await asyncio.to_thread(nodes[host].wait, 5) == -signal.SIGKILL
        # An operator ends it while no node runs it.
        status, _ = await http_json(
            "POST", f"{survivor.url}/v1/admin/matches/{match_id}/end", token=admin_key
        )
        assert status == 200

        async def seen_ended() -> bool:
            """A sweeper claimed it once its lease lapsed, found it ended, let it go."""
            epoch = int(redis_client.get(keys.match_epoch(match_id)) or 0)
            return epoch == 2 and redis_client.zscore(keys.host_leases(), match_id) is None

        await eventually(seen_ended, within_s=10)
        # A sweep after that one (it takes a new match) leaves the ended match alone.
        _, bob = await connect(survivor.url, "bob")
        other = (await bob.request("match.create", mode="counter"))["match"]["match_id"]
        await bob.request("match.input", match_id=other, type="add", data=2)
        await next_event(bob, other, "added")
        await bob.close()
        assert int(redis_client.get(keys.match_epoch(match_id)) or 0) == 2
        assert redis_client.zscore(keys.host_leases(), match_id) is None
    finally:
        await alice.close()


async def test_a_lone_node_restarted_with_sigterm_picks_its_match_up_where_it_was(
    spawn_node: SpawnNode,
) -> None:
    node = spawn_node(**node_env("lone"))
    logins = [await login(node.url, name) for name in ("ann", "ben")]
    clients = [await ArenaClient.connect(node.url, p.token, reconnect=True) for p in logins]
    try:
        match_id = await quick_join(clients)
        ids = [p.player_id for p in logins]
        first, second = await who_moves_first(match_id, dict(zip(ids, clients, strict=True)))
        resyncs = [Pushes(client, "match.resync") for client in clients]
        await move(first, match_id, 0)
        await move(second, match_id, 3)
        node.signal(signal.SIGTERM)
        assert await asyncio.to_thread(node.wait, 15) == 0  # handed off: to itself, later
        await asyncio.to_thread(node.start)
        for pushes in resyncs:  # live, or from the feed once reconnected
            await pushes.until(lambda items: bool(items), within_s=10)
            assert pushes.items[0]["epoch"] == 2
        await move(first, match_id, 1)
        for client in clients:
            state = await state_with(client, match_id, 3)
            assert [i for i, cell in enumerate(state["board"]) if cell] == [0, 1, 3]
        await move(second, match_id, 4)
        await move(first, match_id, 2)
        for client in clients:
            ended = await client.next_push("match.ended", timeout=10)
            assert ended["scores"][ids[clients.index(first)]] == 1
    finally:
        await close_all(clients)
