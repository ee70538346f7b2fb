"""Failover of a server-run match: two nodes on one Redis, one match of the bench game
with its 8 players split between them (seat s on node s mod 2), its host SIGKILLed
KILLS times.

A round: find the host (the node whose /metrics says it hosts the match), make sure
the players on the other node (the observers) are receiving the game's broadcasts,
SIGKILL the host, and time from the kill until the observers receive ``match.resync``
and then the first broadcast after it. Then a fresh node takes the dead one's place
(a new process, a new node id, the same Redis) and the dead node's players log back in
on it, so the next round kills the other side. Each node runs with the default lease
(``ARENA_HOST_LEASE_S``, 5 s) unless the caller says otherwise.

Throughout, every player sends an input (``match.input`` with a rid, ``n`` its count)
every INPUT_EVERY_S; at the end of a round each observer's highest acknowledged ``n``
must show in a broadcast (no acknowledged input lost), and every observer's broadcasts
must come with increasing ticks (no tick's output delivered twice).
"""

from __future__ import annotations

import asyncio
import contextlib
import random
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import aiohttp
import msgpack

from client_sim.login import ws_url
from loadtest.bench.common import ServerProcess
from loadtest.bench.hosted_load import host_metrics, open_hosted_match

KILLS = 10
INPUT_EVERY_S = 0.1
ROUND_TIMEOUT_S = 20.0  # a round whose observers hear nothing by then failed


@dataclass(frozen=True, slots=True)
class Round:
    """One kill, as the observers lived it (times from the SIGKILL, s)."""

    resync_s: float  # the first observer's match.resync (nan: none came)
    resync_last_s: float  # the last observer's
    broadcast_s: float  # the first broadcast after a resync, at any observer
    tick: int  # the tick the resync named
    epoch: int
    acked_lost: int  # observers whose last acknowledged input never showed
    repeated: int  # broadcasts whose tick an observer had already seen
    skipped_ticks: int  # ticks an observer never received (committed, not delivered live)


@dataclass(slots=True)
class Player:
    """One seat: its socket, what it has sent and acknowledged, what it has seen."""

    seat: int
    player_id: str
    token: str
    ws: aiohttp.ClientWebSocketResponse
    n: int = 0  # inputs sent
    acked: int = 0  # the highest n acknowledged
    reflected: int = 0  # the highest n a broadcast reflected
    last_tick: int = -1
    repeated: int = 0
    skipped: int = 0
    resync_at: float = 0.0  # monotonic, 0: none this round
    resync: tuple[int, int] = (0, 0)  # tick, epoch
    broadcast_after_resync: float = 0.0
    heard: asyncio.Event = field(default_factory=asyncio.Event)  # a broadcast this round
    errors: list[dict[str, object]] = field(default_factory=list)

    def new_round(self) -> None:
        self.resync_at = self.broadcast_after_resync = 0.0
        self.heard.clear()


class Failover:
    def __init__(
        self,
        http: aiohttp.ClientSession,
        redis_url: str,
        env: dict[str, str],
        workdir: Path,
    ) -> None:
        self.http = http
        self.redis_url = redis_url
        self.env = env
        self.workdir = workdir
        self.nodes: list[ServerProcess] = []  # the two live ones, by side (seat % 2)
        self.match_id = ""
        self._news = asyncio.Event()  # a reader took a push
        self.rng = random.Random(15)
        self.renew_s = float(env.get("ARENA_HOST_LEASE_S", "5")) / 5
        self.players: list[Player] = []
        self._started = 0
        self._tasks: list[asyncio.Task[None]] = []

    def _start_node(self) -> ServerProcess:
        self._started += 1
        node_id = f"failover-{self._started}"
        node = ServerProcess(self.redis_url, env={**self.env, "ARENA_NODE_ID": node_id})
        return node.start(self.workdir / f"server-failover-{self._started}.log")

    async def setup(self) -> None:
        self.nodes = [await asyncio.to_thread(self._start_node) for _ in range(2)]
        seats = await open_hosted_match(
            self.http, tuple(n.url for n in self.nodes), 0, prefix="failover"
        )
        self.match_id = str(seats[0][0].match_id)
        for s, (seat, player_id, token) in enumerate(seats):
            self.players.append(Player(s, player_id, token, seat.ws))
            self._tasks.append(asyncio.create_task(self._read(self.players[-1])))
        self._tasks.append(asyncio.create_task(self._send()))

    async def _read(self, p: Player) -> None:
        while True:
            msg = await p.ws.receive()
            if msg.type is not aiohttp.WSMsgType.BINARY:
                return
            push = msgpack.unpackb(msg.data)
            now = time.monotonic()
            self._news.set()
            if "rid" in push:
                if push.get("ok"):
                    p.acked = max(p.acked, int(push["rid"]))
                else:
                    p.errors.append(push)
            elif push.get("ev") == "match.resync":
                p.resync_at = p.resync_at or now
                p.resync = (int(push["tick"]), int(push["epoch"]))
            elif push.get("ev") == "match.event" and push.get("type") == "pos":
                tick = int(push["tick"])
                if tick <= p.last_tick:
                    p.repeated += 1
                elif p.last_tick >= 0:
                    p.skipped += tick - p.last_tick - 1
                p.last_tick = max(p.last_tick, tick)
                if p.resync_at and not p.broadcast_after_resync:
                    p.broadcast_after_resync = now
                mine = push["data"].get(p.player_id)
                if mine is not None:
                    p.reflected = max(p.reflected, int(mine[2]))
                p.heard.set()

    async def _send(self) -> None:
        pack = msgpack.packb
        while True:
            for p in self.players:
                if p.ws.closed:
                    continue
                p.n += 1
                data = {"x": float(p.n % 1000), "y": float(p.seat), "n": p.n}
                with contextlib.suppress(ConnectionError, RuntimeError):
                    await p.ws.send_bytes(pack({"op": "match.input", "rid": p.n,
                        "match_id": self.match_id, "type": "move", "data": data}))  # fmt: skip
            await asyncio.sleep(INPUT_EVERY_S)

    async def host_side(self) -> int:
        """The side (0 or 1) whose node hosts the match, once one says so."""
        deadline = time.monotonic() + ROUND_TIMEOUT_S
        while time.monotonic() < deadline:
            for side, node in enumerate(self.nodes):
                if (await host_metrics(self.http, node.url)).hosted >= 1:
                    return side
            await asyncio.sleep(0.1)
        raise RuntimeError("no node hosts the failover match")

    async def kill_round(self) -> Round:
        side = await self.host_side()
        observers = [p for p in self.players if p.seat % 2 != side]
        for p in self.players:
            p.new_round()
        await asyncio.wait_for(asyncio.gather(*(p.heard.wait() for p in observers)), 10)
        # The kill falls anywhere in the host's renewal period (a fifth of the lease), not
        # at a fixed time after the last takeover.
        await asyncio.sleep(self.rng.uniform(0.0, self.renew_s))
        victim = self.nodes[side].process
        assert victim is not None
        killed = time.monotonic()
        victim.kill()  # SIGKILL: no drain, no hand-off
        await asyncio.to_thread(victim.wait)
        deadline = killed + ROUND_TIMEOUT_S
        await self._until(lambda: all(p.broadcast_after_resync for p in observers), deadline)
        # Every observer's last acknowledged input shows in a broadcast (the acks in
        # flight at the kill were to the dead node's players only).
        acked = {p.seat: p.acked for p in observers}
        await self._until(lambda: all(p.reflected >= acked[p.seat] for p in observers), deadline)
        resyncs = [p.resync_at - killed for p in observers if p.resync_at]
        after = [p.broadcast_after_resync - killed for p in observers if p.broadcast_after_resync]
        heard = [p for p in observers if p.resync_at]
        result = Round(
            resync_s=min(resyncs, default=float("nan")),
            resync_last_s=max(resyncs) if len(resyncs) == len(observers) else float("nan"),
            broadcast_s=min(after, default=float("nan")),
            tick=heard[0].resync[0] if heard else -1,
            epoch=heard[0].resync[1] if heard else -1,
            acked_lost=sum(p.reflected < acked[p.seat] for p in observers),
            repeated=sum(p.repeated for p in observers),
            skipped_ticks=sum(p.skipped for p in observers),
        )
        for p in observers:
            p.repeated = p.skipped = 0
        await self._replace(side)
        return result

    async def _until(self, done: Callable[[], bool], deadline: float) -> None:
        """Until ``done()`` (checked at every push a reader takes) or ``deadline``."""
        while not done() and (left := deadline - time.monotonic()) > 0:
            self._news.clear()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._news.wait(), left)

    async def _replace(self, side: int) -> None:
        """A fresh node in the dead one's place; its players back on it."""
        self.nodes[side] = node = await asyncio.to_thread(self._start_node)
        for p in self.players:
            if p.seat % 2 != side:
                continue
            headers = {"Authorization": f"Bearer {p.token}"}
            p.ws = await self.http.ws_connect(ws_url(node.url), headers=headers)
            p.last_tick = -1  # catching up is the feed's business; count from here
            p.heard.clear()
            self._tasks.append(asyncio.create_task(self._read(p)))

    async def aclose(self) -> None:
        for task in self._tasks:
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        await asyncio.gather(*(p.ws.close() for p in self.players), return_exceptions=True)
        for node in self.nodes:
            node.stop()
