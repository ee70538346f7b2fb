"""The lobby lock a change holds: renewed while the change runs, and confirmed before
each step after its write (the index, the match start, each publish), so a change that
lost its lock stops with LOCK_TIMEOUT and pushes nothing (lobbies.py's rules)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from contextvars import ContextVar

from server.storage import keys
from server.storage.locks import Lease, Locks

LOCK_TTL_MS = 2000

# The lobby lock the running change holds (each task its own): what ``still_held`` confirms.
_HELD: ContextVar[Lease | None] = ContextVar("held_lobby_lock", default=None)


@asynccontextmanager
async def hold_lobby(locks: Locks, lobby_id: str, wait_s: float) -> AsyncIterator[Lease]:
    """Hold the lobby's lock (renewed while held); ``still_held`` confirms it."""
    async with locks.hold(
        keys.lobby_resource(lobby_id), ttl_ms=LOCK_TTL_MS, wait_s=wait_s
    ) as lease:
        held = _HELD.set(lease)
        try:
            yield lease
        finally:
            _HELD.reset(held)


async def still_held(locks: Locks) -> None:
    """Raise LOCK_TIMEOUT if this change lost its lock: a newer holder may have acted
    since, and what this one would index or push would be out of date or out of order."""
    lease = _HELD.get()
    if lease is not None:
        await locks.confirm(lease)
