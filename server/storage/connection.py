"""Opening Redis, and turning its failures into Arena's errors.

A Redis outage becomes ``Unavailable``. On the store methods that pass a client's
value to Redis (``client_values``), an error reply that such a value causes (an id
or a number Redis cannot take) becomes ``BadRequest``, logged with a short stack so
the missing check is found; anywhere else, and for any other error reply, it is a
bug and stays loud (INTERNAL, with its traceback).

Three kinds of connection per process: the pipelined ``Commands`` for every
command and script, the pub/sub subscriber's own (pubsub.py), and a small
redis-py pool for blocking commands (the results workers' BLMOVE).
"""

from __future__ import annotations

import asyncio
import functools
import logging
import os
import traceback
from collections.abc import Awaitable, Callable
from typing import ParamSpec, TypeVar
from urllib.parse import urlsplit

import redis.exceptions

from server.errors import BadRequest, Unavailable
from server.setting_errors import redacted_url
from server.storage.mux import (
    CommandError,
    Commands,
    MuxConnectionError,
    MuxNotSentError,
    MuxTimeoutError,
)

log = logging.getLogger(__name__)

# A dropped or slow Redis; anything else is a bug and stays loud.
REDIS_DOWN = (
    redis.exceptions.ConnectionError,
    redis.exceptions.TimeoutError,
    redis.exceptions.BusyLoadingError,
    redis.exceptions.ClusterDownError,
    MuxConnectionError,
    MuxTimeoutError,
)

# Error replies whose cause can be a client's value: a stream id past the largest one, a
# number out of range. What the client is told for each (Redis's own words name neither
# field nor fix). WRONGTYPE is not here: keys are built by the server, so it is a bug.
REFUSED_INPUT = {
    "ERR Invalid stream ID": "not a valid feed id",
    "ERR invalid start ID": "no feed id can follow that one",
    "ERR invalid end ID": "no feed id can precede that one",
    "ERR value is not an integer or out of range": "a number out of range",
    "ERR value is out of range": "a number out of range",
    "ERR value is not a valid float": "not a valid number",
    "ERR min or max is not a float": "not a valid number",
    "ERR increment or decrement would overflow": "a number out of range",
    "ERR resulting score is not a number": "not a valid number",
}

P = ParamSpec("P")
T = TypeVar("T")


def text(value: bytes | str) -> str:
    """A Redis reply as text."""
    return value.decode() if isinstance(value, bytes) else value


def pairs(flat: list[bytes]) -> dict[str, str]:
    """HGETALL's flat [field, value, ...] reply as a dict."""
    return {text(flat[i]): text(flat[i + 1]) for i in range(0, len(flat), 2)}


def refused_input(exc: CommandError) -> str | None:
    """What was wrong with the input, when an error reply is one that bad input causes."""
    message = str(exc)
    return next((why for prefix, why in REFUSED_INPUT.items() if message.startswith(prefix)), None)


def translate_redis_errors(fn: Callable[P, Awaitable[T]]) -> Callable[P, Awaitable[T]]:
    """Decorate a store method so a Redis outage surfaces as ``Unavailable``; any other
    error reply stays loud (the values it sends are the server's own)."""
    return _translated(fn, client_input=False)


def client_values(fn: Callable[P, Awaitable[T]]) -> Callable[P, Awaitable[T]]:
    """``translate_redis_errors`` for a store method that passes a client's id or number to
    Redis (a feed id, a limit, an offset, a score): an error reply such a value causes
    becomes ``BadRequest``. The handler should have refused the value first, so each is
    logged at warning with the command and a short stack, to find the missing check."""
    return _translated(fn, client_input=True)


STACK_FRAMES = 5  # of the warning's stack: enough to name the handler that let it through


def _short_stack() -> str:
    """The innermost calls that led to a store method (the event loop's own left out)."""
    frames = [
        frame
        for frame in traceback.extract_stack()[:-2]  # not this function, nor the wrapper
        if f"{os.sep}asyncio{os.sep}" not in frame.filename
    ]
    return "".join(traceback.format_list(frames[-STACK_FRAMES:]))


def _translated(fn: Callable[P, Awaitable[T]], *, client_input: bool) -> Callable[P, Awaitable[T]]:
    @functools.wraps(fn)
    async def wrapper(*args: P.args, **kwargs: P.kwargs) -> T:
        try:
            return await fn(*args, **kwargs)
        except REDIS_DOWN as exc:
            # Never sent: this call did nothing (a request's earlier calls may have).
            # Else (a timeout, a dropped connection) Redis may have run it: unknown.
            what = "not sent" if isinstance(exc, MuxNotSentError) else "outcome unknown"
            raise Unavailable(f"storage unavailable: {type(exc).__name__} ({what})") from exc
        except CommandError as exc:
            # OOM: Redis at maxmemory refuses writes; a full Redis is an outage, not a bug.
            if str(exc).startswith(
                # MOVED/ASK: the cluster client follows them (giving up with
                # MuxConnectionError if a slot keeps moving); kept as an outage too.
                ("LOADING", "BUSY", "MASTERDOWN", "TRYAGAIN", "CLUSTERDOWN", "OOM", "MOVED", "ASK")
            ):
                raise Unavailable(f"storage unavailable: {str(exc)[:40]}") from exc
            if client_input and (why := refused_input(exc)) is not None:
                stack = _short_stack()
                log.warning(
                    "Redis refused %s in %s: %s (a client's value reached Redis unchecked)\n%s",
                    exc.command or "?",
                    fn.__qualname__,
                    str(exc)[:120],
                    stack.rstrip(),
                )
                raise BadRequest(f"a value in this request was refused: {why}") from exc
            raise

    return wrapper


MIN_REDIS = (7, 0)  # sharded pub/sub (SPUBLISH, SSUBSCRIBE) came in 7.0


class RedisTooOld(RuntimeError):
    """The Redis (or a cluster master) predates what Arena needs."""


async def require_redis_version(mux: Commands, timeout_s: float) -> None:
    """Refuse to start on a Redis older than 7.0, with a message that says so; a Redis that
    does not answer yet is let through (readiness reports it, and it may be newer)."""
    try:
        info = text(await asyncio.wait_for(mux.execute("INFO", "server"), timeout_s))
    except (TimeoutError, *REDIS_DOWN, CommandError):
        return
    found = next((line.split(":", 1)[1] for line in info.splitlines() if line.startswith(
        "redis_version:")), "")  # fmt: skip
    version = tuple(int(part) for part in found.strip().split(".")[:2] if part.isdigit())
    if version and version < MIN_REDIS:
        raise RedisTooOld(
            f"Arena needs Redis 7.0 or newer (sharded pub/sub); this one is {found.strip()}. "
            "Debian 12 and Ubuntu 24.04 ship 7.0; or set REDIS_URL to a newer Redis."
        )


class RedisUnreachable(RuntimeError):
    """Redis did not answer within ``ARENA_REDIS_WAIT_S`` of a process starting."""


WAIT_STEP_MAX_S = 1.0


# Refusals that waiting will not cure: a wrong or missing password (or user), a database
# number the server does not have. The process stops at once, naming what Redis said.
REFUSED_FOR_GOOD = (
    "WRONGPASS",
    "NOAUTH",
    "invalid password",
    "called without any password configured",
    "DB index is out of range",
    "invalid DB index",
)
REASON_MAX = 160


async def wait_for_redis(mux: Commands, url: str, *, within_s: float, timeout_s: float) -> None:
    """Return once Redis answers PING; raise ``RedisUnreachable`` (naming the URL, its
    password hidden, and the last error) when it has not within ``within_s``, or at once
    when Redis refuses the URL's password or database. A Redis still starting (a container
    coming up beside Arena) gets that long to come up. ``within_s`` 0: no wait at all
    (ARENA_REDIS_WAIT_S=0 starts at once; /readyz says when Redis answers)."""
    if within_s <= 0:
        return
    loop = asyncio.get_running_loop()
    deadline = loop.time() + within_s
    pause = 0.05
    while True:
        left = deadline - loop.time()
        problem = await redis_problem(mux, max(0.05, min(timeout_s, left)))
        if problem is None:
            return
        reason = _one_line(problem, url)
        if any(marker in problem for marker in REFUSED_FOR_GOOD):
            raise RedisUnreachable(
                f"Redis at {redacted_url(url)} refused Arena ({reason}): check the password, "
                "user and database number in REDIS_URL"
            )
        left = deadline - loop.time()
        if left <= 0:
            raise RedisUnreachable(
                f"Redis at {redacted_url(url)} did not answer within {within_s:g} s "
                f"(last error: {reason}): check REDIS_URL (empty starts a private Redis) and "
                "that Redis is running; ARENA_REDIS_WAIT_S sets the wait"
            )
        await asyncio.sleep(min(pause, left))
        pause = min(pause * 2, WAIT_STEP_MAX_S)


def _one_line(problem: str, url: str) -> str:
    """An error's text fit for the one line a process stops with: no newlines, short, and
    never the URL's password (whatever a library put in its message)."""
    line = " ".join(problem.split())[:REASON_MAX]
    try:
        password = urlsplit(url).password
    except ValueError:
        password = None
    return line.replace(password, "***") if password else line


async def redis_problem(mux: Commands, timeout_s: float) -> str | None:
    """None when Redis replies to PING within ``timeout_s``; else what went wrong."""
    try:
        answered = await asyncio.wait_for(mux.ping(), timeout_s)
    except TimeoutError:
        return f"no reply within {timeout_s:g} s"
    except (*REDIS_DOWN, CommandError) as exc:
        return str(exc) or type(exc).__name__
    return None if answered else "PING got no PONG"


async def redis_answers(mux: Commands, timeout_s: float) -> bool:
    """True when Redis replies to PING within ``timeout_s``."""
    return await redis_problem(mux, timeout_s) is None
