"""The hosting store on real Redis: one claimer wins, a superseded host writes nothing,
a tick's events reach the feed and the channel in order with what a replay needs, a
snapshot trims what it covers, a hand-off is claimable at once, inputs are refused as
sends are, every key expires; and the same on a 3-master cluster, in one slot."""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import AsyncIterator

import pytest
import redis as redis_sync

from server.embedded_redis import RedisClusterProcesses, RedisProcess
from server.errors import MatchEnded, NotInMatch, RateLimited
from server.games.api import Input
from server.protocol import Push, Tell, packed_head, with_id
from server.settings import RateLimit
from server.storage import keys
from server.storage.cluster import ClusterMux, slot_of
from server.storage.connection import text
from server.storage.feeds import Feeds
from server.storage.hosting import HostStore
from server.storage.hosting_records import Claim, Fenced, HostRecord, Refusal, Snapshot, Steps
from server.storage.match_record import MatchRecord
from server.storage.matches import INPUT_BACKLOG, JOIN_BACKLOG, MatchStore
from server.storage.mux import Commands, RedisMux
from server.storage.scripts import Scripts

RECORD = HostRecord(game="server.games.tictactoe:TicTacToe", tick_rate=10, seed=7, params={})
LEASE_MS = 60_000  # long: a test lapses a lease by deleting it, never by waiting
LIMIT = RateLimit(burst=60, per_s=30.0)


class Stores:
    def __init__(self, mux: Commands) -> None:
        scripts = Scripts.load(mux)
        self.hosting = HostStore(mux, scripts, feed_keep=100)
        self.matches = MatchStore(mux, scripts, Feeds(mux, scripts), feed_keep=100)

    async def start(self, match_id: str, players: list[str]) -> None:
        """A running match of ``players``, opened for hosting."""
        record = MatchRecord(match_id, "lobby", "tictactoe", players, "running", 1, hosted=True)
        assert await self.matches.create(record)
        assert await self.hosting.open(match_id, RECORD)


@pytest.fixture
async def stores(
    redis_server: RedisProcess, redis_client: redis_sync.Redis
) -> AsyncIterator[Stores]:
    mux = RedisMux(redis_server.url)
    yield Stores(mux)
    await mux.aclose()


def event(n: int) -> bytes:
    return packed_head(Push.MATCH_EVENT, {"match_id": "m", "from": "server", "n": n})


def lapse(redis_client: redis_sync.Redis, match_id: str) -> None:
    """The lease runs out, as its PX would let it (a claim sees only whether it exists)."""
    assert redis_client.delete(keys.match_lease(match_id)) == 1


async def test_of_two_racing_claimers_exactly_one_wins_epoch_1(
    stores: Stores, redis_client: redis_sync.Redis
) -> None:
    assert await stores.hosting.claim("m", "a", LEASE_MS) is Refusal.GONE  # not opened
    await stores.start("m", ["p1", "p2"])
    results = await asyncio.gather(*(stores.hosting.claim("m", n, LEASE_MS) for n in "abcd"))
    won = [(node, r) for node, r in zip("abcd", results, strict=True) if isinstance(r, Claim)]
    assert len(won) == 1
    node, claim = won[0]
    assert claim == Claim(epoch=1, record=RECORD, snapshot=None)
    assert results.count(Refusal.HELD) == 3
    assert redis_client.get(keys.match_lease("m")) == f"{node}:1".encode()


async def test_a_superseded_host_commits_and_snapshots_nothing(
    stores: Stores, redis_client: redis_sync.Redis
) -> None:
    await stores.start("m", ["p1"])
    assert isinstance(await stores.hosting.claim("m", "a", LEASE_MS), Claim)
    lapse(redis_client, "m")  # a paused past its lease
    newer = await stores.hosting.claim("m", "b", LEASE_MS)
    assert isinstance(newer, Claim)
    assert newer.epoch == 2

    with pytest.raises(Fenced):  # a resumes and commits its tick
        await stores.hosting.commit(
            "m",
            epoch=1,
            node="a",
            tick=5,
            in_upto="1-0",
            consumed=True,
            pushes=[event(1)],
            renew_ms=LEASE_MS,
        )
    with pytest.raises(Fenced):
        await stores.hosting.snapshot("m", Snapshot(5, 1, "1-0", "", b"blob"))
    assert redis_client.xlen(keys.match_feed("m")) == 0
    assert not redis_client.exists(keys.match_steps("m"), keys.match_snapshot("m"))
    assert redis_client.get(keys.match_lease("m")) == b"b:2"  # its renewal took nothing
    assert not await stores.hosting.release("m", "a", 1, now_ms=0)  # nor may it hand off

    ids = await stores.hosting.commit(
        "m", epoch=2, node="b", tick=5, in_upto="", consumed=False, pushes=[event(1)]
    )
    assert len(ids) == 1


async def test_a_tick_is_appended_and_published_in_order_with_its_tick_epoch_and_inputs(
    stores: Stores, redis_server: RedisProcess, redis_client: redis_sync.Redis
) -> None:
    await stores.start("m", ["p1"])
    claim = await stores.hosting.claim("m", "a", 1000)
    assert isinstance(claim, Claim)
    subscriber = redis_sync.Redis.from_url(redis_server.url).pubsub()  # type: ignore[no-untyped-call]
    subscriber.ssubscribe(keys.match_channel("m"))
    subscribed = subscriber.get_message(timeout=5)
    assert subscribed is not None
    assert subscribed["type"] == "ssubscribe"

    first = await stores.hosting.add_input("m", "p1", "move", {"cell": 4}, LIMIT)
    pushes = [event(n) for n in range(3)]
    ids = await stores.hosting.commit(
        "m",
        epoch=1,
        node="a",
        tick=1,
        in_upto=first,
        consumed=True,
        pushes=pushes,
        renew_ms=LEASE_MS,
    )
    assert ids == sorted(ids)
    assert len(set(ids)) == 3
    received = []
    for _ in ids:
        message = subscriber.get_message(timeout=5)
        assert message is not None
        received.append(message["data"])
    subscriber.close()
    assert received == [with_id(p, i) for p, i in zip(pushes, ids, strict=True)]

    committed = await stores.hosting.committed_after("m", "", 10)
    assert [(c.id, c.tick, c.epoch, c.in_upto) for c in committed] == [
        (i, 1, 1, first) for i in ids
    ]
    assert await stores.hosting.committed_after("m", ids[0], 10) == committed[1:]
    # The feed readers of every match read it as before: the pushes, ids included.
    feed = await stores.matches.feed_after("m", None, 10)
    assert [e.push for e in feed] == received
    assert redis_client.pttl(keys.match_lease("m")) > 1000  # renewed
    assert await stores.hosting.steps("m") == Steps(last=1, consumed={1: first})
    # A quiet tick leaves no entry, yet counts as committed.
    quiet = await stores.hosting.commit(
        "m", epoch=1, node="a", tick=2, in_upto=first, consumed=False, pushes=[]
    )
    assert quiet == []
    assert await stores.hosting.steps("m") == Steps(last=2, consumed={1: first})


async def test_a_snapshot_trims_the_inputs_and_steps_it_covers_and_a_claim_returns_it(
    stores: Stores, redis_client: redis_sync.Redis
) -> None:
    await stores.start("m", ["p1", "p2"])
    assert isinstance(await stores.hosting.claim("m", "a", LEASE_MS), Claim)
    ids = [
        await stores.hosting.add_input("m", p, "move", {"cell": i}, LIMIT)
        for i, p in enumerate(["p1", "p2", "p1"])
    ]
    inputs = await stores.hosting.inputs_after("m", "", 10)
    assert inputs == [
        Input("p1", "move", {"cell": 0}, ids[0]),
        Input("p2", "move", {"cell": 1}, ids[1]),
        Input("p1", "move", {"cell": 2}, ids[2]),
    ]
    assert await stores.hosting.inputs_after("m", ids[0], 1) == inputs[1:2]
    out = await stores.hosting.commit(
        "m", epoch=1, node="a", tick=1, in_upto=ids[1], consumed=True, pushes=[event(0)]
    )
    snap = Snapshot(tick=1, epoch=1, in_upto=ids[1], out_id=out[-1], blob=b"\x00state\xff")
    await stores.hosting.snapshot("m", snap)

    assert await stores.hosting.inputs_after("m", "", 10) == inputs[2:]  # unconsumed kept
    assert await stores.hosting.steps("m") == Steps(last=None, consumed={})
    lapse(redis_client, "m")
    claim = await stores.hosting.claim("m", "b", LEASE_MS)
    assert claim == Claim(epoch=2, record=RECORD, snapshot=snap)


async def test_a_released_match_is_due_and_claimed_at_once_with_the_next_epoch(
    stores: Stores,
) -> None:
    await stores.start("m", ["p1"])
    claim = await stores.hosting.claim("m", "a", LEASE_MS)
    assert isinstance(claim, Claim)
    now_ms = int(time.time() * 1000)
    await stores.hosting.note_lease("m", now_ms + LEASE_MS)
    assert await stores.hosting.due_leases(now_ms, 10) == []

    assert not await stores.hosting.release("m", "b", 1, now_ms)  # not b's
    assert await stores.hosting.release("m", "a", 1, now_ms)
    assert await stores.hosting.due_leases(now_ms, 10) == ["m"]
    nxt = await stores.hosting.claim("m", "b", LEASE_MS)
    assert isinstance(nxt, Claim)
    assert nxt.epoch == 2


async def test_deadlines_older_than_any_match_are_dropped(stores: Stores) -> None:
    now_ms = int(time.time() * 1000)
    await stores.hosting.note_lease("ancient", now_ms - 2 * 86400 * 1000)
    await stores.hosting.note_lease("due", now_ms - 1)
    assert await stores.hosting.due_leases(now_ms, 10) == ["due"]
    await stores.hosting.forget_lease("due")
    assert await stores.hosting.due_leases(now_ms, 10) == []


async def test_inputs_are_refused_to_outsiders_after_the_end_and_past_the_rate(
    stores: Stores, redis_client: redis_sync.Redis
) -> None:
    await stores.start("m", ["p1", "p2"])
    with pytest.raises(NotInMatch):
        await stores.hosting.add_input("m", "stranger", "move", {}, LIMIT)
    with pytest.raises(NotInMatch):
        await stores.hosting.add_input("nothing", "p1", "move", {}, LIMIT)
    slow = RateLimit(burst=2, per_s=0.001)
    await stores.hosting.add_input("m", "p1", "move", {}, slow)
    await stores.hosting.add_input("m", "p1", "move", {}, slow)
    with pytest.raises(RateLimited) as limited:
        await stores.hosting.add_input("m", "p1", "move", {}, slow)
    assert (limited.value.retry_after_ms or 0) > 0
    await stores.hosting.add_input("m", "p2", "move", {}, slow)  # a limit per player
    redis_client.hset(keys.match("m"), "state", "ended")
    with pytest.raises(MatchEnded):
        await stores.hosting.add_input("m", "p2", "move", {}, LIMIT)
    assert len(await stores.hosting.inputs_after("m", "", 10)) == 3


async def test_every_key_a_hosted_match_writes_expires(
    stores: Stores, redis_client: redis_sync.Redis
) -> None:
    await stores.start("m", ["p1"])
    assert isinstance(await stores.hosting.claim("m", "a", LEASE_MS), Claim)
    first = await stores.hosting.add_input("m", "p1", "move", {}, LIMIT)
    await stores.hosting.add_input("m", "p1", "move", {}, LIMIT)
    out = await stores.hosting.commit(
        "m", epoch=1, node="a", tick=1, in_upto=first, consumed=True, pushes=[event(0)]
    )
    await stores.hosting.snapshot("m", Snapshot(1, 1, "", out[0], b"s"))
    await stores.hosting.commit(
        "m", epoch=1, node="a", tick=2, in_upto=first, consumed=True, pushes=[]
    )
    await stores.hosting.note_lease("m", 1)
    written = {text(k) for k in redis_client.keys("*")}
    expected = {
        keys.match_host("m"),
        keys.match_epoch("m"),
        keys.match_lease("m"),
        keys.match_inputs("m"),
        keys.match_input_rate("m", "p1"),
        keys.match_snapshot("m"),
        keys.match_steps("m"),
        keys.match_feed("m"),
        keys.host_leases(),
    }
    assert expected <= written
    assert {k: redis_client.pttl(k) for k in written if redis_client.pttl(k) < 0} == {}


async def test_claim_commit_and_fence_on_a_cluster_in_one_slot(
    redis_cluster: RedisClusterProcesses,
) -> None:
    mux = ClusterMux(redis_cluster.url)
    try:
        stores = Stores(mux)
        match_id = uuid.uuid4().hex  # the cluster lives for the session: a fresh match
        await stores.start(match_id, ["p1"])
        claims = await asyncio.gather(*(stores.hosting.claim(match_id, n, LEASE_MS) for n in "ab"))
        won = [c for c in claims if isinstance(c, Claim)]
        assert len(won) == 1
        assert won[0].epoch == 1
        assert Refusal.HELD in claims
        winner = "a" if isinstance(claims[0], Claim) else "b"
        first = await stores.hosting.add_input(match_id, "p1", "move", {"cell": 1}, LIMIT)
        ids = await stores.hosting.commit(
            match_id,
            epoch=1,
            node=winner,
            tick=1,
            in_upto=first,
            consumed=True,
            pushes=[event(0), event(1)],
            renew_ms=LEASE_MS,
        )
        assert len(ids) == 2
        assert await stores.hosting.release(match_id, winner, 1, now_ms=1)
        assert match_id in await stores.hosting.due_leases(2, 100)
        nxt = await stores.hosting.claim(match_id, "c", LEASE_MS)
        assert isinstance(nxt, Claim)
        assert nxt.epoch == 2
        with pytest.raises(Fenced):
            await stores.hosting.commit(
                match_id,
                epoch=1,
                node=winner,
                tick=2,
                in_upto=first,
                consumed=False,
                pushes=[event(2)],
            )
        assert len(await stores.hosting.committed_after(match_id, "", 10)) == 2
        await stores.hosting.forget_lease(match_id)
    finally:
        await mux.aclose()
    tagged = [
        keys.match(match_id),
        keys.match_players(match_id),
        keys.match_host(match_id),
        keys.match_epoch(match_id),
        keys.match_lease(match_id),
        keys.match_inputs(match_id),
        keys.match_input_rate(match_id, "p1"),
        keys.match_snapshot(match_id),
        keys.match_steps(match_id),
        keys.match_feed(match_id),
        keys.match_channel(match_id),
    ]
    assert len({slot_of(k) for k in tagged}) == 1


async def test_asks_to_join_are_refused_while_the_inputs_hold_a_backlog(
    stores: Stores, redis_client: redis_sync.Redis
) -> None:
    await stores.start("m", ["p1"])
    assert await stores.matches.asked_to_join("m", "p2", b"\x80")
    inputs = keys.match_inputs("m")
    pipe = redis_client.pipeline()
    for _ in range(JOIN_BACKLOG):
        pipe.xadd(inputs, {"pl": "p1", "ty": "move", "d": b"\x80"})
    pipe.execute()
    with pytest.raises(RateLimited):
        await stores.matches.asked_to_join("m", "p3", b"\x80")
    assert redis_client.xlen(inputs) == JOIN_BACKLOG + 1  # nothing more written


async def test_inputs_are_refused_while_the_host_leaves_a_backlog_unread(
    stores: Stores, redis_client: redis_sync.Redis
) -> None:
    await stores.start("m", ["p1"])
    inputs = keys.match_inputs("m")
    pipe = redis_client.pipeline()
    for _ in range(INPUT_BACKLOG):
        pipe.xadd(inputs, {"pl": "p1", "ty": "move", "d": b"\x80"})
    pipe.execute()
    with pytest.raises(RateLimited) as refused:
        await stores.hosting.add_input("m", "p1", "move", {}, LIMIT)
    assert refused.value.retry_after_ms == 1000
    assert redis_client.xlen(inputs) == INPUT_BACKLOG  # nothing acknowledged is trimmed


async def test_an_admission_counts_once_per_ask_and_an_older_ask_never_reseats(
    stores: Stores, redis_client: redis_sync.Redis
) -> None:
    await stores.start("m", ["p1"])
    leave = Tell(Push.MATCH_LEFT, {"match_id": "m", "player_id": "p2"})
    assert await stores.matches.admit("m", "p2", "100-0")
    assert await stores.matches.admit("m", "p2", "100-0")  # replayed, still in: redo after
    assert await stores.matches.leave("m", "p2", leave)
    assert not await stores.matches.admit("m", "p2", "100-0")  # replayed, but p2 left since
    assert await stores.matches.admit("m", "p2", "200-1")  # a new ask
    assert await stores.matches.leave("m", "p2", leave)
    assert not await stores.matches.admit("m", "p2", "100-0")  # an older ask, replayed
    assert not redis_client.sismember(keys.match_players("m"), "p2")
    assert (await stores.matches.read("m")).roster == ["p1", "p2"]  # type: ignore[union-attr]
