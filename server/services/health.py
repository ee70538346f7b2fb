"""Readiness: can this node serve players right now?"""

from __future__ import annotations

from collections.abc import Awaitable, Callable


class HealthService:
    def __init__(
        self,
        redis_answers: Callable[[float], Awaitable[bool]],
        commands_connected: Callable[[], bool],
    ) -> None:
        self._redis_answers = redis_answers
        # Whether the node hears its command channel (a replaced socket must close).
        self.commands_connected = commands_connected

    async def not_ready_because(self, timeout_s: float) -> str | None:
        """None when ready, else why not."""
        if not await self._redis_answers(timeout_s):
            return "Redis does not answer"
        if not self.commands_connected():
            return "the node's pub/sub connection is down"
        return None
