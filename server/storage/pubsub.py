"""Node-to-node messages over Redis pub/sub: one subscriber connection per process."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable

from redis.asyncio import Redis
from redis.asyncio.client import PubSub

from server.storage.connection import REDIS_DOWN, translate_redis_errors
from server.storage.mux import RedisMux

log = logging.getLogger(__name__)

OnMessage = Callable[[str, bytes], Awaitable[None] | None]


class Publisher:
    def __init__(self, mux: RedisMux) -> None:
        self._mux = mux

    @translate_redis_errors
    async def publish(self, channel: str, payload: bytes) -> int:
        return int(await self._mux.execute("PUBLISH", channel, payload))


class Subscriber:
    """Owns the process's one pub/sub connection and keeps it subscribed through outages.

    ``run`` delivers every message to ``on_message``; when Redis drops, it waits
    with backoff and resubscribes to every channel it had, by itself.
    """

    def __init__(
        self,
        redis: Redis,
        on_message: OnMessage,
        on_connected: Callable[[], Awaitable[None]] | None = None,
    ) -> None:
        self._redis = redis
        self._on_message = on_message
        # Runs after every (re)subscribe: what was published meanwhile is lost.
        self._on_connected = on_connected
        self._channels: set[str] = set()
        # Channels Redis has confirmed on the current connection, and who waits for that.
        self._confirmed: set[str] = set()
        # SUBSCRIBEs sent on the current connection and not confirmed yet, per channel: a
        # late confirmation of an earlier SUBSCRIBE must not vouch for a newer one.
        self._unconfirmed: dict[str, int] = {}
        self._confirm_waiters: dict[str, list[asyncio.Future[None]]] = {}
        self._pubsub: PubSub | None = None
        self._changed = asyncio.Event()
        self.connected = asyncio.Event()
        self.stopping = asyncio.Event()

    async def subscribe(self, channel: str) -> None:
        self._channels.add(channel)
        if self._pubsub is not None and self.connected.is_set():
            # If Redis is away, the reconnect in run() subscribes to it.
            await self._send_subscribe(self._pubsub, [channel])
        self._changed.set()

    async def _send_subscribe(self, pubsub: PubSub, channels: list[str]) -> None:
        for channel in channels:
            self._unconfirmed[channel] = self._unconfirmed.get(channel, 0) + 1
        with contextlib.suppress(*REDIS_DOWN):
            await pubsub.subscribe(*channels)

    async def until_subscribed(self, channel: str) -> None:
        """Return once Redis has confirmed the subscription on the current connection: from
        then on, everything published on the channel reaches ``on_message``."""
        if channel in self._confirmed:
            return
        waiter = asyncio.get_running_loop().create_future()
        self._confirm_waiters.setdefault(channel, []).append(waiter)
        try:
            await waiter
        finally:
            waiters = self._confirm_waiters.get(channel, [])
            if waiter in waiters:
                waiters.remove(waiter)
            if not waiters:
                self._confirm_waiters.pop(channel, None)

    def _confirm(self, channel: str) -> None:
        left = self._unconfirmed.get(channel, 1) - 1
        if left > 0:
            self._unconfirmed[channel] = left
            return  # a newer SUBSCRIBE is still on its way
        self._unconfirmed.pop(channel, None)
        if channel not in self._channels:
            return  # unsubscribed meanwhile
        self._confirmed.add(channel)
        for waiter in self._confirm_waiters.pop(channel, []):
            if not waiter.done():
                waiter.set_result(None)

    async def unsubscribe(self, channel: str) -> None:
        self._channels.discard(channel)
        self._confirmed.discard(channel)
        if self._pubsub is not None and self.connected.is_set():
            with contextlib.suppress(*REDIS_DOWN):
                await self._pubsub.unsubscribe(channel)

    async def run(self) -> None:
        backoff = 0.05
        while not self.stopping.is_set():
            # Subscribe confirmations are read too: until_subscribed waits for them.
            pubsub = self._redis.pubsub(ignore_subscribe_messages=False)
            self._pubsub = pubsub
            try:
                if self._channels:
                    subscribed = set(self._channels)
                    self._unconfirmed = dict.fromkeys(subscribed, 1)
                    await pubsub.subscribe(*subscribed)
                else:
                    with contextlib.suppress(TimeoutError):
                        await asyncio.wait_for(self._changed.wait(), 1.0)
                    self._changed.clear()
                    continue
                self.connected.set()
                # Channels added while that SUBSCRIBE was on its way were not sent: now.
                if missing := self._channels - subscribed:
                    await self._send_subscribe(pubsub, sorted(missing))
                backoff = 0.05
                if self._on_connected is not None:
                    await self._on_connected()
                await self._pump(pubsub)
            except REDIS_DOWN as exc:
                log.warning("pub/sub connection lost (%s); reconnecting", type(exc).__name__)
                self.connected.clear()
                await asyncio.sleep(backoff)
                backoff = min(backoff * 2, 1.0)
            except Exception:
                # A bug must not leave the node deaf to other nodes: log, back off, go on.
                log.exception("pub/sub loop failed; restarting it")
                self.connected.clear()
                await asyncio.sleep(1.0)
            finally:
                self.connected.clear()
                self._confirmed.clear()
                self._unconfirmed.clear()
                self._pubsub = None
                await pubsub.aclose()  # type: ignore[no-untyped-call]

    async def _pump(self, pubsub: PubSub) -> None:
        while not self.stopping.is_set():
            message = await pubsub.get_message(timeout=1.0)
            if message is None:
                continue
            if message["type"] == "subscribe":
                self._confirm(message["channel"].decode())
                continue
            if message["type"] != "message":
                continue
            channel = message["channel"].decode()
            result = self._on_message(channel, message["data"])
            if result is not None:
                await result
