"""Server-run matches on real nodes while their players keep sending inputs: a rolling
restart of three nodes (each in turn stopped with SIGTERM, so it hands its matches off,
waited for and started again), and a host killed with SIGKILL (its matches taken over
once their leases lapse). No match ends; every acknowledged input is applied exactly
once (an unanswered one at most once); every event reaches its player once."""

from __future__ import annotations

import asyncio
import collections
import itertools
import signal
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field

import redis as redis_sync

from client_sim.client import ArenaClient, ArenaError, ConnectionClosed
from server.protocol import Message
from server.storage import keys
from tests.balancer import Balancer
from tests.conftest import SpawnNode
from tests.helpers import eventually, login
from tests.hosted_helpers import committed_in_redis, next_event, node_env
from tests.integrity_helpers import close_all
from tests.nodes import NodeProcess

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
    told: list[int] = field(default_factory=list)  # the game's "added" events received
    ended: list[Message] = field(default_factory=list)

    def listen(self) -> None:
        self.client.on("match.event", self._event)
        self.client.on("match.ended", self.ended.append)

    def _event(self, push: Message) -> None:
        if push["type"] == "added":
            self.told.append(push["data"]["n"])

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


async def seat_players(nodes: list[NodeProcess], count: int) -> tuple[list[Player], list[Balancer]]:
    """``count`` players, each creating a Counter match of their own. Each reaches the
    nodes through a balancer that prefers one node and falls back to the others in turn,
    reconnecting by itself when its node goes."""
    ports = [node.port for node in nodes]
    balancers = [await Balancer(ports[i:] + ports[:i]).start() for i in range(len(ports))]
    players = []
    for i in range(count):
        account = await login(nodes[i % len(nodes)].url, f"p{i}")
        balancer = balancers[i % len(balancers)]
        client = await ArenaClient.connect(balancer.url, account.token, reconnect=True)
        players.append(Player(client, account.player_id))
    for player in players:
        player.listen()
        match = (await player.client.request("match.create", mode="counter"))["match"]
        player.match_id = match["match_id"]
    return players, balancers


def epochs(players: list[Player], redis_client: redis_sync.Redis) -> dict[str, int]:
    """Each match's epoch: how many times a node took it (0: none yet)."""
    return {p.match_id: int(redis_client.get(keys.match_epoch(p.match_id)) or 0) for p in players}


def all_hosted(players: list[Player], redis_client: redis_sync.Redis) -> bool:
    """Every match has a node holding its lease."""
    return all(redis_client.exists(keys.match_lease(p.match_id)) for p in players)


async def each_input_once(players: list[Player], redis_client: redis_sync.Redis) -> None:
    """No match ended; each applied every acknowledged input once, and no input twice;
    each tick's outputs were committed under one epoch; each player heard each of its
    inputs applied once."""
    acked = sum(len(p.acked) for p in players)
    unsure = sum(len(p.unsure) for p in players)
    print(f"{acked} inputs acknowledged, {unsure} unanswered, over {len(players)} matches")
    for player in players:
        assert player.ended == []
        assert player.refused.keys() <= {"RATE_LIMITED"}
        await player.client.request("match.input", match_id=player.match_id, type="report")
        report = (await next_event(player.client, player.match_id, "report"))["data"]
        applied = report["applied"][player.player_id]
        assert len(applied) == len(set(applied))  # none twice
        assert set(player.acked) <= set(applied)  # every acknowledged one
        assert set(applied) <= set(player.acked) | set(player.unsure)
        # What the hosts committed: none after a later epoch's, and each tick's events
        # under one epoch (a new host's resync comes at the tick it resumed from).
        committed = committed_in_redis(redis_client, player.match_id)
        assert [e.epoch for e in committed] == sorted(e.epoch for e in committed)
        by_tick: dict[int, set[int]] = collections.defaultdict(set)
        for entry in committed:
            if entry.ev == "match.event":
                by_tick[entry.tick].add(entry.epoch)
        assert {t: e for t, e in by_tick.items() if len(e) > 1} == {}
        # What the player heard: each applied input's event once (live, or caught up).
        assert sorted(player.told) == sorted(applied)


async def test_a_rolling_restart_of_every_node_ends_no_match_and_loses_no_input(
    spawn_node: SpawnNode, redis_client: redis_sync.Redis
) -> None:
    nodes = [spawn_node(**node_env(f"n{i}")) for i in range(3)]
    players, balancers = await seat_players(nodes, 20)
    try:

        async def hosted() -> bool:
            return all_hosted(players, redis_client)

        await eventually(hosted, within_s=10)
        before = epochs(players, redis_client)
        stop = asyncio.Event()
        playing = [asyncio.create_task(p.play(stop)) for p in players]
        for node in nodes:
            node.signal(signal.SIGTERM)
            assert await asyncio.to_thread(node.wait, 15) == 0  # handed off, then exited
            await asyncio.to_thread(node.start)
            await eventually(hosted, within_s=10)
        stop.set()
        await asyncio.gather(*playing)

        # Every match was on some node, and every node was restarted: each moved.
        after = epochs(players, redis_client)
        assert all(after[m] > before[m] for m in before)
        await each_input_once(players, redis_client)
    finally:
        await close_all([p.client for p in players])
        for balancer in balancers:
            await balancer.aclose()


async def test_a_host_killed_under_a_stream_of_inputs_loses_none_and_repeats_none(
    spawn_node: SpawnNode, redis_client: redis_sync.Redis
) -> None:
    nodes = {f"n{i}": spawn_node(**node_env(f"n{i}")) for i in range(2)}
    players, balancers = await seat_players(list(nodes.values()), 8)
    try:

        async def hosted() -> bool:
            return all_hosted(players, redis_client)

        await eventually(hosted, within_s=10)
        hosts = {
            p.match_id: (await p.client.request("match.current"))["match"]["host"] for p in players
        }
        doomed_id = hosts[players[0].match_id]
        moved = [p for p in players if hosts[p.match_id] == doomed_id]
        stop = asyncio.Event()
        playing = [asyncio.create_task(p.play(stop)) for p in players]

        def acked_at_least(count: dict[str, int]) -> Callable[[], Awaitable[bool]]:
            async def check() -> bool:
                return all(len(p.acked) >= count[p.match_id] for p in players)

            return check

        # Inputs flow a while first: snapshots are taken, inputs wait in between.
        await eventually(acked_at_least({p.match_id: 15 for p in players}), within_s=10)
        doomed = nodes[doomed_id]
        doomed.signal(signal.SIGKILL)
        assert await asyncio.to_thread(doomed.wait, 5) == -signal.SIGKILL

        async def taken_over() -> bool:
            return set(epochs(moved, redis_client).values()) == {2}

        await eventually(taken_over, within_s=10)
        # Inputs flow a while on the new host too.
        sent = {p.match_id: len(p.acked) + 10 for p in players}
        await eventually(acked_at_least(sent), within_s=10)
        stop.set()
        await asyncio.gather(*playing)
        await each_input_once(players, redis_client)
    finally:
        await close_all([p.client for p in players])
        for balancer in balancers:
            await balancer.aclose()
