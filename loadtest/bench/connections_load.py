"""The connection capacity bench's load: calls in bounded batches (logins, opens, pings),
a server watched while idle, and one server's sockets opened, held, pinged and dropped.

``hold`` fills a ``Target`` in with every figure of one server; ``bounded`` times a
``Phase`` with the CPU of the server, Redis and the generator meanwhile.
"""

from __future__ import annotations

import asyncio
import gc
import itertools
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field

import aiohttp
import msgpack

from loadtest.bench.common import LOAD_CORE, SERVER_CORE, percentile

# LATE_OPENS: opens one at a time with every socket held: what a player meets joining a
# full node, with no queue of other opens before theirs (the burst's p50 is its queue:
# in flight / rate).
from loadtest.bench.connections_host import LATE_OPENS, rss_kb, used_memory
from loadtest.bench.relay_load import busy_since, core_jiffies, cpu_seconds

IN_FLIGHT = 100  # logins or opens at once; the listen backlog is aiohttp's 128
PHASE_LIMIT_S = 20.0  # any phase (logins, opens, pings) ends by then, done or not
CALL_LIMIT_S = 10.0  # one login, open or ping
IDLE_S = 10.0  # two presence intervals (5 s): two upkeep rounds, nearly always
BARE_IDLE_S = 4.0  # the bare server has no periodic work
CPU_SLICE_S = 0.25
QUIET = 0.02  # a server this busy (share of a core) or less is idle
PRESENCE_S = 5.0  # Arena's upkeep interval (ARENA_PRESENCE_INTERVAL, default)
DRAIN_LIMIT_S = 15.0
PING_SAMPLES = 1_000
HEARTBEAT_S = 600.0  # WebSocket pings: none during the run, on either server


@dataclass
class Phase:
    """A batch of calls (logins, opens or pings) with a bounded number in flight."""

    tried: int = 0
    done: int = 0
    errors: int = 0
    first_error: str = ""
    wall_s: float = 0.0
    server_cpu_s: float = 0.0
    redis_cpu_s: float = 0.0
    own_cpu_s: float = 0.0
    cores_busy: tuple[float, float] = (0.0, 0.0)  # the server's core, the generator's
    latencies_ms: list[float] = field(default_factory=list)

    @property
    def rate(self) -> float:
        return self.done / self.wall_s if self.wall_s else 0.0

    def share(self, cpu_s: float) -> float:
        return cpu_s / self.wall_s if self.wall_s else 0.0

    @property
    def p99_ms(self) -> float:
        return percentile(self.latencies_ms, 99)

    @property
    def p50_ms(self) -> float:
        return percentile(self.latencies_ms, 50)


async def bounded(
    count: int, in_flight: int, call: Callable[[int], Awaitable[None]], pids: dict[str, int]
) -> Phase:
    """``call(0)`` .. ``call(count - 1)``, ``in_flight`` at a time, each within CALL_LIMIT_S,
    the whole within PHASE_LIMIT_S; the server's, Redis's and this process's CPU meanwhile."""
    phase = Phase()
    indices = iter(range(count))
    deadline = time.monotonic() + PHASE_LIMIT_S

    async def worker() -> None:
        for i in indices:
            if time.monotonic() > deadline:
                return
            phase.tried += 1
            t0 = time.perf_counter()
            try:
                async with asyncio.timeout(CALL_LIMIT_S):
                    await call(i)
            except (aiohttp.ClientError, OSError, TimeoutError, ValueError, KeyError) as exc:
                phase.errors += 1
                phase.first_error = phase.first_error or f"{type(exc).__name__}: {exc}"[:160]
                continue
            phase.latencies_ms.append((time.perf_counter() - t0) * 1000)
            phase.done += 1

    server0, redis0 = cpu_seconds(pids["server"]), cpu_seconds(pids.get("redis", 0))
    own0, wall0, cores0 = time.process_time(), time.monotonic(), core_jiffies()
    await asyncio.gather(*(worker() for _ in range(min(in_flight, count))))
    phase.cores_busy = (busy_since(cores0, SERVER_CORE), busy_since(cores0, LOAD_CORE))
    phase.wall_s = time.monotonic() - wall0
    phase.own_cpu_s = time.process_time() - own0
    phase.server_cpu_s = cpu_seconds(pids["server"]) - server0
    phase.redis_cpu_s = cpu_seconds(pids.get("redis", 0)) - redis0 if "redis" in pids else 0.0
    return phase


async def ping(ws: aiohttp.ClientWebSocketResponse, rid: int) -> None:
    """One ``ping`` round trip; anything else the server sends meanwhile is skipped."""
    await ws.send_bytes(msgpack.packb({"op": "ping", "rid": rid}))
    for _ in range(16):
        msg = await ws.receive()
        if msg.type is aiohttp.WSMsgType.BINARY:
            reply = msgpack.unpackb(msg.data)
            if reply.get("rid") == rid:
                if not reply.get("ok"):
                    raise ValueError(f"ping refused: {reply.get('error')}")
                return
        elif msg.type in (
            aiohttp.WSMsgType.CLOSE,
            aiohttp.WSMsgType.CLOSING,
            aiohttp.WSMsgType.CLOSED,
            aiohttp.WSMsgType.ERROR,
        ):
            raise ConnectionResetError(f"socket closed ({ws.close_code})")
    raise ValueError("no reply to ping among 16 frames")


@dataclass
class Idle:
    """A server left alone with every socket open."""

    wall_s: float
    server_cpu_s: float
    redis_cpu_s: float
    slices: list[float]  # the server's CPU share in each CPU_SLICE_S

    @property
    def server(self) -> float:
        return self.server_cpu_s / self.wall_s

    @property
    def redis(self) -> float:
        return self.redis_cpu_s / self.wall_s


async def idle(pids: dict[str, int], seconds: float) -> Idle:
    server0, redis0 = cpu_seconds(pids["server"]), cpu_seconds(pids.get("redis", 0))
    wall0 = time.monotonic()
    slices = []
    last = server0
    while time.monotonic() - wall0 < seconds:
        await asyncio.sleep(CPU_SLICE_S)
        now = cpu_seconds(pids["server"])
        slices.append((now - last) / CPU_SLICE_S)
        last = now
    redis_cpu = cpu_seconds(pids["redis"]) - redis0 if "redis" in pids else 0.0
    return Idle(time.monotonic() - wall0, last - server0, redis_cpu, slices)


@dataclass
class Target:
    """One server's figures."""

    name: str
    wanted: int
    sockets: int = 0  # those to open: for Arena, the players who logged in
    rss_start_kb: int = 0
    rss_logged_in_kb: int = 0
    rss_idle_kb: int = 0
    own_rss_delta_kb: int = 0
    redis_bytes: int = 0
    login: Phase | None = None
    opens: Phase = field(default_factory=Phase)
    idle: Idle | None = None
    pings: Phase = field(default_factory=Phase)
    sweep: Phase = field(default_factory=Phase)
    late_logins: Phase | None = None  # Arena: the late openers', apart from the others
    late: Phase = field(default_factory=Phase)  # LATE_OPENS, one at a time, all others held
    drain_s: float = 0.0  # the server busy with the sockets' ends after the clients left
    drain_cpu_s: float = 0.0
    stop_s: float = 0.0
    overflows: int = 0

    @property
    def held(self) -> int:
        return self.sweep.done

    @property
    def dropped(self) -> int:
        """The sockets open when the clients left at once: those held and the late ones."""
        return self.held + self.late.done

    @property
    def kb_per_socket(self) -> float:
        return (self.rss_idle_kb - self.rss_start_kb) / self.held if self.held else float("nan")


async def hold(
    target: Target,
    url: str,
    pids: dict[str, int],
    ws_path: str,
    tokens: list[str] | None,
    *,
    late_tokens: list[str] | None = None,
    idle_s: float,
    redis_url: str | None = None,
) -> None:
    """Open ``target.sockets`` sockets (with ``tokens`` if given), hold them idle, ping
    them, open LATE_OPENS more one at a time (with ``late_tokens`` if given), then close
    them all; fills ``target`` in."""
    sockets: list[aiohttp.ClientWebSocketResponse | None] = [None] * target.sockets
    own0 = rss_kb("self")
    connector = aiohttp.TCPConnector(limit=0, force_close=True)
    async with aiohttp.ClientSession(connector=connector) as http:

        async def connect(token: str | None) -> aiohttp.ClientWebSocketResponse:
            headers = {"Authorization": f"Bearer {token}"} if token else {}
            return await http.ws_connect(
                url + ws_path, headers=headers, autoping=True, compress=0, max_msg_size=0
            )

        async def open_one(i: int) -> None:
            sockets[i] = await connect(tokens[i] if tokens else None)

        late: list[aiohttp.ClientWebSocketResponse] = []  # held with the rest until the end

        async def open_late(i: int) -> None:
            late.append(await connect(late_tokens[i] if late_tokens else None))

        target.opens = await bounded(target.sockets, IN_FLIGHT, open_one, pids)
        gc.collect()  # the generator's garbage, out of the timed phases
        target.own_rss_delta_kb = rss_kb("self") - own0
        target.idle = await idle(pids, idle_s)
        target.rss_idle_kb = rss_kb(pids["server"])
        if redis_url:
            target.redis_bytes = await used_memory(redis_url) - target.redis_bytes
        live = [ws for ws in sockets if ws is not None]
        rids = itertools.count(1)
        if live:
            step = max(1, len(live) // PING_SAMPLES)
            sample = live[::step][:PING_SAMPLES]
            target.pings = await bounded(
                len(sample), 1, lambda i: ping(sample[i], next(rids)), pids
            )
        target.sweep = await bounded(
            len(live), IN_FLIGHT, lambda i: ping(live[i], next(rids)), pids
        )
        count = len(late_tokens) if late_tokens is not None else LATE_OPENS
        target.late = await bounded(count, 1, open_late, pids)
    # Closing the session dropped every socket's connection at once.
    target.drain_s, target.drain_cpu_s = await until_quiet(pids["server"])


async def until_quiet(pid: int) -> tuple[float, float]:
    """Seconds (and CPU seconds) until the server has been quiet for two CPU slices running,
    after its clients left; DRAIN_LIMIT_S at most."""
    cpu0 = last = cpu_seconds(pid)
    t0 = time.monotonic()
    quiet = 0
    while quiet < 2 and time.monotonic() - t0 < DRAIN_LIMIT_S:
        await asyncio.sleep(CPU_SLICE_S)
        now = cpu_seconds(pid)
        quiet = quiet + 1 if now - last < QUIET * CPU_SLICE_S else 0
        last = now
    return time.monotonic() - t0 - quiet * CPU_SLICE_S, last - cpu0
