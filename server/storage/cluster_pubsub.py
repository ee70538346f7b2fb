"""Pub/sub on a Redis Cluster: each channel subscribed at the shard owning its slot.

One ``Subscriber`` per master, each channel ``SSUBSCRIBE``d at its slot's owner,
so a published event travels to that shard only, not over the whole cluster bus.

Channels follow their slots. A *placer* task puts every wanted channel on the
shard the slot map names, and runs again whenever a shard says a channel is not
its own (a ``MOVED`` reply to ``SSUBSCRIBE``, whose news the map takes at once),
drops one because its slot moved away (an unasked ``SUNSUBSCRIBE``), or cannot
be reached (its master failed over to a replica: the map, read again, names the
new master). After moving channels it runs ``on_connected``, so match taps read
from their feeds what was published meanwhile. Until the map can be read at all
(every seed down at start-up), channels wait, wanted, and are placed later.
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
import logging
from collections.abc import Awaitable

from server.storage.cluster import ClusterMux
from server.storage.mux import CommandError, MuxConnectionError, MuxTimeoutError
from server.storage.pubsub import OnConnected, OnMessage, Subscriber

log = logging.getLogger(__name__)

UNREADABLE_MAP = (MuxConnectionError, MuxTimeoutError, CommandError)
PLACE_BACKOFF_S = (0.05, 1.0)  # first and longest pause between failed placings


class _EveryShardConnected:
    """``connected.is_set()`` for the cluster: every shard holding channels is connected,
    and no wanted channel waits for a shard."""

    def __init__(self, subscriber: ClusterSubscriber) -> None:
        self._subscriber = subscriber

    def is_set(self) -> bool:
        return self._subscriber.all_connected()


class ClusterSubscriber:
    """The ``Subscriptions`` of a cluster (what the hub uses), spread over its shards."""

    def __init__(
        self,
        mux: ClusterMux,
        *,
        timeout_s: float = 5.0,
    ) -> None:
        self._mux = mux
        # Given to ``run``, which hands them to every shard's loop.
        self._on_message: OnMessage | None = None
        self._on_connected: OnConnected | None = None
        self._timeout_s = timeout_s
        self._shards: dict[tuple[str, int], Subscriber] = {}
        self._wanted: set[str] = set()  # every channel the hub wants
        self._where: dict[str, Subscriber] = {}  # channel -> the shard it is subscribed at
        self._place_again = asyncio.Event()
        self._tasks: set[asyncio.Task[None]] = set()
        self._running = False
        self.connected = _EveryShardConnected(self)
        self.stopping = asyncio.Event()

    # --- what the hub calls -----------------------------------------------------------

    async def subscribe(self, channel: str) -> None:
        self._wanted.add(channel)
        try:
            shard = await self._shard_for(channel)
        except UNREADABLE_MAP as exc:
            log.warning("pub/sub: no slot map yet (%s); %s waits", exc, channel)
            self._place_again.set()
            return
        await self._put(channel, shard)

    async def unsubscribe(self, channel: str) -> None:
        self._wanted.discard(channel)
        shard = self._where.pop(channel, None)
        if shard is not None:
            await shard.unsubscribe(channel)

    async def until_subscribed(self, channel: str) -> None:
        """Once the channel's shard confirmed it; the channel may move meanwhile, so the
        wait follows it (callers bound the whole wait)."""
        while True:
            shard = self._where.get(channel)
            if shard is not None and shard.is_confirmed(channel):
                return
            if shard is None:
                await asyncio.sleep(0.05)
                continue
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(shard.until_subscribed(channel), 0.5)

    def is_confirmed(self, channel: str) -> bool:
        shard = self._where.get(channel)
        return shard is not None and shard.is_confirmed(channel)

    def hears(self, channel: str) -> bool:
        """Every shard holding channels is connected, every wanted channel is placed, and
        ``channel`` is confirmed: one shard down leaves some players deaf."""
        return self.connected.is_set() and self.is_confirmed(channel)

    def error_counts(self) -> collections.Counter[str]:
        total: collections.Counter[str] = collections.Counter()
        for shard in self._shards.values():
            total.update(shard.errors)
        return total

    def all_connected(self) -> bool:
        if any(channel not in self._where for channel in self._wanted):
            return False
        busy = [s for s in self._shards.values() if s.channels]
        return bool(busy) and all(s.connected.is_set() for s in busy)

    # --- placing channels on shards ---------------------------------------------------

    async def _shard_for(self, channel: str) -> Subscriber:
        owner = await self._mux.owner(channel)
        address = (owner.host, owner.port)
        shard = self._shards.get(address)
        if shard is None:
            shard = self._shards[address] = Subscriber(
                owner, timeout_s=self._timeout_s, on_misplaced=self._misplaced
            )
            if self._running:
                self._start_shard(shard)
        return shard

    async def _put(self, channel: str, shard: Subscriber) -> bool:
        """Subscribe the channel at ``shard`` (leaving any other); True if anything changed."""
        current = self._where.get(channel)
        if current is shard and channel in shard.channels:
            return False
        if current is not None and current is not shard:
            await current.unsubscribe(channel)
        self._where[channel] = shard
        await shard.subscribe(channel)
        return True

    def _misplaced(self, redirect: str | None) -> None:
        if redirect is not None:
            self._mux.learn(redirect)
        self._place_again.set()

    async def _placer(self) -> None:
        pause = PLACE_BACKOFF_S[0]
        while not self.stopping.is_set():
            await self._place_again.wait()
            self._place_again.clear()
            try:
                with contextlib.suppress(*UNREADABLE_MAP):
                    await self._mux.refresh()  # a MOVED's news is in already; the rest now
                moved = False
                for channel in list(self._wanted):
                    if channel in self._wanted:  # not unsubscribed meanwhile
                        moved |= await self._put(channel, await self._shard_for(channel))
                if moved and self._on_connected is not None:
                    await self._on_connected()  # match taps catch up over the move
                pause = PLACE_BACKOFF_S[0]
            except Exception as exc:
                log.warning("pub/sub: channels not placed yet (%s); retrying", exc)
                self._place_again.set()
            # Paced: a shard that keeps refusing must not make us spin.
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self.stopping.wait(), pause)
            pause = min(pause * 2, PLACE_BACKOFF_S[1])

    # --- running ----------------------------------------------------------------------

    def _start(self, coro: Awaitable[None], name: str) -> None:
        task = asyncio.ensure_future(coro)
        task.set_name(name)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    def _start_shard(self, shard: Subscriber) -> None:
        assert self._on_message is not None  # running
        self._start(shard.run(self._on_message, self._on_connected), "hub-shard")

    async def run(self, on_message: OnMessage, on_connected: OnConnected | None = None) -> None:
        """Until ``stopping`` is set or the task is cancelled; then every shard's loop ends."""
        self._on_message = on_message
        self._on_connected = on_connected
        self._running = True
        for shard in self._shards.values():
            self._start_shard(shard)
        self._start(self._placer(), "hub-placer")
        try:
            await self.stopping.wait()
        finally:
            self.stopping.set()
            for shard in self._shards.values():
                shard.stopping.set()
            tasks = list(self._tasks)
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)
