"""Lua scripts, one file each under lua/, each headed by its KEYS/ARGV contract.

They are read once at start-up and run by SHA (redis-py's Script falls back to
EVAL and reloads when Redis has forgotten them, e.g. after a restart).
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from importlib import resources

from redis.asyncio import Redis
from redis.commands.core import AsyncScript


def _source(name: str) -> str:
    return resources.files("server.storage").joinpath("lua", f"{name}.lua").read_text("utf-8")


@dataclass(frozen=True, slots=True)
class Scripts:
    """One field per file in lua/, named after it."""

    rate_limit: AsyncScript
    release_live_socket: AsyncScript
    refresh_live_sockets: AsyncScript
    cache_lookup: AsyncScript
    cache_fill: AsyncScript
    lb_submit: AsyncScript
    lb_page: AsyncScript
    lb_rename: AsyncScript

    @classmethod
    def load(cls, redis: Redis) -> Scripts:
        return cls(
            **{f.name: redis.register_script(_source(f.name)) for f in dataclasses.fields(cls)}
        )
