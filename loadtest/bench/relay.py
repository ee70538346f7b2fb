"""Room relay: matches of 8 players each sending a small event at 20 Hz through the whole
server (match.send -> append and publish in Redis -> the hub -> every player's socket),
stepped up until latency or delivery fails. Five targets under the same generator and the
same steps: Arena on one Redis, that Redis on the server's core (as issue 19 measured it:
Redis counted on the server's side); the same in a mode with a 10 ms push window (what
sharing socket writes buys);
Arena on a 3-master Redis Cluster; two Arena nodes on one Redis, each match's players split
between them so that every event crosses nodes; and a bare aiohttp relay without Redis, the
baseline.

Each target climbs STEPS (matches at once) until a step fails, then tries the
middle of the gap between its last pass and that failure, twice at most, within
a time budget. A step passes when the generator sent its whole schedule, every
event reached every player of its match, and p99 latency stayed under 100 ms.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import time
from dataclasses import dataclass
from pathlib import Path

import aiohttp
import uvloop

from client_sim.client import guest_login, ws_url
from loadtest.bench.common import (
    LOAD_CORE,
    SERVER_CORE,
    BaselineProcess,
    ServerProcess,
    pin_self,
    redis_pids,
    start_cluster,
    start_redis,
)
from loadtest.bench.relay_load import (
    DRAIN_S,
    SEATS,
    STEP_S,
    OpenMatch,
    RelayLoad,
    Seat,
    StepResult,
)
from loadtest.bench.relay_report import Climbed, headline, render
from loadtest.bench.summary import RelayHeadline
from server.embedded_redis import RedisClusterProcesses, RedisProcess

# Five targets in `make bench`'s five minutes: the climb starts at 10 matches, and each
# target has BUDGET_S.
STEPS = (10, 40, 60, 80, 100, 120, 140, 160, 200, 240)
BUDGET_S = 34.0  # per target, set-up included
WINDOW_MS = 10  # the push window of the fifth target's mode
REFINE_MIN_GAP = 10  # matches between a pass and a failure worth one more step
ARENA_ENV = {
    # One client IP logs every player in; the relay rate is raised so that the bench,
    # not a per-player budget, decides how much gets through (20 Hz is within the default).
    "ARENA_RATE_LIMITS": "auth.guest=100000/100000,match.send=1000/1000",
    "ARENA_MAX_SOCKETS_PER_IP": "1000000",  # every socket comes from one address
}


# How the generator gets into a target's matches, and the pids whose CPU each step reads.
Target = tuple[OpenMatch, dict[str, list[int]]]


@dataclass(frozen=True, slots=True)
class ArenaMatches:
    """Arena's way in: guest logins, one lobby of 8, everyone ready, match.started. With
    several nodes, seat s logs in and plays on node s mod N: every match spans them all."""

    urls: tuple[str, ...]

    async def __call__(self, http: aiohttp.ClientSession, m: int) -> list[Seat]:
        seats = []
        for s in range(SEATS):
            url = self.urls[s % len(self.urls)]
            login = await guest_login(url, f"relay-{m:04d}-{s}", f"r{m}s{s}", http=http)
            headers = {"Authorization": f"Bearer {login.token}"}
            seats.append(Seat(await http.ws_connect(ws_url(url), headers=headers)))
        lobby = await seats[0].call("lobby.create", mode="bench", capacity=SEATS)
        lobby_id = lobby["lobby"]["lobby_id"]
        for seat in seats[1:]:
            await seat.call("lobby.join", lobby_id=lobby_id)
        for seat in seats:
            await seat.call("lobby.ready", ready=True)
        match_ids = {await asyncio.wait_for(seat.started(), 10) for seat in seats}
        if len(match_ids) != 1:
            raise RuntimeError(f"one lobby started several matches: {match_ids}")
        return seats


@dataclass(frozen=True, slots=True)
class BareRooms:
    """The bare relay's way in: a room named in the URL, and a word when the socket is in."""

    url: str

    async def __call__(self, http: aiohttp.ClientSession, m: int) -> list[Seat]:
        seats = []
        for s in range(SEATS):
            seat = Seat(await http.ws_connect(f"{self.url}/ws?room=room{m:04d}&player=p{m}-{s}"))
            await asyncio.wait_for(seat.started(), 10)
            seats.append(seat)
        return seats


class Climb:
    """One target's way up: its load, its steps so far, and whether it has stopped."""

    def __init__(self, load: RelayLoad) -> None:
        self.load = load
        self.results: list[StepResult] = []
        self.done = False

    async def measure(self, matches: int) -> StepResult:
        if self.results and not self.results[-1].passed:
            await asyncio.sleep(1.0)  # the failed step's backlog clears
        self.results.append(await self.load.step(len(self.results) + 1, matches))
        return self.results[-1]

    def gap(self) -> int | None:
        """The middle of the gap between the last pass and the first failure above it, when
        that gap is worth a step."""
        low = max((r.matches for r in self.results if r.passed), default=0)
        high = min((r.matches for r in self.results if r.matches > low), default=0)
        if high - low < REFINE_MIN_GAP or self.load.closed:
            return None
        return (low + high) // 10 * 5


async def climb(targets: dict[str, Target]) -> dict[str, list[StepResult]]:
    """Step every target's matches up together, a round of STEPS at a time (each target in
    turn, so that other work on the machine falls on them alike), until a target's step
    fails twice in a row; then narrow that target's gap once or twice and close its
    sockets. Every step measured, by matches (a repeated step appears twice)."""
    started = time.monotonic()
    budget_s = BUDGET_S * len(targets)
    climbs: dict[str, Climb] = {}

    def fits(steps: int = 1) -> bool:  # steps at the cost so far (set-up included), one more
        spent = time.monotonic() - started  # failing at worst
        done = sum(len(c.results) for c in climbs.values())
        return not done or spent + steps * spent / done + STEP_S + DRAIN_S < budget_s

    async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=0)) as http:
        climbs.update(
            {key: Climb(RelayLoad(target[0], http, target[1])) for key, target in targets.items()}
        )
        try:
            for matches in STEPS:
                active = [c for c in climbs.values() if not c.done]
                if not active or not fits(len(active)):
                    break
                for c in active:
                    await c.load.grow(matches)
                    result = await c.measure(matches)
                    if not result.passed and not c.load.closed and fits():
                        result = await c.measure(matches)  # once more: the machine is not ours
                    if result.passed and not c.load.closed:
                        continue
                    c.done = True
                    for _ in range(2):
                        if (at := c.gap()) is None or not fits():
                            break
                        await c.measure(at)
                    await c.load.aclose()  # its sockets gone: the other targets' steps go on
        finally:
            await asyncio.gather(*(c.load.aclose() for c in climbs.values()))
    return {key: sorted(c.results, key=lambda r: r.matches) for key, c in climbs.items()}


def _arena_nodes(
    stack: contextlib.ExitStack,
    workdir: Path,
    name: str,
    redis: RedisProcess | RedisClusterProcesses,
    nodes: int,
    env: dict[str, str] | None = None,
) -> tuple[Target, list[Path]]:
    """``nodes`` Arena servers on ``redis``, every one pinned to the server's core; stopped
    (Redis last) when ``stack`` closes."""
    stack.callback(redis.stop)
    logs = [workdir / f"server-relay-{name}-{n}.log" for n in range(nodes)]
    servers = []
    for log in logs:
        server = ServerProcess(redis.url, env={**ARENA_ENV, **(env or {})})
        stack.callback(server.stop)
        servers.append(server.start(log))
    pids = {
        "server": [s.process.pid for s in servers if s.process is not None],
        "redis": redis_pids(redis),
    }
    return (ArenaMatches(tuple(s.url for s in servers)), pids), logs


async def _measure(workdir: Path) -> dict[str, Climbed]:
    pin_self(LOAD_CORE)  # this thread: the generator's
    with contextlib.ExitStack() as stack:
        single, single_logs = _arena_nodes(
            stack, workdir, "single", start_redis(workdir / "redis-relay", SERVER_CORE), 1
        )
        cluster, cluster_logs = _arena_nodes(
            stack, workdir, "cluster", start_cluster(workdir / "cluster-relay"), 1
        )
        two, two_logs = _arena_nodes(
            stack, workdir, "two-nodes", start_redis(workdir / "redis-relay-two-nodes"), 2
        )
        # The same node and Redis layout, in a mode whose match pushes may wait 10 ms to
        # share a socket write (ARENA_MODES push_window_ms): what the window buys.
        window, window_logs = _arena_nodes(
            stack,
            workdir,
            "window",
            start_redis(workdir / "redis-relay-window", SERVER_CORE),
            1,
            {"ARENA_MODES": json.dumps({"bench": {"push_window_ms": WINDOW_MS}})},
        )
        bare_relay = BaselineProcess("loadtest.bench.bare_relay")
        stack.callback(bare_relay.stop)
        bare_relay.start(workdir / "bare-relay.log")
        assert bare_relay.process is not None
        bare = (BareRooms(bare_relay.url), {"server": [bare_relay.process.pid]})
        results = await climb(
            {
                "single": single,
                "window": window,
                "cluster": cluster,
                "two nodes": two,
                "bare": bare,
            }
        )
    logs = {
        "single": single_logs,
        "window": window_logs,
        "cluster": cluster_logs,
        "two nodes": two_logs,
        "bare": [],
    }
    return {
        key: Climbed(
            results[key],
            "\n".join(log.read_text(errors="replace") for log in logs[key]) if logs[key] else None,
        )
        for key in results
    }


async def run(workdir: Path) -> tuple[str, RelayHeadline]:
    # The generator gets a uvloop of its own in a thread: on the default loop it spends
    # about a fifth more per delivery, and it shares its core with Redis.
    climbed = await asyncio.to_thread(uvloop.run, _measure(workdir))
    return render(climbed), headline(climbed)
