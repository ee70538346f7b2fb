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

Pub/sub on a cluster is in cluster_pubsub.py.
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

from server.redis_urls import Endpoint, cluster_seeds
from server.storage.mux import (
    Arg,
    CommandError,
    MuxConnectionError,
    MuxTimeoutError,
    RedisMux,
)

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
        self._seeds = cluster_seeds(url)
        self._seed = self._seeds[0]
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

    def learn(self, redirect: str) -> None:
        """A MOVED reply's news (``MOVED slot host:port``): that slot is at that node now.
        Taken at once, so the next command or subscription goes there; the whole map is
        read again soon too."""
        parts = redirect.split(" ")
        if len(parts) < 3 or not parts[1].isdigit() or not self._slots:
            self._refresh_soon()
            return
        host, _, port = parts[2].rpartition(":")
        endpoint = self._seed.at(host, int(port))
        slot = int(parts[1]) % REDIS_CLUSTER_HASH_SLOTS
        self._slot_owner[slot] = endpoint
        self._slots[slot] = self._node(endpoint)
        self._refresh_soon()

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
        candidates = [*self._seeds, *(m for m in self._masters if m not in self._seeds)]
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
            if (redirect := _redirect(exc)) is None:
                raise
            kind, host, port = redirect
            target = self._node(self._seed.at(host, port))
            if kind == "MOVED":
                self.learn(str(exc))
                return await target.transaction(*commands)
            # ASK: the slot is migrating. ASKING holds for a whole MULTI, so the
            # importing node takes the transaction in one write.
            replies = await target.pipeline(("ASKING",), ("MULTI",), *commands, ("EXEC",))
            if replies[-1] is None:
                raise MuxConnectionError("transaction aborted") from exc
            for reply in replies[-1]:
                if isinstance(reply, CommandError):
                    raise reply from exc
            return list(replies[-1])
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
