"""Opening Redis, and turning its failures into Arena's ``Unavailable``."""

from __future__ import annotations

import asyncio
import functools
from collections.abc import Awaitable, Callable
from typing import ParamSpec, TypeVar

import redis.exceptions
from redis.asyncio import BlockingConnectionPool, Redis

from server.errors import Unavailable

# A dropped or slow Redis; anything else from redis-py is a bug and stays loud.
REDIS_DOWN = (
    redis.exceptions.ConnectionError,
    redis.exceptions.TimeoutError,
    redis.exceptions.BusyLoadingError,
)

P = ParamSpec("P")
T = TypeVar("T")


def open_redis(url: str, *, pool_size: int, timeout_s: float) -> Redis:
    """A client whose pool makes callers wait for a free connection instead of failing.

    redis-py's default pool raises MaxConnectionsError when it runs out; under a
    burst of players that would turn load into errors, so we block (bounded by
    ``timeout_s``) like a queue at a counter.
    """
    pool = BlockingConnectionPool.from_url(
        url,
        max_connections=pool_size,
        timeout=timeout_s,
        socket_timeout=timeout_s,
        socket_connect_timeout=min(timeout_s, 1.0),
        health_check_interval=30,
    )
    return Redis(connection_pool=pool)


def text(value: bytes | str) -> str:
    """A Redis reply as text (the client returns bytes; typing allows str)."""
    return value.decode() if isinstance(value, bytes) else value


def translate_redis_errors(fn: Callable[P, Awaitable[T]]) -> Callable[P, Awaitable[T]]:
    """Decorate a store method so a Redis outage surfaces as ``Unavailable``."""

    @functools.wraps(fn)
    async def wrapper(*args: P.args, **kwargs: P.kwargs) -> T:
        try:
            return await fn(*args, **kwargs)
        except REDIS_DOWN as exc:
            raise Unavailable(f"storage unavailable: {type(exc).__name__}") from exc

    return wrapper


async def redis_answers(client: Redis, timeout_s: float) -> bool:
    """True when Redis replies to PING within ``timeout_s``."""
    try:
        return bool(await asyncio.wait_for(client.ping(), timeout_s))
    except (TimeoutError, *REDIS_DOWN):
        return False
