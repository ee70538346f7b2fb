"""Redis Cluster: the pipelined client, sending each command to the master owning its slot.

``REDIS_URL=redis+cluster://host:port`` names any one node. ``ClusterMux`` reads
the slot map (``CLUSTER SLOTS``) from it and keeps one pipelined ``RedisMux``
per master, so a command costs what it costs on one Redis plus finding its keys
and a CRC16 of them: the hot path stays ours rather than redis-py's cluster
client, whose per-command cost would eat most of the relay's margin (see
docs/benchmarks.md).

Routing: a command's keys are where command_keys.py says that command keeps them
(EVALSHA's after its key count, XREAD's after STREAMS, ...); a command without
keys goes to the owner of slot 0. Refused before anything is sent, with a
``CommandError``: a command the table does not know (``UnknownCommand``), and a
command or transaction whose keys span hash slots (``CrossSlot``); ``keys.py``
gives the keys one call touches one hash tag.

Redirections, followed in one place (``_deliver``) for commands, pipelines,
transactions and scripts alike: ``MOVED`` (a slot changed owner for good) puts
the news in the map at once, has the whole map read again soon, and sends the
call to the new owner; ``ASK`` (a slot half-way through migration) sends it to
the named node after ``ASKING`` (a script by its source, with EVAL, which that
node may not have loaded). At most ``MAX_REDIRECTS`` in a row. A node that cannot
be reached fails its commands (callers see ``Unavailable``) and has the map read
again soon, so a failover to a replica is picked up by itself. ``TRYAGAIN`` (a
multi-key command whose keys are split by a migration under way) is sent again to
the same node, ``TRYAGAIN_PAUSE_S`` apart, at most ``TRYAGAIN_RETRIES`` times (a
budget of its own); then its ``TRYAGAIN`` error is raised (not run: safe to retry).

A pipeline's commands for one master leave together, in order; the masters'
shares run independently (``Commands.pipeline`` says what that promises).

Pub/sub on a cluster is in cluster_pubsub.py.
"""

from __future__ import annotations

import asyncio
import collections
import hashlib
import logging
import time
from collections.abc import Awaitable, Callable, Sequence
from typing import Any, TypeVar

from redis.crc import REDIS_CLUSTER_HASH_SLOTS

from server.redis_urls import Endpoint, cluster_seeds
from server.storage.command_keys import CrossSlot
from server.storage.command_keys import command_slot as command_slot  # tests import them here
from server.storage.command_keys import slot_of as slot_of
from server.storage.commands import (
    Arg,
    CommandError,
    MuxConnectionError,
    MuxNotSentError,
    MuxTimeoutError,
    exec_result,
    failure,
    raised,
    vet_all,
)
from server.storage.mux import RedisMux

log = logging.getLogger(__name__)

MAX_REDIRECTS = 3  # MOVED or ASK in a row
TRYAGAIN_PAUSE_S = 0.05  # before sending a TRYAGAIN's call again (redis-py's pause)
TRYAGAIN_RETRIES = 10  # a migration's keys may take a moment to be all on one side
REFRESH_EVERY_S = 1.0  # a dropped node makes the map be read again, at most this often

T = TypeVar("T")
# Sends a group of calls to one node, together, after ASKING when the flag says: one
# reply per call, an error reply in its place.
Sender = Callable[[RedisMux, bool, list[T]], Awaitable[list[Any]]]


def _redirect(exc: CommandError) -> tuple[str, str, int] | None:
    """('MOVED' or 'ASK', host, port) from a redirection error; None for any other error."""
    kind, _, rest = str(exc).partition(" ")
    if kind not in ("MOVED", "ASK"):
        return None
    address = rest.split(" ")[-1]
    host, _, port = address.rpartition(":")
    return kind, host, int(port)


def _tryagain(reply: Any) -> bool:
    return isinstance(reply, CommandError) and str(reply).startswith("TRYAGAIN")


async def _send_commands(
    node: RedisMux, asking: bool, commands: list[tuple[Arg, ...]]
) -> list[Any]:
    if not asking:
        return await node.replies(commands, vetted=True)
    # ASKING lets only the next command at an importing slot: one before each.
    asked = [c for command in commands for c in (("ASKING",), command)]
    replies = await node.replies(asked, vetted=True)
    return replies[1::2]


async def _send_transactions(
    node: RedisMux, asking: bool, transactions: list[tuple[tuple[Arg, ...], ...]]
) -> list[Any]:
    results: list[Any] = []
    for commands in transactions:  # one, in practice
        # ASKING holds for a whole MULTI: the importing node takes it in one write.
        start: list[tuple[Arg, ...]] = [("ASKING",)] if asking else []
        replies = await node.replies([*start, ("MULTI",), *commands, ("EXEC",)], vetted=True)
        try:
            results.append(exec_result(commands, replies[len(start) :]))
        except CommandError as exc:  # a MOVED or ASK while queuing comes first
            results.append(exc)
    return results


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
        if self._closed:  # a closed client opens nothing (each node's aclose is done)
            raise MuxNotSentError("client closed")
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
        if self._closed:
            return
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
            raise MuxNotSentError("client closed")
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
                reply = None
            if self._closed:  # closed meanwhile: no next node, no map
                raise MuxNotSentError("client closed")
            if reply is not None:
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

    # --- commands: each at its slot's master; MOVED and ASK followed in _deliver -----

    def _at(self, args: Sequence[Arg]) -> RedisMux:
        slot = command_slot(args)
        return self._slots[0 if slot is None else slot]

    def _redirected(self, reply: Any, place: tuple[RedisMux, bool]) -> tuple[RedisMux, bool] | None:
        """Where a MOVED, ASK or TRYAGAIN reply to a call sent to ``place`` sends it
        again: (node, after ASKING?); None for any other reply. A MOVED's news goes into
        the slot map at once."""
        if _tryagain(reply):
            return place
        if not isinstance(reply, CommandError) or (redirect := _redirect(reply)) is None:
            return None
        kind, host, port = redirect
        if kind == "MOVED":
            self.learn(str(reply))
        return self._node(self._seed.at(host, port)), kind == "ASK"

    async def _deliver(
        self,
        calls: Sequence[T],
        first: list[tuple[RedisMux, bool]],
        send: Sender[T],
        *,
        pause: bool = False,
    ) -> list[Any]:
        """The one place redirections are followed, for every kind of call.

        Each call goes to its node (``first``: node, after ASKING?), the calls for one
        node together and in order (``send``); a call answered MOVED or ASK goes again
        where the answer says, grouped the same way, a few times at most (a migration
        can move a slot twice); one answered TRYAGAIN goes again to the same node after
        a pause (``pause``: the first sending too), up to ``TRYAGAIN_RETRIES`` times,
        then that reply stands. One reply per call, error replies in their place. A
        node's share that fails raises once every share is in (``commands.failure``).
        """
        replies: list[Any] = [None] * len(calls)
        todo: dict[tuple[RedisMux, bool], list[int]] = {}
        for i, place in enumerate(first):
            todo.setdefault(place, []).append(i)
        moves = tries = 0
        ran = False  # a call got its own reply (a redirection says it did not run)
        while todo:
            if pause:
                await asyncio.sleep(TRYAGAIN_PAUSE_S)
                tries += 1
            groups = list(todo.items())
            todo, moved, pause = {}, False, False
            results = await asyncio.gather(
                *(send(node, asking, [calls[i] for i in at]) for (node, asking), at in groups),
                return_exceptions=True,
            )
            failed: list[BaseException] = []
            for (place, at), result in zip(groups, results, strict=True):
                if isinstance(result, BaseException):  # every group looked at first
                    failed.append(result)
                    continue
                for i, reply in zip(at, result, strict=True):
                    again = self._redirected(reply, place)
                    if again is None or (_tryagain(reply) and tries >= TRYAGAIN_RETRIES):
                        replies[i], ran = reply, ran or again is None
                        continue
                    todo.setdefault(again, []).append(i)
                    pause, moved = pause or _tryagain(reply), moved or not _tryagain(reply)
            if failed:
                if any(isinstance(e, MuxConnectionError | MuxTimeoutError) for e in failed):
                    self._refresh_soon()
                raise failure(failed, ran)
            moves += moved
            if moves > MAX_REDIRECTS:
                raise MuxConnectionError(
                    "too many cluster redirections; the slot map keeps changing"
                )
        return replies

    async def execute(self, *args: Arg) -> Any:
        if not self._slots:
            await self.refresh()
        node = self._at(args)
        try:
            return await node.execute(*args)
        except CommandError as exc:
            if (where := self._redirected(exc, (node, False))) is None:
                raise
            pause = _tryagain(exc)
        except (MuxConnectionError, MuxTimeoutError):
            self._refresh_soon()
            raise
        replies = await self._deliver([args], [where], _send_commands, pause=pause)
        return raised([args], replies)[0]

    async def pipeline(self, *commands: tuple[Arg, ...]) -> list[Any]:
        """Each master's share in one write, in order; see ``Commands.pipeline``."""
        if not self._slots:
            await self.refresh()
        vet_all(commands)
        first = [(self._at(command), False) for command in commands]
        return raised(commands, await self._deliver(commands, first, _send_commands))

    async def transaction(self, *commands: tuple[Arg, ...]) -> list[Any]:
        """MULTI/EXEC at the master owning the commands' slot (they must share one)."""
        if not self._slots:
            await self.refresh()
        vet_all(commands)
        slots = {slot for command in commands if (slot := command_slot(command)) is not None}
        if len(slots) > 1:
            raise CrossSlot("CROSSSLOT a transaction's keys must share a hash slot")
        node = self._slots[slots.pop() if slots else 0]
        (result,) = await self._deliver([commands], [(node, False)], _send_transactions)
        if isinstance(result, BaseException):
            raise result
        return list(result)

    def register_script(self, source: str) -> str:
        sha = hashlib.sha1(source.encode()).hexdigest()
        self._scripts[sha] = source
        for node in self._nodes.values():
            node.register_script(source)
        return sha

    async def evalsha(self, sha: str, keys: list[str], args: list[Arg]) -> Any:
        if not self._slots:
            await self.refresh()
        node = self._at(("EVALSHA", sha, len(keys), *keys))
        try:
            return await node.evalsha(sha, keys, args)
        except CommandError as exc:
            if (where := self._redirected(exc, (node, False))) is None:
                raise
            pause = _tryagain(exc)
        except (MuxConnectionError, MuxTimeoutError):
            self._refresh_soon()
            raise
        source = self._scripts[sha]

        async def send(node: RedisMux, asking: bool, calls: list[None]) -> list[Any]:
            if asking:  # EVAL by source: the importing node may not know the script yet
                script = ("EVAL", source, len(keys), *keys, *args)
                return await _send_commands(node, True, [script])
            try:
                return [await node.evalsha(sha, keys, args)]
            except CommandError as exc:
                return [exc]

        (reply,) = await self._deliver([None], [where], send, pause=pause)
        if isinstance(reply, CommandError):
            raise reply
        return reply

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
        """Close every node's connection; nothing is opened after (a map read stops)."""
        self._closed = True
        for node in list(self._nodes.values()):
            await node.aclose()
