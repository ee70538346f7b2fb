"""Two Redis clients side by side: ours (RedisMux or ClusterMux) and redis-py.

``Theirs`` is redis-py, raw: RESP2, its pure-Python parser, no reply reshaping; on
a cluster, each command at the master redis-py's own slot lookup names (ours routes
by command_keys.py), so neither parsing nor routing is shared with ours.

``Shadow`` is a ``Commands`` for the stores: each call runs through ours against
Redis A, then the same call through redis-py against Redis B (a second server, or a
second cluster), one call at a time, and both outcomes are recorded (``Exchange``).
The stores go on with ours's answer. A and B hold the same data as long as both
answer alike, except for what Redis makes of its own clock (stream ids, TIME
moments, lock fences): those differ, so the shadow learns each value A made and
the value B made in its place, and sends B its own wherever the stores pass one
back (a feed read "after" an id, a fence, a moment), else B would be asked about
times it never made.
"""

from __future__ import annotations

import asyncio
import collections
import hashlib
import re
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from importlib import resources
from typing import Any, cast

import redis
import redis.cluster
from redis._parsers import _RESP2Parser

from server.embedded_redis import RedisClusterProcesses, RedisProcess
from server.storage import scripts
from server.storage.clients import BlockingClient
from server.storage.mux import Arg, CommandError, Commands

Command = tuple[Arg, ...]
Deployment = RedisProcess | RedisClusterProcesses


class Theirs:
    """redis-py, raw, at one Redis or at a cluster's masters."""

    def __init__(self, deployment: Deployment) -> None:
        nodes = deployment.nodes if isinstance(deployment, RedisClusterProcesses) else [deployment]
        self.pools = {
            n.port: redis.ConnectionPool(port=n.port, protocol=2, parser_class=_RESP2Parser)
            for n in nodes
        }
        self.cluster = (
            redis.cluster.RedisCluster(host="127.0.0.1", port=nodes[0].port)
            if isinstance(deployment, RedisClusterProcesses)
            else None
        )

    def masters(self) -> list[int]:
        if self.cluster is None:
            return list(self.pools)
        return [n.port for n in self.cluster.get_primaries()]  # type: ignore[no-untyped-call]

    def run(self, *args: Arg, port: int | None = None) -> Any:
        """One command's reply; an error reply raises ``redis.ResponseError``."""
        return self.run_all([args], port=port)[0]

    def run_all(self, commands: list[Command], *, port: int | None = None) -> list[Any]:
        """Commands sent back to back on one connection (one master: the first command's);
        their replies in order, an error reply as the exception (raised if it is the
        only command)."""
        port = self.port_of(commands[0]) if port is None else port
        connection = self.pools[port].get_connection()
        try:
            packed = connection.pack_commands(commands)  # type: ignore[no-untyped-call]
            connection.send_packed_command(packed)  # type: ignore[no-untyped-call]
            replies: list[Any] = []
            for _ in commands:
                try:
                    replies.append(connection.read_response())
                except redis.ResponseError as exc:
                    if len(commands) == 1:
                        raise
                    replies.append(exc)
            return replies
        finally:
            self.pools[port].release(connection)

    def outcome(self, command: Command) -> Any:
        """One command's reply, or its error reply."""
        return outcome(lambda: self.run(*command))

    def port_of(self, args: Command) -> int:
        if self.cluster is None:
            return next(iter(self.pools))
        if args[0] == "EVALSHA" and args[2] == 0:  # redis-py would pick a node at random
            return self.masters()[0]
        try:
            slot = self.cluster.determine_slot(*args)
        except redis.RedisError:  # no keys: any node will do
            return self.masters()[0]
        assert slot is not None
        return int(self.cluster.nodes_manager.get_node_from_slot(slot).port)

    def flush(self) -> None:
        """Empty, scripts forgotten."""
        for port in self.masters():
            self.run("FLUSHALL", port=port)
            self.run("SCRIPT", "FLUSH", port=port)

    def close(self) -> None:
        for pool in self.pools.values():
            pool.disconnect()
        if self.cluster is not None:
            self.cluster.close()


def outcome(call: Callable[[], Any]) -> Any:
    """A redis-py call's reply, or its error reply."""
    try:
        return call()
    except redis.ResponseError as exc:
        return exc


def as_pipeline(replies: list[Any]) -> Any:
    """What ``Commands.pipeline`` gives for these replies: them, or the first error."""
    return next((r for r in replies if isinstance(r, Exception)), replies)


def as_transaction(replies: list[Any]) -> Any:
    """What ``Commands.transaction`` gives for MULTI, the commands and EXEC's replies
    (mux.exec_result's rules): a command refused while queued, else EXEC's own error,
    else the first error inside EXEC's reply, else that reply."""
    for reply in (*replies[1:-1], replies[-1]):
        if isinstance(reply, Exception):
            return reply
    return as_pipeline(list(replies[-1]))


@dataclass(frozen=True, slots=True)
class Exchange:
    """One call the stores made: ``what`` names it ("GET", "pipeline", "script lb_submit"),
    ``commands`` holds what was sent (a script's: keys then args), with both outcomes."""

    what: str
    commands: tuple[Command, ...]
    ours: Any
    theirs: Any


# What Redis makes of its clock and the stores pass back: stream ids, TIME moments in
# microseconds, lock fences (TIME-based, in microseconds).
MADE = re.compile(r"1\d{12}-\d+|1\d{15}")
# A ms or µs stamp, a stream id made of one, or a ms time with a fraction (GCRA's TAT).
STAMP = re.compile(rb"\b1\d{12,15}([-.]\d+)?\b")


def _made(value: Any) -> str | None:
    if isinstance(value, bytes):
        value = value.decode("latin-1")
    if isinstance(value, int) and not isinstance(value, bool):
        value = str(value)
    return value if isinstance(value, str) and MADE.fullmatch(value) else None


def _next_id(entry_id: str) -> str | None:
    ms, _, seq = entry_id.partition("-")
    return f"{ms}-{int(seq) + 1}" if seq else None


class Shadow:
    """A ``Commands`` that runs every call through ours (A), then redis-py (B)."""

    def __init__(self, ours: Commands, theirs: Theirs) -> None:
        self._ours = ours
        self._theirs = theirs
        self._lock = asyncio.Lock()
        self._sources: dict[str, str] = {}
        self._names = {_sha(scripts.source(n)): n for n in script_names()}
        self._b_of: dict[str, str] = {}  # A's clock-made value -> B's in its place
        self.exchanges: list[Exchange] = []

    async def execute(self, *args: Arg) -> Any:
        return await self._run(
            str(args[0]).upper(),
            (args,),
            lambda: self._ours.execute(*args),
            lambda: self._theirs.run(*self._for_b(args)),
        )

    async def pipeline(self, *commands: Command) -> list[Any]:
        return cast(
            list[Any],
            await self._run(
                "pipeline",
                commands,
                lambda: self._ours.pipeline(*commands),
                lambda: as_pipeline([self._theirs.outcome(self._for_b(c)) for c in commands]),
            ),
        )

    async def transaction(self, *commands: Command) -> list[Any]:
        def theirs() -> Any:
            b_commands = [self._for_b(c) for c in commands]
            port = self._theirs.port_of(b_commands[0])
            return as_transaction(
                self._theirs.run_all([("MULTI",), *b_commands, ("EXEC",)], port=port)
            )

        return cast(
            list[Any],
            await self._run(
                "transaction", commands, lambda: self._ours.transaction(*commands), theirs
            ),
        )

    def register_script(self, source: str) -> str:
        sha = self._ours.register_script(source)
        assert sha == _sha(source)
        self._sources[sha] = source
        return sha

    async def evalsha(self, sha: str, keys: list[str], args: list[Arg]) -> Any:
        def theirs() -> Any:
            command: Command = ("EVALSHA", sha, len(keys), *keys, *self._for_b(tuple(args)))
            try:
                return self._theirs.run(*command)
            except redis.exceptions.NoScriptError:
                port = self._theirs.port_of(command)
                self._theirs.run("SCRIPT", "LOAD", self._sources[sha], port=port)
                return self._theirs.run(*command)

        return await self._run(
            f"script {self._names.get(sha, sha)}",
            (tuple(keys), tuple(args)),
            lambda: self._ours.evalsha(sha, keys, args),
            theirs,
        )

    async def blocking_move(self, ours: BlockingClient, src: str, dst: str, wait_s: float) -> Any:
        """The results workers' BLMOVE: redis-py on both sides (it is not our client's),
        in turn with the rest, so that B's queue moves as A's does."""
        return await self._run(
            "BLMOVE",
            (("BLMOVE", src, dst, "RIGHT", "LEFT"),),
            lambda: ours.blmove(src, dst, wait_s, "RIGHT", "LEFT"),  # type: ignore[arg-type]
            lambda: self._theirs.run("LMOVE", src, dst, "RIGHT", "LEFT"),
        )

    async def _run(
        self,
        what: str,
        commands: tuple[Command, ...],
        ours: Callable[[], Awaitable[Any]],
        theirs: Callable[[], Any],
    ) -> Any:
        """One call at a time: ours on A, then theirs on B (its clock-made arguments
        translated by what the calls before it taught)."""
        async with self._lock:
            try:
                mine = await ours()
            except CommandError as exc:
                mine = exc
            exchange = Exchange(what, commands, mine, outcome(theirs))
            self.exchanges.append(exchange)
            self._learn(exchange.ours, exchange.theirs)
        if isinstance(exchange.ours, CommandError):
            raise exchange.ours
        return exchange.ours

    def _learn(self, a: Any, b: Any) -> None:
        """Pair the clock-made values of A's reply with B's, position by position."""
        if isinstance(a, list) and isinstance(b, list):
            for x, y in zip(a, b, strict=False):
                self._learn(x, y)
            return
        made_a, made_b = _made(a), _made(b)
        if made_a is not None and made_b is not None and made_a != made_b:
            self._b_of[made_a] = made_b

    def _for_b(self, args: tuple[Arg, ...]) -> tuple[Arg, ...]:
        return tuple(self._translated(a) for a in args)

    def _translated(self, arg: Arg) -> Arg:
        if isinstance(arg, str) and arg.startswith("("):  # an exclusive range bound
            return "(" + str(self._translated(arg[1:]))
        made = _made(arg)
        if made is None:
            return arg
        theirs = self._b_of.get(made)
        if theirs is None:  # the id after one of A's (feeds.drop_through trims through it)
            ms, _, seq = made.partition("-")
            before = self._b_of.get(f"{ms}-{int(seq) - 1}") if seq and int(seq) > 0 else None
            theirs = _next_id(before) if before else None
        if theirs is None:
            return arg
        if isinstance(arg, bytes):
            return theirs.encode()
        return int(theirs) if isinstance(arg, int) else theirs

    async def ping(self) -> bool:
        return await self._ours.ping()

    def error_counts(self) -> collections.Counter[str]:
        return self._ours.error_counts()

    async def aclose(self) -> None:
        await self._ours.aclose()


class ShadowBlocking:
    """Stands for redis-py's client in the results queue (``take``'s BLMOVE only): the
    move runs on A's redis-py and, through the shadow, on B."""

    def __init__(self, shadow: Shadow, ours: BlockingClient) -> None:
        self._shadow = shadow
        self._ours = ours

    async def blmove(self, src: str, dst: str, timeout: float, *_where: str) -> Any:
        return await self._shadow.blocking_move(self._ours, src, dst, timeout)

    def as_client(self) -> BlockingClient:
        """Typed as what the queue takes: it calls nothing else (a call would fail loudly)."""
        return cast(BlockingClient, self)


def script_names() -> list[str]:
    lua = resources.files("server.storage").joinpath("lua")
    return sorted(p.name.removesuffix(".lua") for p in lua.iterdir() if p.name.endswith(".lua"))


def _sha(source: str) -> str:
    return hashlib.sha1(source.encode()).hexdigest()


def comparable(value: Any) -> Any:
    """A reply in comparable form: time-made values as placeholders; an error as its text
    without its leading code (redis-py strips some codes, e.g. ERR, and keeps others)."""
    if isinstance(value, Exception):
        text = str(value)
        code, _, rest = text.partition(" ")
        return ("error", rest if code.isupper() and rest else text)
    if isinstance(value, list):
        return [comparable(v) for v in value]
    if isinstance(value, bytes):
        return STAMP.sub(b"<t>", value)
    if isinstance(value, int) and 10**12 <= value < 2 * 10**15:
        return "<t>"
    return value


# Durations Redis counts on its own clock, which moves on between A's call and B's: a
# refusal's wait (GCRA), a held lock's time left, a key's time to live. Both must say
# "refused" or "held" alike; how many ms is not compared.
WAITS = {"script rate_limit": 1, "script lock_acquire": 1, "script match_send": 2}


# Replies Redis gives in no set order (a hash or set kept as a hash table iterates in an
# order seeded per server): compared as sorted fields or members.
UNORDERED = {"HGETALL": 2, "SMEMBERS": 1, "HKEYS": 1, "HVALS": 1}


def settled(exchange: Exchange) -> tuple[Any, Any]:
    """Both outcomes of an exchange in comparable form."""
    return _settled(exchange, exchange.ours), _settled(exchange, exchange.theirs)


def _settled(exchange: Exchange, reply: Any) -> Any:
    form = comparable(reply)
    at = WAITS.get(exchange.what)
    if at is not None and isinstance(form, list) and len(form) > at and form[0] == 0:
        form[at] = "<ms>" if isinstance(form[at], int) and form[at] > 0 else form[at]
    if exchange.what in ("pipeline", "transaction") and isinstance(form, list):
        return [_in_order(str(c[0]), r) for c, r in zip(exchange.commands, form, strict=True)]
    return _in_order(exchange.what, form)


def _in_order(command: str, form: Any) -> Any:
    """A command's reply with what Redis leaves free settled: a key's time to live counted
    on its own clock; the order of a hash's fields or a set's members."""
    if command == "PTTL" and isinstance(form, int) and form > 0:
        return "<ms>"
    step = UNORDERED.get(command)
    if step is not None and isinstance(form, list):
        return sorted(form[i : i + step] for i in range(0, len(form), step))
    return form
