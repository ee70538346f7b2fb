"""Distributed locks with fencing, on one Redis (redis-py's Lock, plus fencing numbers).

    async with locks.hold("lobby:ab12", ttl_ms=2000, wait_s=1.0) as lease:
        ...read state...
        await locks.write_fenced(lease, state_key, {"members": ...})

- Acquire: ``SET key token NX PX ttl`` with a random token, retried with jittered
  backoff until ``wait_s``; then ``LockTimeout`` (LOCK_TIMEOUT, with retry_after_ms).
- Release and extend compare the token in Lua: nobody releases or extends a lock
  it does not hold. A holder that dies leaves the lock to expire at its TTL.
- Fencing: every acquire takes a number above every number handed out before for
  that resource. State written under the lock carries it, and ``write_fenced``
  refuses a write from any holder but the newest (one that paused past its TTL).

A ``Lease`` belongs to the task that took it: share the lock name, never the lease.
"""

from __future__ import annotations

import asyncio
import random
import secrets
from collections.abc import AsyncIterator, Mapping
from contextlib import asynccontextmanager
from dataclasses import dataclass

from server.errors import LockTimeout
from server.storage import keys
from server.storage.connection import translate_redis_errors
from server.storage.mux import Arg, Commands
from server.storage.scripts import Scripts

# The fencing counter outlives any pause a holder could survive; a lost counter restarts
# above Redis's clock in microseconds, so numbers still only grow.
FENCE_TTL_MS = 24 * 3600 * 1000


@dataclass(frozen=True, slots=True)
class Lease:
    resource: str
    token: str
    fence: int
    ttl_ms: int


class Locks:
    def __init__(self, scripts: Scripts) -> None:
        self._scripts = scripts
        # For the metrics: acquisitions that waited, that gave up, and the seconds waited.
        self.counts: dict[str, float] = {"waits": 0, "timeouts": 0, "wait_s": 0.0}

    @translate_redis_errors
    async def try_acquire(self, resource: str, ttl_ms: int) -> tuple[Lease | None, int]:
        """One attempt: the lease, or None and the ms until the current holder's TTL ends."""
        token = secrets.token_hex(16)
        taken, value = await self._scripts.lock_acquire(
            keys=[keys.lock(resource), keys.lock_fence(resource)],
            args=[token, ttl_ms, FENCE_TTL_MS],
        )
        if taken:
            return Lease(resource, token, int(value), ttl_ms), 0
        return None, max(0, int(value))

    async def acquire(self, resource: str, *, ttl_ms: int, wait_s: float) -> Lease:
        """Retry with jittered backoff until ``wait_s``; LockTimeout after."""
        loop = asyncio.get_running_loop()
        started = loop.time()
        deadline = started + wait_s
        backoff = 0.002
        waited = False
        while True:
            lease, holder_left_ms = await self.try_acquire(resource, ttl_ms)
            if lease is not None:
                if waited:
                    self.counts["wait_s"] += loop.time() - started
                return lease
            if not waited:
                waited = True
                self.counts["waits"] += 1
            remaining = deadline - loop.time()
            if remaining <= 0:
                self.counts["timeouts"] += 1
                self.counts["wait_s"] += loop.time() - started
                raise LockTimeout(
                    f"{resource} is busy; try again",
                    retry_after_ms=max(1, min(holder_left_ms, ttl_ms)),
                )
            # Full jitter: contenders spread out instead of retrying in lockstep.
            await asyncio.sleep(min(remaining, random.uniform(0, backoff)))
            backoff = min(backoff * 2, 0.05)

    @translate_redis_errors
    async def release(self, lease: Lease) -> bool:
        return bool(
            await self._scripts.delete_if_equal(
                keys=[keys.lock(lease.resource)], args=[lease.token]
            )
        )

    @translate_redis_errors
    async def extend(self, lease: Lease, ttl_ms: int) -> bool:
        """Renew a lock we still hold; False when it expired (and may be someone else's)."""
        return bool(
            await self._scripts.lock_extend(
                keys=[keys.lock(lease.resource)], args=[lease.token, ttl_ms]
            )
        )

    @asynccontextmanager
    async def hold(self, resource: str, *, ttl_ms: int, wait_s: float) -> AsyncIterator[Lease]:
        lease = await self.acquire(resource, ttl_ms=ttl_ms, wait_s=wait_s)
        try:
            yield lease
        finally:
            await self.release(lease)

    @translate_redis_errors
    async def write_fenced(self, lease: Lease, key: str, fields: Mapping[str, Arg]) -> bool:
        """Write ``fields`` to the hash ``key`` unless a newer holder has written it."""
        args: list[Arg] = [lease.fence]
        for field, value in fields.items():
            args += [field, value]
        return bool(
            await self._scripts.fenced_write(keys=[key, keys.lock_fence(lease.resource)], args=args)
        )


class NoLocks(Locks):
    """Locks that lock nothing: for the benchmark that measures what locking costs.

    With these, lobbies can be overfilled and players seated twice; never use them
    to serve players (``ARENA_LOBBY_LOCKS=0``).
    """

    def __init__(self, scripts: Scripts, mux: Commands) -> None:
        super().__init__(scripts)
        self._mux = mux

    async def try_acquire(self, resource: str, ttl_ms: int) -> tuple[Lease | None, int]:
        return Lease(resource, "", 0, ttl_ms), 0

    async def release(self, lease: Lease) -> bool:
        return True

    async def extend(self, lease: Lease, ttl_ms: int) -> bool:
        return True

    @translate_redis_errors
    async def write_fenced(self, lease: Lease, key: str, fields: Mapping[str, Arg]) -> bool:
        args: list[Arg] = []
        for field, value in fields.items():
            args += [field, value]
        await self._mux.execute("HSET", key, *args)
        return True
