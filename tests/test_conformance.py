"""Our client answers what redis-py answers: every command shape the stores send, and
every Lua script they run, on one Redis and on a 3-master cluster, errors included.

Each case starts from an empty Redis and the same set-up, runs once through ours
(``RedisMux`` or ``ClusterMux``) and once through redis-py, and the two replies must be
equal. redis-py speaks RESP2 with its pure-Python parser here (ours uses hiredis), and
sends each command to the master redis-py's own slot lookup names (ours uses
command_keys.py), so neither parsing nor routing is shared. An error compares by its
text, its leading code (which redis-py strips from some) aside. Time-made values (ms
stamps, stream ids) differ between two runs, so they compare as placeholders.
"""

from __future__ import annotations

import re
from collections.abc import AsyncIterator, Iterator
from importlib import resources
from typing import Any

import pytest
import redis
import redis.cluster
from redis._parsers import _RESP2Parser

from server.embedded_redis import RedisClusterProcesses, RedisProcess
from server.storage.clients import open_mux
from server.storage.command_keys import UnknownCommand
from server.storage.mux import Arg, CommandError, Commands

Command = tuple[Arg, ...]
T = "{c}"  # one hash tag: the multi-key shapes run on a cluster as the stores' do
K, H, L, S, Z, X, N = (f"arena:{T}:{name}" for name in ("k", "h", "l", "s", "z", "x", "n"))

SETUP: list[Command] = [
    ("SET", K, "7"),
    ("HSET", H, "player_id", "p1", "created_ms", 5, "role", "player", "n", 1),
    ("RPUSH", L, "a", "b", "c", "b"),
    ("SADD", S, "p1", "p2"),
    ("ZADD", Z, 1, "m1", 2.5, "m2", 3, "m3"),
    ("XADD", X, "1-1", "p", "one"),
    ("XADD", X, "2-1", "p", "two"),
]

# (name, command): the shapes the stores send (tests/test_command_keys.py lists them).
CASES: list[tuple[str, Command]] = [
    ("get", ("GET", K)),
    ("get missing", ("GET", N)),
    ("set px", ("SET", N, "v", "PXAT", 99_999_999_999_999)),
    ("set ex", ("SET", N, "tok", "EX", 60)),
    ("getdel", ("GETDEL", K)),
    ("del", ("DEL", K)),
    ("exists", ("EXISTS", K)),
    ("incr", ("INCR", K)),
    ("incr wrong type", ("INCR", H)),
    ("incrby not a number", ("INCRBY", K, "x")),
    ("expire", ("EXPIRE", K, 60)),
    ("expire lt", ("EXPIRE", K, 60, "LT")),
    ("pexpire", ("PEXPIRE", L, 60_000)),
    ("pttl none", ("PTTL", K)),
    ("mget", ("MGET", K, N)),
    ("hget", ("HGET", H, "role")),
    ("hset", ("HSET", H, "role", "admin", "x", 1.5)),
    ("hsetnx", ("HSETNX", H, "created_ms", 9)),
    ("hmget", ("HMGET", H, "player_id", "created_ms", "nope")),
    ("hgetall", ("HGETALL", H)),
    ("hdel", ("HDEL", H, "n")),
    ("hincrby", ("HINCRBY", H, "n", 5)),
    ("hget wrong type", ("HGET", L, "f")),
    ("lpush", ("LPUSH", L, "z", "y")),
    ("rpush", ("RPUSH", L, b"\x00\xffbinary")),
    ("ltrim", ("LTRIM", L, -2, -1)),
    ("lrange", ("LRANGE", L, 0, -1)),
    ("lrem", ("LREM", L, 1, "b")),
    ("lpos", ("LPOS", L, "c")),
    ("lpos missing", ("LPOS", L, "q")),
    ("llen", ("LLEN", L)),
    ("smembers", ("SMEMBERS", S)),
    ("sismember", ("SISMEMBER", S, "p1")),
    ("scard", ("SCARD", S)),
    ("zadd", ("ZADD", Z, 4, "m4")),
    ("zadd nx", ("ZADD", Z, "NX", 9, "m1")),
    ("zrem", ("ZREM", Z, "m1", "nope")),
    ("zmscore", ("ZMSCORE", Z, "m1", "nope", "m2")),
    ("zcount", ("ZCOUNT", Z, "(1", "+inf")),
    ("zcard", ("ZCARD", Z)),
    ("zrange", ("ZRANGE", Z, 0, -1)),
    ("zrevrange", ("ZREVRANGE", Z, 0, 1)),
    ("zrangebyscore", ("ZRANGEBYSCORE", Z, "-inf", 2.5, "LIMIT", 0, 10)),
    ("zrangebyscore withscores", ("ZRANGEBYSCORE", Z, "-inf", "+inf", "WITHSCORES")),
    ("zremrangebyscore", ("ZREMRANGEBYSCORE", Z, "-inf", 2)),
    ("zadd not a float", ("ZADD", Z, "x", "m")),
    ("xrange", ("XRANGE", X, "-", "+", "COUNT", 10)),
    ("xrevrange", ("XREVRANGE", X, "+", "-", "COUNT", 1)),
    ("xrange bad id", ("XRANGE", X, "nope", "+")),
    ("xtrim minid", ("XTRIM", X, "MINID", "2-0")),
    ("xtrim maxlen", ("XTRIM", X, "MAXLEN", 0)),
    ("xread", ("XREAD", "COUNT", 5, "STREAMS", X, "0-0")),
    ("spublish", ("SPUBLISH", f"arena:{T}:events", b"payload")),
    ("unknown command", ("NOT-A-COMMAND", K)),
    ("wrong arity", ("GET", K, "extra")),
]
REFUSED = {"incr wrong type", "incrby not a number", "hget wrong type", "zadd not a float"}
REFUSED |= {"xrange bad id", "unknown command", "wrong arity"}

LUA = resources.files("server.storage").joinpath("lua")
STORE_SCRIPTS = sorted(
    p.name.removesuffix(".lua") for p in LUA.iterdir() if p.name.endswith(".lua")
)

# Replies of every RESP kind a script can give, and its errors.
SCRIPTS: list[tuple[str, str, list[str], list[Arg]]] = [
    ("types", "return {1, 'two', false, true, {3.7, ''}, redis.status_reply('FINE')}", [], []),
    ("nil", "return redis.call('GET', KEYS[1])", [N], []),
    ("keys and args", "return {KEYS[1], ARGV[1], #ARGV}", [K], ["a", "b"]),
    ("error reply", "return redis.error_reply('BAD_THING it went wrong')", [], []),
    ("script error", "return redis.call('INCR', KEYS[1])", [H], []),
    ("runtime error", "return nil + 1", [], []),
]


@pytest.fixture(scope="module", params=["redis", "cluster"])
def deployment(
    request: pytest.FixtureRequest, redis_server: RedisProcess
) -> RedisProcess | RedisClusterProcesses:
    if request.param == "redis":
        return redis_server
    cluster: RedisClusterProcesses = request.getfixturevalue("redis_cluster")
    return cluster


class Theirs:
    """redis-py, raw: RESP2, its Python parser, no reply reshaping; on a cluster, each
    command at the master redis-py's own slot lookup names."""

    def __init__(self, deployment: RedisProcess | RedisClusterProcesses) -> None:
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
        if port is None:
            port = self._port(args)
        connection = self.pools[port].get_connection()
        try:
            connection.send_command(*args)  # type: ignore[no-untyped-call]
            return connection.read_response()
        finally:
            self.pools[port].release(connection)

    def _port(self, args: Command) -> int:
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

    def fresh(self) -> None:
        """Empty, scripts forgotten, then SETUP."""
        for port in self.masters():
            self.run("FLUSHALL", port=port)
            self.run("SCRIPT", "FLUSH", port=port)
        for command in SETUP:
            self.run(*command)

    def close(self) -> None:
        for pool in self.pools.values():
            pool.disconnect()
        if self.cluster is not None:
            self.cluster.close()


@pytest.fixture(scope="module")
def theirs(deployment: RedisProcess | RedisClusterProcesses) -> Iterator[Theirs]:
    client = Theirs(deployment)
    yield client
    client.close()


@pytest.fixture
async def ours(deployment: RedisProcess | RedisClusterProcesses) -> AsyncIterator[Commands]:
    mux = open_mux(deployment.url, timeout_s=5)
    yield mux
    await mux.aclose()


# A ms or µs stamp, or a stream id made of one.
STAMP = re.compile(rb"\b1\d{12,15}(-\d+)?\b")


def _same(value: Any) -> Any:
    """A reply in comparable form: time-made values as placeholders; an error as its text
    without its leading code (redis-py strips some codes, e.g. ERR, and keeps others)."""
    if isinstance(value, Exception):
        text = str(value)
        code, _, rest = text.partition(" ")
        return ("error", rest if code.isupper() and rest else text)
    if isinstance(value, list):
        return [_same(v) for v in value]
    if isinstance(value, bytes):
        return STAMP.sub(b"<t>", value)
    if isinstance(value, int) and 10**12 <= value < 2 * 10**15:
        return "<t>"
    return value


async def _ours(call: Any) -> Any:
    try:
        return await call
    except CommandError as exc:
        return exc


def _theirs(theirs: Theirs, *args: Arg) -> Any:
    try:
        return theirs.run(*args)
    except redis.ResponseError as exc:
        return exc


@pytest.mark.parametrize(("name", "command"), CASES, ids=[name for name, _ in CASES])
async def test_each_command_answers_as_redis_py_does(
    name: str, command: Command, ours: Commands, theirs: Theirs
) -> None:
    theirs.fresh()
    mine = await _ours(ours.execute(*command))
    if name == "unknown command" and theirs.cluster is not None:
        assert isinstance(mine, UnknownCommand)  # refused before sending: no keys known
        return
    theirs.fresh()
    assert _same(mine) == _same(_theirs(theirs, *command))


async def test_pipelines_and_transactions_answer_as_redis_py_does(
    ours: Commands, theirs: Theirs
) -> None:
    # Not the refused ones (the first error raises), nor PTTL (a ms may pass between runs).
    commands = [c for name, c in CASES if name not in REFUSED and c[0] != "PTTL"]
    theirs.fresh()
    mine = await ours.pipeline(*commands)
    theirs.fresh()
    assert _same(mine) == _same([theirs.run(*c) for c in commands])
    session = [("HSET", N, "player_id", "p1"), ("EXPIRE", N, 60), ("HGETALL", N)]
    theirs.fresh()
    mine = await ours.transaction(*session)
    theirs.fresh()
    assert mine == theirs.run("EVAL", _AS_TRANSACTION, 1, N)
    with pytest.raises(CommandError, match="WRONGTYPE"):
        await ours.transaction(("INCR", N), ("LPUSH", N, "x"))


# The same three commands inside one script: what EXEC answers for them.
_AS_TRANSACTION = """
return {redis.call('HSET', KEYS[1], 'player_id', 'p1'), redis.call('EXPIRE', KEYS[1], 60),
        redis.call('HGETALL', KEYS[1])}
"""


@pytest.mark.parametrize(("name", "source", "keys", "args"), SCRIPTS, ids=[s[0] for s in SCRIPTS])
async def test_script_replies_and_errors_answer_as_redis_py_does(
    name: str, source: str, keys: list[str], args: list[Arg], ours: Commands, theirs: Theirs
) -> None:
    sha = ours.register_script(source)
    theirs.fresh()  # the script forgotten: ours loads it on NOSCRIPT
    mine = await _ours(ours.evalsha(sha, keys, args))
    theirs.fresh()
    assert isinstance(
        _theirs(theirs, "EVALSHA", sha, len(keys), *keys, *args), redis.exceptions.NoScriptError
    )
    theirs.run("SCRIPT", "LOAD", source, port=theirs._port(("EVALSHA", sha, len(keys), *keys)))
    assert _same(mine) == _same(_theirs(theirs, "EVALSHA", sha, len(keys), *keys, *args))


@pytest.mark.parametrize("script", STORE_SCRIPTS)
async def test_every_store_script_answers_as_redis_py_does(
    script: str, ours: Commands, theirs: Theirs
) -> None:
    """Each script in lua/ with as many keys and arguments as its header names: keys in one
    hash tag (with the set-up's data in some), numbers for arguments."""
    source = LUA.joinpath(f"{script}.lua").read_text()
    n_keys = max((int(n) for n in re.findall(r"KEYS\[(\d+)\]", source)), default=0)
    n_args = max((int(n) for n in re.findall(r"ARGV\[(\d+)\]", source)), default=0)
    keys = [f"arena:{T}:{script}:{i}" for i in range(n_keys)]
    args: list[Arg] = ["1"] * n_args
    sha = ours.register_script(source)
    theirs.fresh()
    mine = await _ours(ours.evalsha(sha, keys, args))
    theirs.fresh()
    port = theirs._port(("EVALSHA", sha, len(keys), *keys))
    theirs.run("SCRIPT", "LOAD", source, port=port)
    assert _same(mine) == _same(_theirs(theirs, "EVALSHA", sha, len(keys), *keys, *args))
