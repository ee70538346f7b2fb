"""Per-subject, per-action rate limits, atomic in one Lua script (GCRA)."""

from __future__ import annotations

from dataclasses import dataclass

from server.storage import keys
from server.storage.connection import translate_redis_errors
from server.storage.scripts import Scripts


@dataclass(frozen=True, slots=True)
class Verdict:
    allowed: bool
    retry_after_ms: int


class RateLimitStore:
    def __init__(self, scripts: Scripts) -> None:
        self._scripts = scripts

    @translate_redis_errors
    async def hit(
        self, action: str, subject: str, *, burst: int, per_s: float, count: bool = True
    ) -> Verdict:
        """Count one attempt; refused attempts do not use up the allowance. With
        ``count=False``, only ask whether one more attempt would be allowed now."""
        allowed, retry_after_ms = await self._scripts.rate_limit(
            keys=[keys.rate_limit(action, subject)],
            args=[1000.0 / per_s, burst, 1 if count else 0],
        )
        return Verdict(bool(allowed), int(retry_after_ms))
