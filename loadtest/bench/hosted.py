"""Server-run matches: how many matches of the bench game (8 players, 20 Hz, every
player sending an input at 20 Hz, every tick broadcasting all positions) one core hosts
with p99 tick lateness at most 5 ms; input-to-broadcast latency; failover time over 10
SIGKILLs of the host; and, beside them in the same run, the relay at the same player
count.

Three parts, one after another, each with its own Redis (on the generator's core) and
its own server processes (on the server's core), so that what one leaves ticking does
not load the next:

1. The climb: one node; matches are added step by step (STEPS) and each step sends
   inputs for STEP_S seconds (``hosted_load``). A step passes when the whole schedule
   was sent, every input showed in a broadcast, no tick was skipped, no error came back,
   and the node's tick lateness histogram (``/metrics``, over the step) puts the 99th
   percentile batch at most 5 ms late. A failed step runs once more (the machine is not
   the bench's alone); a second failure ends the climb.
2. The relay: a fresh node and Redis, the same number of matches of 8 as the best
   passing step, each player sending ``match.send`` at the same 20 Hz
   (``relay_load``, as the relay bench), twice: the first step comes right after its
   players logged in and met in lobbies, and the second is the one compared.
3. Failover: two nodes, one match, KILLS SIGKILLs (``hosted_failover``), default lease.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from pathlib import Path

import aiohttp
import uvloop

from loadtest.bench import relay
from loadtest.bench.common import LOAD_CORE, ServerProcess, pin_self, redis_pids, start_redis
from loadtest.bench.hosted_failover import KILLS, Failover, Round
from loadtest.bench.hosted_load import ARENA_ENV, HostedLoad, HostedStep
from loadtest.bench.hosted_report import HostedRun, render
from loadtest.bench.relay_load import RelayLoad, StepResult

STEPS = (5, 10, 15, 20, 25, 30, 40, 50, 60, 80, 100, 120, 160, 200)
CLIMB_BUDGET_S = 60.0  # set-up included
RELAY_STEPS = 2  # the relay's count is measured twice: right after its set-up, then again


async def _climb(load: HostedLoad) -> list[HostedStep]:
    started = time.monotonic()
    results: list[HostedStep] = []
    for matches in STEPS:
        spent = time.monotonic() - started
        per_step = spent / len(results) if results else 0.0
        if results and spent + 2 * per_step > CLIMB_BUDGET_S:
            break
        await load.grow(matches)
        results.append(await load.step(matches))
        if results[-1].passed:
            continue
        await asyncio.sleep(1.0)  # the failed step's backlog clears
        results.append(await load.step(matches))
        if not results[-1].passed:
            break
    return results


def _best(steps: list[HostedStep]) -> HostedStep | None:
    return max((s for s in steps if s.passed), key=lambda s: s.matches, default=None)


async def _relay_at(matches: int, http: aiohttp.ClientSession, workdir: Path) -> list[StepResult]:
    with contextlib.ExitStack() as stack:
        redis = start_redis(workdir / "redis-hosted-relay")
        stack.callback(redis.stop)
        server = ServerProcess(redis.url, env=relay.ARENA_ENV)
        stack.callback(server.stop)
        server.start(workdir / "server-hosted-relay.log")
        assert server.process is not None
        pids = {"server": [server.process.pid], "redis": redis_pids(redis)}
        load = RelayLoad(relay.ArenaMatches((server.url,)), http, pids)
        try:
            await load.grow(matches)
            return [await load.step(step, matches) for step in range(1, RELAY_STEPS + 1)]
        finally:
            await load.aclose()


async def _failover(http: aiohttp.ClientSession, workdir: Path, env: dict[str, str]) -> list[Round]:
    redis = start_redis(workdir / "redis-hosted-failover")
    failover = Failover(http, redis.url, env, workdir)
    try:
        await failover.setup()
        return [await failover.kill_round() for _ in range(KILLS)]
    finally:
        await failover.aclose()
        redis.stop()


def _logs(workdir: Path, pattern: str) -> str:
    return "\n".join(p.read_text(errors="replace") for p in sorted(workdir.glob(pattern)))


async def _measure(workdir: Path, lease_s: float | None) -> HostedRun:
    pin_self(LOAD_CORE)  # this thread: the generator's
    wall: dict[str, float] = {}
    async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=0)) as http:
        started = time.monotonic()
        with contextlib.ExitStack() as stack:
            redis = start_redis(workdir / "redis-hosted")
            stack.callback(redis.stop)
            server = ServerProcess(redis.url, env=ARENA_ENV)
            stack.callback(server.stop)
            server.start(workdir / "server-hosted-climb.log")
            assert server.process is not None
            load = HostedLoad(
                server.url, http, {"server": [server.process.pid], "redis": redis_pids(redis)}
            )
            try:
                climb = await _climb(load)
            finally:
                await load.aclose()
                # What it hosts would go on ticking: gone before the relay's node is loaded.
                server.process.kill()
                server.process.wait()
        wall["climb"] = time.monotonic() - started
        best = _best(climb)
        started = time.monotonic()
        relayed = await _relay_at(best.matches if best else climb[0].matches, http, workdir)
        wall["relay"] = time.monotonic() - started
        started = time.monotonic()
        env = dict(ARENA_ENV)
        if lease_s is not None:
            env["ARENA_HOST_LEASE_S"] = str(lease_s)
        rounds = await _failover(http, workdir, env)
        wall["failover"] = time.monotonic() - started
    logs = {
        "climb": _logs(workdir, "server-hosted-climb.log"),
        "relay": _logs(workdir, "server-hosted-relay.log"),
        "failover": _logs(workdir, "server-failover-*.log"),
    }
    return HostedRun(climb, relayed, rounds, logs, wall, lease_s or 5.0)


async def run(workdir: Path, lease_s: float | None = None) -> str:
    # The generator on a uvloop of its own in a thread, as the relay bench's.
    return render(await asyncio.to_thread(uvloop.run, _measure(workdir, lease_s)))
