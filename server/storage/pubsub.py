"""Node-to-node messages over Redis pub/sub: one subscriber connection per process.

Arena uses sharded pub/sub (``SPUBLISH``/``SSUBSCRIBE``, Redis 7.0 and later) on
one Redis and on a cluster alike: on a cluster an event then travels to the
shard owning its channel's slot only, rather than over the whole cluster bus
(cluster.py keeps one ``Subscriber`` per shard), and one Redis runs the same
commands the cluster does.

The subscriber speaks RESP itself, through hiredis, like the pipelined client
(mux.py): every message that arrived in one read is parsed in C and handed to
``on_message`` in the same callback, with no task switch or timeout context
per message. At a match's pace (tens of thousands of events a second) that is
a fifth of a node's CPU saved against redis-py's ``get_message`` loop.
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
import logging
import time
from collections.abc import Awaitable, Callable
from typing import Protocol

import hiredis

from server.redis_urls import Endpoint
from server.storage.connection import translate_redis_errors
from server.storage.mux import CommandError, Commands, pack

log = logging.getLogger(__name__)

OnMessage = Callable[[str, bytes], None]
OnConnected = Callable[[], Awaitable[None]]


def _nobody(channel: str, payload: bytes) -> None:
    """Before ``run``: no connection, so nothing arrives."""


# Silence on a subscribed connection is normal; a PING every so often tells a dead one apart.
PING_EVERY_S = 5.0


class Subscriptions(Protocol):
    """A node's pub/sub, as the hub and the composition use it: one Redis's
    (``Subscriber``) or a cluster's (``ClusterSubscriber``)."""

    stopping: asyncio.Event

    async def subscribe(self, channel: str) -> None: ...

    async def unsubscribe(self, channel: str) -> None: ...

    async def until_subscribed(self, channel: str) -> None: ...

    def hears(self, channel: str) -> bool:
        """Connected, and Redis confirmed ``channel`` on the connection."""

    def error_counts(self) -> collections.Counter[str]: ...

    async def run(self, on_message: OnMessage, on_connected: OnConnected | None = None) -> None:
        """Deliver messages until ``stopping`` is set (or the task is cancelled)."""


class Publisher:
    def __init__(self, mux: Commands) -> None:
        self._mux = mux

    @translate_redis_errors
    async def publish(self, channel: str, payload: bytes) -> int:
        return int(await self._mux.execute("SPUBLISH", channel, payload))


class _PubSubProtocol(asyncio.Protocol):
    def __init__(self, subscriber: Subscriber) -> None:
        self._subscriber = subscriber
        self._reader = hiredis.Reader(replyError=CommandError)
        self.lost = asyncio.Event()
        # Replies to the set-up commands (AUTH, SELECT), before any subscription.
        self.replies: asyncio.Queue[object] = asyncio.Queue()
        self.subscribed = False

    def data_received(self, data: bytes) -> None:
        self._reader.feed(data)
        while (reply := self._reader.gets()) is not False:
            if not self.subscribed:
                self.replies.put_nowait(reply)
                continue
            self._subscriber._received(reply)

    def connection_lost(self, exc: Exception | None) -> None:
        self.lost.set()


class Subscriber:
    """Owns the process's one pub/sub connection and keeps it subscribed through outages.

    ``run`` delivers every message to ``on_message``; when Redis drops, it waits
    with backoff and resubscribes to every channel it had, by itself.
    """

    def __init__(
        self,
        url: str | Endpoint,
        *,
        timeout_s: float = 5.0,
        on_misplaced: Callable[[str | None], None] | None = None,
    ) -> None:
        self._endpoint = url if isinstance(url, Endpoint) else Endpoint.from_url(url)
        self._timeout_s = timeout_s
        # Given to ``run``: nothing arrives before it connects.
        self._on_message: OnMessage = _nobody
        self._on_connected: OnConnected | None = None
        # A cluster shard told us a channel is not its own (a MOVED reply, given here) or
        # dropped one whose slot moved away, or cannot be reached (both: None).
        self._on_misplaced = on_misplaced
        self._channels: set[str] = set()
        # Channels Redis has confirmed on the current connection, and who waits for that.
        self._confirmed: set[str] = set()
        # SUBSCRIBEs sent on the current connection and not confirmed yet, per channel: a
        # late confirmation of an earlier SUBSCRIBE must not vouch for a newer one.
        self._unconfirmed: dict[str, int] = {}
        self._confirm_waiters: dict[str, list[asyncio.Future[None]]] = {}
        self._transport: asyncio.Transport | None = None
        # (Un)subscribes waiting for the end of the event-loop turn, and their connection.
        self._out: list[bytes] = []
        self._out_for: asyncio.Transport | None = None
        self._last_heard = 0.0
        self._changed = asyncio.Event()
        self.connected = asyncio.Event()
        self.stopping = asyncio.Event()
        # Failures by kind (pubsub_connect_failed, pubsub_connection_lost): the metrics.
        self.errors: collections.Counter[str] = collections.Counter()

    def error_counts(self) -> collections.Counter[str]:
        return collections.Counter(self.errors)

    # --- channels -------------------------------------------------------------------

    @property
    def channels(self) -> frozenset[str]:
        return frozenset(self._channels)

    def is_confirmed(self, channel: str) -> bool:
        return channel in self._confirmed

    def hears(self, channel: str) -> bool:
        return self.connected.is_set() and channel in self._confirmed

    async def subscribe(self, channel: str) -> None:
        self._channels.add(channel)
        if self.connected.is_set():
            self._send_subscribe([channel])  # if Redis is away, the reconnect subscribes it
        self._changed.set()

    async def unsubscribe(self, channel: str) -> None:
        self._channels.discard(channel)
        self._confirmed.discard(channel)
        # A connection just lost (not yet noticed by ``run``) is closed: nothing to tell it.
        if self.connected.is_set():
            self._queue(pack(("SUNSUBSCRIBE", channel)))

    def _send_subscribe(self, channels: list[str]) -> None:
        if self._transport is None or self._transport.is_closing() or not channels:
            return
        for channel in channels:
            self._unconfirmed[channel] = self._unconfirmed.get(channel, 0) + 1
        # One command per channel: on a cluster, one SSUBSCRIBE's channels must share a slot.
        self._queue(b"".join(pack(("SSUBSCRIBE", channel)) for channel in channels))

    def _queue(self, command: bytes) -> None:
        """Send ``command`` at the end of this event-loop turn, with every other (un)subscribe
        of the turn in one write: sockets open and close by the thousand at once (a crowd
        dropping), and a system call each would cost more than the command itself. Queued
        for the current connection only: a new one subscribes every channel by itself."""
        transport = self._transport
        if transport is None or transport.is_closing():
            return
        if self._out_for is not transport:
            self._out_for, self._out = transport, []
        self._out.append(command)
        if len(self._out) == 1:
            asyncio.get_running_loop().call_soon(self._write_out)

    def _write_out(self) -> None:
        out, transport = self._out, self._out_for
        self._out, self._out_for = [], None
        current = self._transport
        if out and current is not None and transport is current and not current.is_closing():
            current.write(b"".join(out))

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

    # --- what arrives ---------------------------------------------------------------

    def _received(self, reply: object) -> None:
        if isinstance(reply, CommandError):
            if self._on_misplaced is not None and str(reply).startswith(("MOVED", "ASK")):
                # A cluster slot we subscribed at is elsewhere: the cluster subscriber
                # moves the channel; this connection serves its other channels on.
                self.errors["pubsub_moved"] += 1
                self._on_misplaced(str(reply))
                return
            # A refused SUBSCRIBE (no channel rights, a client limit) would leave us deaf
            # while looking connected: drop the connection and let the backoff retry.
            log.error("Redis refused a pub/sub command: %s; reconnecting", reply)
            if self._transport is not None:
                self._transport.abort()
            return
        self._last_heard = time.monotonic()
        if not isinstance(reply, list) or len(reply) < 2:
            return
        kind = reply[0]
        if kind == b"smessage":
            try:
                self._on_message(reply[1].decode(), reply[2])
            except Exception:
                # One bad message must not cost the node its other messages.
                log.exception("handling a pub/sub message failed")
        elif kind == b"ssubscribe":
            self._confirm(reply[1].decode())
        elif kind == b"sunsubscribe":
            channel = reply[1].decode()
            if channel in self._confirmed and channel in self._channels:
                # Not ours: a cluster shard gave the channel's slot away.
                self._channels.discard(channel)
                self._confirmed.discard(channel)
                if self._on_misplaced is not None:
                    self._on_misplaced(None)

    # --- the connection -------------------------------------------------------------

    async def run(self, on_message: OnMessage, on_connected: OnConnected | None = None) -> None:
        """Deliver every message to ``on_message`` until ``stopping``; ``on_connected``
        runs after every (re)subscribe: what was published meanwhile is lost."""
        self._on_message = on_message
        self._on_connected = on_connected
        backoff = 0.05
        while not self.stopping.is_set():
            if not self._channels:
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._changed.wait(), 1.0)
                self._changed.clear()
                continue
            try:
                protocol = await self._connect()
            except Exception as exc:  # unreachable, refused, or a bug: never stop retrying
                self.errors["pubsub_connect_failed"] += 1
                log.warning("pub/sub cannot reach Redis (%s); retrying", exc)
                if self._on_misplaced is not None:
                    self._on_misplaced(None)  # a failed-over cluster master: look again
                await self._pause(backoff)
                backoff = min(backoff * 2, 1.0)
                continue
            connected_at = time.monotonic()
            try:
                subscribed = set(self._channels)
                self._unconfirmed = {}
                self._send_subscribe(sorted(subscribed))
                self.connected.set()
                if self._on_connected is not None:
                    await self._on_connected()
                # Channels added while on_connected ran were not sent: now.
                self._send_subscribe(sorted(self._channels - subscribed))
                await self._watch(protocol)
                if not self.stopping.is_set():
                    self.errors["pubsub_connection_lost"] += 1
                    log.warning("pub/sub connection lost; reconnecting")
            except Exception:
                # A bug must not leave the node deaf to other nodes: log, back off, go on.
                log.exception("pub/sub loop failed; restarting it")
                await self._pause(1.0)
            finally:
                self.connected.clear()
                self._confirmed.clear()
                self._unconfirmed.clear()
                if self._transport is not None:
                    self._transport.abort()
                self._transport = None
            # A connection that drops at once (Redis at its client limit, a proxy with no
            # Redis behind it) must not make us reconnect in a tight loop.
            backoff = 0.05 if time.monotonic() - connected_at > 1.0 else min(backoff * 2, 1.0)
            await self._pause(backoff)

    async def _connect(self) -> _PubSubProtocol:
        loop = asyncio.get_running_loop()
        ep = self._endpoint
        connect_timeout = min(self._timeout_s, 1.0)
        transport, protocol = await asyncio.wait_for(
            loop.create_connection(
                lambda: _PubSubProtocol(self), ep.host, ep.port, ssl=ep.ssl_context()
            ),
            connect_timeout,
        )
        try:
            if ep.password is not None:
                auth = ("AUTH", ep.username, ep.password) if ep.username else ("AUTH", ep.password)
                transport.write(pack(auth))
                reply = await asyncio.wait_for(protocol.replies.get(), connect_timeout)
                if isinstance(reply, CommandError):
                    raise reply
        except BaseException:
            transport.abort()
            raise
        # SELECT is not needed: pub/sub channels are the same in every database.
        protocol.subscribed = True
        self._transport = transport
        self._last_heard = time.monotonic()
        return protocol

    async def _watch(self, protocol: _PubSubProtocol) -> None:
        """Until the connection drops or we stop; a PING now and then finds a dead peer."""
        while not self.stopping.is_set() and not protocol.lost.is_set():
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(protocol.lost.wait(), PING_EVERY_S)
            if protocol.lost.is_set() or self._transport is None:
                return
            if time.monotonic() - self._last_heard > PING_EVERY_S + self._timeout_s:
                log.warning("pub/sub connection silent; dropping it")
                return
            self._transport.write(pack(("PING",)))

    async def _pause(self, seconds: float) -> None:
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self.stopping.wait(), seconds)
