"""Distributed locks with fencing, on one Redis (redis-py's Lock, plus fencing numbers).

    async with locks.hold("lobby:ab12", ttl_ms=2000, wait_s=1.0) as lease:
        ...read state...
        await locks.write_fenced(lease, state_key, {"members": ...})

- Acquire: ``SET key token NX PX ttl`` with a random token, retried with jittered
  backoff until ``wait_s``; then ``LockTimeout`` (LOCK_TIMEOUT, with retry_after_ms).
- Release and extend compare the token in Lua: nobody releases or extends a lock
  it does not hold. A holder that dies leaves the lock to expire at its TTL.
- Renewal: ``hold`` extends the lock every third of its TTL while the holder runs, so
  a slow holder keeps it. A holder confirms it still holds the lock (``confirm``: one
  fenced extend) before each step that acts on what it guards; a lost lock raises
  ``LockTimeout`` there, and the holder stops.
- A release that fails (Redis away) is logged and left to the TTL: it never replaces
  what the holder raised or returned.
- Fencing: every acquire takes a number above every number handed out before for
  that resource. State written under the lock carries it, and ``write_fenced``
  refuses a write from any holder but the newest (one that paused past its TTL).

A ``Lease`` belongs to the task that took it: share the lock name, never the lease.
"""

from __future__ import annotations

import asyncio
import dataclasses
import logging
import random
import secrets
from collections.abc import AsyncIterator, Mapping
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any

from server.errors import ArenaError, LockTimeout
from server.storage import keys
from server.storage.connection import translate_redis_errors
from server.storage.mux import Arg
from server.storage.scripts import Scripts

# The fencing counter outlives any pause a holder could survive; a lost counter restarts
# above Redis's clock in microseconds, so numbers still only grow.
FENCE_TTL_MS = 24 * 3600 * 1000
# A held lock is extended this many times per TTL: one late renewal does not lose it.
RENEWALS_PER_TTL = 3

log = logging.getLogger(__name__)


@dataclass(slots=True)
class LeaseState:
    """Whether the holder found its lock lost (a renewal or a confirm was refused); and
    the guarded hash as the acquire read it (``hold``'s ``reading``), until taken."""

    lost: bool = False
    read: list[Any] | None = None


@dataclass(frozen=True, slots=True)
class Lease:
    resource: str
    token: str
    fence: int
    ttl_ms: int
    state: LeaseState = dataclasses.field(default_factory=LeaseState, compare=False, repr=False)


class Locks:
    def __init__(self, scripts: Scripts) -> None:
        self._scripts = scripts
        # For the metrics: acquisitions that waited, that gave up, and the seconds waited.
        self.counts: dict[str, float] = {"waits": 0, "timeouts": 0, "wait_s": 0.0}

    @translate_redis_errors
    async def try_acquire(
        self, resource: str, ttl_ms: int, reading: str | None = None
    ) -> tuple[Lease | None, int]:
        """One attempt: the lease, or None and the ms until the current holder's TTL ends.
        ``reading``: a hash the lock guards (same hash tag), read in the same script once
        the lock is taken; the lease's ``state.read`` holds its HGETALL."""
        token = secrets.token_hex(16)
        lock_keys = [keys.lock(resource), keys.lock_fence(resource)]
        if reading is not None:
            lock_keys.append(reading)
        reply = await self._scripts.lock_acquire(keys=lock_keys, args=[token, ttl_ms, FENCE_TTL_MS])
        if reply[0]:
            lease = Lease(resource, token, int(reply[1]), ttl_ms)
            if reading is not None:
                lease.state.read = reply[2]
            return lease, 0
        return None, max(0, int(reply[1]))

    async def acquire(
        self, resource: str, *, ttl_ms: int, wait_s: float, reading: str | None = None
    ) -> Lease:
        """Retry with jittered backoff until ``wait_s``; LockTimeout after. ``reading``:
        see ``try_acquire``."""
        loop = asyncio.get_running_loop()
        started = loop.time()
        deadline = started + wait_s
        backoff = 0.002
        waited = False
        while True:
            lease, holder_left_ms = await self.try_acquire(resource, ttl_ms, reading)
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

    async def confirm(self, lease: Lease) -> None:
        """Renew the lock now, or raise ``LockTimeout`` when it was lost (expired, taken,
        deleted): a holder calls this before each step that acts on what the lock guards,
        and stops there if it raises. Redis errors propagate (nothing is confirmed)."""
        if lease.state.lost:
            raise _lost(lease)
        if not await self.extend(lease, lease.ttl_ms):
            lease.state.lost = True
            raise _lost(lease)

    @asynccontextmanager
    async def hold(
        self, resource: str, *, ttl_ms: int, wait_s: float, reading: str | None = None
    ) -> AsyncIterator[Lease]:
        """Hold the lock for the block, renewed while it runs; released after it.
        ``reading``: a hash it guards, read with the acquire (``lease.state.read``)."""
        lease = await self.acquire(resource, ttl_ms=ttl_ms, wait_s=wait_s, reading=reading)
        renewal = _Renewal(self, lease)
        try:
            yield lease
        finally:
            renewal.stop()
            try:
                await self.release(lease)
            except ArenaError as exc:
                # What the block raised (LOBBY_FULL...) or returned stands; the lock lapses
                # at its TTL.
                log.warning(
                    "could not release the lock on %s (%s); it lapses in %d ms",
                    resource,
                    exc.code,
                    lease.ttl_ms,
                )

    @translate_redis_errors
    async def write_fenced(self, lease: Lease, key: str, fields: Mapping[str, Arg]) -> bool:
        """Write ``fields`` to the hash ``key`` unless a newer holder has written it."""
        args: list[Arg] = [lease.fence]
        for field, value in fields.items():
            args += [field, value]
        return bool(
            await self._scripts.fenced_write(keys=[key, keys.lock_fence(lease.resource)], args=args)
        )


class _Renewal:
    """Extends a held lock every third of its TTL while the holder runs, and stops once
    it is lost or the holder is done. A timer, not a task, waits between renewals: most
    holds end long before the first one is due, and cost no task at all."""

    __slots__ = ("_every_s", "_lease", "_locks", "_task", "_timer")

    def __init__(self, locks: Locks, lease: Lease) -> None:
        self._locks = locks
        self._lease = lease
        self._every_s = lease.ttl_ms / 1000 / RENEWALS_PER_TTL
        self._task: asyncio.Task[None] | None = None
        self._timer: asyncio.TimerHandle | None = asyncio.get_running_loop().call_later(
            self._every_s, self._due
        )

    def _due(self) -> None:
        self._timer = None
        self._task = asyncio.create_task(self._run(), name=f"renew {self._lease.resource}")

    async def _run(self) -> None:
        lease = self._lease
        try:
            await self._locks.confirm(lease)
        except LockTimeout:
            log.warning("lost the lock on %s while holding it", lease.resource)
            return
        except ArenaError as exc:  # Redis away: try again; the next confirm decides
            log.info("could not renew the lock on %s: %s", lease.resource, exc.code)
        if not lease.state.lost:
            self._task = None
            self._timer = asyncio.get_running_loop().call_later(self._every_s, self._due)

    def stop(self) -> None:
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        if self._task is not None:
            self._task.cancel()
            self._task = None


def _lost(lease: Lease) -> LockTimeout:
    return LockTimeout(f"{lease.resource} changed hands mid-change; try again", retry_after_ms=50)
