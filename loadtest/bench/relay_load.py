"""The room relay benchmark's load generator: matches of 8 sockets, a paced sender, readers.

One task sends on every socket to a fixed schedule (20 Hz per player, players'
phases spread evenly over the period, so the load is smooth); one reader per
socket decodes each push just enough to check it. Each event carries its step,
its sender's seat and its send time (``time.monotonic_ns``): a reader takes the
latency on receipt and counts deliveries per (recipient, sender), and a step
compares them with what every sender sent.

The generator shares its core with Redis, so it watches itself: how late its
sends ran behind schedule, and how busy each core was (``/proc/stat``).
"""

from __future__ import annotations

import asyncio
import contextlib
import gc
import os
import struct
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import aiohttp
import msgpack

from loadtest.bench.common import LOAD_CORE, SERVER_CORE, percentile

SEATS = 8  # players per match
HZ = 20  # events per player per second
STEP_S = 3.0  # seconds of sending per step
DRAIN_S = 2.0  # at most this long after the last send for the stragglers
LATE_S = 1.0  # a step whose sends run this far past its schedule stops sending
P99_LIMIT_MS = 100.0
BEHIND_MS = 10.0  # sends later than this (p99) mean the generator fell behind
SETUP_CONCURRENCY = 16

Message = dict[str, Any]


def event_data(seat: int, step: int, n: int, sent_ns: int) -> Message:
    """A player's move, ~60 bytes in msgpack. ``t``, ``s`` and ``k`` are the generator's, and
    first, so that a reader finds them at fixed places (``peek``)."""
    return {"t": sent_ns, "s": seat, "k": step, "x": 1000.5 + n, "y": 20.25 * seat, "hp": 100,
            "act": "run", "n": n}  # fmt: skip


# A match.event push, as both servers encode it: a map of 7 beginning with "ev", and
# "data" a map of 8 beginning with t (uint 64), s and k (positive fixints).
EVENT_HEAD = b"\x87\xa2ev\xabmatch.event"
DATA_KEY = b"\xa4data\x88\xa1t\xcf"
SENT_NS = struct.Struct(">Q")


def peek(frame: bytes) -> tuple[int, int, int] | None:
    """(send time, sender's seat, step) of a match.event push without decoding all of it;
    None for another frame, or one laid out otherwise."""
    if not frame.startswith(EVENT_HEAD):
        return None
    at = frame.find(DATA_KEY) + len(DATA_KEY)
    if (
        at < len(DATA_KEY)
        or frame[at + 8 : at + 10] != b"\xa1s"
        or frame[at + 11 : at + 13] != b"\xa1k"
    ):
        return None
    seat, step = frame[at + 10], frame[at + 13]
    if seat >= SEATS or step > 0x7F:
        return None
    return SENT_NS.unpack_from(frame, at)[0], seat, step


class Seat:
    """One player's socket during set-up: requests by rid, noting when play starts."""

    def __init__(self, ws: aiohttp.ClientWebSocketResponse) -> None:
        self.ws = ws
        self.match_id: str | None = None
        self._rid = 0

    async def next(self) -> Message:
        msg = await self.ws.receive(timeout=10)
        if msg.type is not aiohttp.WSMsgType.BINARY:
            raise RuntimeError(f"socket closed during set-up: {msg.type} {msg.data!r}")
        message: Message = msgpack.unpackb(msg.data)
        if message.get("ev") == "match.started":  # Arena
            self.match_id = str(message["match_id"])
        elif message.get("ev") == "joined":  # the bare relay
            self.match_id = str(message["room"])
        return message

    async def call(self, op: str, **fields: Any) -> Message:
        self._rid += 1
        await self.ws.send_bytes(msgpack.packb({"op": op, "rid": self._rid, **fields}))
        while (reply := await self.next()).get("rid") != self._rid:
            pass
        if not reply.get("ok"):
            raise RuntimeError(f"{op}: {reply.get('error')}")
        return reply

    async def started(self) -> str:
        while self.match_id is None:
            await self.next()
        return self.match_id


OpenMatch = Callable[[aiohttp.ClientSession, int], Awaitable[list[Seat]]]


@dataclass(slots=True)
class Tally:
    """What the readers saw during one step."""

    step: int
    got: list[int]  # got[recipient * SEATS + sender's seat]
    latencies_ns: list[int] = field(default_factory=list)
    stray: int = 0  # deliveries of an earlier step, arriving late
    errors: list[Message] = field(default_factory=list)  # failed fire-and-forget sends
    expected: int = -1  # deliveries, once the step's sending is over
    complete: asyncio.Event = field(default_factory=asyncio.Event)  # all expected are in


@dataclass(frozen=True, slots=True)
class StepResult:
    matches: int
    sent: int
    scheduled: int
    window_s: float  # first send to the last delivery (or to the end of the drain)
    delivered: int
    missing: int
    extra: int
    errors: int
    stray: int
    closed: int  # sockets the server had closed by the end of the step
    p50_ms: float
    p99_ms: float
    send_lag_p99_ms: float
    server_cpu: float  # the server's processes together, as a share of one core
    generator_cpu: float
    redis_cpu: float  # every redis-server together
    core_busy: tuple[float, float]  # cores 0 and 1, everything on them
    interrupts_cpu: float  # both cores' irq and softirq time, as a share of one core

    @property
    def players(self) -> int:
        return self.matches * SEATS

    @property
    def offered(self) -> int:
        """Events per second the schedule asks for."""
        return self.players * HZ

    @property
    def delivered_per_s(self) -> float:
        return self.delivered / self.window_s

    @property
    def all_arrived(self) -> bool:
        return self.missing == 0 and self.extra == 0 and self.errors == 0 and self.closed == 0

    @property
    def other_cpu(self) -> float:
        """What ran on the two cores besides the server, the generator, Redis and the
        interrupts (the network's), as a share of one core: other work on the machine."""
        ours = self.server_cpu + self.generator_cpu + self.redis_cpu + self.interrupts_cpu
        return max(0.0, sum(self.core_busy) - ours)

    @property
    def generator_behind(self) -> bool:
        return self.sent < self.scheduled or self.send_lag_p99_ms > BEHIND_MS

    @property
    def passed(self) -> bool:
        return self.sent == self.scheduled and self.all_arrived and self.p99_ms < P99_LIMIT_MS


Jiffies = dict[str, tuple[int, int, int]]


def core_jiffies() -> Jiffies:
    """Per core: (busy, total, interrupts) jiffies since boot, whatever ran there (Linux).
    Interrupts (irq, softirq: on loopback, much of the network's work) are busy time
    that no process is charged for."""
    cores = {}
    for line in Path("/proc/stat").read_text().splitlines():
        name, *ticks = line.split()
        if name.startswith("cpu") and name != "cpu":
            values = [int(x) for x in ticks[:8]]
            # not idle, iowait
            cores[name[3:]] = (
                sum(values) - values[3] - values[4],
                sum(values),
                values[5] + values[6],
            )
    return cores


def _since(before: Jiffies, core: str, field: int) -> float:
    after = core_jiffies()
    if core not in before or core not in after:
        return float("nan")
    total = after[core][1] - before[core][1]
    return (after[core][field] - before[core][field]) / total if total else float("nan")


def busy_since(before: Jiffies, core: str) -> float:
    """The share of the time since ``before`` that ``core`` was busy."""
    return _since(before, core, 0)


def interrupts_since(before: Jiffies, core: str) -> float:
    """The share of the time since ``before`` that ``core`` spent in interrupts."""
    return _since(before, core, 2)


def cpu_seconds(*pids: int) -> float:
    """User + system CPU seconds the processes have used, together (Linux /proc)."""
    total = 0
    for pid in pids:
        try:
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        total += int(fields[11]) + int(fields[12])
    return total / os.sysconf("SC_CLK_TCK")


class RelayLoad:
    """Sockets of the matches opened so far, a reader on each, and the paced sender."""

    def __init__(
        self, open_match: OpenMatch, http: aiohttp.ClientSession, pids: dict[str, list[int]]
    ):
        self.open_match = open_match
        self.http = http
        self.pids = pids  # "server" (one pid per node), and "redis" (one per redis-server)
        self.sockets: list[aiohttp.ClientWebSocketResponse] = []
        self.match_ids: list[str] = []
        self.tally = Tally(0, [])
        self.closed = 0  # sockets the server closed
        self._readers: list[asyncio.Task[None]] = []

    async def grow(self, matches: int) -> None:
        """Open matches until there are ``matches``."""
        gate = asyncio.Semaphore(SETUP_CONCURRENCY)

        async def one(m: int) -> list[Seat]:
            async with gate:
                return await self.open_match(self.http, m)

        opened = await asyncio.gather(*(one(m) for m in range(len(self.match_ids), matches)))
        for seats in opened:
            self.match_ids.append(str(seats[0].match_id))
            for seat in seats:
                me = len(self.sockets)
                self.sockets.append(seat.ws)
                self._readers.append(asyncio.create_task(self._read(seat.ws, me)))

    async def _read(self, ws: aiohttp.ClientWebSocketResponse, me: int) -> None:
        unpack, now, binary = msgpack.unpackb, time.monotonic_ns, aiohttp.WSMsgType.BINARY
        while True:
            msg = await ws.receive()
            if msg.type is not binary:
                self.closed += 1
                return
            tally = self.tally
            event = peek(msg.data)
            if event is None:  # decode it all: another push, a failure, an odd layout
                push = unpack(msg.data)
                if push.get("ok") is False:
                    tally.errors.append(push)
                if push.get("ev") != "match.event":
                    continue
                event = (push["data"]["t"], push["data"]["s"], push["data"]["k"])
            sent_ns, seat, step = event
            if step != tally.step:
                tally.stray += 1
                continue
            tally.latencies_ns.append(now() - sent_ns)
            tally.got[me * SEATS + seat] += 1
            if len(tally.latencies_ns) == tally.expected:
                tally.complete.set()

    async def _send(self, step: int, players: int, t0: int) -> tuple[list[int], list[int]]:
        """One step's events on schedule: how many each player sent, and how late (ns)."""
        period = 1_000_000_000 // HZ
        offsets = [i * period // players for i in range(players)]
        heads = [{"op": "match.send", "match_id": self.match_ids[i // SEATS], "type": "move"}
                 for i in range(players)]  # fmt: skip
        sent, lateness = [0] * players, list[int]()
        pack, now, unyielded = msgpack.packb, time.monotonic_ns, 0
        stop_at = t0 + int((STEP_S + LATE_S) * 1e9)
        for n in range(int(STEP_S * HZ)):
            for i in range(players):
                due, t = t0 + n * period + offsets[i], now()
                if due - t > 500_000:
                    await asyncio.sleep((due - t) / 1e9)
                    t, unyielded = now(), 0
                elif unyielded >= 64:  # behind schedule: let the readers run all the same
                    await asyncio.sleep(0)
                    t, unyielded = now(), 0
                if t > stop_at:
                    return sent, lateness
                lateness.append(t - due)
                data = event_data(i % SEATS, step, n, now())
                await self.sockets[i].send_bytes(pack({**heads[i], "data": data}))
                sent[i] += 1
                unyielded += 1
        return sent, lateness

    async def step(self, step: int, matches: int) -> StepResult:
        """Load the first ``matches`` matches for STEP_S seconds, then count what arrived."""
        # A collection over the generator's heap can stall it for tens of ms, which would
        # count as latency; what a step allocates is freed by reference counting anyway.
        collecting = gc.isenabled()
        gc.disable()
        try:
            return await self._step(step, matches)
        finally:
            if collecting:
                gc.enable()

    async def _step(self, step: int, matches: int) -> StepResult:
        players = matches * SEATS
        self.tally = tally = Tally(step, [0] * (players * SEATS))
        cpu0 = {name: cpu_seconds(*pids) for name, pids in self.pids.items()}
        own0, wall0, cores0 = time.process_time(), time.monotonic(), core_jiffies()
        t0 = time.monotonic_ns() + 20_000_000
        sent, lateness = await self._send(step, players, t0)
        wall = time.monotonic() - wall0
        cpu = {name: (cpu_seconds(*pids) - cpu0[name]) / wall for name, pids in self.pids.items()}
        own = (time.process_time() - own0) / wall
        busy = (busy_since(cores0, SERVER_CORE), busy_since(cores0, LOAD_CORE))
        interrupts = interrupts_since(cores0, SERVER_CORE) + interrupts_since(cores0, LOAD_CORE)
        tally.expected = SEATS * sum(sent)
        if len(tally.latencies_ns) < tally.expected:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(tally.complete.wait(), DRAIN_S)
        window_s = (time.monotonic_ns() - t0) / 1e9
        missing = extra = 0
        for r in range(players):
            for s in range(SEATS):
                diff = sent[r - r % SEATS + s] - tally.got[r * SEATS + s]
                missing, extra = missing + max(diff, 0), extra + max(-diff, 0)
        ms = [x / 1e6 for x in tally.latencies_ns]
        return StepResult(
            matches=matches,
            sent=sum(sent),
            scheduled=players * int(STEP_S * HZ),
            window_s=window_s,
            delivered=len(ms),
            missing=missing,
            extra=extra,
            errors=len(tally.errors),
            stray=tally.stray,
            closed=self.closed,
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
