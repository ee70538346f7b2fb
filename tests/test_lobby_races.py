"""Lobby races across two real server processes sharing one Redis."""

from __future__ import annotations

import asyncio
import signal
from collections import Counter

import msgpack
import redis as redis_sync

from client_sim.client import ArenaClient, ArenaError
from tests.conftest import SpawnNode
from tests.helpers import eventually, every_key, login
from tests.nodes import NodeProcess


async def crowd(nodes: list[NodeProcess], count: int, prefix: str) -> list[ArenaClient]:
    """``count`` players, split over the nodes, each with a socket."""

    async def one(i: int) -> ArenaClient:
        node = nodes[i % len(nodes)]
        player = await login(node.url, f"{prefix}{i}", device_id=f"{prefix}-device-{i:05d}")
        return await ArenaClient.connect(node.url, player.token)

    return list(await asyncio.gather(*(one(i) for i in range(count))))


def stored_members(redis_client: redis_sync.Redis, lobby_id: str) -> list[str]:
    raw = redis_client.hget(f"arena:{{lobby:{lobby_id}}}:state", "members")
    assert raw is not None
    return [player_id for player_id, _, _ in msgpack.unpackb(raw)]


async def test_200_players_race_for_8_seats_across_two_nodes(
    spawn_node: SpawnNode, redis_client: redis_sync.Redis
) -> None:
    nodes = [spawn_node(), spawn_node()]
    owner = (await crowd(nodes, 1, "owner"))[0]
    lobby_id = (await owner.request("lobby.create", mode="arena", capacity=8))["lobby"]["lobby_id"]
    racers = await crowd(nodes, 199, "racer")

    async def join(client: ArenaClient) -> str:
        try:
            await client.request("lobby.join", lobby_id=lobby_id, timeout=20)
        except ArenaError as exc:
            return exc.code
        return "JOINED"

    outcomes = Counter(await asyncio.gather(*(join(c) for c in racers)))
    assert outcomes == {"JOINED": 7, "LOBBY_FULL": 192}  # the owner holds the 8th seat
    lobby = (await owner.request("lobby.get", lobby_id=lobby_id))["lobby"]
    members = [m["player_id"] for m in lobby["members"]]
    assert len(members) == len(set(members)) == 8
    assert stored_members(redis_client, lobby_id) == members  # Redis agrees with the replies
    seats = every_key(redis_client, "arena:{player:*}:lobby")
    assert len(seats) == 8  # nobody who was refused holds a seat
    for client in [owner, *racers]:
        await client.close()


async def test_100_players_quickjoin_one_mode_without_overfilling(
    spawn_node: SpawnNode, redis_client: redis_sync.Redis
) -> None:
    nodes = [spawn_node(), spawn_node()]
    players = await crowd(nodes, 100, "quick")
    replies = await asyncio.gather(
        *(c.request("lobby.quickjoin", mode="royale", timeout=20) for c in players)
    )
    seat_of: dict[str, str] = {}
    for reply in replies:
        lobby = reply["lobby"]
        me = lobby["members"][-1]["player_id"]
        assert me not in seat_of
        seat_of[me] = lobby["lobby_id"]
    lobbies = set(seat_of.values())
    total = 0
    for lobby_id in lobbies:
        members = stored_members(redis_client, lobby_id)
        assert len(members) <= 8  # never over capacity
        total += len(members)
        for player_id in members:
            assert seat_of.get(player_id, lobby_id) == lobby_id  # never in two lobbies
    assert total == 100
    assert len(lobbies) == 100 // 8 + 1  # they filled lobbies instead of making a hundred
    for client in players:
        await client.close()


async def test_the_last_two_ready_at_once_on_two_nodes_start_one_match(
    spawn_node: SpawnNode,
) -> None:
    nodes = [spawn_node(), spawn_node()]
    for round_ in range(5):  # a race: run it a few times
        a, b, c = await crowd(nodes, 3, f"ready{round_}-")
        lobby_id = (await a.request("lobby.create", mode="trio", capacity=3))["lobby"]["lobby_id"]
        await b.request("lobby.join", lobby_id=lobby_id)
        await c.request("lobby.join", lobby_id=lobby_id)
        await a.request("lobby.ready", ready=True)
        # b and c sit on different nodes and press Ready together.
        replies = await asyncio.gather(
            b.request("lobby.ready", ready=True), c.request("lobby.ready", ready=True)
        )
        started = [r["match_id"] for r in replies if r["match_id"] is not None]
        assert len(started) == 1  # exactly one of the two readies started the match
        for client in (a, b, c):
            assert (await client.next_push("match.started"))["match_id"] == started[0]
            await client.close()


async def test_a_killed_nodes_players_lose_their_seats_after_the_grace(
    spawn_node: SpawnNode,
) -> None:
    fast = {
        "ARENA_PRESENCE_INTERVAL": "0.2",
        "ARENA_PRESENCE_TTL": "1",
        "ARENA_LOBBY_GRACE": "0.5",
    }
    doomed, survivor = spawn_node(**fast), spawn_node(**fast)
    (alice,) = await crowd([survivor], 1, "host")
    (carol,) = await crowd([doomed], 1, "guest")
    lobby_id = (await alice.request("lobby.create", mode="duel", capacity=4))["lobby"]["lobby_id"]
    await carol.request("lobby.join", lobby_id=lobby_id)
    doomed.signal(signal.SIGKILL)  # no socket close, no goodbye: only the leases lapse

    async def carol_is_gone() -> bool:
        lobby = (await alice.request("lobby.get", lobby_id=lobby_id))["lobby"]
        return len(lobby["members"]) == 1

    # The lease lapses after the grace plus one renewal interval; the presence TTL (1 s)
    # must also pass before the survivor believes carol is offline.
    await eventually(carol_is_gone, within_s=0.5 + 0.2 + 1.0 + 2.0, every_s=0.25)
    await alice.close()
    await carol.close()
