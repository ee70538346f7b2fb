"""Lobby joins per second through the server, with the lobby lock and with it bypassed."""

from __future__ import annotations

import random
from pathlib import Path

import aiohttp

from client_sim.client import ArenaClient, guest_login
from loadtest.bench.common import LOAD_CORE, ServerProcess, pin_self, start_redis
from loadtest.bench.flood import flood

SOCKETS = 128
LOBBIES = SOCKETS  # one lobby per joiner: this measures a join's cost, not queueing for one lobby


async def _lobbies(url: str, run: str) -> list[str]:
    ids = []
    async with aiohttp.ClientSession() as http:
        for i in range(LOBBIES):
            login = await guest_login(url, f"bench-host-{run}-{i:04d}", f"host{i}", http=http)
            async with await ArenaClient.connect(url, login.token, http=http) as host:
                lobby = await host.request("lobby.create", mode="bench", capacity=64)
                ids.append(lobby["lobby"]["lobby_id"])
    return ids


async def _joins_per_s(workdir: Path, redis_url: str, duration_s: float, *, locks: bool) -> float:
    server = ServerProcess(
        redis_url,
        env={
            "ARENA_RATE_LIMITS": (
                "lobby.join=1000000000/1000000000,lobby.leave=1000000000/1000000000,"
                "auth.guest=1000000/1000000"
            ),
            "ARENA_MSG_RATE": "1000000",
            "ARENA_MSG_RATE_BURST": "1000000",
            "ARENA_LOBBY_LOCKS": "1" if locks else "0",
            "ARENA_MAX_SOCKETS_PER_IP": "1000000",  # every socket comes from one address
            # The joins crowd one 64-seat lobby (the default mode has 8 seats).
            "ARENA_MODES": '{"bench": {"capacity": 64}}',
        },
    ).start(workdir / f"server-lobbies-{locks}.log")
    try:
        lobby_ids = await _lobbies(server.url, "locked" if locks else "bare")
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

        rate, _ = await flood(
            server.url,
            sockets=SOCKETS,
            window=1,
            duration_s=duration_s,
            make_request=request,
            name_prefix=f"joiner-{int(locks)}",
        )
        return rate / 2  # half the requests are joins
    finally:
        server.stop()


async def run(workdir: Path, *, duration_s: float) -> str:
    redis = start_redis(workdir / "redis-lobbies")
    pin_self(LOAD_CORE)
    try:
        locked = await _joins_per_s(workdir, redis.url, duration_s, locks=True)
        bare = await _joins_per_s(workdir, redis.url, duration_s, locks=False)
    finally:
        redis.stop()
    return f"""### Lobbies

| measure | joins/s |
|---|---|
| `lobby.join` through the server, lock + fenced write + rate limit \
({SOCKETS} sockets, each joining and leaving a lobby of its own in turn) | **{locked:,.0f}** |
| the same joins with the lobby lock bypassed (`ARENA_LOBBY_LOCKS=0`) | {bare:,.0f} |
| joins with the lock, as a share of joins without it | {locked / bare:.0%} |
"""
