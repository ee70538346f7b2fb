"""Background loops that stop when told to.

redis-py can swallow a task's cancellation when it lands inside a command (it
tidies up the connection and carries on), so cancelling alone may leave a loop
running forever. Every loop here also watches a ``stopping`` event.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator, Awaitable, Callable

log = logging.getLogger(__name__)


@contextlib.asynccontextmanager
async def every(
    interval_s: float, tick: Callable[[], Awaitable[None]], *, name: str
) -> AsyncIterator[None]:
    """Run ``tick`` now and then every ``interval_s`` until the block exits."""
    stopping = asyncio.Event()

    async def loop() -> None:
        while not stopping.is_set():
            try:
                await tick()
            except Exception:
                # One failed round must not end the loop for the life of the process.
                log.exception("background loop %s failed a round", name)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stopping.wait(), interval_s)

    task = asyncio.create_task(loop(), name=name)
    try:
        yield
    finally:
        await stop(task, stopping)


async def stop(task: asyncio.Task[None], stopping: asyncio.Event) -> None:
    stopping.set()
    task.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await task
