"""The server-run matches benchmark's load generator: matches of 8 players of the bench
game (``loadtest/bench/bench_game.py``), a paced sender of inputs, a reader per socket.

One task sends every player's ``match.input`` (no rid: fire and forget, as the relay's
``match.send``) to a schedule drawn beforehand: HZ a second for each player, each input
at a random moment of its period (inputs synchronised with the ticks would make the
latency a matter of phase). Each input carries ``n``, its sender's count of its inputs;
the generator keeps each input's send time (``time.monotonic_ns``). The game hands
``n`` back in the next tick's broadcast of every position, so a player's reader, finding
its own ``n`` grown, takes the latency of every input up to it: from the send to the
first broadcast that reflects it.

A step also scrapes the server's ``/metrics`` before and after its sending: the tick
lateness histogram (how late each batch of ticks started), ticks run and ticks skipped
over that window.
"""

from __future__ import annotations

import asyncio
import contextlib
import gc
import json
import random
import time
from bisect import bisect_left
from dataclasses import dataclass, field

import aiohttp
import msgpack
from prometheus_client.parser import text_string_to_metric_families

from client_sim.login import guest_login, ws_url
from loadtest.bench.common import LOAD_CORE, SERVER_CORE, percentile
from loadtest.bench.relay_load import (
    Message,
    Seat,
    busy_since,
    core_jiffies,
    cpu_seconds,
    interrupts_since,
)

SEATS = 8  # players per match
TICK_RATE = 20  # the game's ticks a second
HZ = 20  # inputs per player per second (the default limit: 60 at once, then 30 a second)
STEP_S = 3.0  # seconds of sending per step
DRAIN_S = 1.0  # at most this long after the last send for the last inputs to show
LATE_S = 1.0  # a step whose sends run this far past its schedule stops sending
LATENESS_LIMIT_S = 0.005  # a step passes with p99 tick lateness at most this
BEHIND_MS = 10.0
SETUP_CONCURRENCY = 16
MODE = "hosted-bench"
GAME = "loadtest.bench.bench_game:BenchGame"
ARENA_ENV = {
    "ARENA_MODES": json.dumps(
        {MODE: {"game": GAME, "tick_rate": TICK_RATE, "capacity": SEATS, "start_when_full": True}}
    ),
    # One client IP logs every player in (match.input keeps its default limit).
    "ARENA_RATE_LIMITS": "auth.guest=100000/100000",
    "ARENA_MAX_SOCKETS_PER_IP": "1000000",
}


@dataclass(frozen=True, slots=True)
class HostMetrics:
    """What a node's /metrics said about hosting at one moment."""

    late: tuple[int, ...]  # batches per lateness bucket (not cumulative), +Inf last
    bounds: tuple[float, ...]
    ticks: float
    skipped: float
    hosted: float

    def since(self, before: HostMetrics) -> HostMetrics:
        late = tuple(a - b for a, b in zip(self.late, before.late, strict=True))
        return HostMetrics(
            late, self.bounds, self.ticks - before.ticks, self.skipped - before.skipped,
            self.hosted,
        )  # fmt: skip

    @property
    def batches(self) -> int:
        return sum(self.late)

    def quantile(self, q: float) -> float:
        """The bucket bound at or below which a share ``q`` of the batches started (inf:
        past the last bound; nan: no batches)."""
        total = self.batches
        if not total:
            return float("nan")
        seen = 0
        for bound, count in zip((*self.bounds, float("inf")), self.late, strict=True):
            seen += count
            if seen >= q * total:
                return bound
        return float("inf")

    def share_within(self, seconds: float) -> float:
        """The share of batches that started at most ``seconds`` late (a bucket bound)."""
        at = bisect_left(self.bounds, seconds)
        return sum(self.late[: at + 1]) / self.batches if self.batches else float("nan")


async def host_metrics(http: aiohttp.ClientSession, url: str) -> HostMetrics:
    async with http.get(url + "/metrics") as resp:
        text = await resp.text()
    values: dict[str, float] = {}
    buckets: list[tuple[float, float]] = []
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            if sample.name == "arena_match_tick_lateness_seconds_bucket":
                buckets.append((float(sample.labels["le"]), sample.value))
            elif sample.name.startswith("arena_match"):
                values[sample.name] = sample.value
    buckets.sort()
    cumulative = [int(v) for _, v in buckets]
    late = tuple(c - p for c, p in zip(cumulative, [0, *cumulative[:-1]], strict=True))
    return HostMetrics(
        late,
        tuple(b for b, _ in buckets[:-1]),
        values.get("arena_match_ticks_total", 0.0),
        values.get("arena_match_skipped_total", 0.0),
        values.get("arena_matches_hosted", 0.0),
    )


async def open_hosted_match(
    http: aiohttp.ClientSession, urls: tuple[str, ...], m: int, prefix: str = "hosted"
) -> list[tuple[Seat, str, str]]:
    """Eight guests in a lobby of the bench game's mode; it starts when full. Seat s plays
    on ``urls[s % len(urls)]``. Each seat with its player id and login token."""
    seats = []
    for s in range(SEATS):
        url = urls[s % len(urls)]
        login = await guest_login(url, f"{prefix}-{m:04d}-{s}", f"h{m}s{s}", http=http)
        headers = {"Authorization": f"Bearer {login.token}"}
        seat = Seat(await http.ws_connect(ws_url(url), headers=headers))
        seats.append((seat, login.player_id, login.token))
    lobby = await seats[0][0].call("lobby.create", mode=MODE, capacity=SEATS)
    for seat, _, _ in seats[1:]:
        await seat.call("lobby.join", lobby_id=lobby["lobby"]["lobby_id"])
    match_ids = {await asyncio.wait_for(seat.started(), 10) for seat, _, _ in seats}
    if len(match_ids) != 1:
        raise RuntimeError(f"one lobby started several matches: {match_ids}")
    return seats


@dataclass(slots=True)
class Tally:
    """What the readers saw during one step."""

    broadcasts: int = 0
    latencies_ns: list[int] = field(default_factory=list)
    errors: list[Message] = field(default_factory=list)
    expected: int = -1  # inputs to see reflected, once the sending is over
    complete: asyncio.Event = field(default_factory=asyncio.Event)


@dataclass(frozen=True, slots=True)
class HostedStep:
    matches: int
    sent: int
    scheduled: int
    window_s: float  # the sending's span (the metrics' window)
    reflected: int  # inputs whose broadcast came back within the step
    missing: int  # inputs sent and never seen in a broadcast by the end of the drain
    errors: int
    closed: int
    broadcasts: int  # pushes of the game's positions received, every player together
    metrics: HostMetrics  # over the sending window
    p50_ms: float  # input to the broadcast reflecting it
    p99_ms: float
    send_lag_p99_ms: float
    server_cpu: float
    generator_cpu: float
    redis_cpu: float
    core_busy: tuple[float, float]
    interrupts_cpu: float

    @property
    def players(self) -> int:
        return self.matches * SEATS

    @property
    def lateness_p99(self) -> float:
        return self.metrics.quantile(0.99)

    @property
    def broadcasts_per_s(self) -> float:
        return self.broadcasts / self.window_s

    @property
    def other_cpu(self) -> float:
        """What ran on the two cores besides the server, the generator, Redis and the
        interrupts, as a share of one core: other work on the machine."""
        ours = self.server_cpu + self.generator_cpu + self.redis_cpu + self.interrupts_cpu
        return max(0.0, sum(self.core_busy) - ours)

    @property
    def ticks_per_s(self) -> float:
        return self.metrics.ticks / self.window_s

    @property
    def passed(self) -> bool:
        return (
            self.sent == self.scheduled
            and self.missing == 0
            and self.errors == 0
            and self.closed == 0
            and self.metrics.skipped == 0
            and self.lateness_p99 <= LATENESS_LIMIT_S
        )


class HostedLoad:
    """Sockets of the matches opened so far on one node, a reader on each, the sender."""

    def __init__(self, url: str, http: aiohttp.ClientSession, pids: dict[str, list[int]]):
        self.url = url
        self.http = http
        self.pids = pids
        self.sockets: list[aiohttp.ClientWebSocketResponse] = []
        self.match_ids: list[str] = []
        self.sent_ns: list[list[int]] = []  # per player: the send time of input n at [n - 1]
        self.seen: list[int] = []  # per player: the highest n a broadcast reflected
        self.first: list[int] = []  # per player: the first n sent in the current step
        self.tally = Tally()
        self.closed = 0
        self._rng = random.Random(15)
        self._readers: list[asyncio.Task[None]] = []

    async def grow(self, matches: int) -> None:
        gate = asyncio.Semaphore(SETUP_CONCURRENCY)

        async def one(m: int) -> list[tuple[Seat, str, str]]:
            async with gate:
                return await open_hosted_match(self.http, (self.url,), m)

        opened = await asyncio.gather(*(one(m) for m in range(len(self.match_ids), matches)))
        for seats in opened:
            self.match_ids.append(str(seats[0][0].match_id))
            for seat, player_id, _ in seats:
                me = len(self.sockets)
                self.sockets.append(seat.ws)
                self.sent_ns.append([])
                self.seen.append(0)
                self.first.append(1)
                self._readers.append(asyncio.create_task(self._read(seat.ws, me, player_id)))

    async def _read(self, ws: aiohttp.ClientWebSocketResponse, me: int, player: str) -> None:
        unpack, now, binary = msgpack.unpackb, time.monotonic_ns, aiohttp.WSMsgType.BINARY
        while True:
            msg = await ws.receive()
            if msg.type is not binary:
                self.closed += 1
                return
            push = unpack(msg.data)
            tally = self.tally
            if push.get("ev") != "match.event" or push.get("type") != "pos":
                if push.get("ok") is False:
                    tally.errors.append(push)
                continue
            tally.broadcasts += 1
            mine = push["data"].get(player)
            if mine is None or mine[2] <= self.seen[me]:
                continue
            t, sent = now(), self.sent_ns[me]
            for k in range(max(self.seen[me], self.first[me] - 1), mine[2]):
                tally.latencies_ns.append(t - sent[k])
            self.seen[me] = mine[2]
            if len(tally.latencies_ns) == tally.expected:
                tally.complete.set()

    def _schedule(self, players: int) -> list[tuple[int, int, int]]:
        """(due ns after the start, player, n) for every input of a step, in due order. Each
        player sends HZ a second, each input at a random moment of its period: inputs fall
        anywhere between two ticks, as a person's do, not at a fixed phase of them."""
        period = 1_000_000_000 // HZ
        rng = self._rng
        return sorted(
            (n * period + rng.randrange(period), i, n)
            for n in range(int(STEP_S * HZ))
            for i in range(players)
        )

    async def _send(self, schedule: list[tuple[int, int, int]], t0: int) -> tuple[int, list[int]]:
        pack, now, unyielded, sent = msgpack.packb, time.monotonic_ns, 0, 0
        lateness: list[int] = []
        stop_at = t0 + int((STEP_S + LATE_S) * 1e9)
        for offset, i, n in schedule:
            due, t = t0 + offset, now()
            if due - t > 500_000:
                await asyncio.sleep((due - t) / 1e9)
                t, unyielded = now(), 0
            elif unyielded >= 64:
                await asyncio.sleep(0)
                t, unyielded = now(), 0
            if t > stop_at:
                return sent, lateness
            lateness.append(t - due)
            mine = self.sent_ns[i]
            data = {"x": float(n % 1000), "y": float(i % 1000), "n": len(mine) + 1}
            mine.append(now())
            op = {"op": "match.input", "match_id": self.match_ids[i // SEATS]}
            await self.sockets[i].send_bytes(pack({**op, "type": "move", "data": data}))
            sent += 1
            unyielded += 1
        return sent, lateness

    async def step(self, matches: int) -> HostedStep:
        """Send inputs to the first ``matches`` matches for STEP_S seconds; measure."""
        collecting = gc.isenabled()
        gc.disable()  # a collection over the generator's heap would count as latency
        try:
            return await self._step(matches)
        finally:
            if collecting:
                gc.enable()

    async def _step(self, matches: int) -> HostedStep:
        players = matches * SEATS
        self.tally = tally = Tally()
        for i in range(players):
            self.first[i] = len(self.sent_ns[i]) + 1
        metrics0 = await host_metrics(self.http, self.url)
        cpu0 = {name: cpu_seconds(*pids) for name, pids in self.pids.items()}
        own0, wall0, cores0 = time.process_time(), time.monotonic(), core_jiffies()
        schedule = self._schedule(players)
        t0 = time.monotonic_ns() + 20_000_000
        sent, lateness = await self._send(schedule, t0)
        wall = time.monotonic() - wall0
        metrics = (await host_metrics(self.http, self.url)).since(metrics0)
        cpu = {name: (cpu_seconds(*pids) - cpu0[name]) / wall for name, pids in self.pids.items()}
        own = (time.process_time() - own0) / wall
        busy = (busy_since(cores0, SERVER_CORE), busy_since(cores0, LOAD_CORE))
        interrupts = interrupts_since(cores0, SERVER_CORE) + interrupts_since(cores0, LOAD_CORE)
        window_s = (time.monotonic_ns() - t0) / 1e9
        broadcasts = tally.broadcasts
        tally.expected = sent
        if len(tally.latencies_ns) < tally.expected:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(tally.complete.wait(), DRAIN_S)
        missing = sum(len(self.sent_ns[i]) - self.seen[i] for i in range(players))
        ms = [x / 1e6 for x in tally.latencies_ns]
        return HostedStep(
            matches=matches,
            sent=sent,
            scheduled=players * int(STEP_S * HZ),
            window_s=window_s,
            reflected=len(ms),
            missing=missing,
            errors=len(tally.errors),
            closed=self.closed,
            broadcasts=broadcasts,
            metrics=metrics,
            p50_ms=percentile(ms, 50),
            p99_ms=percentile(ms, 99),
            send_lag_p99_ms=percentile([x / 1e6 for x in lateness], 99),
            server_cpu=cpu.get("server", 0.0),
            generator_cpu=own,
            redis_cpu=cpu.get("redis", 0.0),
            core_busy=busy,
            interrupts_cpu=interrupts,
        )

    async def aclose(self) -> None:
        for task in self._readers:
            task.cancel()
        await asyncio.gather(*self._readers, return_exceptions=True)
        await asyncio.gather(*(ws.close() for ws in self.sockets), return_exceptions=True)
