"""What a node catches up on once its pub/sub is back (after a gap in which it heard
nothing): a re-sent match.started takes the socket out of the started lobby's chat room,
and an order for a spectator's socket (its session revoked) is applied like a player's.

Node 1 connects as its own ACL user, so the test holds its pub/sub out while its requests
work (tests/test_pubsub_gap.py explains the window)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import msgpack
import pytest
import redis as redis_sync

from client_sim.client import ArenaClient
from server.embedded_redis import RedisProcess
from server.storage import keys
from tests.conftest import SpawnNode
from tests.helpers import Pushes, eventually, http_json, login
from tests.test_chat_leaving import next_chat
from tests.test_pubsub_gap import (
    NODE1_USER,
    node1_deaf_now,
    node1_hears_again,
    node1_url,
    pubsub_down,
    ready,
)


@pytest.fixture
def deafening_redis(tmp_path: Path) -> Iterator[RedisProcess]:
    redis = RedisProcess(tmp_path / "redis", appendonly=False, extra_args=["--user", *NODE1_USER])
    with redis:
        yield redis


async def test_a_match_started_re_sent_after_a_gap_takes_the_socket_out_of_the_lobby_room(
    spawn_node: SpawnNode, deafening_redis: RedisProcess
) -> None:
    node1 = spawn_node(redis_url=node1_url(deafening_redis))
    node2 = spawn_node(redis_url=deafening_redis.url)
    alice_login, bob_login = await login(node1.url, "alice"), await login(node2.url, "bob")
    alice = await ArenaClient.connect(node1.url, alice_login.token)
    bob = await ArenaClient.connect(node2.url, bob_login.token)
    admin = redis_sync.Redis.from_url(deafening_redis.url)
    try:
        started = Pushes(alice, "match.started")
        lobby_id = (await alice.request("lobby.create", mode="duel", capacity=2))["lobby"][
            "lobby_id"
        ]
        room = f"lobby:{lobby_id}"
        await bob.request("lobby.join", lobby_id=lobby_id)
        await alice.request("chat.join", room=room)
        await alice.request("chat.join", room="general")
        await alice.request("lobby.ready", ready=True)

        node1_deaf_now(admin)
        await eventually(lambda: pubsub_down(node1), within_s=5)
        # The lobby starts while node 1 hears nothing: alice's match.started is missed.
        assert (await bob.request("lobby.ready", ready=True))["match_id"]
        assert await pubsub_down(node1)
        node1_hears_again(admin)
        await started.until(lambda got: bool(got), within_s=10)  # re-sent
        await eventually(lambda: ready(node1), within_s=5)

        # Whatever still reached the lobby's room (nobody may send there now; Redis may
        # carry a late one) does not reach alice; a message after it, in general, does.
        late = {"ev": "chat.message", "room": room, "id": "1-0", "from": "x", "text": "late"}
        admin.spublish(keys.chat_channel(room), msgpack.packb(late))
        await bob.request("chat.send", room="general", text="for everyone")
        assert await next_chat(alice) == "for everyone"
    finally:
        admin.close()
        await alice.close()
        await bob.close()


async def test_a_spectator_revoked_while_its_node_was_deaf_closes_as_revoked(
    spawn_node: SpawnNode, deafening_redis: RedisProcess
) -> None:
    node1 = spawn_node(redis_url=node1_url(deafening_redis))
    node2 = spawn_node(redis_url=deafening_redis.url)
    admin = redis_sync.Redis.from_url(deafening_redis.url)
    status, body = await http_json("POST", node1.url + "/v1/auth/spectator", json={})
    assert status == 200
    spectator = await ArenaClient.connect(node1.url, body["token"])
    try:
        await spectator.request("session.get")  # answered once the socket is set up
        node1_deaf_now(admin)
        await eventually(lambda: pubsub_down(node1), within_s=5)
        status, _ = await http_json("DELETE", node2.url + "/v1/sessions", token=body["token"])
        assert status == 200
        assert await pubsub_down(node1)  # the order to close its socket found no one
        assert spectator.close_code is None
        node1_hears_again(admin)
        # Revoked (4002), as a player's socket would be; not "expired, log in again" (4003).
        assert await spectator.wait_closed(timeout=10) == 4002
    finally:
        admin.close()
        await spectator.close()
