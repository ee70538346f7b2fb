"""What the lobby lock costs a join: joins per second through the server, and the lock's
own work measured apart, against the same Redis, in CPU per request.

Every lobby change holds its lobby's lock, and the server has no way to run one without
it (a lobby could overfill). So the lock is not switched off; its work is done alone,
exactly as a change does it (``LobbyStore.holding``: acquire with its fencing number,
the renewal timer set and cancelled, one ``confirm_held`` before the index and the
pushes, release), by the same pipelined client on a uvloop as the server's, and
metered in CPU: the client's (one thread's CPU time) and Redis's (its process's). Set
beside the server's and Redis's CPU per join or leave under load, it says which share of
a request's CPU the lock takes.
"""

from __future__ import annotations

import asyncio
import random
import time
from dataclasses import dataclass
from pathlib import Path

import aiohttp
import uvloop

from client_sim.client import ArenaClient, guest_login
from loadtest.bench.common import LOAD_CORE, ServerProcess, pin_self, redis_pids, start_redis
from loadtest.bench.flood import flood
from loadtest.bench.relay_load import cpu_seconds
from loadtest.bench.summary import LobbyHeadline
from server.embedded_redis import RedisProcess
from server.storage.clients import open_mux
from server.storage.lobbies import LobbyStore
from server.storage.locks import Locks
from server.storage.scripts import Scripts

SOCKETS = 128
LOBBIES = SOCKETS  # one lobby per joiner: this measures a join's cost, not queueing for one lobby


@dataclass(frozen=True, slots=True)
class Metered:
    """Things done per second, and the CPU each cost: the client's (the server's, for
    requests) and Redis's, in µs."""

    per_s: float
    client_us: float
    redis_us: float


async def _lobbies(url: str) -> list[str]:
    ids = []
    async with aiohttp.ClientSession() as http:
        for i in range(LOBBIES):
            login = await guest_login(url, f"bench-host-{i:04d}", f"host{i}", http=http)
            async with await ArenaClient.connect(url, login.token, http=http) as host:
                lobby = await host.request("lobby.create", mode="bench", capacity=64)
                ids.append(lobby["lobby"]["lobby_id"])
    return ids


async def _joins(workdir: Path, redis: RedisProcess, duration_s: float) -> Metered:
    """Joins and leaves through the server, each in turn on each socket: requests per
    second, and the server's and Redis's CPU per request (a join or a leave)."""
    server = ServerProcess(
        redis.url,
        env={
            "ARENA_RATE_LIMITS": (
                "lobby.join=1000000000/1000000000,lobby.leave=1000000000/1000000000,"
                "auth.guest=1000000/1000000"
            ),
            "ARENA_MSG_RATE": "1000000",
            "ARENA_MSG_RATE_BURST": "1000000",
            "ARENA_MAX_SOCKETS_PER_IP": "1000000",  # every socket comes from one address
            # The joins crowd one 64-seat lobby (the default mode has 8 seats).
            "ARENA_MODES": '{"bench": {"capacity": 64}}',
        },
    ).start(workdir / "server-lobbies.log")
    assert server.process is not None
    pids = server.process.pid, redis_pids(redis)
    try:
        lobby_ids = await _lobbies(server.url)
        lobby_of: dict[int, str] = {}

        def request(rng: random.Random, rid: int) -> dict[str, object]:
            # Each socket has a lobby of its own (its host waits in it) and alternates:
            # join it, leave it, join it...
            if id(rng) not in lobby_of:
                lobby_of[id(rng)] = lobby_ids[len(lobby_of)]
            lobby_id = lobby_of[id(rng)]
            if rid % 2:
                return {"op": "lobby.join", "lobby_id": lobby_id}
            return {"op": "lobby.leave"}

        marks: list[tuple[float, float, float]] = []
        rate, _ = await flood(
            server.url,
            sockets=SOCKETS,
            window=1,
            duration_s=duration_s,
            make_request=request,
            name_prefix="joiner",
            around_load=lambda: marks.append(
                (time.perf_counter(), cpu_seconds(pids[0]), cpu_seconds(*pids[1]))
            ),
        )
    finally:
        server.stop()
    (t_0, server_0, redis_0), (t_1, server_1, redis_1) = marks
    requests = rate * (t_1 - t_0)
    return Metered(
        rate, 1e6 * (server_1 - server_0) / requests, 1e6 * (redis_1 - redis_0) / requests
    )


async def _lock_work(redis: RedisProcess, duration_s: float) -> Metered:
    """The lock's part of one join or leave, done alone by SOCKETS tasks, each on a lobby
    of its own (as the joins): holds per second, and the client's and Redis's CPU each."""
    mux = open_mux(redis.url, timeout_s=5.0)
    scripts = Scripts.load(mux)
    store = LobbyStore(mux, scripts, Locks(scripts))
    holds = 0
    try:

        async def change(lobby_id: str, stop_at: float) -> None:
            nonlocal holds
            while time.monotonic() < stop_at:
                async with store.holding(lobby_id, wait_s=1.0):
                    await store.confirm_held()  # before the index and the pushes
                holds += 1

        # A short warm-up (connections, scripts loaded), then the metered run.
        await asyncio.gather(*(change(f"warm{i:08x}", time.monotonic() + 0.2) for i in range(8)))
        holds = 0
        cpu_0, redis_0 = time.thread_time(), cpu_seconds(*redis_pids(redis))
        started = time.perf_counter()
        stop_at = time.monotonic() + duration_s
        await asyncio.gather(*(change(f"{i:012x}", stop_at) for i in range(SOCKETS)))
        elapsed = time.perf_counter() - started
        cpu_1, redis_1 = time.thread_time(), cpu_seconds(*redis_pids(redis))
    finally:
        await mux.aclose()
    return Metered(
        holds / elapsed, 1e6 * (cpu_1 - cpu_0) / holds, 1e6 * (redis_1 - redis_0) / holds
    )


async def run(workdir: Path, *, duration_s: float) -> tuple[str, LobbyHeadline]:
    redis = start_redis(workdir / "redis-lobbies")
    pin_self(LOAD_CORE)
    try:
        joins = await _joins(workdir, redis, duration_s)
        # In a thread on a uvloop of its own, as the server runs its client: the thread's
        # CPU time is the lock's client work alone.
        lock = await asyncio.to_thread(uvloop.run, _lock_work(redis, duration_s))
    finally:
        redis.stop()
    return _render(joins, lock), LobbyHeadline(joins.per_s / 2, lock.per_s)


def _render(joins: Metered, lock: Metered) -> str:
    return f"""### Lobbies

| measure | per second | client or server CPU, µs each | Redis CPU, µs each |
|---|---|---|---|
| `lobby.join` and `lobby.leave` in turn through the server ({SOCKETS} sockets, each \
on a lobby of its own): lock + fenced write + rate limit + pushes | **{joins.per_s / 2:,.0f}** \
joins ({joins.per_s:,.0f} requests) | {joins.client_us:.0f} per request | \
{joins.redis_us:.0f} per request |
| the lobby lock's part of one request, alone against the same Redis (acquire, one \
confirm, release; {SOCKETS} tasks, same client on uvloop) | {lock.per_s:,.0f} holds | \
{lock.client_us:.0f} per hold | {lock.redis_us:.0f} per hold |
| the lock's share of a request's CPU | | **{lock.client_us / joins.client_us:.0%}** \
of the server's | **{lock.redis_us / joins.redis_us:.0%}** of Redis's |
"""
