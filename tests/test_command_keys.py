"""The cluster client's table of where each command keeps its keys, held to Redis's answers."""

from __future__ import annotations

import ast
from pathlib import Path
from typing import Any

import pytest
import redis as redis_sync

from server.storage.command_keys import KEYS, UnknownCommand, keys_of
from server.storage.commands import CONNECTION_STATE, RefusedCommand
from server.storage.mux import Arg

# One representative call of every command in the table (what Arena sends, in Arena's shapes).
SAMPLES: list[tuple[Arg, ...]] = [
    ("PING",),
    ("ECHO", "hi"),
    ("INFO", "server"),
    ("TIME",),
    ("DBSIZE",),
    ("SCRIPT", "LOAD", "return 1"),
    ("CLUSTER", "SLOTS"),
    ("FLUSHALL",),
    ("FLUSHDB",),
    ("CONFIG", "GET", "maxmemory"),
    ("COMMAND", "COUNT"),
    ("PUBLISH", "chan", "m"),
    ("GET", "k"),
    ("SET", "k", 5, "PXAT", 1000),
    ("SETNX", "k", "v"),
    ("SETEX", "k", 10, "v"),
    ("PSETEX", "k", 10, "v"),
    ("GETDEL", "k"),
    ("GETEX", "k", "EX", 5),
    ("GETSET", "k", "v"),
    ("APPEND", "k", "v"),
    ("STRLEN", "k"),
    ("INCR", "k"),
    ("INCRBY", "k", 2),
    ("INCRBYFLOAT", "k", 1.5),
    ("DECR", "k"),
    ("DECRBY", "k", 2),
    ("EXPIRE", "k", 60, "LT"),
    ("PEXPIRE", "k", 60_000),
    ("EXPIREAT", "k", 1),
    ("PEXPIREAT", "k", 1),
    ("PERSIST", "k"),
    ("TTL", "k"),
    ("PTTL", "k"),
    ("TYPE", "k"),
    ("DUMP", "k"),
    ("RESTORE", "k", 0, b"x", "REPLACE"),
    ("HGET", "h", "f"),
    ("HSET", "h", "f", "v", "g", 1),
    ("HSETNX", "h", "f", "v"),
    ("HMGET", "h", "f", "g"),
    ("HMSET", "h", "f", "v"),
    ("HGETALL", "h"),
    ("HDEL", "h", "f"),
    ("HEXISTS", "h", "f"),
    ("HINCRBY", "h", "f", 1),
    ("HINCRBYFLOAT", "h", "f", 1.5),
    ("HLEN", "h"),
    ("HKEYS", "h"),
    ("HVALS", "h"),
    ("HSCAN", "h", 0),
    ("LPUSH", "l", "a", "b"),
    ("RPUSH", "l", "a"),
    ("LPOP", "l"),
    ("RPOP", "l"),
    ("LLEN", "l"),
    ("LRANGE", "l", 0, -1),
    ("LTRIM", "l", -8, -1),
    ("LREM", "l", 1, "a"),
    ("LPOS", "l", "a"),
    ("LINDEX", "l", 0),
    ("LSET", "l", 0, "a"),
    ("SADD", "s", "a"),
    ("SREM", "s", "a"),
    ("SMEMBERS", "s"),
    ("SISMEMBER", "s", "a"),
    ("SMISMEMBER", "s", "a", "b"),
    ("SCARD", "s"),
    ("SRANDMEMBER", "s"),
    ("SPOP", "s"),
    ("SSCAN", "s", 0),
    ("ZADD", "z", "NX", 1, "a", 2, "b"),
    ("ZREM", "z", "a", "b"),
    ("ZSCORE", "z", "a"),
    ("ZMSCORE", "z", "a", "b"),
    ("ZINCRBY", "z", 1, "a"),
    ("ZCARD", "z"),
    ("ZCOUNT", "z", "(5", "+inf"),
    ("ZRANGE", "z", 0, -1),
    ("ZREVRANGE", "z", 0, 9),
    ("ZRANGEBYSCORE", "z", "-inf", 5, "LIMIT", 0, 10),
    ("ZREVRANGEBYSCORE", "z", "+inf", "-inf"),
    ("ZRANK", "z", "a"),
    ("ZREVRANK", "z", "a"),
    ("ZREMRANGEBYSCORE", "z", "-inf", 5),
    ("ZREMRANGEBYRANK", "z", 0, 1),
    ("ZPOPMIN", "z"),
    ("ZPOPMAX", "z"),
    ("ZSCAN", "z", 0),
    ("XADD", "x", "MAXLEN", 10, "*", "p", "v"),
    ("XRANGE", "x", "-", "+", "COUNT", 10),
    ("XREVRANGE", "x", "+", "-", "COUNT", 1),
    ("XLEN", "x"),
    ("XTRIM", "x", "MINID", "5-0"),
    ("XDEL", "x", "1-0"),
    ("XACK", "x", "g", "1-0"),
    ("XCLAIM", "x", "g", "c", 0, "1-0"),
    ("XAUTOCLAIM", "x", "g", "c", 0, "0"),
    ("XPENDING", "x", "g"),
    ("SPUBLISH", "chan", "m"),
    ("XGROUP", "CREATE", "x", "g", "$", "MKSTREAM"),
    ("XINFO", "STREAM", "x"),
    ("LMOVE", "a", "b", "LEFT", "RIGHT"),
    ("RPOPLPUSH", "a", "b"),
    ("SMOVE", "a", "b", "m"),
    ("RENAME", "a", "b"),
    ("RENAMENX", "a", "b"),
    ("COPY", "a", "b"),
    ("ZRANGESTORE", "d", "z", 0, -1),
    ("DEL", "a", "b", "c"),
    ("EXISTS", "a"),
    ("UNLINK", "a", "b"),
    ("TOUCH", "a"),
    ("MGET", "a", "b"),
    ("SINTER", "a", "b"),
    ("SUNION", "a", "b"),
    ("SDIFF", "a", "b"),
    ("SINTERSTORE", "d", "a", "b"),
    ("SUNIONSTORE", "d", "a"),
    ("SDIFFSTORE", "d", "a", "b"),
    ("MSET", "a", 1, "b", 2),
    ("MSETNX", "a", 1, "b", 2),
    ("EVAL", "return 1", 2, "k1", "k2", "arg"),
    ("EVALSHA", "0" * 40, 1, "k1", "arg"),
    ("EVALSHA", "0" * 40, 0, "arg"),
    ("EVAL_RO", "return 1", 1, "k1"),
    ("EVALSHA_RO", "0" * 40, 2, "k1", "k2"),
    ("FCALL", "f", 1, "k1", "a"),
    ("FCALL_RO", "f", 0, "a"),
    ("ZUNION", 2, "a", "b"),
    ("ZINTER", 2, "a", "b", "WITHSCORES"),
    ("ZDIFF", 1, "a"),
    ("ZINTERCARD", 2, "a", "b"),
    ("SINTERCARD", 2, "a", "b", "LIMIT", 5),
    ("LMPOP", 2, "a", "b", "LEFT"),
    ("ZMPOP", 1, "a", "MAX"),
    ("ZUNIONSTORE", "d", 2, "a", "b"),
    ("ZINTERSTORE", "d", 1, "a"),
    ("ZDIFFSTORE", "d", 2, "a", "b"),
    ("XREAD", "COUNT", 10, "BLOCK", 0, "STREAMS", "x1", "x2", "0-0", "$"),
    ("XREADGROUP", "GROUP", "g", "c", "COUNT", 1, "STREAMS", "x1", ">"),
    ("XREADGROUP", "GROUP", "streams", "streams", "STREAMS", "x1", ">"),
]


def _raw(client: redis_sync.Redis, *args: Arg) -> Any:
    """A reply as Redis sent it (redis-py reshapes COMMAND's replies)."""
    connection = client.connection_pool.get_connection()
    try:
        connection.send_command(*args)  # type: ignore[no-untyped-call]
        return connection.read_response()
    finally:
        client.connection_pool.release(connection)


def _redis_keys(client: redis_sync.Redis, sample: tuple[Arg, ...]) -> list[bytes]:
    """The keys Redis finds in ``sample``; for a command Redis says takes channels (sharded
    pub/sub, flagged not_key), the channels its COMMAND INFO range names."""
    try:
        return list(_raw(client, "COMMAND", "GETKEYS", *sample))
    except redis_sync.ResponseError as exc:
        if "no key arguments" not in str(exc) and "wrong number of arguments" not in str(exc):
            raise
    _name, _arity, flags, first, last, step, *_ = _raw(client, "COMMAND", "INFO", sample[0])[0]
    if first == 0 or b"pubsub" not in flags:
        return []
    args = [str(a).encode() for a in sample]
    return args[first : len(args) + last + 1 if last < 0 else last + 1 : step]


def test_every_command_in_the_table_has_a_sample_and_finds_the_keys_redis_finds(
    redis_client: redis_sync.Redis,
) -> None:
    assert {str(s[0]) for s in SAMPLES} == set(KEYS)
    for sample in SAMPLES:
        ours = [str(k).encode() for k in keys_of(sample)]
        assert ours == _redis_keys(redis_client, sample), sample


def test_names_are_found_in_any_case_and_unknown_commands_are_refused() -> None:
    assert keys_of((b"evalsha", "0" * 40, 1, "k", "a")) == ("k",)
    assert keys_of(("xread", "streams", "a", "0")) == ("a",)
    with pytest.raises(UnknownCommand, match=r"command_keys\.py"):
        keys_of(("OBJECT", "ENCODING", "k"))


def _commands_sent(path: Path) -> set[str]:
    """Command names a storage module sends: the first, upper-case string of an
    ``execute(...)`` call or of a tuple (the shape ``pipeline``/``transaction`` take)."""
    found = set()
    for node in ast.walk(ast.parse(path.read_text())):
        first = None
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute):
            if node.func.attr == "execute" and node.args:
                first = node.args[0]
        elif isinstance(node, ast.Tuple) and node.elts:
            first = node.elts[0]
        if (
            isinstance(first, ast.Constant)
            and isinstance(first.value, str)
            and first.value.isupper()
            and first.value.isalpha()
        ):
            found.add(first.value)
    return found


# The clients' own sends of connection-state commands, none through the table: the
# set-up's AUTH and SELECT, a transaction's MULTI/EXEC, the cluster's ASKING, and the
# subscriber's (its own connection) AUTH and sharded (un)subscribes.
INTERNAL = {
    "mux_link.py": {"AUTH", "SELECT"},
    "mux.py": {"MULTI", "EXEC"},
    "cluster.py": {"MULTI", "EXEC", "ASKING"},
    "pubsub.py": {"AUTH", "SSUBSCRIBE", "SUNSUBSCRIBE"},
}


def test_every_command_the_stores_send_is_in_the_table() -> None:
    """A command added to a store must be added to the table too (else a cluster refuses it);
    a command that changes or blocks the connection is sent by no store (only by the
    clients themselves, on their own terms)."""
    storage = Path(__file__).parent.parent / "server" / "storage"
    sent_by = {p.name: _commands_sent(p) for p in storage.glob("*.py")}
    sent = set().union(*(names - INTERNAL.get(f, set()) for f, names in sent_by.items()))
    # Upper-case tuples that are not commands: error prefixes matched against replies.
    not_commands = {"LOADING", "BUSY", "MASTERDOWN", "TRYAGAIN", "CLUSTERDOWN", "OOM", "MOVED"}
    not_commands |= {"ASK", "WRONGPASS", "NOAUTH", "NOSCRIPT"}
    assert sent - not_commands <= set(KEYS), sorted(sent - not_commands - set(KEYS))
    assert {"EVALSHA", "SPUBLISH", "XRANGE", "ZADD"} <= sent  # the scan does see the stores
    for name, internal in INTERNAL.items():  # and sees the clients' own
        assert internal <= sent_by[name], name


def test_connection_state_commands_are_out_of_the_table_and_refused() -> None:
    """The cluster client routes only what the table knows: MULTI, CLIENT, BLMOVE... are
    refused (saying why), in any spelling, not reported as merely unknown."""
    assert not CONNECTION_STATE & set(KEYS)
    for name in CONNECTION_STATE:
        for spelling in (name, name.lower(), name.encode()):
            with pytest.raises(RefusedCommand, match="shared Redis connection"):
                keys_of((spelling, "k", "0"))
