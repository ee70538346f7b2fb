"""Opening Redis, and turning its failures into Arena's ``Unavailable``.

Three kinds of connection per process: the pipelined ``RedisMux`` for every
command and script, the pub/sub subscriber's own (pubsub.py), and a small
redis-py pool for blocking commands (the results workers' BLMOVE).
"""

from __future__ import annotations

import asyncio
import functools
from collections.abc import Awaitable, Callable
from typing import ParamSpec, TypeVar

import redis.exceptions
from redis.asyncio import BlockingConnectionPool, Redis

from server.errors import Unavailable
from server.storage.mux import CommandError, MuxConnectionError, MuxTimeoutError, RedisMux

# A dropped or slow Redis; anything else is a bug and stays loud.
REDIS_DOWN = (
    redis.exceptions.ConnectionError,
    redis.exceptions.TimeoutError,
    redis.exceptions.BusyLoadingError,
    MuxConnectionError,
    MuxTimeoutError,
)

P = ParamSpec("P")
T = TypeVar("T")


def open_redis(url: str, *, pool_size: int, timeout_s: float) -> Redis:
    """redis-py for dedicated connections; callers wait for a free one instead of failing.

    redis-py's default pool raises MaxConnectionsError when it runs out; we block
    (bounded by ``timeout_s``) instead.
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


def open_mux(url: str, *, timeout_s: float) -> RedisMux:
    return RedisMux(url, timeout_s=timeout_s, connect_timeout_s=min(timeout_s, 1.0))


def text(value: bytes | str) -> str:
    """A Redis reply as text."""
    return value.decode() if isinstance(value, bytes) else value


def pairs(flat: list[bytes]) -> dict[str, str]:
    """HGETALL's flat [field, value, ...] reply as a dict."""
    return {text(flat[i]): text(flat[i + 1]) for i in range(0, len(flat), 2)}


def translate_redis_errors(fn: Callable[P, Awaitable[T]]) -> Callable[P, Awaitable[T]]:
    """Decorate a store method so a Redis outage surfaces as ``Unavailable``."""

    @functools.wraps(fn)
    async def wrapper(*args: P.args, **kwargs: P.kwargs) -> T:
        try:
            return await fn(*args, **kwargs)
        except REDIS_DOWN as exc:
            raise Unavailable(f"storage unavailable: {type(exc).__name__}") from exc
        except CommandError as exc:
            if str(exc).startswith(("LOADING", "BUSY", "MASTERDOWN", "TRYAGAIN")):
                raise Unavailable(f"storage unavailable: {str(exc)[:40]}") from exc
            raise

    return wrapper


async def redis_answers(mux: RedisMux, timeout_s: float) -> bool:
    """True when Redis replies to PING within ``timeout_s``."""
    try:
        return bool(await asyncio.wait_for(mux.execute("PING"), timeout_s))
    except (TimeoutError, *REDIS_DOWN, CommandError):
        return False
