"""ClusterMux on a real 3-master cluster: routing by each command's declared keys, refusals
before sending, and MOVED/ASK followed alike by commands, pipelines and scripts."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from typing import Any

import pytest
import redis

from server.embedded_redis import RedisClusterProcesses
from server.redis_urls import Endpoint
from server.storage.cluster import TRYAGAIN_RETRIES, ClusterMux, command_slot, slot_of
from server.storage.command_keys import CrossSlot, UnknownCommand
from server.storage.commands import (
    CommandError,
    MuxConnectionError,
    MuxNotSentError,
    RefusedCommand,
)
from tests.helpers import eventually


@pytest.fixture
async def mux(redis_cluster: RedisClusterProcesses) -> AsyncIterator[ClusterMux]:
    client = ClusterMux(redis_cluster.url)
    yield client
    await client.aclose()


@pytest.fixture
def nodes(redis_cluster: RedisClusterProcesses) -> Iterator[dict[int, redis.Redis]]:
    """A plain client per node, by port, to set slots migrating behind ClusterMux's back."""
    clients = {n.port: redis.Redis(port=n.port) for n in redis_cluster.nodes}
    yield clients
    for client in clients.values():
        client.close()


def _command(client: redis.Redis, *args: Any) -> Any:
    return client.execute_command(*args)  # type: ignore[no-untyped-call]


@dataclass
class SlotMove:
    """A key's slot moved from its owner to another master, the way redis-cli moves one,
    behind ClusterMux's back: ``begin`` marks it migrating, ``migrate`` moves keys one by
    one, ``finish`` moves the rest and gives every node the slot's new owner."""

    nodes: dict[int, redis.Redis]
    source: Endpoint
    target: Endpoint
    slot: int
    ids: dict[int, str]

    @classmethod
    async def of(cls, mux: ClusterMux, nodes: dict[int, redis.Redis], key: str) -> SlotMove:
        source = await mux.owner(key)
        target = next(m for m in await mux.masters() if m != source)
        ids = {p: _command(c, "CLUSTER", "MYID").decode() for p, c in nodes.items()}
        return cls(nodes, source, target, slot_of(key), ids)

    def begin(self) -> None:
        src, dst = self.source.port, self.target.port
        _command(self.nodes[dst], "CLUSTER", "SETSLOT", self.slot, "IMPORTING", self.ids[src])
        _command(self.nodes[src], "CLUSTER", "SETSLOT", self.slot, "MIGRATING", self.ids[dst])

    def migrate(self, *keys: str) -> None:
        for key in keys:
            _command(
                self.nodes[self.source.port], "MIGRATE", "127.0.0.1", self.target.port, key, 0, 5000
            )

    def finish(self, *remaining: str) -> None:
        self.migrate(*remaining)
        # Other tests' keys may share the slot (the cluster serves the whole session):
        # they move too, or the source refuses to give the slot up.
        source = self.nodes[self.source.port]
        others = _command(source, "CLUSTER", "GETKEYSINSLOT", self.slot, 1000)
        self.migrate(*(k.decode() for k in others))
        for client in self.nodes.values():
            _command(client, "CLUSTER", "SETSLOT", self.slot, "NODE", self.ids[self.target.port])


async def test_xread_and_multi_key_commands_route_by_their_declared_keys(mux: ClusterMux) -> None:
    a, b = "arena:{feeds}:a", "arena:{feeds}:b"
    assert command_slot(("XREAD", "COUNT", 5, "STREAMS", a, b, "0", "0")) == slot_of(a)
    first = await mux.execute("XADD", a, "*", "p", "1")
    await mux.execute("XADD", b, "*", "p", "2")
    reply = await mux.execute("XREAD", "COUNT", 5, "STREAMS", a, b, "0", "0")
    assert [stream for stream, _ in reply] == [a.encode(), b.encode()]
    assert reply[0][1][0][0] == first
    assert await mux.execute("LMOVE", "{q}:ready", "{q}:taken", "RIGHT", "LEFT") is None
    assert await mux.execute("MSET", "{m}:1", "x", "{m}:2", "y") == b"OK"
    assert await mux.execute("MGET", "{m}:1", "{m}:2") == [b"x", b"y"]


async def test_cross_slot_and_unknown_commands_are_refused_before_sending(
    mux: ClusterMux,
) -> None:
    with pytest.raises(CrossSlot, match="CROSSSLOT"):
        await mux.execute("XREAD", "STREAMS", "arena:{one}:a", "arena:{two}:b", "0", "0")
    with pytest.raises(CrossSlot):
        await mux.execute("MGET", "{x}a", "{y}b")
    with pytest.raises(CrossSlot):
        await mux.transaction(("SET", "{x}a", 1), ("SET", "{y}b", 1))
    with pytest.raises(CrossSlot):
        await mux.evalsha(mux.register_script("return 1"), ["{x}a", "{y}b"], [])
    with pytest.raises(UnknownCommand, match="OBJECT"):
        await mux.execute("OBJECT", "ENCODING", "{x}a")
    # Commands that would change or block a node's shared connection: refused, saying so.
    with pytest.raises(RefusedCommand):
        await mux.execute("BLMOVE", "{q}:ready", "{q}:taken", "RIGHT", "LEFT", 0)
    with pytest.raises(RefusedCommand):
        await mux.execute("ssubscribe", "{x}chan")
    with pytest.raises(RefusedCommand):
        await mux.pipeline(("SET", "{x}a", 1), ("XREAD", "BLOCK", 0, "STREAMS", "{x}s", "$"))
    with pytest.raises(RefusedCommand):
        await mux.transaction(("SET", "{x}a", 1), ("CLIENT", "REPLY", "OFF"))
    # Nothing was sent: not even the transaction's first SET.
    assert await mux.execute("EXISTS", "{x}a") == 0


async def test_a_pipeline_spans_every_master_and_keeps_each_slots_order(mux: ClusterMux) -> None:
    keys = [f"arena:{{p{i}}}:n" for i in range(30)]
    assert len({(await mux.owner(k)).port for k in keys}) == 3
    commands = [c for k in keys for c in (("INCR", k), ("INCRBY", k, 10), ("GET", k))]
    replies = await mux.pipeline(*commands)
    assert replies == [r for _ in keys for r in (1, 11, b"11")]


async def test_a_half_migrated_slot_sends_only_the_missing_keys_on_with_ask(
    mux: ClusterMux, nodes: dict[int, redis.Redis]
) -> None:
    """Slot migrating: the source answers for the keys it still has and ASKs for the rest.
    A pipeline gets each reply once, in order; a script follows ASK by its source (EVAL)."""
    here, gone = "arena:{half}:here", "arena:{half}:gone"
    await mux.execute("SET", here, 10)
    move = await SlotMove.of(mux, nodes, here)
    try:
        move.begin()
        replies = await mux.pipeline(
            ("INCR", here), ("SET", gone, "x"), ("INCR", here), ("APPEND", gone, "y")
        )
        assert replies == [11, b"OK", 12, 2]
        script = mux.register_script("return redis.call('GET', KEYS[1])")
        assert await mux.evalsha(script, [gone], []) == b"xy"  # ASK, then EVAL at the target
        assert await mux.execute("GET", gone) == b"xy"
    finally:
        move.finish(here)
    assert await mux.execute("GET", here) == b"12"  # MOVED: learnt, and followed
    assert await mux.owner(here) == move.target


def _tryagains(client: redis.Redis) -> int:
    stats = client.info("errorstats")
    return int(stats.get("errorstat_TRYAGAIN", {}).get("count", 0))


async def test_a_multi_key_command_split_by_a_migration_is_tried_again(
    mux: ClusterMux, nodes: dict[int, redis.Redis]
) -> None:
    """One key of two moved, the slot still migrating: the source answers TRYAGAIN, and the
    client sends the command again after a pause (it raised at once before); once the
    migration ends, the retry is MOVED to the new owner and answered."""
    a, b = "arena:{split}:a", "arena:{split}:b"
    await mux.execute("MSET", a, "1", b, "2", "arena:{split}:bystander", "3")  # moved at finish
    move = await SlotMove.of(mux, nodes, a)
    source = nodes[move.source.port]
    seen = _tryagains(source)
    try:
        move.begin()
        move.migrate(b)
        both = asyncio.create_task(mux.execute("MGET", a, b))

        async def tried() -> bool:
            return _tryagains(source) > seen

        await eventually(tried, within_s=5, every_s=0.005)
    finally:
        move.finish(a)  # blocking calls: they hold the event loop, so the retry waits
    assert await both == [b"1", b"2"]
    assert await mux.owner(a) == move.target


async def test_aclose_while_the_slot_map_is_read_opens_nothing_more(
    redis_cluster: RedisClusterProcesses,
) -> None:
    """The first seed hangs (it takes the command and never answers): closing the client
    then must not go on to the next seed, open a connection there and install a map."""
    asked = asyncio.Event()

    async def hang(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await reader.read(100)
        asked.set()
        await reader.read()  # until the client goes

    hung = await asyncio.start_server(hang, "127.0.0.1", 0)
    port = hung.sockets[0].getsockname()[1]
    real = redis_cluster.nodes[0].port
    mux = ClusterMux(f"redis+cluster://127.0.0.1:{port},127.0.0.1:{real}", timeout_s=5)
    try:
        reading = asyncio.create_task(mux.refresh())
        await asyncio.wait_for(asked.wait(), 5)
        await mux.aclose()
        with pytest.raises(MuxConnectionError):
            await reading
        assert list(mux._nodes) == [("127.0.0.1", port)]  # nothing opened at the real seed
        mux.learn(f"MOVED 1 127.0.0.1:{real}")
        assert list(mux._nodes) == [("127.0.0.1", port)]
    finally:
        await mux.aclose()
        hung.close()


async def test_a_tryagain_that_lasts_raises_its_own_error_after_its_retries(
    mux: ClusterMux, nodes: dict[int, redis.Redis]
) -> None:
    """A migration that stays half done: the split MGET is sent TRYAGAIN_RETRIES more
    times, then its TRYAGAIN error is raised (not run, so safe to retry), not an
    "outcome unknown" connection error."""
    a, b = "arena:{stuck}:a", "arena:{stuck}:b"
    await mux.execute("MSET", a, "1", b, "2")
    move = await SlotMove.of(mux, nodes, a)
    source = nodes[move.source.port]
    seen = _tryagains(source)
    try:
        move.begin()
        move.migrate(b)
        with pytest.raises(CommandError, match="TRYAGAIN"):
            await mux.execute("MGET", a, b)
        assert _tryagains(source) - seen == 1 + TRYAGAIN_RETRIES
    finally:
        move.finish(a)


async def test_a_pipeline_partly_run_is_not_reported_as_not_sent(mux: ClusterMux) -> None:
    """A pipeline over two masters, one of whose clients cannot send (closed): the other
    master's share ran, so the pipeline's outcome is unknown (MuxConnectionError), not
    "not sent"; one wholly on the closed master's client was not sent at all."""
    keys = [f"arena:{{half{i}}}:n" for i in range(30)]
    owners = {k: await mux.owner(k) for k in keys}
    dead = owners[keys[0]]
    alive = next(k for k in keys if owners[k] != dead)
    await mux._nodes[(dead.host, dead.port)].aclose()  # its commands now fail, not sent
    with pytest.raises(MuxConnectionError) as raised:
        await mux.pipeline(("INCR", keys[0]), ("INCR", alive))
    assert not isinstance(raised.value, MuxNotSentError)
    assert await mux.execute("GET", alive) == b"1"  # that share ran
    with pytest.raises(MuxNotSentError):
        await mux.pipeline(("INCR", keys[0]), ("INCR", keys[0]))
