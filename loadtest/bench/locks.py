"""The lock's cost: acquire/release pairs per second beside a bare SET NX / DEL loop."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path

from loadtest.bench.common import LOAD_CORE, pin_self, start_redis
from server.storage.locks import Locks
from server.storage.mux import RedisMux
from server.storage.scripts import Scripts

WORKERS = 64


async def _pairs_per_s(mux: RedisMux, duration_s: float, *, bare: bool) -> float:
    locks = Locks(Scripts.load(mux))
    done = 0
    stop_at = time.monotonic() + duration_s

    async def worker(i: int) -> None:
        nonlocal done
        resource = f"bench:{i}"
        while time.monotonic() < stop_at:
            if bare:
                await mux.execute("SET", f"arena:{{{resource}}}:lock", "x", "NX", "PX", 1000)
                await mux.execute("DEL", f"arena:{{{resource}}}:lock")
            else:
                lease = await locks.acquire(resource, ttl_ms=1000, wait_s=1)
                await locks.release(lease)
            done += 1

    started = time.perf_counter()
    await asyncio.gather(*(worker(i) for i in range(WORKERS)))
    return done / (time.perf_counter() - started)


async def run(workdir: Path, *, duration_s: float) -> str:
    redis = start_redis(workdir / "redis-locks")
    pin_self(LOAD_CORE)
    mux = RedisMux(redis.url)
    try:
        bare = await _pairs_per_s(mux, duration_s, bare=True)
        locked = await _pairs_per_s(mux, duration_s, bare=False)
    finally:
        await mux.aclose()
        redis.stop()
    return f"""### Locks

| measure | pairs/s |
|---|---|
| lock acquire + release (token, fencing number, compare-and-delete in Lua), \
{WORKERS} tasks | **{locked:,.0f}** |
| baseline: bare `SET NX PX` + `DEL`, same client, same Redis | {bare:,.0f} |
| lock cost | {locked / bare:.0%} of the bare rate |
"""
