"""Faults a live game lives through, on real processes: Redis killed and back, a server
node killed mid-match, a node drained with SIGTERM. docs/faults.md says what each promises."""

from __future__ import annotations

import asyncio
import contextlib
import json
import signal
import time
from asyncio import Task
from collections.abc import AsyncIterator, Coroutine, Iterator
from pathlib import Path
from typing import Any

import aiohttp
import pytest
import redis as redis_sync
import redis.asyncio as redis_async

from client_sim.client import ArenaClient, ArenaError
from client_sim.login import ws_url
from server.embedded_redis import RedisProcess
from server.protocol import Format, Message, decode
from server.storage import keys
from tests.balancer import Balancer
from tests.conftest import SpawnNode
from tests.helpers import Pushes, http_json, login, new_device, start_match

FAST_PRESENCE = {"ARENA_PRESENCE_INTERVAL": "0.3", "ARENA_PRESENCE_TTL": "1.5"}


def members(lobby: Message) -> set[str]:
    return {m["player_id"] for m in lobby["members"]}


# --- Redis killed for five seconds -----------------------------------------------------

OUTAGE_S = 5.0
REPLY_BOUND_S = 1.0  # "fails fast": a refusal, not a hang until some timeout
RECOVERY_BOUND_S = 2.0
BOARDS = json.dumps(
    [
        {"id": "global"},
        {"id": "daily", "period": "daily"},
        {"id": "coins", "operator": "incr"},  # each acknowledged submit adds one
    ]
)
GENEROUS_LIMITS = "lb.submit=1000/1000,chat.send=1000/1000"


@pytest.fixture
def aof_redis(tmp_path: Path) -> Iterator[RedisProcess]:
    """This test's own Redis, its AOF fsynced before every reply: what it acknowledged is
    on disk, so even SIGKILL loses none of it."""
    redis = RedisProcess(
        tmp_path / "aof-redis", appendonly=True, extra_args=["--appendfsync", "always"]
    )
    with redis:
        yield redis


def kill_redis(redis: RedisProcess) -> None:
    assert redis.process is not None
    redis.process.send_signal(signal.SIGKILL)  # no chance to flush anything
    redis.process.wait(timeout=5)


class CoinWriter:
    """A player adding one coin at a time, as fast as each is acknowledged, until Redis
    refuses one: ``acked`` counts the acknowledged ones, ``attempted`` every try."""

    def __init__(self, client: ArenaClient, *, warm_up: int) -> None:
        self.acked = self.attempted = 0
        self.warmed_up = asyncio.Event()  # set after ``warm_up`` acknowledged writes
        self.refusal: ArenaError | None = None
        self._warm_up = warm_up
        self.task = asyncio.create_task(self._run(client))

    async def _run(self, client: ArenaClient) -> None:
        while True:
            self.attempted += 1
            try:
                await client.request("lb.submit", board="coins", score=1, timeout=REPLY_BOUND_S)
            except ArenaError as exc:
                self.refusal = exc
                return
            self.acked += 1
            if self.acked >= self._warm_up:
                self.warmed_up.set()


async def refused_fast(client: ArenaClient, op: str, **fields: Any) -> None:
    loop = asyncio.get_running_loop()
    started = loop.time()
    with pytest.raises(ArenaError) as refused:
        await client.request(op, timeout=REPLY_BOUND_S, **fields)
    assert refused.value.code == "UNAVAILABLE", op
    assert loop.time() - started < REPLY_BOUND_S, op


async def test_redis_killed_for_five_seconds_mid_game_loses_no_acknowledged_write(
    spawn_node: SpawnNode, aof_redis: RedisProcess
) -> None:
    with redis_sync.Redis.from_url(aof_redis.url) as admin:
        assert admin.config_get("appendfsync") == {"appendfsync": "always"}
    env = {"ARENA_BOARDS": BOARDS, "ARENA_RATE_LIMITS": GENEROUS_LIMITS}
    a = spawn_node(redis_url=aof_redis.url, **env)
    b = spawn_node(redis_url=aof_redis.url, **env)
    match_id, clients, players = await start_match([a.url, b.url], 2)
    on_a, on_b = clients  # one player on each node
    try:
        chats = [Pushes(c, "chat.message") for c in clients]
        moves = [Pushes(c, "match.event") for c in clients]
        for client in clients:
            await client.request("chat.join", room="general")
        best = (await on_a.request("lb.submit", board="global", score=1200))["score"]
        before = (await on_b.request("match.send", match_id=match_id, type="move", data="b0"))["id"]

        # Both players add coins as fast as they are acknowledged; Redis dies under them.
        writers = [CoinWriter(c, warm_up=20) for c in clients]
        async with asyncio.timeout(5):
            for writer in writers:
                await writer.warmed_up.wait()
        await asyncio.to_thread(kill_redis, aof_redis)
        loop = asyncio.get_running_loop()
        killed_at = loop.time()
        async with asyncio.timeout(2):
            await asyncio.gather(*(w.task for w in writers))
        for writer in writers:
            assert writer.refusal is not None
            assert writer.refusal.code == "UNAVAILABLE"

        # Down: every request that needs Redis is refused at once; the sockets stay open.
        while loop.time() - killed_at < OUTAGE_S:
            await refused_fast(on_a, "lb.submit", board="global", score=1300)
            await refused_fast(on_b, "lb.top", board="global")
            await refused_fast(on_a, "match.send", match_id=match_id, type="move", data="lost")
            await refused_fast(on_b, "match.feed", match_id=match_id)
            await refused_fast(on_a, "chat.send", room="general", text="anyone?")
            await refused_fast(on_b, "lobby.quickjoin", mode="duel")
            assert "server_time_ms" in await on_a.request("ping", timeout=REPLY_BOUND_S)
            started = loop.time()
            status, body = await http_json(
                "POST", b.url + "/v1/auth/guest", json={"device_id": new_device(), "name": "x"}
            )
            assert (status, body["error"]["code"]) == (503, "UNAVAILABLE")
            with pytest.raises(aiohttp.WSServerHandshakeError) as no_socket:
                await ArenaClient.connect(a.url, players[1].token)  # a second socket: refused
            assert no_socket.value.status == 503
            assert loop.time() - started < REPLY_BOUND_S
            await asyncio.sleep(0.2)  # a player's pace

        await asyncio.to_thread(aof_redis.start)  # same port, same dir: the AOF is read back
        back_at = loop.time()

        # Back: within the bound, requests answer and pushes cross nodes again (each node
        # resubscribed: chat has no feed, so a chat message proves the subscription).
        async def crosses(sender: ArenaClient, receiver: Pushes, text: str) -> bool:
            try:
                await sender.request("chat.send", room="general", text=text, timeout=0.5)
            except (ArenaError, TimeoutError):
                return False
            try:
                await receiver.until(lambda got: any(m["text"] == text for m in got), within_s=0.1)
            except TimeoutError:
                return False  # published before that node resubscribed: lost (chat has no feed)
            return True

        probe = 0
        while True:
            probe += 1
            a_to_b = await crosses(on_a, chats[1], f"a{probe}")
            if a_to_b and await crosses(on_b, chats[0], f"b{probe}"):
                break
            assert loop.time() - back_at < RECOVERY_BOUND_S, "not back within the bound"
        recovered_in = loop.time() - back_at
        print(f"recovered {recovered_in:.2f}s after Redis came back")
        assert recovered_in < RECOVERY_BOUND_S

        # Nothing acknowledged before the kill was lost.
        for client, writer in zip(clients, writers, strict=True):
            coins = (await client.request("lb.rank", board="coins"))["score"]
            # The refused one may or may not have landed; every acknowledged one did.
            assert writer.acked <= coins <= writer.attempted
        assert (await on_a.request("lb.rank", board="global"))["score"] == best
        feed = (await on_a.request("match.feed", match_id=match_id))["events"]
        assert before in [e["id"] for e in feed]

        # The match goes on, on the same sockets, both ways, in order, nothing refused in it.
        for seq in range(10):
            await (on_a if seq % 2 else on_b).send(
                "match.send", match_id=match_id, type="move", data=seq
            )
        for got in moves:
            await got.until(lambda items: len(items) == 11, within_s=5)
            data = [m["data"] for m in got.items]
            assert data[0] == "b0"  # and none of the refused ones
            # Each sender's in the order sent (the two senders interleave)...
            assert [d for d in data[1:] if d % 2 == 0] == list(range(0, 10, 2))
            assert [d for d in data[1:] if d % 2 == 1] == list(range(1, 10, 2))
        # ...and both players saw the same order: the feed's.
        assert [m["id"] for m in moves[0].items] == [m["id"] for m in moves[1].items]
        for client in clients:
            assert client.close_code is None
            assert not client.ws.closed
            assert client.errors.empty()
    finally:
        for client in clients:
            await client.close()


# --- a node killed mid-match --------------------------------------------------------------


async def send_moves(senders: list[ArenaClient], match_id: str, tag: str, count: int) -> None:
    """Each sender sends ``count`` moves, acknowledged one by one (each is in the feed)."""
    for seq in range(count):
        for i, sender in enumerate(senders):
            await sender.request(
                "match.send", match_id=match_id, type="move", data=f"{tag}{i}.{seq}"
            )


async def test_players_of_a_killed_node_resume_on_another_and_miss_no_event(
    spawn_node: SpawnNode,
) -> None:
    doomed, survivor = spawn_node(), spawn_node()
    # The doomed node's players reach it through a load balancer, which sends their next
    # connections to the survivor once the doomed node refuses them.
    balancer = await Balancer([doomed.port, survivor.port]).start()
    clients: list[ArenaClient] = []
    try:
        match_id, clients, players = await start_match(
            [balancer.url, survivor.url], 4, reconnect=True
        )
        moved, stayed = clients[0::2], clients[1::2]
        got = [Pushes(c, "match.event") for c in clients]
        await send_moves(clients, match_id, "before", 3)

        balancer.hold()  # the movers come back only when the test says so
        doomed.signal(signal.SIGKILL)
        assert await asyncio.to_thread(doomed.wait, 5) == -signal.SIGKILL
        # Sent while the movers are away: their node is dead, their new sockets not open.
        await send_moves(stayed, match_id, "away", 5)
        balancer.release()
        # The movers' requests wait for their reconnect, then go through the survivor.
        await send_moves(clients, match_id, "after", 3)

        feed = (await stayed[0].request("match.feed", match_id=match_id, limit=500))["events"]
        everything = [e["id"] for e in feed if e["ev"] == "match.event"]
        assert len(everything) == 4 * 3 + 2 * 5 + 4 * 3
        for pushes in got:
            await pushes.until(lambda items: len(items) >= len(everything), within_s=10)
            # Every event, once, in the feed's order: the catch-up filled the gap.
            assert [e["id"] for e in pushes.items] == everything
        for client, player in zip(moved, players[0::2], strict=True):
            assert client.reconnects == 1
            assert (await client.request("session.get"))["player_id"] == player.player_id
            assert client.errors.empty()
    finally:
        for client in clients:
            await client.close()
        await balancer.aclose()


async def test_a_player_whose_node_is_killed_keeps_the_lobby_seat_on_another_node(
    spawn_node: SpawnNode,
) -> None:
    grace_s = 2.0
    env = {**FAST_PRESENCE, "ARENA_LOBBY_GRACE": str(grace_s)}
    doomed, survivor = spawn_node(**env), spawn_node(**env)
    balancer = await Balancer([doomed.port, survivor.port]).start()
    owner_login, mover_login, gone_login = [
        await login(url, name)
        for url, name in [(survivor.url, "owner"), (balancer.url, "mover"), (balancer.url, "gone")]
    ]
    owner = await ArenaClient.connect(survivor.url, owner_login.token)
    mover = await ArenaClient.connect(balancer.url, mover_login.token, reconnect=True)
    gone = await ArenaClient.connect(balancer.url, gone_login.token)  # will not come back
    try:
        lobby_id = (await owner.request("lobby.create", mode="duel", capacity=3))["lobby"][
            "lobby_id"
        ]
        for client in (mover, gone):
            await client.request("lobby.join", lobby_id=lobby_id)
        updates = Pushes(owner, "lobby.updated")

        doomed.signal(signal.SIGKILL)
        killed_at = asyncio.get_running_loop().time()
        assert await gone.wait_closed() == 1006  # dropped, no close frame

        # The player who did not come back loses the seat, within the documented bound:
        # the grace plus one renewal interval after the dead node's last renewal, plus the
        # presence TTL until they count as offline, plus an upkeep round.
        bound_s = grace_s + 0.3 + 1.5 + 1.0
        await updates.until(
            lambda items: bool(items) and gone_login.player_id not in members(items[-1]["lobby"]),
            within_s=bound_s,
        )
        print(f"seat freed {asyncio.get_running_loop().time() - killed_at:.2f}s after the kill")
        # The one who reconnected (through the balancer, to the survivor) kept theirs.
        assert members(updates.items[-1]["lobby"]) == {
            owner_login.player_id,
            mover_login.player_id,
        }
        assert mover.reconnects == 1
        assert (await mover.request("session.get"))["player_id"] == mover_login.player_id
        for client in (mover, owner):
            await client.request("lobby.ready", ready=True)
        for client in (mover, owner):
            started = await client.next_push("match.started")
            assert set(started["players"]) == {owner_login.player_id, mover_login.player_id}
    finally:
        for client in (owner, mover, gone):
            await client.close()
        await balancer.aclose()


# --- draining with SIGTERM ------------------------------------------------------------------


@contextlib.asynccontextmanager
async def redis_monitor(url: str) -> AsyncIterator[Any]:
    """Every command Redis runs, as it runs it (MONITOR)."""
    client = redis_async.Redis.from_url(url)
    try:
        async with client.monitor() as monitor:
            yield monitor
    finally:
        await client.aclose()


async def in_flight(request: Coroutine[Any, Any, Any], lock: str, redis_url: str) -> Task[Any]:
    """Start ``request``, one that takes ``lock`` (which the test holds, so it waits), and
    return once Redis has seen a node try to take the lock: the request is in flight."""
    async with redis_monitor(redis_url) as monitor, asyncio.timeout(5):
        task = asyncio.create_task(request)
        async for command in monitor.listen():
            if lock in command["command"]:
                return task
    raise AssertionError("MONITOR ended")


async def test_a_request_in_flight_at_sigterm_gets_its_reply_before_the_close(
    spawn_node: SpawnNode, redis_client: redis_sync.Redis, redis_server: RedisProcess
) -> None:
    draining = spawn_node(ARENA_SHUTDOWN_GRACE="2")
    other = spawn_node()
    owner_login, joiner_login = await login(other.url, "owner"), await login(draining.url, "joe")
    owner = await ArenaClient.connect(other.url, owner_login.token)
    joiner = await ArenaClient.connect(draining.url, joiner_login.token)
    try:
        lobby_id = (await owner.request("lobby.create", mode="duel", capacity=3))["lobby"][
            "lobby_id"
        ]
        # The test holds the lobby's lock, so the join waits for it.
        lock = keys.lock(keys.lobby_resource(lobby_id))
        assert redis_client.set(lock, "the-test", px=10_000, nx=True)
        join = await in_flight(
            joiner.request("lobby.join", lobby_id=lobby_id), lock, redis_server.url
        )
        draining.signal(signal.SIGTERM)
        assert (await joiner.next_push("server.shutdown"))["reconnect"] is True
        redis_client.delete(lock)  # the join goes through now

        lobby = (await join)["lobby"]  # the reply came, after server.shutdown...
        assert joiner_login.player_id in members(lobby)
        assert await joiner.wait_closed() == 1001  # ...and before the close
        assert await asyncio.to_thread(draining.wait, 10) == 0

        # Told to move, the player moves to another node, still seated.
        async with await ArenaClient.connect(other.url, joiner_login.token) as moved:
            seated = (await moved.request("lobby.get", lobby_id=lobby_id))["lobby"]
            assert members(seated) == {owner_login.player_id, joiner_login.player_id}
    finally:
        await owner.close()
        await joiner.close()


async def receive(ws: aiohttp.ClientWebSocketResponse) -> Message:
    msg = await ws.receive(timeout=2)
    assert msg.type is aiohttp.WSMsgType.TEXT, msg  # JSON, as the client's request was
    return decode(msg.data, Format.JSON)


async def test_a_client_that_never_closes_cannot_hold_the_stop_past_the_grace(
    spawn_node: SpawnNode, redis_client: redis_sync.Redis, redis_server: RedisProcess
) -> None:
    grace_s = 2.0
    node = spawn_node(ARENA_SHUTDOWN_GRACE=str(grace_s))
    owner_login, player = await login(node.url, "owner"), await login(node.url, "stubborn")
    async with (
        await ArenaClient.connect(node.url, owner_login.token) as owner,
        aiohttp.ClientSession() as http,
    ):
        lobby_id = (await owner.request("lobby.create", mode="duel", capacity=2))["lobby"][
            "lobby_id"
        ]
        # A client that never answers the close handshake, nor closes on its own...
        ws = await http.ws_connect(
            ws_url(node.url),
            headers={"Authorization": f"Bearer {player.token}"},
            autoclose=False,
            autoping=False,
        )
        # ...with a request in flight, so the server's close comes after its reply, when
        # no read is pending: the server then waits for the client's half of the handshake.
        lock = keys.lock(keys.lobby_resource(lobby_id))
        assert redis_client.set(lock, "the-test", px=10_000, nx=True)
        join = {"op": "lobby.join", "rid": 1, "lobby_id": lobby_id}
        await in_flight(ws.send_json(join), lock, redis_server.url)
        started = time.monotonic()
        node.signal(signal.SIGTERM)
        assert (await receive(ws))["ev"] == "server.shutdown"
        redis_client.delete(lock)

        assert await asyncio.to_thread(node.wait, grace_s + 5) == 0
        stopped_in = time.monotonic() - started
        print(f"stopped {stopped_in:.2f}s after SIGTERM (grace {grace_s}s)")
        # The grace, then up to a second more: the result worker's blocking take ends.
        assert stopped_in < grace_s + 2.0
        # It got its reply, then the close frame it never answered.
        assert (await receive(ws))["ok"] is True
        closing = await ws.receive(timeout=1)
        assert (closing.type, closing.data) == (aiohttp.WSMsgType.CLOSE, 1001)
