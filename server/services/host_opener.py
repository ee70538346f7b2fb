"""Opening a server-run match for hosting: its record, and the node it is placed on.

A match of a mode with a ``game`` is opened when it starts (a lobby's start, or
``match.create``): the hosting record names the game, tick rate, params and a fresh
rng seed, and the least loaded live node (``HostNodes``) gets the first claim for
``PLACE_GRACE_MS``; past that, any node's sweeper may take it (the chosen one died, or
is slow). Its first tick must not beat ``match.started`` to the players: the match is
due for hosting only once its starter says its players were told (``ready``: then this
node's sweeper is rung, so when it is the one chosen, its first tick does not wait for a
sweep), or ``START_GRACE_MS`` after opening, should its starter die before saying so.
"""

from __future__ import annotations

import asyncio
import secrets
import time
from collections.abc import Callable, Mapping

from server.games.api import JsonValue
from server.modes import ModeSpec
from server.storage.host_nodes import HostNodes
from server.storage.hosting import HostStore
from server.storage.hosting_records import HostRecord

PLACE_GRACE_MS = 2000
START_GRACE_MS = 1000


class Doorbell:
    """Rung when a match may be waiting for a host; the sweeper waits on it."""

    def __init__(self) -> None:
        self._event = asyncio.Event()

    def ring(self) -> None:
        self._event.set()

    async def wait(self, timeout_s: float) -> None:
        """Until rung or ``timeout_s`` passed; then ready for the next ring."""
        if not self._event.is_set():
            timer = asyncio.get_running_loop().call_later(timeout_s, self._event.set)
            try:
                await self._event.wait()
            finally:
                timer.cancel()
        self._event.clear()


class HostOpener:
    def __init__(
        self,
        store: HostStore,
        nodes: HostNodes,
        doorbell: Doorbell,
        *,
        node_id: str,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._store = store
        self._nodes = nodes
        self._doorbell = doorbell
        self._node_id = node_id
        self._clock = clock

    async def open(
        self, match_id: str, mode: str, spec: ModeSpec, params: Mapping[str, JsonValue]
    ) -> None:
        """Make the match claimable, placed on the least loaded live node. Idempotent (a
        retried start keeps the first record)."""
        if spec.game is None:
            raise ValueError(f"mode {mode!r} has no game")
        now_ms = int(self._clock() * 1000)
        place = await self._nodes.least_loaded(now_ms) or self._node_id
        record = HostRecord(
            game=spec.game,
            tick_rate=spec.tick_rate,
            seed=secrets.randbits(63),
            # The mode's own params win over a creator's: a player cannot set what the
            # operator fixed.
            params={**params, **spec.params},
            mode=mode,
            place=place,
            place_until=now_ms + PLACE_GRACE_MS,
        )
        if await self._store.open(match_id, record):
            await self._store.note_lease(match_id, now_ms + START_GRACE_MS)

    async def ready(self, match_id: str) -> None:
        """The match's players were told it started: it may tick now."""
        await self._store.note_lease(match_id, int(self._clock() * 1000))
        self._doorbell.ring()
