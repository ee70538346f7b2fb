"""The global activity feed: recent match results and new personal bests, newest first."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

from server.services.watch import WatchFeed
from server.storage.feeds import ActivityStore

LIMIT_MAX = 100


class ActivityFeed:
    def __init__(
        self, store: ActivityStore, watch: WatchFeed, *, clock: Callable[[], float] = time.time
    ) -> None:
        self._store = store
        self._watch = watch
        self._clock = clock

    async def post(self, items: list[dict[str, Any]]) -> None:
        """Add entries, each ``{"kind": ..., ...}``; the time is stamped here."""
        now = int(self._clock() * 1000)
        entries = [{**item, "ts": now} for item in items]
        await self._store.post(entries)
        await self._watch.activity(entries)

    async def recent(self, limit: int) -> list[dict[str, Any]]:
        return await self._store.recent(min(limit, LIMIT_MAX))
