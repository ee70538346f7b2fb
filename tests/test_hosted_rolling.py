"""A rolling restart of three real nodes under 20 running server-run matches: each node in
turn is stopped with SIGTERM (it hands its matches off), waited for, and started again,
while every match's player keeps sending inputs. No match ends, and every acknowledged
input is applied exactly once (an unacknowledged one at most once)."""

from __future__ import annotations

import asyncio
import collections
import itertools
import signal
from dataclasses import dataclass, field

import redis as redis_sync

from client_sim.client import ArenaClient, ArenaError, ConnectionClosed
from server.storage import keys
from tests.balancer import Balancer
from tests.conftest import SpawnNode
from tests.helpers import Pushes, eventually, login
from tests.hosted_helpers import next_event, node_env
from tests.integrity_helpers import close_all
from tests.nodes import NodeProcess

MATCHES = 20
PACE_S = 0.1  # each player sends about 10 inputs a second, under the 30/s limit


@dataclass(slots=True)
class Player:
    """One match's only player, adding 1, 2, 3, ... to its total."""

    client: ArenaClient
    player_id: str
    match_id: str = ""
    acked: list[int] = field(default_factory=list)
    unsure: list[int] = field(default_factory=list)  # no reply: stored or not
    refused: collections.Counter[str] = field(default_factory=collections.Counter)

    async def play(self, stop: asyncio.Event) -> None:
        for n in itertools.count(1):
            if stop.is_set():
                return
            try:
                await self.client.request("match.input", match_id=self.match_id, type="add", data=n)
                self.acked.append(n)
            except ArenaError as exc:
                self.refused[exc.code] += 1
                self.unsure.append(n)
            except (ConnectionClosed, TimeoutError):
                self.unsure.append(n)
            await asyncio.sleep(PACE_S)


def epochs(players: list[Player], redis_client: redis_sync.Redis) -> dict[str, int]:
    """Each match's epoch: how many times a node took it (0: none yet)."""
    return {p.match_id: int(redis_client.get(keys.match_epoch(p.match_id)) or 0) for p in players}


async def restart(node: NodeProcess) -> None:
    node.signal(signal.SIGTERM)
    assert await asyncio.to_thread(node.wait, 15) == 0  # handed off, then exited
    await asyncio.to_thread(node.start)


async def test_a_rolling_restart_of_every_node_ends_no_match_and_loses_no_input(
    spawn_node: SpawnNode, redis_client: redis_sync.Redis
) -> None:
    nodes = [spawn_node(**node_env(f"n{i}")) for i in range(3)]
    ports = [node.port for node in nodes]
    # Each player's balancer prefers one node and falls back to the others in turn.
    balancers = [await Balancer(ports[i:] + ports[:i]).start() for i in range(3)]
    players: list[Player] = []
    try:
        for i in range(MATCHES):
            account = await login(nodes[i % 3].url, f"p{i}")
            client = await ArenaClient.connect(balancers[i % 3].url, account.token, reconnect=True)
            players.append(Player(client, account.player_id))
        for player in players:
            match = (await player.client.request("match.create", mode="counter"))["match"]
            player.match_id = match["match_id"]
        ended = [Pushes(p.client, "match.ended") for p in players]

        async def hosted() -> bool:
            """Every match has a node holding its lease."""
            return all(redis_client.exists(keys.match_lease(p.match_id)) for p in players)

        await eventually(hosted, within_s=10)
        before = epochs(players, redis_client)

        stop = asyncio.Event()
        playing = [asyncio.create_task(p.play(stop)) for p in players]
        for node in nodes:
            await restart(node)
            await eventually(hosted, within_s=10)
        stop.set()
        await asyncio.gather(*playing)

        # Every match was on some node, and every node was restarted: each moved.
        after = epochs(players, redis_client)
        assert all(after[m] > before[m] for m in before)
        acked = sum(len(p.acked) for p in players)
        unsure = sum(len(p.unsure) for p in players)
        print(f"{acked} inputs acknowledged, {unsure} unanswered, over {MATCHES} matches")
        for player, its_end in zip(players, ended, strict=True):
            assert its_end.items == []
            assert player.refused.keys() <= {"RATE_LIMITED"}
            await player.client.request("match.input", match_id=player.match_id, type="report")
            report = (await next_event(player.client, player.match_id, "report"))["data"]
            applied = report["applied"][player.player_id]
            assert len(applied) == len(set(applied))  # none twice
            assert set(player.acked) <= set(applied)  # every acknowledged one
            assert set(applied) <= set(player.acked) | set(player.unsure)
    finally:
        await close_all([p.client for p in players])
        for balancer in balancers:
            await balancer.aclose()
