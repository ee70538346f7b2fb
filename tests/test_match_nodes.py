"""A match across real server processes sharing one Redis: fan-out, order, catch-up,
a Redis restart."""

from __future__ import annotations

import asyncio
from collections import defaultdict
from pathlib import Path
from typing import Any

import redis as redis_sync

from client_sim.client import ArenaClient
from server.embedded_redis import RedisProcess
from tests.conftest import SpawnNode
from tests.helpers import eventually, http_json, start_match

EVENTS_EACH = 50


async def receive(
    client: ArenaClient, count: int, *, timeout: float = 10.0
) -> list[dict[str, Any]]:
    return [await client.next_push("match.event", timeout=timeout) for _ in range(count)]


async def test_eight_players_on_two_nodes_all_get_every_event_in_order(
    spawn_node: SpawnNode,
) -> None:
    a, b = spawn_node(), spawn_node()
    match_id, clients, players = await start_match([a.url, b.url], 8)
    try:
        receivers = [asyncio.create_task(receive(c, 8 * EVENTS_EACH)) for c in clients]

        async def play(client: ArenaClient) -> None:
            for seq in range(EVENTS_EACH):
                await client.send("match.send", match_id=match_id, type="move", data=seq)
                if seq % 10 == 9:
                    await asyncio.sleep(0.01)  # a game's pace, inside the default rate limit

        await asyncio.gather(*(play(c) for c in clients))
        for client, got in zip(clients, await asyncio.gather(*receivers), strict=True):
            by_sender: dict[str, list[int]] = defaultdict(list)
            for event in got:
                by_sender[event["from"]].append(event["data"])
            # All 400, and each sender's 50 in the order sent.
            assert by_sender == {p.player_id: list(range(EVENTS_EACH)) for p in players}
            assert len({e["id"] for e in got}) == 8 * EVENTS_EACH
            assert client.errors.empty()
        # Every player saw the same order: the feed's.
        orders = [[e["id"] for e in got] for got in [r.result() for r in receivers]]
        assert all(order == sorted(order, key=feed_order) for order in orders)
    finally:
        for client in clients:
            await client.close()


def feed_order(entry_id: str) -> tuple[int, int]:
    ms, _, seq = entry_id.partition("-")
    return int(ms), int(seq)


async def test_a_dropped_player_catches_up_from_the_feed_with_nothing_missing_or_doubled(
    spawn_node: SpawnNode,
) -> None:
    a, b = spawn_node(), spawn_node()
    match_id, clients, players = await start_match([a.url, b.url], 4)
    dropper, sender = clients[1], clients[0]  # the dropper's socket is on node b
    try:
        for seq in range(10):
            await sender.send("match.send", match_id=match_id, type="move", data=seq)
        seen = await receive(dropper, 10)
        await dropper.close()
        for seq in range(10, 30):  # while the player is away
            await sender.send("match.send", match_id=match_id, type="move", data=seq)
        await receive(sender, 30)

        # Back, on the other node this time, while the match goes on.
        back = await ArenaClient.connect(a.url, players[1].token)
        clients[1] = back

        async def keep_sending() -> None:
            for seq in range(30, 60):
                await sender.send("match.send", match_id=match_id, type="move", data=seq)
                await asyncio.sleep(0.005)  # a player's pace: events go on during the catch-up

        going_on = asyncio.create_task(keep_sending())
        feed = await back.request("match.feed", match_id=match_id, after=seen[-1]["id"])
        # The feed also says when the dropper went and came back (match.presence).
        missed = [e for e in feed["events"] if e["ev"] == "match.event"]
        await going_on
        # What the client holds: what it saw, the feed's answer, the pushes since it came
        # back; a push already in the feed's answer is the same event (same id).
        known = {e["id"]: e for e in seen + missed}
        while len(known) < 60:
            push = await back.next_push("match.event")
            known.setdefault(push["id"], push)
        assert [known[i]["data"] for i in sorted(known, key=feed_order)] == list(range(60))
        assert len(known) == 60
    finally:
        for client in clients:
            await client.close()


async def test_events_flow_again_after_redis_restarts_mid_match(
    spawn_node: SpawnNode, tmp_path: Path
) -> None:
    redis = RedisProcess(tmp_path / "redis", appendonly=True).start()  # AOF: the match survives
    try:
        a = spawn_node(redis_url=redis.url, ARENA_REDIS_TIMEOUT="1")
        b = spawn_node(redis_url=redis.url, ARENA_REDIS_TIMEOUT="1")
        match_id, clients, _ = await start_match([a.url, b.url], 4)
        sender_a, sender_b = clients[0], clients[1]
        await sender_a.request("match.send", match_id=match_id, type="move", data="before")
        for client in clients:
            assert (await client.next_push("match.event"))["data"] == "before"

        await asyncio.to_thread(redis.stop)
        await asyncio.to_thread(redis.start)

        async def sends_again() -> bool:
            try:
                await sender_b.request("match.send", match_id=match_id, type="move", data="probe")
            except Exception:
                return False
            return True

        await eventually(sends_again, within_s=10, every_s=0.2)
        # Sent after the restart, from both nodes: every player gets every one, without
        # asking for the feed (the nodes catch their subscriptions up by themselves).
        for seq in range(20):
            await (sender_a if seq % 2 else sender_b).send(
                "match.send", match_id=match_id, type="move", data=seq
            )
        for client in clients:
            got: list[Any] = []
            while len(got) < 20:
                event = await client.next_push("match.event", timeout=10)
                if event["data"] != "probe":
                    got.append(event["data"])
            # All of them; each sender's in the order sent (the two senders interleave).
            assert [d for d in got if d % 2 == 0] == list(range(0, 20, 2))
            assert [d for d in got if d % 2 == 1] == list(range(1, 20, 2))
    finally:
        for client in clients:
            await client.close()
        redis.stop()


async def test_a_node_that_loses_its_pub_sub_connection_catches_its_players_up(
    spawn_node: SpawnNode, redis_client: redis_sync.Redis
) -> None:
    a, b = spawn_node(), spawn_node()
    match_id, clients, _ = await start_match([a.url, b.url], 4)
    sender = clients[0]
    try:
        await sender.request("match.send", match_id=match_id, type="move", data=-1)
        for client in clients:
            assert (await client.next_push("match.event"))["data"] == -1
        # Every node's pub/sub connection is cut; events go on at once, before the nodes
        # have resubscribed: what they miss on the channel, they read from the feed.
        assert redis_client.client_kill_filter(_type="pubsub") >= 2
        for seq in range(30):
            await sender.send("match.send", match_id=match_id, type="move", data=seq)
        for client in clients:
            got = [(await client.next_push("match.event", timeout=10))["data"] for _ in range(30)]
            assert got == list(range(30))
    finally:
        for client in clients:
            await client.close()


async def test_two_reports_at_once_on_two_nodes_end_the_match_once_and_notify_once(
    spawn_node: SpawnNode,
) -> None:
    a, b = spawn_node(), spawn_node()  # a result worker in each
    match_id, clients, players = await start_match([a.url, b.url], 2)
    scores = {p.player_id: 10 * i for i, p in enumerate(players)}
    try:
        replies = await asyncio.gather(
            *(
                client.request("match.result", match_id=match_id, scores=scores)
                for client in clients
            )
        )
        # Both reports are kept; the one that completed the agreement ended the match.
        assert sorted(r["state"] for r in replies) == ["ended", "running"]
        for client in clients:
            ended = await client.next_push("match.ended", timeout=10)
            assert (ended["scores"], ended["by"]) == (scores, "consensus")
            await client.next_push("notify", timeout=10)

        async def queue_done() -> bool:
            _, stats = await http_json("GET", a.url + "/v1/stats")
            return bool(stats["queues"]["results"] == {"ready": 0, "taken": 0, "dead": 0})

        await eventually(queue_done, within_s=10)
        for client in clients:
            notes = (await client.request("notify.list"))["notes"]
            assert len(notes) == 1
        activity = (await clients[0].request("feed.global", limit=100))["entries"]
        assert [e["kind"] for e in activity].count("match.result") == 1
    finally:
        for client in clients:
            await client.close()
