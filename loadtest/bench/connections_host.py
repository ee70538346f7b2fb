"""The host's side of the connection capacity bench: the open-files limit it raises (and
how many sockets and local ports that allows), and the memory and listen-queue figures it
reads from ``/proc`` and from Redis."""

from __future__ import annotations

import resource
from dataclasses import dataclass
from pathlib import Path

from redis import asyncio as aioredis

SOCKETS = 15_000
OPEN_FILES = 65_536  # each side holds one descriptor per socket, and a few more
SPARE_FILES = 1_000  # descriptors kept aside from SOCKETS: Redis, logs, the loop
# Sockets opened one at a time once SOCKETS are held: what a player meets joining a full
# node, with no queue of other opens before theirs (a burst's p50 is its queue: in flight
# ÷ rate).
LATE_OPENS = 300


@dataclass(frozen=True, slots=True)
class Limits:
    """The open-files limit before and after raising it, and what it allows."""

    soft_before: int
    hard_before: int
    now: int
    refused: str  # why the hard limit stayed, if it did
    sockets: int
    ports: int


def raise_open_files(want: int) -> Limits:
    """Raise this process's open-files limit (``RLIMIT_NOFILE``) to ``want``, the hard limit
    too if need be, else as far as the hard limit; servers started afterwards inherit it."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    refused = ""
    if soft < want:
        try:
            resource.setrlimit(resource.RLIMIT_NOFILE, (want, max(hard, want)))
        except (ValueError, OSError) as exc:  # raising the hard limit needs CAP_SYS_RESOURCE
            refused = str(exc)
            resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    now = resource.getrlimit(resource.RLIMIT_NOFILE)[0]
    return Limits(
        soft, hard, now, refused, min(SOCKETS, now - SPARE_FILES - LATE_OPENS), port_range()
    )


async def used_memory(redis_url: str) -> int:
    client = aioredis.Redis.from_url(redis_url)
    try:
        return int((await client.info("memory"))["used_memory"])
    finally:
        await client.aclose()


def rss_kb(pid: int | str) -> int:
    """Resident memory of a process in KiB (``VmRSS``), 0 if it is gone."""
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    except OSError:
        pass
    return 0


def listen_overflows() -> int:
    """Times a listening socket's accept queue was full, since boot (all sockets)."""
    try:
        head, values = (
            line.split()
            for line in Path("/proc/net/netstat").read_text().splitlines()
            if line.startswith("TcpExt:")
        )
        return int(dict(zip(head, values, strict=True)).get("ListenOverflows", 0))
    except (OSError, ValueError):
        return 0


def port_range() -> int:
    try:
        low, high = Path("/proc/sys/net/ipv4/ip_local_port_range").read_text().split()
        return int(high) - int(low) + 1
    except (OSError, ValueError):
        return 0
