"""Lua scripts, one file each under lua/, each headed by its KEYS/ARGV contract.

Logic more than one script needs is written once, as a snippet in lua/lib/ (one
``local function`` each, named after its file and headed by what it takes and
returns). A script names the snippets it uses on a line ``-- include: a, b``; the
text sent to Redis has that line replaced by them (a snippet's own includes come
first, and each comes once), so its SHA is the SHA of the assembled text.

They are read once at start-up and run by SHA on the pipelined client (which
loads a script again when Redis has forgotten it, e.g. after a restart).
"""

from __future__ import annotations

import dataclasses
import functools
from dataclasses import dataclass
from importlib import resources
from typing import Any

from server.storage.mux import Arg, CommandError, Commands

INCLUDE = "-- include:"


def _read(path: str) -> str:
    return resources.files("server.storage").joinpath("lua", path).read_text("utf-8")


def includes(line: str) -> list[str]:
    """The snippets an include line names (none for any other line)."""
    if not line.startswith(INCLUDE):
        return []
    return [name.strip() for name in line.removeprefix(INCLUDE).split(",") if name.strip()]


@functools.cache
def source(name: str) -> str:
    """The script ``name`` as Redis runs it: its text with its snippets in place."""
    return _assemble(_read(f"{name}.lua"), included=set(), within=())


def _assemble(text: str, *, included: set[str], within: tuple[str, ...]) -> str:
    lines: list[str] = []
    for line in text.splitlines(keepends=True):
        names = includes(line)
        if not names:
            lines.append(line)
        for snippet in names:
            if snippet in within:
                raise ValueError(f"Lua snippets include each other: {' -> '.join(within)}")
            if snippet not in included:
                included.add(snippet)
                body = _read(f"lib/{snippet}.lua")
                lines.append(_assemble(body, included=included, within=(*within, snippet)))
    return "".join(lines)


class Script:
    """One Lua script: ``await script(keys=[...], args=[...])``.

    Calls made together (``asyncio.gather``) leave in one write anyway, so a
    script is never put in an explicit pipeline, where NOSCRIPT could not be retried.
    """

    __slots__ = ("_mux", "name", "sha")

    def __init__(self, mux: Commands, name: str) -> None:
        self._mux = mux
        self.name = name
        self.sha = mux.register_script(source(name))

    async def __call__(self, *, keys: list[str], args: list[Arg]) -> Any:
        try:
            return await self._mux.evalsha(self.sha, keys, args)
        except CommandError as exc:
            exc.command = f"script {self.name}"  # EVALSHA and a SHA would name nothing
            raise


@dataclass(frozen=True, slots=True)
class Scripts:
    """One field per file in lua/, named after it."""

    rate_limit: Script
    claim_live_socket: Script
    release_live_sockets: Script
    refresh_live_sockets: Script
    cache_lookup: Script
    cache_fill: Script
    lb_submit: Script
    lb_page: Script
    lb_rename: Script
    lock_acquire: Script
    delete_if_equal: Script
    claim_lapsed: Script
    lock_extend: Script
    mm_enqueue: Script
    mm_remove: Script
    mm_commit: Script
    mm_accept: Script
    mm_requeue: Script
    mm_forget_mode: Script
    fenced_write: Script
    feed_append: Script
    feed_read: Script
    match_send: Script
    match_end: Script
    match_leave: Script
    match_abandon: Script
    match_presence: Script
    running_page: Script
    running_left: Script
    lease_lapsed: Script
    drop_lapsed: Script
    presence_stamp: Script
    running_add: Script
    running_remove: Script
    running_tidy: Script
    queue_reclaim: Script
    hash_set_existing: Script
    match_create: Script
    device_login: Script
    device_rotate: Script
    match_report: Script
    match_settle: Script
    match_rearm: Script
    host_open: Script
    host_claim: Script
    host_commit: Script
    host_snapshot: Script
    input_add: Script
    match_admit: Script
    join_ask: Script
    rating_apply: Script
    party_create: Script
    party_join: Script
    party_leave: Script
    party_promote: Script
    party_invite: Script
    party_close: Script
    party_read: Script

    @classmethod
    def load(cls, mux: Commands) -> Scripts:
        return cls(**{f.name: Script(mux, f.name) for f in dataclasses.fields(cls)})
