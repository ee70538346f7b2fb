"""The cross-node suites again, on a real 3-master Redis Cluster (``redis+cluster://``).

The tests imported below are collected here a second time, and this module's
``redis_server`` and ``redis_client`` fixtures override the conftest ones: every
node (``spawn_node``) and in-process server (``start_arena``) they start talks to
the cluster, and what they inspect in Redis they read through redis-py's cluster
client. So the same scenarios, word for word, prove both deployments.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import redis.cluster

from client_sim.client import ArenaError
from server.embedded_redis import RedisClusterProcesses
from server.storage import keys
from server.storage.cluster import ClusterMux, slot_of
from server.storage.cluster_pubsub import ClusterSubscriber
from tests.conftest import SpawnNode
from tests.helpers import eventually, start_match

# Imported to be collected again, against the cluster. noqa: the names are pytest's to find.
from tests.test_integrity_consensus import (  # noqa: F401
    test_a_losers_lie_cannot_end_the_match_and_no_majority_ends_it_disputed_on_two_nodes,
)
from tests.test_leaderboard_reads import (  # noqa: F401
    test_a_stampede_on_a_cold_page_makes_one_rebuild_across_nodes,
    test_http_reads_have_the_same_shapes_as_the_socket,
)
from tests.test_leaderboards import (  # noqa: F401
    boards,
    test_200_concurrent_best_submits_leave_exactly_the_max,
    test_a_new_name_shows_on_the_current_boards,
    test_equal_scores_rank_by_who_reached_them_first,
    test_top_rank_and_around_pages,
)
from tests.test_lobby_races import (  # noqa: F401
    test_100_players_quickjoin_one_mode_without_overfilling,
    test_200_players_race_for_8_seats_across_two_nodes,
    test_the_last_two_ready_at_once_on_two_nodes_start_one_match,
)
from tests.test_match_life import (  # noqa: F401
    test_a_match_whose_players_all_left_ends_abandoned_and_one_with_a_player_does_not,
    test_a_matchs_keys_expire_at_every_step_and_go_when_it_ends,
    test_members_on_two_nodes_hear_each_other_go_and_come_back_and_a_dead_nodes_players_go,
)
from tests.test_match_nodes import (  # noqa: F401
    test_a_dropped_player_catches_up_from_the_feed_with_nothing_missing_or_doubled,
    test_eight_players_on_two_nodes_all_get_every_event_in_order,
    test_two_reports_at_once_on_two_nodes_end_the_match_once_and_notify_once,
)
from tests.test_nodes import (  # noqa: F401
    test_a_session_made_on_one_node_is_accepted_by_another,
    test_a_socket_on_node_b_replaces_the_players_socket_on_node_a,
    test_revoking_on_one_node_closes_the_socket_on_another,
)
from tests.test_rating_races import (  # noqa: F401
    muxes,
    test_many_matches_of_one_player_finishing_at_once_on_two_workers_all_count,
)
from tests.test_ratings import (  # noqa: F401
    test_a_team_match_rates_each_team_by_its_total,
)


@pytest.fixture(scope="session")
def redis_server(redis_cluster: RedisClusterProcesses) -> RedisClusterProcesses:
    return redis_cluster


@pytest.fixture
def redis_client(redis_server: RedisClusterProcesses) -> Iterator[redis.cluster.RedisCluster]:
    client = redis.cluster.RedisCluster(host="127.0.0.1", port=redis_server.nodes[0].port)
    client.flushall(target_nodes=redis.cluster.RedisCluster.PRIMARIES)
    yield client
    client.close()


def test_the_keys_of_one_match_lobby_and_board_period_share_a_slot() -> None:
    """What lets one script touch them all on a cluster; keys.py decides it, this checks it."""
    match = {
        slot_of(k("m1"))
        for k in (
            keys.match,
            keys.match_players,
            keys.match_feed,
            keys.match_channel,
            keys.match_reports,
        )
    }
    match.add(slot_of(keys.match_send_rate("m1", "p1")))
    assert len(match) == 1
    board = {
        slot_of(k("global", "all"))
        for k in (
            keys.board_scores,
            keys.board_members,
            keys.board_names,
            keys.board_arrivals,
            keys.board_applied,
        )
    }
    assert len(board) == 1
    lobby = {slot_of(keys.lobby("l1")), slot_of(keys.lock("lobby:l1"))}
    lobby.add(slot_of(keys.lock_fence(keys.lobby_resource("l1"))))
    assert len(lobby) == 1
    assert len({slot_of(keys.presence()), slot_of(keys.live_socket("p1"))}) == 1
    running = (keys.running_matches, keys.running_summaries, keys.running_seen)
    assert len({slot_of(k()) for k in running}) == 1
    player = {slot_of(keys.player_notes("p1")), slot_of(keys.player_channel("p1"))}
    assert len(player) == 1
    assert len({slot_of(keys.chat_log("general")), slot_of(keys.chat_channel("general"))}) == 1


async def test_each_match_event_travels_to_the_shard_owning_its_channel_only(
    spawn_node: SpawnNode, redis_server: RedisClusterProcesses
) -> None:
    node = spawn_node()
    mux = ClusterMux(redis_server.url)
    match_id, clients, _ = await start_match([node.url], 2)
    try:
        masters = await mux.masters()
        assert len(masters) == 3
        channel = keys.match_channel(match_id)
        owner = await mux.owner(channel)

        async def subscribed_at_its_shard_only() -> bool:
            counts = {}
            for master in masters:
                with redis.Redis(host=master.host, port=master.port) as shard:
                    counts[master] = dict(shard.pubsub_shardnumsub(channel))[channel.encode()]
            return counts[owner] == 1 and sum(counts.values()) == 1

        await eventually(subscribed_at_its_shard_only, within_s=3)
        await clients[0].send("match.send", match_id=match_id, type="move", data={"x": 1})
        event = await clients[1].next_push("match.event")
        assert event["data"] == {"x": 1}
    finally:
        for client in clients:
            await client.close()
        await mux.aclose()


async def test_a_slot_moved_to_another_master_is_followed_by_commands_and_subscriptions(
    redis_server: RedisClusterProcesses,
) -> None:
    """MOVED sends commands to the slot's new owner; the old owner's SUNSUBSCRIBE sends
    the subscription there too, and what is published at the new owner arrives."""
    mux = ClusterMux(redis_server.url)
    received: asyncio.Queue[tuple[str, bytes]] = asyncio.Queue()
    resubscribed = asyncio.Event()

    async def on_connected() -> None:
        resubscribed.set()

    subscriber = ClusterSubscriber(mux)
    task = asyncio.create_task(
        subscriber.run(
            lambda channel, payload: received.put_nowait((channel, payload)), on_connected
        )
    )
    try:
        key, channel = "arena:{moving}:x", "arena:{moving}:events"
        await mux.execute("SET", key, "before")
        await subscriber.subscribe(channel)
        await asyncio.wait_for(subscriber.until_subscribed(channel), 5)
        resubscribed.clear()
        source = await mux.owner(key)
        target = next(m for m in await mux.masters() if m != source)
        await asyncio.to_thread(_move_slot, redis_server, slot_of(key), source.port, target.port)

        # The client still believes the old map: the old owner answers MOVED.
        assert await mux.execute("GET", key) == b"before"
        assert await mux.owner(key) == target
        await mux.execute("SET", key, "after")
        assert await mux.execute("GET", key) == b"after"

        await asyncio.wait_for(resubscribed.wait(), 5)
        await asyncio.wait_for(subscriber.until_subscribed(channel), 5)
        assert await mux.execute("SPUBLISH", channel, b"hello") == 1
        assert await asyncio.wait_for(received.get(), 5) == (channel, b"hello")
    finally:
        subscriber.stopping.set()
        await asyncio.wait_for(task, 5)
        await mux.aclose()


def _move_slot(cluster: RedisClusterProcesses, slot: int, source: int, target: int) -> None:
    """Migrate one slot and its keys, the way redis-cli --cluster reshard does."""
    clients = {n.port: redis.Redis(port=n.port) for n in cluster.nodes}
    try:
        ids = {port: _command(c, "CLUSTER", "MYID").decode() for port, c in clients.items()}
        _command(clients[target], "CLUSTER", "SETSLOT", slot, "IMPORTING", ids[source])
        _command(clients[source], "CLUSTER", "SETSLOT", slot, "MIGRATING", ids[target])
        while names := _command(clients[source], "CLUSTER", "GETKEYSINSLOT", slot, 100):
            _command(clients[source], "MIGRATE", "127.0.0.1", target, "", 0, 5000, "KEYS", *names)
        for client in clients.values():
            _command(client, "CLUSTER", "SETSLOT", slot, "NODE", ids[target])
    finally:
        for client in clients.values():
            client.close()


def _command(client: redis.Redis, *args: object) -> Any:
    return client.execute_command(*args)  # type: ignore[no-untyped-call]


async def test_a_subscription_sent_to_a_slots_old_owner_follows_it_and_spares_the_rest(
    redis_server: RedisClusterProcesses,
) -> None:
    """The slot moved behind this client's back: SSUBSCRIBE at the old owner gets MOVED.
    That channel moves to the new owner; the old owner's other channels keep flowing."""
    mux = ClusterMux(redis_server.url)
    received: asyncio.Queue[tuple[str, bytes]] = asyncio.Queue()
    subscriber = ClusterSubscriber(mux)
    task = asyncio.create_task(subscriber.run(lambda c, p: received.put_nowait((c, p))))
    try:
        moving = "arena:{drift}:events"
        masters = await mux.masters()
        source = await mux.owner(moving)
        # A neighbour channel on the same shard (another slot), which must not go deaf.
        n = 0
        while await mux.owner(staying := f"arena:{{stay{n}}}:events") != source:
            n += 1
        await subscriber.subscribe(staying)
        await asyncio.wait_for(subscriber.until_subscribed(staying), 5)
        target = next(m for m in masters if m != source)
        await asyncio.to_thread(_move_slot, redis_server, slot_of(moving), source.port, target.port)

        await subscriber.subscribe(moving)  # sent to the old owner, which answers MOVED
        await asyncio.wait_for(subscriber.until_subscribed(moving), 5)
        assert await mux.owner(moving) == target
        for channel in (moving, staying):
            assert await mux.execute("SPUBLISH", channel, b"hi") == 1
            assert await asyncio.wait_for(received.get(), 5) == (channel, b"hi")
        assert subscriber.connected.is_set()
    finally:
        subscriber.stopping.set()
        await asyncio.wait_for(task, 5)
        await mux.aclose()


async def test_a_transaction_on_a_migrating_slot_follows_ask(
    redis_server: RedisClusterProcesses,
) -> None:
    mux = ClusterMux(redis_server.url)
    try:
        key = "arena:session:{asking}"
        source = await mux.owner(key)
        target = next(m for m in await mux.masters() if m != source)
        slot = slot_of(key)
        nodes = {n.port: redis.Redis(port=n.port) for n in redis_server.nodes}
        try:
            ids = {p: _command(c, "CLUSTER", "MYID").decode() for p, c in nodes.items()}
            _command(nodes[target.port], "CLUSTER", "SETSLOT", slot, "IMPORTING", ids[source.port])
            _command(nodes[source.port], "CLUSTER", "SETSLOT", slot, "MIGRATING", ids[target.port])
            # The key does not exist at the source: a migrating slot sends it on with ASK.
            replies = await mux.transaction(("HSET", key, "player_id", "p1"), ("EXPIRE", key, 60))
            assert replies == [1, 1]
            # Where the key now is: the importing node (the slot finishes moving after).
            for client in nodes.values():
                _command(client, "CLUSTER", "SETSLOT", slot, "NODE", ids[target.port])
            assert await mux.execute("HGET", key, "player_id") == b"p1"
        finally:
            for client in nodes.values():
                client.close()
    finally:
        await mux.aclose()


async def test_a_node_starts_and_serves_when_its_first_seed_is_down(
    spawn_node: SpawnNode, redis_server: RedisClusterProcesses
) -> None:
    from server.embedded_redis import free_port

    port = redis_server.nodes[1].port
    node = spawn_node(redis_url=f"redis+cluster://127.0.0.1:{free_port()},127.0.0.1:{port}")
    match_id, clients, _ = await start_match([node.url], 2)
    try:
        await clients[0].send("match.send", match_id=match_id, type="move", data=1)
        assert (await clients[1].next_push("match.event"))["data"] == 1
    finally:
        for client in clients:
            await client.close()


async def test_after_a_master_fails_over_to_its_replica_play_and_events_go_on(
    spawn_node: SpawnNode, tmp_path: Path
) -> None:
    """SIGKILL the master holding a match: its replica takes over (cluster-node-timeout
    2 s), commands and the match's subscription follow it, and the match goes on."""
    with RedisClusterProcesses(tmp_path / "ha", masters=3, replicas=1) as cluster:
        await _replicas_in_sync(cluster)
        node = spawn_node(redis_url=cluster.url)
        match_id, clients, _ = await start_match([node.url], 2)
        mux = ClusterMux(cluster.url)
        try:
            owner = await mux.owner(keys.match_channel(match_id))
            doomed = next(n for n in cluster.nodes if n.port == owner.port)
            assert doomed.process is not None
            doomed.process.kill()

            refusals: list[str] = []

            async def plays_again() -> bool:
                try:
                    await clients[0].request("match.send", match_id=match_id, type="m", data=7)
                except ArenaError as exc:
                    refusals.append(exc.code)
                    return False
                return True

            await eventually(plays_again, within_s=20, every_s=0.2)
            assert set(refusals) <= {"UNAVAILABLE"}  # during the failover: refused, fast
            while (await clients[1].next_push("match.event", timeout=10))["data"] != 7:
                pass  # earlier attempts' events may come first, in feed order
        finally:
            for client in clients:
                await client.close()
            await mux.aclose()


async def _replicas_in_sync(cluster: RedisClusterProcesses) -> None:
    async def synced() -> bool:
        links = 0
        for n in cluster.nodes:
            with redis.Redis(port=n.port) as client:
                links += client.info("replication").get("master_link_status") == "up"
        return links == len(cluster.nodes) // 2

    await eventually(synced, within_s=15, every_s=0.1)
