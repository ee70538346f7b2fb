"""Our client answers what redis-py answers, on one Redis and on a 3-master cluster,
errors included: for the command shapes the stores send, and for every call the stores
really make, in their order and with their arguments.

The shapes: each case starts from an empty Redis and the same set-up, runs once
through ours (``RedisMux`` or ``ClusterMux``) and once through redis-py, and the two
replies must be equal; among them the error replies (WRONGTYPE, a bad float, an
unknown command, a script's runtime error) that no healthy flow gets.

The calls: the real services, on a ``Shadow`` client (tests/shadow.py), live a day
(tests/conformance_flows.py): each store call runs through ours against Redis A, then
through redis-py against Redis B (a second server or cluster); every pair of answers
must agree, every script in lua/ must have run and every command the stores name
must have been sent.

redis-py speaks RESP2 with its pure-Python parser here (ours uses hiredis), and sends
each command to the master redis-py's own slot lookup names (ours uses
command_keys.py), so neither parsing nor routing is shared. An error compares by its
text, its leading code (which redis-py strips from some) aside. What Redis makes of
its clock (ms stamps, stream ids, TIME moments, fences, a wait's ms) and the order of
a hash's fields or a set's members differ between two servers: they are settled
(shadow.settled), and nothing else is.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import pytest
import redis

from server.embedded_redis import RedisClusterProcesses, RedisProcess
from server.services import Services
from server.storage.clients import open_mux, open_redis
from server.storage.command_keys import UnknownCommand
from server.storage.mux import Arg, CommandError, Commands
from tests.conformance_flows import DOOMED, MAIN, SWEEPER, Clock, Nodes, a_day
from tests.conftest import settings_for_test
from tests.helpers import services_of
from tests.shadow import (
    Command,
    Deployment,
    Exchange,
    Shadow,
    ShadowBlocking,
    Theirs,
    comparable,
    script_names,
    settled,
)
from tests.test_command_keys import _commands_sent

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


def fresh(theirs: Theirs) -> None:
    """Empty, scripts forgotten, then SETUP."""
    theirs.flush()
    for command in SETUP:
        theirs.run(*command)


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
    fresh(theirs)
    mine = await _ours(ours.execute(*command))
    if name == "unknown command" and theirs.cluster is not None:
        assert isinstance(mine, UnknownCommand)  # refused before sending: no keys known
        return
    fresh(theirs)
    assert comparable(mine) == comparable(_theirs(theirs, *command))


async def test_pipelines_and_transactions_answer_as_redis_py_does(
    ours: Commands, theirs: Theirs
) -> None:
    # Not the refused ones (the first error raises), nor PTTL (a ms may pass between runs).
    commands = [c for name, c in CASES if name not in REFUSED and c[0] != "PTTL"]
    fresh(theirs)
    mine = await ours.pipeline(*commands)
    fresh(theirs)
    assert comparable(mine) == comparable([theirs.run(*c) for c in commands])
    session = [("HSET", N, "player_id", "p1"), ("EXPIRE", N, 60), ("HGETALL", N)]
    fresh(theirs)
    mine = await ours.transaction(*session)
    fresh(theirs)
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
    fresh(theirs)  # the script forgotten: ours loads it on NOSCRIPT
    mine = await _ours(ours.evalsha(sha, keys, args))
    fresh(theirs)
    assert isinstance(
        _theirs(theirs, "EVALSHA", sha, len(keys), *keys, *args), redis.exceptions.NoScriptError
    )
    theirs.run("SCRIPT", "LOAD", source, port=theirs.port_of(("EVALSHA", sha, len(keys), *keys)))
    assert comparable(mine) == comparable(_theirs(theirs, "EVALSHA", sha, len(keys), *keys, *args))


# --- the stores' own calls, from a day of real flows ------------------------------------

# Scripts no flow here runs, and why.
UNREACHED: dict[str, str] = {}
# Commands the stores name that no flow here sends, and why.
NOT_SENT: dict[str, str] = {}
# Upper-case tuples in the stores that are not commands (error prefixes matched against
# replies), and the client's own plumbing (connection set-up, routing, pub/sub).
NOT_COMMANDS = {"LOADING", "BUSY", "MASTERDOWN", "TRYAGAIN", "CLUSTERDOWN", "OOM", "MOVED"}
NOT_COMMANDS |= {"ASK", "WRONGPASS", "NOAUTH", "NOSCRIPT"}
CLIENT_MODULES = {"mux.py", "cluster.py", "commands.py", "command_keys.py", "connection.py"}
CLIENT_MODULES |= {"mux_link.py", "pubsub.py", "cluster_pubsub.py"}


@pytest.fixture(scope="module")
def other(deployment: Deployment, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Deployment]:
    """Redis B, of the same kind as A: redis-py's side of the shadow."""
    where = tmp_path_factory.mktemp("other")
    with (
        RedisClusterProcesses(where)
        if isinstance(deployment, RedisClusterProcesses)
        else RedisProcess(where, appendonly=False)
    ) as b:
        yield b


def _told(i: int, exchange: Exchange) -> str:
    ours, theirs = settled(exchange)
    return f"#{i} {exchange.what} {exchange.commands!r}:\n  ours   {ours!r}\n  theirs {theirs!r}"


def _differ(exchange: Exchange) -> bool:
    ours, theirs = settled(exchange)
    return bool(ours != theirs)


def _sent(exchange: Exchange) -> list[str]:
    if exchange.what.startswith("script "):
        return []
    return [str(c[0]).upper() for c in exchange.commands]


async def test_a_day_of_arena_answers_as_redis_py_does(
    deployment: Deployment, theirs: Theirs, other: Deployment
) -> None:
    """Sessions, presence, boards, lobbies into a match, consensus and disputes, results
    applied by a worker, match life, lapsed seats, operators: every call the stores
    make, through ours on A and redis-py on B in turn, answers alike."""
    theirs.flush()
    b = Theirs(other)
    b.flush()
    shadow = Shadow(open_mux(deployment.url, timeout_s=5), b)
    blocking = open_redis(deployment.url, pool_size=4, timeout_s=5)
    clock = Clock()

    def node(node_id: str, **settings: Any) -> Services:
        config = settings_for_test(
            redis_url=deployment.url, node_id=node_id, rate_limits="lb.submit=2/0.5", **settings
        )
        return services_of(config, shadow, clock, ShadowBlocking(shadow, blocking).as_client())

    try:
        await a_day(
            Nodes(
                main=node("main", **MAIN),
                doomed=node("doomed", **DOOMED),
                sweeper=node("sweeper", **SWEEPER),
                clock=clock,
            )
        )
    finally:
        await shadow.aclose()
        await blocking.aclose()
        b.close()

    differ = [_told(i, e) for i, e in enumerate(shadow.exchanges) if _differ(e)]
    assert differ == [], "\n".join(differ)

    ran = {e.what.removeprefix("script ") for e in shadow.exchanges if e.what.startswith("script ")}
    assert sorted(set(script_names()) - ran - set(UNREACHED)) == []
    assert sorted(ran & set(UNREACHED)) == []  # a script listed as unreached now runs

    storage = Path(__file__).parent.parent / "server" / "storage"
    named = set().union(
        *(_commands_sent(p) for p in storage.glob("*.py") if p.name not in CLIENT_MODULES)
    )
    sent = {name for e in shadow.exchanges for name in _sent(e)}
    assert sorted(named - NOT_COMMANDS - sent - set(NOT_SENT)) == []
    assert sorted(sent & set(NOT_SENT)) == []


def test_the_comparison_settles_only_what_redis_leaves_free() -> None:
    """Clock-made values, waits on Redis's clock, hash and set order: settled; any other
    difference stands."""

    def alike(what: str, commands: tuple[Command, ...], ours: Any, theirs: Any) -> bool:
        mine, yours = settled(Exchange(what, commands, ours, theirs))
        return bool(mine == yours)

    get = (("GET", K),)
    assert alike("GET", get, b"1700000000123-0", b"1700000000125-3")
    assert not alike("GET", get, b"7", b"8")
    assert alike(
        "XRANGE", get, [[b"1700000000123-0", [b"p", b"x"]]], [[b"1700000000124-1", [b"p", b"x"]]]
    )
    assert not alike(
        "XRANGE", get, [[b"1700000000123-0", [b"p", b"x"]]], [[b"1700000000124-1", [b"p", b"y"]]]
    )
    assert alike("script rate_limit", (), [0, 999], [0, 998])
    assert not alike("script rate_limit", (), [0, 999], [1, 0])
    assert not alike("script lb_page", (), [1, b"p1", b"10"], [1, b"p1", b"11"])
    assert alike("HGETALL", get, [b"a", b"1", b"b", b"2"], [b"b", b"2", b"a", b"1"])
    assert not alike("HGETALL", get, [b"a", b"1", b"b", b"2"], [b"a", b"2", b"b", b"1"])
    assert not alike("LRANGE", get, [b"a", b"b"], [b"b", b"a"])
    pipeline = (("HMGET", K, "f"), ("PTTL", K))
    assert alike("pipeline", pipeline, [[b"v"], 59_998], [[b"v"], 59_997])
    assert not alike("pipeline", pipeline, [[b"v"], 59_998], [[b"v"], -1])
    assert not alike("GET", get, CommandError("WRONGTYPE a"), redis.ResponseError("WRONGTYPE b"))
