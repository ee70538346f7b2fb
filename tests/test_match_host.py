"""The match host's tick batches, driven pass by pass against real Redis (no scheduler
loop, no sleeps): batches overlap, yet one match's ticks never do, so each input is
applied once however long a sibling in an earlier batch keeps that batch open."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

import msgpack
import pytest
import redis as redis_sync

from server.embedded_redis import RedisProcess
from server.games.api import Input
from server.games.loader import load_games
from server.protocol import with_id
from server.services import Services
from server.services.host_opener import Doorbell
from server.services.match_host import MatchHost
from server.storage import keys
from server.storage.clients import open_mux, open_redis
from server.storage.host_nodes import HostNodes
from server.storage.hosting import HostStore
from server.storage.scripts import Scripts
from tests.conftest import settings_for_test
from tests.helpers import services_of
from tests.hosted_helpers import GAMES, hosted_mode
from tests.hub_parts import Gate


class HeldStore(HostStore):
    """The hosting store, whose next input read or commit of a match can be held."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._gates: dict[tuple[str, str], Gate] = {}

    def hold(self, step: str, match_id: str) -> Gate:
        """Hold the match's next ``step`` ("read" its inputs, or "commit") till let go."""
        gate = self._gates[step, match_id] = Gate()
        return gate

    async def _at(self, step: str, match_id: str) -> None:
        gate = self._gates.pop((step, match_id), None)
        if gate is not None:
            await gate.wait_here()

    async def inputs_after(self, match_id: str, after: str, limit: int) -> list[Input]:
        await self._at("read", match_id)
        return await super().inputs_after(match_id, after, limit)

    async def commit(self, match_id: str, **kwargs: Any) -> list[str]:
        await self._at("commit", match_id)
        return await super().commit(match_id, **kwargs)


@dataclass
class Node:
    services: Services
    store: HeldStore
    host: MatchHost

    async def tick(self, *match_ids: str) -> asyncio.Task[None] | None:
        """One scheduler pass that finds these matches due: the batch it starts (not
        awaited), or None when every one was still busy with its last tick."""
        before = set(self.host._batches)
        self.host._due.extend(match_ids)
        await self.host._flush()
        started = set(self.host._batches) - before
        return started.pop() if started else None

    async def counter(self, player_id: str) -> str:
        """A Counter match of the player's, hosted here."""
        match = await self.services.hosted.create(player_id, "counter", {})
        assert await self.host.adopt(match["match_id"])
        return str(match["match_id"])

    async def add(self, player_id: str, match_id: str, n: int) -> None:
        await self.services.hosted.input(player_id, match_id, "add", n)


@pytest.fixture
async def node(redis_server: RedisProcess, redis_client: redis_sync.Redis) -> AsyncIterator[Node]:
    modes = {"counter": hosted_mode(f"{GAMES}:Counter")}
    settings = settings_for_test(redis_url=redis_server.url, modes=json.dumps(modes))
    mux = open_mux(redis_server.url, timeout_s=settings.redis_timeout_s)
    blocking = open_redis(redis_server.url, pool_size=2, timeout_s=settings.redis_timeout_s)
    services = services_of(settings, mux, lambda: 1_800_000_000.0, blocking)
    store = HeldStore(mux, Scripts.load(mux), feed_keep=settings.match_feed_max)
    host = MatchHost(
        store,
        HostNodes(mux),
        services.hosted,
        load_games(settings.mode_book()),
        Doorbell(),
        node_id=settings.node_id,
        lease_s=60.0,
        sweep_s=60.0,
        snapshot_s=3600.0,  # no snapshot but the ones a test takes
        monotonic=lambda: 0.0,  # nor a lease renewal: a tick commits only what it consumed
    )
    try:
        yield Node(services, store, host)
    finally:
        await mux.aclose()
        await blocking.aclose()


def applied(redis_client: redis_sync.Redis, match_id: str) -> list[int]:
    """The inputs the match's game applied, as its committed "added" events say."""
    found = []
    raw: Any = redis_client.xrange(keys.match_feed(match_id))
    for raw_id, fields in raw:
        push = msgpack.unpackb(with_id(fields[b"p"], raw_id.decode()))
        if push.get("type") == "added":
            found.append(push["data"]["n"])
    return found


async def test_an_earlier_batch_ending_late_does_not_free_a_match_busy_in_a_later_one(
    node: Node, redis_client: redis_sync.Redis
) -> None:
    mine, other = await node.counter("p1"), await node.counter("p2")
    # Both due in one pass; the other's tick is slow to commit, so that batch stays open
    # after mine's tick there is done.
    await node.add("p2", other, 1)
    slow_commit = node.store.hold("commit", other)
    first = await node.tick(mine, other)
    await slow_commit.reached.wait()
    # Mine is due again: a second batch, whose read of my new input is slow to return.
    await node.add("p1", mine, 1)
    slow_read = node.store.hold("read", mine)
    second = await node.tick(mine)
    assert second is not None  # it did start
    await slow_read.reached.wait()
    # The first batch ends while my tick in the second is still under way...
    slow_commit.go_on.set()
    assert first is not None
    await first
    # ...so mine, due again, waits for that tick: it does not read the same input again.
    third = await node.tick(mine)
    slow_read.go_on.set()
    await asyncio.gather(second, *([third] if third else []))
    assert applied(redis_client, mine) == [1]  # once
    assert applied(redis_client, other) == [1]
    assert (third, node.host.counts.busy) == (None, 1)
