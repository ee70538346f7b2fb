"""Redis Cluster: the pipelined client and the subscriber, routed to the shard owning each key.

``REDIS_URL=redis+cluster://host:port`` names any one node. ``ClusterMux`` reads
the slot map (``CLUSTER SLOTS``) from it and keeps one pipelined ``RedisMux``
per master, so a command costs what it costs on one Redis plus a CRC16 of its
key: the hot path stays ours rather than redis-py's cluster client, whose
per-command cost would eat most of the relay's margin (see docs/benchmarks.md).

Every multi-key command, transaction and script takes keys that share a hash
tag, by construction in ``keys``; Redis refuses anything else with CROSSSLOT.

Redirections: ``MOVED`` (a slot changed owner for good) refreshes the map and
retries at the new owner; ``ASK`` (a slot half-way through migration) retries
once at the named node after ``ASKING``. A node that cannot be reached fails its
commands (callers see ``Unavailable``) and makes the map be read again soon, so a
failover to a replica is picked up by itself.

``ClusterSubscriber`` keeps one ``Subscriber`` per master and subscribes each
channel (``SSUBSCRIBE``) at the shard owning its slot, so a published event
travels to that shard only, not over the whole cluster bus.
"""

from __future__ import annotations

import asyncio
import collections
import hashlib
import logging
import time
from collections.abc import Awaitable, Callable
from typing import Any

from redis.crc import REDIS_CLUSTER_HASH_SLOTS, key_slot

from server.storage.mux import (
    Arg,
    CommandError,
    Endpoint,
    MuxConnectionError,
    MuxTimeoutError,
    RedisMux,
)
from server.storage.pubsub import OnMessage, Subscriber

log = logging.getLogger(__name__)

# Commands without a key: they go to any node (the owner of slot 0).
KEYLESS = frozenset({"PING", "SCRIPT", "INFO", "DBSIZE", "TIME", "CLUSTER", "FLUSHALL"})
SCRIPT_CALLS = frozenset({"EVALSHA", "EVAL", "EVALSHA_RO", "EVAL_RO"})
MAX_REDIRECTS = 3
# A dropped node makes the map be read again, at most this often.
REFRESH_EVERY_S = 1.0


def slot_of(key: Arg) -> int:
    if isinstance(key, str):
        key = key.encode()
    elif not isinstance(key, bytes):
        key = str(key).encode()
    return int(key_slot(key))


def _key_of(args: tuple[Arg, ...]) -> Arg | None:
    name = args[0]
    name = (name.decode() if isinstance(name, bytes) else str(name)).upper()
    if name in SCRIPT_CALLS:
        return args[3] if int(args[2]) > 0 else None
    if name in KEYLESS or len(args) < 2:
        return None
    return args[1]


def _redirect(exc: CommandError) -> tuple[str, str, int] | None:
    """('MOVED' or 'ASK', host, port) from a redirection error; None for any other error."""
    kind, _, rest = str(exc).partition(" ")
    if kind not in ("MOVED", "ASK"):
        return None
    address = rest.split(" ")[-1]
    host, _, port = address.rpartition(":")
    return kind, host, int(port)


class ClusterMux:
    """The ``Commands`` of a Redis Cluster: each command at the master owning its key's slot."""

    def __init__(self, url: str, *, timeout_s: float = 5.0, connect_timeout_s: float = 1.0) -> None:
        self._seed = Endpoint.from_url(url)
        self._timeout_s = timeout_s
        self._connect_timeout_s = connect_timeout_s
        self._nodes: dict[tuple[str, int], RedisMux] = {}
        self._slots: list[RedisMux] = []  # slot -> its master's client, once read
        self._slot_owner: list[Endpoint] = []
        self._masters: list[Endpoint] = []
        self._scripts: dict[str, str] = {}  # sha -> source, for every node, old and new
        self._refreshing: asyncio.Future[None] | None = None
        self._last_refresh = 0.0
        self._closed = False

    # --- the slot map ---------------------------------------------------------------

    def _node(self, endpoint: Endpoint) -> RedisMux:
        address = (endpoint.host, endpoint.port)
        node = self._nodes.get(address)
        if node is None:
            node = self._nodes[address] = RedisMux(
                endpoint, timeout_s=self._timeout_s, connect_timeout_s=self._connect_timeout_s
            )
            for source in self._scripts.values():
                node.register_script(source)
        return node

    async def masters(self) -> list[Endpoint]:
        """Every master's address, reading the map first if it is not known yet."""
        if not self._slots:
            await self.refresh()
        return list(self._masters)

    async def owner(self, key: Arg) -> Endpoint:
        """The address of the master owning ``key``'s slot (or a channel's)."""
        if not self._slots:
            await self.refresh()
        return self._slot_owner[slot_of(key)]

    async def refresh(self) -> None:
        """Read the slot map again; callers at the same time share one reading."""
        if self._closed:
            raise MuxConnectionError("client closed")
        if self._refreshing is None:
            self._refreshing = asyncio.ensure_future(self._read_map())
            self._refreshing.add_done_callback(self._refreshed)
        await asyncio.shield(self._refreshing)

    def _refreshed(self, task: asyncio.Future[None]) -> None:
        self._refreshing = None
        if not task.cancelled():
            task.exception()  # seen: each waiter raises it itself

    def _refresh_soon(self) -> None:
        if self._closed or time.monotonic() - self._last_refresh < REFRESH_EVERY_S:
            return
        self._last_refresh = time.monotonic()
        task = asyncio.ensure_future(self.refresh())
        task.add_done_callback(lambda t: t.cancelled() or t.exception())

    async def _read_map(self) -> None:
        self._last_refresh = time.monotonic()
        # The seed first, then every node we have heard of: any one that answers will do.
        candidates = [self._seed, *(m for m in self._masters if m != self._seed)]
        errors: list[str] = []
        for endpoint in candidates:
            try:
                reply = await self._node(endpoint).execute("CLUSTER", "SLOTS")
            except (MuxConnectionError, MuxTimeoutError, CommandError) as exc:
                errors.append(f"{endpoint.host}:{endpoint.port}: {exc}")
                continue
            self._install(endpoint, reply)
            return
        raise MuxConnectionError(f"no Redis cluster node gave its slot map ({'; '.join(errors)})")

    def _install(self, asked: Endpoint, reply: list[Any]) -> None:
        owners: list[Endpoint | None] = [None] * REDIS_CLUSTER_HASH_SLOTS
        masters: dict[tuple[str, int], Endpoint] = {}
        for start, end, master, *_replicas in reply:
            host = master[0].decode() if master[0] else asked.host  # "" means "the node you asked"
            endpoint = masters.setdefault((host, int(master[1])), asked.at(host, int(master[1])))
            for slot in range(int(start), int(end) + 1):
                owners[slot] = endpoint
        missing = owners.count(None)
        if missing:
            raise CommandError(f"CLUSTERDOWN {missing} hash slots have no master")
        self._slot_owner = owners  # type: ignore[assignment]
        self._slots = [self._node(endpoint) for endpoint in self._slot_owner]
        self._masters = list(masters.values())

    def _route(self, args: tuple[Arg, ...]) -> RedisMux:
        key = _key_of(args)
        return self._slots[0 if key is None else slot_of(key)]

    # --- commands -------------------------------------------------------------------

    async def execute(self, *args: Arg) -> Any:
        if not self._slots:
            await self.refresh()
        node = self._route(args)
        try:
            return await node.execute(*args)
        except CommandError as exc:
            if (redirect := _redirect(exc)) is None:
                raise
            return await self._redirected(redirect, lambda n: n.execute(*args), args)
        except (MuxConnectionError, MuxTimeoutError):
            self._refresh_soon()
            raise

    async def _redirected(
        self,
        redirect: tuple[str, str, int],
        retry: Callable[[RedisMux], Awaitable[Any]],
        asking: tuple[Arg, ...],
    ) -> Any:
        """Follow MOVED/ASK replies, a few at most (a migration can move a slot twice)."""
        for _ in range(MAX_REDIRECTS):
            kind, host, port = redirect
            target = self._node(self._seed.at(host, port))
            try:
                if kind == "ASK":
                    # Only the next command may read the importing slot: the two travel together.
                    return (await target.pipeline(("ASKING",), asking))[1]
                await self.refresh()
                return await retry(target)
            except CommandError as exc:
                if (again := _redirect(exc)) is None:
                    raise
                redirect = again
        raise MuxConnectionError("too many cluster redirections; the slot map keeps changing")

    async def pipeline(self, *commands: tuple[Arg, ...]) -> list[Any]:
        """Each command at its own shard; commands for one shard leave in one write, in order."""
        replies = await asyncio.gather(
            *(self.execute(*c) for c in commands), return_exceptions=True
        )
        for reply in replies:
            if isinstance(reply, BaseException):
                raise reply
        return list(replies)

    async def transaction(self, *commands: tuple[Arg, ...]) -> list[Any]:
        """MULTI/EXEC on the shard owning the commands' slot (they must share one)."""
        if not self._slots:
            await self.refresh()
        slots = {slot_of(key) for c in commands if (key := _key_of(c)) is not None}
        if len(slots) > 1:
            raise CommandError("CROSSSLOT a transaction's keys must share a hash slot")
        node = self._route(commands[0])
        try:
            return await node.transaction(*commands)
        except CommandError as exc:
            if _redirect(exc) is None:
                raise
            await self.refresh()  # the slot moved between two commands: once more, at its owner
            return await self._route(commands[0]).transaction(*commands)
        except (MuxConnectionError, MuxTimeoutError):
            self._refresh_soon()
            raise

    def register_script(self, source: str) -> str:
        sha = hashlib.sha1(source.encode()).hexdigest()
        self._scripts[sha] = source
        for node in self._nodes.values():
            node.register_script(source)
        return sha

    async def evalsha(self, sha: str, keys: list[str], args: list[Arg]) -> Any:
        if not self._slots:
            await self.refresh()
        node = self._slots[slot_of(keys[0]) if keys else 0]
        try:
            return await node.evalsha(sha, keys, args)
        except CommandError as exc:
            if (redirect := _redirect(exc)) is None:
                raise
            # After ASKING, EVAL by source: the importing node may not know the script yet.
            asking = ("EVAL", self._scripts[sha], len(keys), *keys, *args)
            return await self._redirected(redirect, lambda n: n.evalsha(sha, keys, args), asking)
        except (MuxConnectionError, MuxTimeoutError):
            self._refresh_soon()
            raise

    async def ping(self) -> bool:
        """Every master answers."""
        masters = await self.masters()
        replies = await asyncio.gather(*(self._node(m).execute("PING") for m in masters))
        return all(replies)

    def error_counts(self) -> collections.Counter[str]:
        total: collections.Counter[str] = collections.Counter()
        for node in self._nodes.values():
            total.update(node.errors)
        return total

    async def aclose(self) -> None:
        self._closed = True
        for node in list(self._nodes.values()):
            await node.aclose()


class _EveryShardConnected:
    """``connected.is_set()`` for the cluster: every shard's subscriber with channels is."""

    def __init__(self, subscribers: dict[tuple[str, int], Subscriber]) -> None:
        self._subscribers = subscribers

    def is_set(self) -> bool:
        busy = [s for s in self._subscribers.values() if s.channels]
        return bool(busy) and all(s.connected.is_set() for s in busy)


class ClusterSubscriber:
    """One ``Subscriber`` per master; each channel subscribed at the shard owning its slot."""

    def __init__(
        self,
        mux: ClusterMux,
        on_message: OnMessage,
        on_connected: Callable[[], Awaitable[None]] | None = None,
        *,
        timeout_s: float = 5.0,
    ) -> None:
        self._mux = mux
        self._on_message = on_message
        self._on_connected = on_connected
        self._timeout_s = timeout_s
        self._shards: dict[tuple[str, int], Subscriber] = {}
        self._where: dict[str, Subscriber] = {}  # channel -> the shard's subscriber it is on
        self._tasks: set[asyncio.Task[None]] = set()
        self._running = False
        self.connected = _EveryShardConnected(self._shards)
        self.stopping = asyncio.Event()

    async def _shard_for(self, channel: str) -> Subscriber:
        owner = await self._mux.owner(channel)
        address = (owner.host, owner.port)
        shard = self._shards.get(address)
        if shard is None:
            shard = self._shards[address] = Subscriber(
                owner,
                self._on_message,
                self._on_connected,
                timeout_s=self._timeout_s,
                on_moved=self._moved,
            )
            if self._running:
                self._start(shard)
        return shard

    async def subscribe(self, channel: str) -> None:
        shard = await self._shard_for(channel)
        self._where[channel] = shard
        await shard.subscribe(channel)

    async def unsubscribe(self, channel: str) -> None:
        shard = self._where.pop(channel, None)
        if shard is not None:
            await shard.unsubscribe(channel)

    async def until_subscribed(self, channel: str) -> None:
        shard = self._where.get(channel) or await self._shard_for(channel)
        await shard.until_subscribed(channel)

    def error_counts(self) -> collections.Counter[str]:
        total: collections.Counter[str] = collections.Counter()
        for shard in self._shards.values():
            total.update(shard.errors)
        return total

    def _moved(self, channel: str) -> None:
        """A shard dropped the channel because its slot moved: subscribe at the new owner."""
        task = asyncio.ensure_future(self._resubscribe(channel))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _resubscribe(self, channel: str) -> None:
        if channel not in self._where:
            return  # unsubscribed meanwhile
        try:
            await self._mux.refresh()
            await self.subscribe(channel)
            await asyncio.wait_for(self.until_subscribed(channel), self._timeout_s)
            if self._on_connected is not None:
                await self._on_connected()  # catch match feeds up over the move
        except Exception:
            log.exception("could not follow channel %s to its new shard", channel)

    def _start(self, shard: Subscriber) -> None:
        task = asyncio.create_task(shard.run(), name="hub-shard")
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def run(self) -> None:
        """Until ``stopping`` is set or the task is cancelled; then every shard's loop ends."""
        self._running = True
        for shard in self._shards.values():
            self._start(shard)
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
