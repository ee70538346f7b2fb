"""No push silently lost while a node's pub/sub is not back yet.

Two real nodes share one real Redis; alice is on node 1, bob on node 2. Node 1
connects to Redis as its own ACL user, so the test can hold node 1's pub/sub out
(its SSUBSCRIBE refused, as a reconnect still in its backoff would be) while its
requests work: the window in which a push published for alice used to be dropped.
The window is asserted (node 1's /readyz says its pub/sub is down) before anything
is published in it; then node 1 may subscribe again, and alice must be told.
"""

from __future__ import annotations

import asyncio
import signal
from collections.abc import Iterator
from pathlib import Path

import pytest
import redis as redis_sync

from client_sim.client import ArenaClient, ArenaError
from server.embedded_redis import RedisProcess
from server.protocol import Message
from tests.conftest import SpawnNode
from tests.helpers import Pushes, eventually, http_json, login
from tests.nodes import NodeProcess

OUTAGE_S = 5.0
NODE1_USER = ["node1", "on", ">node1-secret", "~*", "&*", "+@all"]
DEAF = "-ssubscribe"  # node 1 may do anything but subscribe


@pytest.fixture
def acl_redis(tmp_path: Path) -> Iterator[RedisProcess]:
    """A Redis of this test's own, AOF on (the outage keeps what was acknowledged), with a
    user for node 1."""
    redis = RedisProcess(
        tmp_path / "redis",
        appendonly=True,
        extra_args=["--appendfsync", "always", "--user", *NODE1_USER],
    )
    with redis:
        yield redis


def node1_url(redis: RedisProcess) -> str:
    return f"redis://node1:node1-secret@127.0.0.1:{redis.port}/0"


def two_nodes(spawn_node: SpawnNode, redis: RedisProcess) -> tuple[NodeProcess, NodeProcess]:
    fast = {"ARENA_REDIS_TIMEOUT": "1"}
    return spawn_node(redis_url=node1_url(redis), **fast), spawn_node(redis_url=redis.url, **fast)


async def pubsub_down(node: NodeProcess) -> bool:
    status, body = await http_json("GET", node.url + "/readyz")
    return status == 503 and "pub/sub" in body["error"]["message"]


async def ready(node: NodeProcess) -> bool:
    return (await http_json("GET", node.url + "/readyz"))[0] == 200


def node1_hears_again(admin: redis_sync.Redis) -> None:
    admin.acl_setuser("node1", enabled=True, commands=["+ssubscribe"])


def node1_deaf_now(admin: redis_sync.Redis) -> None:
    admin.acl_setuser("node1", enabled=True, commands=[DEAF])
    admin.client_kill_filter(_type="pubsub", user="node1")


def member_ids(lobby: Message) -> set[str]:
    return {m["player_id"] for m in lobby["members"]}


async def test_a_lobby_joined_right_after_a_redis_outage_reaches_the_member_on_the_other_node(
    spawn_node: SpawnNode, acl_redis: RedisProcess
) -> None:
    node1, node2 = two_nodes(spawn_node, acl_redis)
    alice_login, bob_login = await login(node1.url, "alice"), await login(node2.url, "bob")
    alice = await ArenaClient.connect(node1.url, alice_login.token)
    bob = await ArenaClient.connect(node2.url, bob_login.token)
    try:
        updates = Pushes(alice, "lobby.updated")
        for client in (alice, bob):
            await client.request("ping")  # answered once the socket is set up

        # Redis is stopped for five seconds; it comes back with its data (AOF), and node 1's
        # pub/sub is held out for as long as the test needs the window open.
        assert acl_redis.process is not None
        acl_redis.process.send_signal(signal.SIGKILL)
        await asyncio.to_thread(acl_redis.process.wait, 5)
        await asyncio.sleep(OUTAGE_S)  # the outage itself, not a wait for something
        acl_redis.extra_args = [*acl_redis.extra_args, DEAF]
        await asyncio.to_thread(acl_redis.start)

        async def alice_is_served() -> bool:
            try:
                await alice.request("lb.top", board="global", timeout=0.5)
            except (ArenaError, TimeoutError):
                return False
            return True

        await eventually(alice_is_served, within_s=5)
        await eventually(lambda: ready(node2), within_s=5)  # bob's node is back in full
        # The window: node 1 answers requests, its pub/sub is not subscribed.
        assert await pubsub_down(node1)
        lobby = (await alice.request("lobby.create", mode="duel", capacity=2))["lobby"]
        await bob.request("lobby.join", lobby_id=lobby["lobby_id"])
        assert await pubsub_down(node1)  # still: the join's push found no one on node 1

        with redis_sync.Redis.from_url(acl_redis.url) as admin:
            node1_hears_again(admin)
        # Alice learns bob sat down, whatever was published while node 1 was deaf.
        both = {alice_login.player_id, bob_login.player_id}
        await updates.until(
            lambda got: any(member_ids(u["lobby"]) == both for u in got), within_s=10
        )
        assert updates.items[-1]["lobby"]["lobby_id"] == lobby["lobby_id"]
    finally:
        await alice.close()
        await bob.close()


async def test_a_match_started_and_a_note_sent_while_a_node_was_deaf_still_reach_its_player(
    spawn_node: SpawnNode, acl_redis: RedisProcess
) -> None:
    node1, node2 = two_nodes(spawn_node, acl_redis)
    alice_login, bob_login = await login(node1.url, "alice"), await login(node2.url, "bob")
    alice = await ArenaClient.connect(node1.url, alice_login.token)
    bob = await ArenaClient.connect(node2.url, bob_login.token)
    admin = redis_sync.Redis.from_url(acl_redis.url)
    try:
        started, moves, notes = (
            Pushes(alice, e) for e in ("match.started", "match.event", "notify")
        )
        lobby = (await alice.request("lobby.create", mode="duel", capacity=2))["lobby"]
        await bob.request("lobby.join", lobby_id=lobby["lobby_id"])
        await alice.request("lobby.ready", ready=True)

        node1_deaf_now(admin)
        await eventually(lambda: pubsub_down(node1), within_s=5)
        # Bob's ready starts the match: the order for alice's socket to follow it and her
        # match.started are both published while node 1 hears nothing.
        match_id = (await bob.request("lobby.ready", ready=True))["match_id"]
        assert match_id
        first = await bob.request("match.send", match_id=match_id, type="move", data="b0")
        assert await pubsub_down(node1)
        node1_hears_again(admin)

        await started.until(lambda got: bool(got), within_s=10)
        assert started.items[0]["match_id"] == match_id
        assert set(started.items[0]["players"]) == {alice_login.player_id, bob_login.player_id}
        # Her socket follows the match from its first event: the one sent in the gap too.
        await moves.until(lambda got: any(m["id"] == first["id"] for m in got), within_s=10)
        await eventually(lambda: ready(node1), within_s=5)

        # Deaf again; the match ends and the result's notification is published meanwhile.
        node1_deaf_now(admin)
        await eventually(lambda: pubsub_down(node1), within_s=5)
        scores = {alice_login.player_id: 3, bob_login.player_id: 1}
        await alice.request("match.result", match_id=match_id, scores=scores)
        # The same scores from both, unless the first report ended it: it ends either way.
        if (await bob.request("match.current"))["match"] is not None:
            await bob.request("match.result", match_id=match_id, scores=scores)
        bob_note = await bob.next_push("notify", timeout=10)  # the worker has sent both
        assert bob_note["data"]["match_id"] == match_id
        assert await pubsub_down(node1)
        assert notes.items == []
        node1_hears_again(admin)
        await notes.until(
            lambda got: any(n["data"]["match_id"] == match_id for n in got), within_s=10
        )
    finally:
        admin.close()
        await alice.close()
        await bob.close()


async def test_a_lobby_closed_and_a_kick_while_the_players_node_was_deaf_still_reach_her(
    spawn_node: SpawnNode, acl_redis: RedisProcess
) -> None:
    admin_key = "admin-" + "a" * 40
    node1 = spawn_node(redis_url=node1_url(acl_redis), ARENA_ADMIN_KEY=admin_key)
    node2 = spawn_node(redis_url=acl_redis.url, ARENA_ADMIN_KEY=admin_key)
    alice_login = await login(node1.url, "alice")
    alice = await ArenaClient.connect(node1.url, alice_login.token)
    admin = redis_sync.Redis.from_url(acl_redis.url)
    try:
        kicked, closed = Pushes(alice, "session.kicked"), Pushes(alice, "lobby.closed")
        lobby = (await alice.request("lobby.create", mode="duel", capacity=2))["lobby"]
        node1_deaf_now(admin)
        await eventually(lambda: pubsub_down(node1), within_s=5)
        status, _ = await http_json(
            "POST", f"{node2.url}/v1/admin/lobbies/{lobby['lobby_id']}/close", token=admin_key
        )
        assert status == 200
        assert await pubsub_down(node1)
        node1_hears_again(admin)
        await closed.until(lambda got: bool(got), within_s=10)
        assert closed.items[0] == {
            "ev": "lobby.closed",
            "lobby_id": lobby["lobby_id"],
            "reason": "admin",
        }
        await eventually(lambda: ready(node1), within_s=5)

        node1_deaf_now(admin)
        await eventually(lambda: pubsub_down(node1), within_s=5)
        status, body = await http_json(
            "POST", f"{node2.url}/v1/admin/players/{alice_login.player_id}/kick", token=admin_key
        )
        assert (status, body["connected"]) == (200, True)
        assert await pubsub_down(node1)  # the order to close her socket found no one
        assert alice.close_code is None
        node1_hears_again(admin)
        assert await alice.wait_closed(timeout=10) == 4004
        assert len(kicked.items) == 1
    finally:
        admin.close()
        await alice.close()
