"""Per-subject, per-action rate limits: the rule every limited action goes through.

Each attempt is counted before any other work (a bot probing for ids pays the
same as a player acting), in one atomic Lua script (GCRA: a burst, then a steady
rate, with no double burst at window edges). Refused attempts do not use up the
allowance, so waiting ``retry_after_ms`` is always enough.
"""

from __future__ import annotations

import collections
from collections.abc import Mapping

from server.errors import RateLimited
from server.settings import RateLimit
from server.storage.ratelimit import RateLimitStore


class RateLimiter:
    def __init__(self, store: RateLimitStore, limits: Mapping[str, RateLimit]) -> None:
        self._store = store
        self._limits = dict(limits)
        self.refusals: collections.Counter[str] = collections.Counter()  # by action

    def limit(self, action: str) -> RateLimit:
        """The limit of an action that is checked inside another script (a match send)."""
        return self._limits[action]

    async def check(self, action: str, subject: str) -> None:
        """Count one attempt at ``action`` by ``subject``; raise RateLimited when over."""
        await self._hit(action, subject, count=True)

    async def ensure_not_over(self, action: str, subject: str) -> None:
        """Raise RateLimited if ``subject`` is over its limit for ``action``, counting
        nothing: for actions where only failures count (a wrong key), but once over, every
        attempt must wait."""
        await self._hit(action, subject, count=False)

    async def _hit(self, action: str, subject: str, *, count: bool) -> None:
        limit = self._limits.get(action)
        if limit is None:
            return
        verdict = await self._store.hit(
            action, subject, burst=limit.burst, per_s=limit.per_s, count=count
        )
        if not verdict.allowed:
            self.refusals[action] += 1
            raise RateLimited(
                f"too many {action} attempts; retry in {verdict.retry_after_ms} ms",
                retry_after_ms=verdict.retry_after_ms,
            )
