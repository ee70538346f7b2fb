"""Where a client's pushes go once they are news: a bounded queue, and callbacks.

Every push handed on is queued (callbacks or not). Past the queue's bound the
oldest unread push is dropped to make room and counted, so a game that uses
callbacks only, and never reads the queue, holds the latest pushes and no more.
A callback that returns an awaitable runs as a task; one that fails is logged and
does not take the socket down.
"""

from __future__ import annotations

import asyncio
import inspect
import logging
from collections.abc import AsyncIterator, Callable
from typing import Any

from client_sim.link import ConnectionClosed
from server.protocol import Message

log = logging.getLogger(__name__)

PUSH_QUEUE_MAX = 1000

PushCallback = Callable[[Message], Any]


class PushInbox:
    """The pushes handed on: queued for readers, passed to callbacks; closed with the client."""

    def __init__(self, queue_max: int = PUSH_QUEUE_MAX) -> None:
        self.queue: asyncio.Queue[Message] = asyncio.Queue(maxsize=max(1, queue_max))
        self.dropped = 0
        self._callbacks: dict[str, list[PushCallback]] = {}
        self._callback_tasks: set[asyncio.Future[Any]] = set()
        self._arrival = asyncio.Event()  # set on each push and on close
        self._closed = False
        self._close_code: int | None = None

    def on(self, event: str, callback: PushCallback) -> None:
        self._callbacks.setdefault(event, []).append(callback)

    def off(self, event: str, callback: PushCallback) -> None:
        callbacks = self._callbacks.get(event, [])
        if callback in callbacks:
            callbacks.remove(callback)

    async def events(self, *names: str) -> AsyncIterator[Message]:
        while True:
            try:
                push = await self.next_push(timeout=None)
            except ConnectionClosed:
                return
            if not names or push.get("ev") in names:
                yield push

    async def next_push(self, event: str | None = None, *, timeout: float | None = 5.0) -> Message:
        async with asyncio.timeout(timeout):
            while True:
                if not self.queue.empty():
                    push = self.queue.get_nowait()
                    if event is None or push.get("ev") == event:
                        return push
                    continue
                if self._closed:
                    raise ConnectionClosed(self._close_code)
                await self._arrival.wait()
                self._arrival.clear()

    def hand_on(self, push: Message) -> None:
        """Queue ``push``, wake its readers, and call the callbacks of its event."""
        self._queue(push)
        self._arrival.set()
        for callback in list(self._callbacks.get(str(push.get("ev")), ())):
            try:
                result = callback(push)
            except Exception:
                # A game's handler failing must not take the socket down with it.
                log.exception("push callback for %s failed", push.get("ev"))
                continue
            if inspect.isawaitable(result):
                task = asyncio.ensure_future(result)
                self._callback_tasks.add(task)
                task.add_done_callback(self._callback_done)

    def close(self, code: int | None) -> None:
        """The socket is closed for good: readers get what is queued, then ConnectionClosed."""
        self._closed = True
        self._close_code = code
        self._arrival.set()

    def cancel_callbacks(self) -> None:
        for task in list(self._callback_tasks):
            task.cancel()

    def _queue(self, push: Message) -> None:
        """Queue ``push``; when the queue is full, the oldest unread push makes room."""
        if self.queue.full():
            self.queue.get_nowait()
            self.dropped += 1
            if self.dropped == 1:
                log.warning(
                    "push queue full (%d unread): dropping the oldest; read it, or use "
                    "callbacks only and ignore it",
                    self.queue.maxsize,
                )
        self.queue.put_nowait(push)

    def _callback_done(self, task: asyncio.Future[Any]) -> None:
        self._callback_tasks.discard(task)
        if not task.cancelled() and task.exception() is not None:
            log.error("push callback failed", exc_info=task.exception())
