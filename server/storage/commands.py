"""What the stores speak to Redis through: the ``Commands`` protocol, its errors, RESP packing.

Two clients implement it: ``mux.RedisMux`` (one Redis, one pipelined connection)
and ``cluster.ClusterMux`` (a Redis Cluster, one ``RedisMux`` per master). The
stores know only this protocol, so the same store runs on either.
"""

from __future__ import annotations

import collections
from collections.abc import Sequence
from typing import Any, Final, Protocol

import hiredis

Arg = bytes | str | int | float


class MuxConnectionError(ConnectionError):
    """Redis could not be reached, or the connection dropped with commands in flight
    (whose outcome is then unknown: Redis may have run them)."""


class MuxNotSentError(MuxConnectionError):
    """The command was never sent (no connection, no room to send it, too many commands
    waiting): Redis did not run it, so it is safe to try again."""


class MuxTimeoutError(TimeoutError):
    """No reply within ``timeout_s``: outcome unknown (Redis may still run the command)."""


class CommandError(Exception):
    """Redis answered with an error reply."""

    # The command (or script) that got it, for the log; set where the caller is known.
    command: str = ""


def named(exc: CommandError, command: Arg) -> CommandError:
    if not exc.command:
        exc.command = command.decode() if isinstance(command, bytes) else str(command)
    return exc


class Commands(Protocol):
    """What the stores need from a Redis client: one Redis (RedisMux) or a cluster's
    slot-routing client (cluster.ClusterMux) alike.

    An error reply raises ``CommandError``; a Redis that is down or silent raises
    ``MuxConnectionError`` or ``MuxTimeoutError`` (mux.py's docstring says when). On a
    cluster, a command whose keys span hash slots, or one the cluster client does not
    know the keys of (command_keys.py), is refused with a ``CommandError`` before it
    is sent.
    """

    async def execute(self, *args: Arg) -> Any:
        """Run one command; its reply."""
        ...

    async def pipeline(self, *commands: tuple[Arg, ...]) -> list[Any]:
        """Run ``commands`` in order and return every reply; the first error reply raises,
        once all have arrived. Not atomic: other clients' commands may run between them.

        One Redis: they leave back to back, with no other command of this client between
        them. A cluster: each master's share leaves that way, in order;
        the shares of different masters run independently (commands on different slots
        have no order between them), and a command redirected by a slot on the move is
        sent again, with the others redirected to the same node, after the rest.
        """
        ...

    async def transaction(self, *commands: tuple[Arg, ...]) -> list[Any]:
        """MULTI ... EXEC: ``commands`` run together, no other client's command between
        them; their replies. On a cluster their keys must share one hash slot.

        Not all-or-none. A command Redis refuses while queuing it (unknown, wrong number
        of arguments, a slot on the move) aborts the transaction: nothing is applied, and
        its error reply raises. But a command that fails when EXEC runs it (WRONGTYPE, a
        script's error) does not undo the others: Redis has no rollback, so every other
        command HAS been applied, and the first such error reply raises (CommandError)
        all the same. Callers that need all-or-none send commands that cannot fail at
        run time, or a script that checks before it writes.
        """
        ...

    def register_script(self, source: str) -> str:
        """Remember a script's source (for NOSCRIPT); returns the SHA to call it by."""
        ...

    async def evalsha(self, sha: str, keys: list[str], args: list[Arg]) -> Any:
        """Run a registered script by SHA, loading it when Redis does not have it."""
        ...

    async def ping(self) -> bool:
        """Redis answers (on a cluster: every master does)."""
        ...

    def error_counts(self) -> collections.Counter[str]:
        """Connection failures so far, by kind (on a cluster: over every master)."""
        ...

    async def aclose(self) -> None: ...


# Commands the shared connection never carries: each changes the state of the connection
# it is sent on (a transaction, a database, a user, a protocol, pub/sub mode, replies
# switched off) or blocks it, so every other task's commands behind it would get the
# wrong replies or none. Transactions go through ``Commands.transaction`` (the client
# sends MULTI/EXEC itself), blocking commands through the redis-py pool (clients.py),
# pub/sub through its own connection (pubsub.py); the set-up's AUTH and SELECT, and
# the cluster's ASKING, are sent by the clients themselves, not through this check.
_STATEFUL = (
    "MULTI EXEC DISCARD WATCH UNWATCH SELECT AUTH HELLO RESET QUIT CLIENT ASKING READONLY "
    "READWRITE SUBSCRIBE SSUBSCRIBE PSUBSCRIBE UNSUBSCRIBE SUNSUBSCRIBE PUNSUBSCRIBE MONITOR "
    "SYNC PSYNC WAIT WAITAOF BLPOP BRPOP BLMOVE BRPOPLPUSH BZPOPMIN BZPOPMAX BLMPOP BZMPOP"
)
CONNECTION_STATE: Final = frozenset(_STATEFUL.split())
# ...and these only with BLOCK among their options (before STREAMS).
_BLOCK_OPTION = frozenset({"XREAD", "XREADGROUP"})
# Command names, as spelt by callers, that ``vet`` let through: the hot path's one look-up.
PASSED: set[Arg] = set()
PASSED_MAX = 1024  # spellings remembered (a caller inventing names cannot grow it for ever)


class RefusedCommand(CommandError):
    """A command the shared connection does not carry (``CONNECTION_STATE``): refused
    before it is sent."""


def upper_name(name: Arg) -> str:
    return (name.decode() if isinstance(name, bytes) else str(name)).upper()


def vet(args: Sequence[Arg]) -> None:
    """Refuse (``RefusedCommand``) a command that would change or block the shared
    connection; remember a name found harmless, so the next call pays one set look-up
    (``if args[0] not in PASSED: vet(args)``)."""
    name = args[0]
    upper = upper_name(name)
    if upper in CONNECTION_STATE or (upper in _BLOCK_OPTION and _blocks(args)):
        raise RefusedCommand(
            f"ERR {upper} is not sent on the shared Redis connection: it changes or blocks "
            "the connection every task shares (transactions: Commands.transaction; blocking "
            "commands: the redis-py pool, storage/clients.py)"
        )
    if upper not in _BLOCK_OPTION and len(PASSED) < PASSED_MAX:
        PASSED.add(name)


def _blocks(args: Sequence[Arg]) -> bool:
    """XREAD/XREADGROUP with a BLOCK option: options come before STREAMS, and a group or
    consumer named "block" is a value, not the option."""
    i = 1
    while i < len(args):
        word = args[i]
        option = upper_name(word) if isinstance(word, bytes | str) else ""
        if option in {"BLOCK", "STREAMS"}:
            return option == "BLOCK"
        i += 3 if option == "GROUP" else 2 if option == "COUNT" else 1
    return False


def vet_all(commands: Sequence[tuple[Arg, ...]]) -> None:
    """``vet`` each command, before any is sent."""
    for command in commands:
        if command[0] not in PASSED:
            vet(command)


def raised(calls: Sequence[tuple[Arg, ...]], replies: list[Any]) -> list[Any]:
    """Replies as a caller gets them: the first error reply raises, named after its command."""
    for call, reply in zip(calls, replies, strict=True):
        if isinstance(reply, CommandError):
            raise named(reply, call[0])
    return replies


def failure(failed: Sequence[BaseException], ran: bool) -> BaseException:
    """What one call raises when parts of it (sent on several connections) failed:
    not sent only if every failed part was not sent and nothing else of it ran (``ran``:
    some part got its own reply); otherwise outcome unknown."""
    for exc in failed:  # not the connection's (a bug, a cancel), or already unknown
        if not isinstance(exc, MuxNotSentError):
            return exc
    if not ran:
        return failed[0]
    unknown = MuxConnectionError(f"partly run, the rest not sent: {failed[0]}")
    unknown.__cause__ = failed[0]
    return unknown


def pack(args: tuple[Arg, ...]) -> bytes:
    """One command in RESP, packed by hiredis in C (four times faster than Python here)."""
    return hiredis.pack_command(args)  # type: ignore[arg-type,no-any-return]


def exec_result(commands: Sequence[tuple[Arg, ...]], replies: list[Any]) -> list[Any]:
    """A transaction's replies (MULTI's, each command's QUEUED, EXEC's) as its result:
    the replies inside EXEC's; the first error reply among any of them raises."""
    for command, reply in zip(commands, replies[1:-1], strict=True):
        if isinstance(reply, CommandError):  # refused while queuing: EXEC will abort
            raise named(reply, command[0])
    result = replies[-1]
    if isinstance(result, CommandError):
        raise result
    if result is None:
        raise MuxConnectionError("transaction aborted")
    for command, reply in zip(commands, result, strict=False):
        if isinstance(reply, CommandError):
            raise named(reply, command[0])
    return list(result)
