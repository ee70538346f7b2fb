"""Where each Redis command Arena sends keeps its keys: what a cluster routes by.

A cluster runs a command on the master owning its keys' slot, so the client must
know which arguments are keys; "the first argument" is wrong for EVALSHA (keys
after the key count), XREAD (keys after STREAMS), LMOVE (two keys), MSET (every
other argument) and more. ``KEYS`` says, for every command Arena issues (and a few
close relatives), where its keys are, in the terms Redis's own ``COMMAND INFO``
uses; tests/test_command_keys.py checks each against Redis's ``COMMAND GETKEYS``.

A command missing from the table is refused (``UnknownCommand``) rather than
guessed at: a new command must be added here, with a sample call in that test,
before the cluster client will send it. Asking Redis (``COMMAND INFO``) at run
time would cover any command, but would route by what a server says at start-up
and hide the decision from review; a table that a test holds to Redis's answers
is both fast and checked.

Sharded pub/sub's channel (SPUBLISH) is routed like a key (a channel lives on its
slot's master) though Redis flags it ``not_key``.

Not in the table, and refused with ``RefusedCommand`` rather than ``UnknownCommand``:
the commands that change or block the connection they are sent on
(``commands.CONNECTION_STATE``: MULTI, SELECT, CLIENT, SSUBSCRIBE, BLMOVE, ...). The
clients send MULTI/EXEC and ASKING themselves, without asking the table.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Final

from redis.crc import key_slot

from server.storage.commands import CONNECTION_STATE, Arg, CommandError, vet

# Takes a whole command (name first) and gives its keys.
KeyFinder = Callable[[Sequence[Arg]], Sequence[Arg]]


class UnknownCommand(CommandError):
    """The cluster client was asked to send a command whose keys it does not know."""


class CrossSlot(CommandError):
    """The keys of one command, or of one transaction, are in more than one hash slot:
    no single master could run it (Redis would answer CROSSSLOT), so it is not sent."""


def _none(args: Sequence[Arg]) -> Sequence[Arg]:
    return ()


def _first(args: Sequence[Arg]) -> Sequence[Arg]:
    return args[1:2]


def _second(args: Sequence[Arg]) -> Sequence[Arg]:
    """A subcommand, then the key (XGROUP CREATE key ..., XINFO STREAM key)."""
    return args[2:3]


def _first_two(args: Sequence[Arg]) -> Sequence[Arg]:
    return args[1:3]


def _all(args: Sequence[Arg]) -> Sequence[Arg]:
    return args[1:]


def _every_other(args: Sequence[Arg]) -> Sequence[Arg]:
    """Key, value, key, value (MSET)."""
    return args[1::2]


def _counted(at: int, *, before: int = 0) -> KeyFinder:
    """A key count at ``at``, that many keys after it; ``before``: a key ahead of the
    count too (ZUNIONSTORE destination numkeys key ...)."""

    def keys(args: Sequence[Arg]) -> Sequence[Arg]:
        n = int(args[at])
        counted = args[at + 1 : at + 1 + n]
        return (*args[1 : 1 + before], *counted) if before else counted

    return keys


# XREAD/XREADGROUP options before STREAMS, and how many values each takes: a group or
# consumer named "streams" is a value, not the keyword (Redis's xreadGetKeys skips them so).
_XREAD_OPTIONS = {"GROUP": 2, "COUNT": 1, "BLOCK": 1, "NOACK": 0}


def _streams(args: Sequence[Arg]) -> Sequence[Arg]:
    """XREAD/XREADGROUP [options] STREAMS key [key ...] id [id ...]: the first half after
    STREAMS."""
    i = 1
    while i < len(args):
        word = args[i]
        name = _upper(word) if isinstance(word, bytes | str) else ""
        if name == "STREAMS":
            rest = args[i + 1 :]
            return rest[: len(rest) // 2]
        i += 1 + _XREAD_OPTIONS.get(name, 0)
    return ()


def _upper(word: bytes | str) -> str:
    return (word.decode() if isinstance(word, bytes) else word).upper()


def _table() -> dict[str, KeyFinder]:
    shapes: dict[KeyFinder, str] = {
        _none: "PING ECHO INFO TIME DBSIZE SCRIPT CLUSTER FLUSHALL FLUSHDB CONFIG COMMAND PUBLISH",
        _first: "GET SET SETNX SETEX PSETEX GETDEL GETEX GETSET APPEND STRLEN INCR INCRBY "
        "INCRBYFLOAT DECR DECRBY EXPIRE PEXPIRE EXPIREAT PEXPIREAT PERSIST TTL PTTL TYPE "
        "DUMP RESTORE "
        "HGET HSET HSETNX HMGET HMSET HGETALL HDEL HEXISTS HINCRBY HINCRBYFLOAT HLEN HKEYS "
        "HVALS HSCAN "
        "LPUSH RPUSH LPOP RPOP LLEN LRANGE LTRIM LREM LPOS LINDEX LSET "
        "SADD SREM SMEMBERS SISMEMBER SMISMEMBER SCARD SRANDMEMBER SPOP SSCAN "
        "ZADD ZREM ZSCORE ZMSCORE ZINCRBY ZCARD ZCOUNT ZRANGE ZREVRANGE ZRANGEBYSCORE "
        "ZREVRANGEBYSCORE ZRANK ZREVRANK ZREMRANGEBYSCORE ZREMRANGEBYRANK ZPOPMIN ZPOPMAX "
        "ZSCAN "
        "XADD XRANGE XREVRANGE XLEN XTRIM XDEL XACK XCLAIM XAUTOCLAIM XPENDING "
        "SPUBLISH",
        _second: "XGROUP XINFO",
        _first_two: "LMOVE RPOPLPUSH SMOVE RENAME RENAMENX COPY ZRANGESTORE",
        _all: "DEL EXISTS UNLINK TOUCH MGET SINTER SUNION SDIFF SINTERSTORE SUNIONSTORE SDIFFSTORE",
        _every_other: "MSET MSETNX",
        _counted(2): "EVAL EVALSHA EVAL_RO EVALSHA_RO FCALL FCALL_RO",
        _counted(1): "ZUNION ZINTER ZDIFF ZINTERCARD SINTERCARD LMPOP ZMPOP",
        _counted(2, before=1): "ZUNIONSTORE ZINTERSTORE ZDIFFSTORE",
        _streams: "XREAD XREADGROUP",
    }
    return {name: finder for finder, names in shapes.items() for name in names.split()}


KEYS: Final[dict[str, KeyFinder]] = _table()


def keys_of(args: Sequence[Arg]) -> Sequence[Arg]:
    """The keys of one command (``args[0]`` its name); UnknownCommand if not in ``KEYS``,
    RefusedCommand for one that would change or block the shared connection."""
    name = args[0]
    finder = KEYS.get(name) if isinstance(name, str) else None  # the usual spelling: no copy
    if finder is None:
        upper = _upper(name) if isinstance(name, bytes | str) else str(name)
        finder = KEYS.get(upper)
        if upper in CONNECTION_STATE:
            vet(args)  # raises, saying why
        if finder is None:
            raise UnknownCommand(
                f"ERR the cluster client does not know where {upper}'s keys are: add it to "
                "server/storage/command_keys.py (and a sample to tests/test_command_keys.py)"
            )
    return finder(args)


def slot_of(key: Arg) -> int:
    """The hash slot a cluster keeps ``key`` (or a sharded channel) in."""
    if isinstance(key, str):
        key = key.encode()
    elif not isinstance(key, bytes):
        key = str(key).encode()
    return int(key_slot(key))


def command_slot(args: Sequence[Arg]) -> int | None:
    """The hash slot of a command's keys (``keys_of`` says which arguments those are);
    None for a command without keys. CrossSlot when they span slots."""
    keys = keys_of(args)
    if not keys:
        return None
    slot = slot_of(keys[0])
    for key in keys[1:]:
        if slot_of(key) != slot:
            raise CrossSlot(
                f"CROSSSLOT the keys of {str(args[0]).upper()} are in more than one hash slot "
                f"({', '.join(map(str, keys))}): give them one hash tag (storage/keys.py)"
            )
    return slot
