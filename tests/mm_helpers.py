"""Services of one node with an injected clock, against the test's Redis: how the
matchmaker's tests move time (a window widening, an accept deadline) without sleeping."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any

from server.services import Services
from server.storage.clients import open_mux, open_redis
from tests.conftest import settings_for_test
from tests.helpers import services_of


@dataclass
class Clock:
    now: float = 1_800_000_000.0

    def __call__(self) -> float:
        return self.now


@asynccontextmanager
async def clocked_services(
    redis_url: str, modes: dict[str, Any]
) -> AsyncIterator[tuple[Services, Clock]]:
    settings = settings_for_test(redis_url=redis_url, modes=json.dumps(modes))
    mux = open_mux(redis_url, timeout_s=settings.redis_timeout_s)
    blocking = open_redis(redis_url, pool_size=2, timeout_s=settings.redis_timeout_s)
    clock = Clock()
    try:
        yield services_of(settings, mux, clock, blocking), clock
    finally:
        await mux.aclose()
        await blocking.aclose()
