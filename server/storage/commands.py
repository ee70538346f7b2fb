"""What the stores speak to Redis through: the ``Commands`` protocol, its errors, RESP packing.

Two clients implement it: ``mux.RedisMux`` (one Redis, one pipelined connection)
and ``cluster.ClusterMux`` (a Redis Cluster, one ``RedisMux`` per master). The
stores know only this protocol, so the same store runs on either.
"""

from __future__ import annotations

import collections
from collections.abc import Sequence
from typing import Any, Protocol

import hiredis

Arg = bytes | str | int | float


class MuxConnectionError(ConnectionError):
    """Redis could not be reached, or the connection dropped with commands in flight."""


class MuxTimeoutError(TimeoutError):
    """Redis sent nothing back for ``timeout_s`` while commands were waiting."""


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

        One Redis: they leave in one write, back to back, with no other command of this
        client between them. A cluster: each master's share leaves that way, in order;
        the shares of different masters run independently (commands on different slots
        have no order between them), and a command redirected by a slot on the move is
        sent again, with the others redirected to the same node, after the rest.
        """
        ...

    async def transaction(self, *commands: tuple[Arg, ...]) -> list[Any]:
        """MULTI ... EXEC: all of ``commands`` or none, atomically; their replies (an
        error reply raises). On a cluster their keys must share one hash slot."""
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
