"""Players' sockets closed on this node, released together.

After a mass drop (a load balancer restarting, a network blip) thousands of sockets close
in the same turn of the event loop. Released one by one, each would make its own round
trips and hold its own chain of coroutines and futures while it waits; those young
objects are what the cyclic collector then walks again and again (the longest pauses a
node showed were those, not its idle upkeep). Here each closing socket waits on one
future, and the sockets of a turn go to ``MatchLifeService.sockets_closed`` in batches.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable

Release = Callable[[list[tuple[str, str]]], Awaitable[None]]

BATCH = 1000  # sockets per call: a release script's chunk (server/storage/presence.py)


class SocketReleases:
    def __init__(self, release: Release, *, batch: int = BATCH) -> None:
        self._release = release
        self._batch = batch
        self._closed: list[tuple[str, str]] = []
        self._waiters: list[asyncio.Future[None]] = []
        self._running: set[asyncio.Task[None]] = set()

    async def settled(self) -> None:
        """Once every release under way is done (at shutdown, before Redis goes): one
        whose socket's handler was cancelled still runs to its end."""
        while self._running:
            await asyncio.gather(*self._running, return_exceptions=True)

    async def release(self, player_id: str, conn_id: str) -> None:
        """Release a closed socket of ``player_id`` (with those closed in the same turn);
        raises what the release raised."""
        loop = asyncio.get_running_loop()
        if not self._closed:
            loop.call_soon(self._flush, loop)
        waiter: asyncio.Future[None] = loop.create_future()
        self._closed.append((player_id, conn_id))
        self._waiters.append(waiter)
        await waiter

    def _flush(self, loop: asyncio.AbstractEventLoop) -> None:
        closed, waiters = self._closed, self._waiters
        self._closed, self._waiters = [], []
        for i in range(0, len(closed), self._batch):
            task = loop.create_task(
                self._run(closed[i : i + self._batch], waiters[i : i + self._batch])
            )
            # Kept until done: a waiter cancelled (its socket's handler, at shutdown) does
            # not stop the release of the others.
            self._running.add(task)
            task.add_done_callback(self._running.discard)

    async def _run(
        self, closed: list[tuple[str, str]], waiters: list[asyncio.Future[None]]
    ) -> None:
        try:
            await self._release(closed)
        except asyncio.CancelledError:
            for waiter in waiters:
                waiter.cancel()
            raise
        except Exception as exc:  # each socket's handler logs it, as its own failure
            for waiter in waiters:
                if not waiter.done():
                    waiter.set_exception(exc)
            return
        for waiter in waiters:
            if not waiter.done():
                waiter.set_result(None)
