"""A match's players through faults of the whole: a Redis outage longer than the presence
TTL takes nobody live for gone, and a node that stalls and comes back says its players
are back after another node told their matches they had gone."""

from __future__ import annotations

import asyncio
import signal
from pathlib import Path

import msgpack
import redis as redis_sync

from client_sim.client import ArenaError
from server.embedded_redis import RedisProcess
from tests.conftest import SpawnNode, StartArena
from tests.helpers import eventually, start_match
from tests.test_match_life import presence_of

PRESENCE = {"presence_interval_s": 0.2, "presence_ttl_s": 1.0}


def presence_in_feed(r: redis_sync.Redis, match_id: str) -> list[tuple[str, bool]]:
    """Every match.presence of the match's feed, in order: (player id, online)."""
    entries: list[tuple[bytes, dict[bytes, bytes]]] = r.xrange(  # type: ignore[assignment]
        f"arena:{{match:{match_id}}}:feed"
    )
    # A feed keeps each push but its trailing id field: an empty one completes it.
    pushes = [msgpack.unpackb(fields[b"p"] + b"\xa2id\xa0") for _, fields in entries]
    return [(p["player_id"], p["online"]) for p in pushes if p.get("ev") == "match.presence"]


async def test_a_redis_outage_longer_than_the_presence_ttl_takes_no_live_player_for_gone(
    start_arena: StartArena, tmp_path: Path
) -> None:
    redis = RedisProcess(tmp_path / "redis", appendonly=True).start()  # AOF: data survives
    try:
        # Node a stamps often, node b rarely: after the outage, a is back long before b
        # has stamped its players again (yet within a presence TTL, as every node does).
        options = {"presence_ttl_s": 3.0, "match_abandon_s": 1.0, "redis_timeout_s": 0.5}
        a = await start_arena(**options, presence_interval_s=0.2, redis_url=redis.url)
        b = await start_arena(**options, presence_interval_s=1.2, redis_url=redis.url)
        live_id, live, _ = await start_match([a, b], 2)
        canary_id, canary, _ = await start_match([a, b], 2)
        r = redis_sync.Redis.from_url(redis.url)

        redis.stop()
        # The outage itself, longer than the presence TTL: Redis down for that long is
        # what is tested, not a wait for something.
        await asyncio.sleep(4.0)
        await asyncio.to_thread(redis.start)

        async def answers_again() -> bool:
            try:
                await live[0].request("match.current")
                await live[1].request("match.current")
            except ArenaError:
                return False
            return True

        await eventually(answers_again, within_s=10)
        # A match whose players go now is abandoned once the nodes judge again: by then
        # they have taken whatever they took for lapsed.
        for client in canary:
            await client.close()

        async def canary_abandoned() -> bool:
            return r.hget(f"arena:{{match:{canary_id}}}:state", "ended_by") == b"abandoned"

        await eventually(canary_abandoned, within_s=20)
        assert presence_in_feed(r, live_id) == []  # nobody of the live match was taken
        assert r.hget(f"arena:{{match:{live_id}}}:state", "state") == b"running"
        listed = (await live[0].request("match.list"))["matches"]
        assert [(m["match_id"], m["playing"]) for m in listed] == [(live_id, 2)]
        for client in live:
            await client.close()
        r.close()
    finally:
        redis.stop()


async def test_a_stalled_nodes_players_are_told_gone_then_back(
    start_arena: StartArena, spawn_node: SpawnNode, redis_client: redis_sync.Redis
) -> None:
    steady = await start_arena(**PRESENCE, match_abandon_s=60.0)
    stalling = spawn_node(
        ARENA_PRESENCE_INTERVAL="0.2", ARENA_PRESENCE_TTL="1", ARENA_MATCH_ABANDON_S="60"
    )
    match_id, clients, players = await start_match([steady, stalling.url], 2)
    watcher, stalled_player = clients[0], players[1].player_id
    try:
        assert stalling.process is not None
        stalling.signal(signal.SIGSTOP)  # its heartbeat stops; its socket stays open
        try:
            gone = await presence_of(watcher, stalled_player, timeout=15)
            assert gone["online"] is False
        finally:
            stalling.signal(signal.SIGCONT)
        # Its heartbeat brings its player back: the match hears it.
        returned = await presence_of(watcher, stalled_player, timeout=15)
        assert (returned["online"], returned["match_id"]) == (True, match_id)
        assert returned["id"] > gone["id"]
        assert presence_in_feed(redis_client, match_id) == [
            (stalled_player, False),
            (stalled_player, True),
        ]
        assert (await clients[1].request("match.current"))["match"]["match_id"] == match_id
    finally:
        for client in clients:
            await client.close()
