"""Room relay: matches of 8 players each sending a small event at 20 Hz through the whole
server (match.send -> append and publish in Redis -> the hub -> every player's socket),
stepped up until latency or delivery fails. Four targets under the same generator and the
same steps: Arena on one Redis; Arena on a 3-master Redis Cluster; two Arena nodes on one
Redis, each match's players split between them so that every event crosses nodes; and a
bare aiohttp relay without Redis, the baseline.

Each target climbs STEPS (matches at once) until a step fails, then tries the
middle of the gap between its last pass and that failure, twice at most, within
a time budget. A step passes when the generator sent its whole schedule, every
event reached every player of its match, and p99 latency stayed under 100 ms.
"""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass
from pathlib import Path

import aiohttp
import uvloop

from client_sim.client import guest_login, ws_url
from loadtest.bench.common import (
    LOAD_CORE,
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
from loadtest.bench.relay_report import Climbed, render
from server.embedded_redis import RedisClusterProcesses, RedisProcess

# Four targets in `make bench`'s five minutes: the climb starts at 10 matches, and each
# target has BUDGET_S.
STEPS = (10, 40, 60, 80, 100, 120, 140, 160, 200, 240)
BUDGET_S = 34.0  # per target, set-up included
REFINE_MIN_GAP = 10  # matches between a pass and a failure worth one more step
ARENA_ENV = {
    # One client IP logs every player in; the relay rate is raised so that the bench,
    # not a per-player budget, decides how much gets through (20 Hz is within the default).
    "ARENA_RATE_LIMITS": "auth.guest=100000/100000,match.send=1000/1000",
}


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


async def climb(open_match: OpenMatch, pids: dict[str, list[int]]) -> list[StepResult]:
    """Step the matches up until a step fails twice in a row, then narrow the gap once or
    twice; every step measured, by matches (a repeated step appears twice)."""
    results: list[StepResult] = []
    started = time.monotonic()

    def fits() -> bool:  # a step's sending and draining, and set-up as it has gone so far
        spent = time.monotonic() - started
        return not results or spent + STEP_S + DRAIN_S + spent / len(results) < BUDGET_S

    async def measure(matches: int) -> StepResult:
        if results and not results[-1].passed:
            await asyncio.sleep(1.0)  # the failed step's backlog clears
        results.append(await load.step(len(results) + 1, matches))
        return results[-1]

    async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=0)) as http:
        load = RelayLoad(open_match, http, pids)
        try:
            for matches in STEPS:
                if not fits():
                    break
                await load.grow(matches)
                result = await measure(matches)
                if not result.passed and not load.closed and fits():
                    result = await measure(matches)  # once more: the machine is not ours alone
                if not result.passed or load.closed:
                    break
            for _ in range(2):
                low = max((r.matches for r in results if r.passed), default=0)
                high = min((r.matches for r in results if r.matches > low), default=0)
                if high - low < REFINE_MIN_GAP or load.closed or not fits():
                    break
                await measure((low + high) // 10 * 5)
        finally:
            await load.aclose()
    return sorted(results, key=lambda r: r.matches)


async def _arena(
    workdir: Path, name: str, redis: RedisProcess | RedisClusterProcesses, nodes: int
) -> Climbed:
    """Arena's climb with ``nodes`` server processes, every one pinned to the server's core."""
    servers: list[ServerProcess] = []
    logs = [workdir / f"server-relay-{name}-{n}.log" for n in range(nodes)]
    try:
        for log in logs:
            servers.append(ServerProcess(redis.url, env=ARENA_ENV).start(log))
        pids = {
            "server": [s.process.pid for s in servers if s.process is not None],
            "redis": redis_pids(redis),
        }
        results = await climb(ArenaMatches(tuple(s.url for s in servers)), pids)
    finally:
        for server in servers:
            server.stop()
        redis.stop()
    return Climbed(results, "\n".join(log.read_text(errors="replace") for log in logs))


async def _measure(workdir: Path) -> dict[str, Climbed]:
    pin_self(LOAD_CORE)  # this thread: the generator's
    climbed = {
        "single": await _arena(workdir, "single", start_redis(workdir / "redis-relay"), 1),
        "cluster": await _arena(workdir, "cluster", start_cluster(workdir / "cluster-relay"), 1),
        "two nodes": await _arena(
            workdir, "two-nodes", start_redis(workdir / "redis-relay-two-nodes"), 2
        ),
    }
    bare_relay = BaselineProcess("loadtest.bench.bare_relay").start(workdir / "bare-relay.log")
    try:
        assert bare_relay.process is not None
        bare = await climb(BareRooms(bare_relay.url), {"server": [bare_relay.process.pid]})
    finally:
        bare_relay.stop()
    climbed["bare"] = Climbed(bare, None)
    return climbed


async def run(workdir: Path) -> str:
    # The generator gets a uvloop of its own in a thread: on the default loop it spends
    # about a fifth more per delivery, and it shares its core with Redis.
    return render(await asyncio.to_thread(uvloop.run, _measure(workdir)))
