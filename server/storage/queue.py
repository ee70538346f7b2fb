"""A reliable task queue on Redis lists (the task-queue pattern, with a visibility timeout).

- ``enqueue``: LPUSH onto *ready*.
- ``take``: BLMOVE the oldest job from *ready* to *taken* (a blocking move, so a job
  is never only in a worker's memory), then lease it until now + timeout.
- ``ack``: drop it from *taken*. ``retry_later``: keep it taken with a short lease.
- ``reclaim`` (every worker, every second): jobs in *taken* whose lease ran out go
  back to *ready* with one more try counted, or after N tries to *dead*.

A worker that dies between take and ack leaves its job in *taken*; it is redone
one timeout later by whichever worker reclaims it, so work must be idempotent.
Blocking moves hold a connection, so ``take`` runs on redis-py's pool, not the mux.
"""

from __future__ import annotations

import json
import secrets
import time
from dataclasses import dataclass
from typing import Any

from server.storage import keys
from server.storage.clients import BlockingClient
from server.storage.connection import text, translate_redis_errors
from server.storage.mux import Commands
from server.storage.scripts import Scripts

RECLAIM_BATCH = 200


@dataclass(frozen=True, slots=True)
class Job:
    raw: str  # exactly as stored: acks and leases name the job by it
    id: str
    kind: str
    args: dict[str, Any]
    tries: int

    @classmethod
    def parse(cls, raw: str) -> Job:
        body = json.loads(raw)
        return cls(raw, str(body["id"]), str(body["kind"]), dict(body["args"]), int(body["tries"]))


@dataclass(frozen=True, slots=True)
class QueueCounts:
    ready: int
    taken: int
    dead: int


def _now_ms() -> int:
    return int(time.time() * 1000)


class TaskQueue:
    def __init__(
        self,
        name: str,
        mux: Commands,
        redis: BlockingClient,
        scripts: Scripts,
        *,
        timeout_s: float,
        max_tries: int,
    ) -> None:
        self.name = name
        self._mux = mux
        self._redis = redis
        self._scripts = scripts
        self._timeout_ms = int(timeout_s * 1000)
        self._max_tries = max_tries
        self._ready = keys.queue_ready(name)
        self._taken = keys.queue_taken(name)
        self._leases = keys.queue_leases(name)
        self._dead = keys.queue_dead(name)

    @translate_redis_errors
    async def enqueue(self, kind: str, args: dict[str, Any]) -> str:
        job_id = secrets.token_hex(8)
        body = {"id": job_id, "kind": kind, "args": args, "tries": 0, "at": _now_ms()}
        await self._mux.execute("LPUSH", self._ready, json.dumps(body, separators=(",", ":")))
        return job_id

    @translate_redis_errors
    async def take(self, wait_s: float) -> Job | None:
        """The oldest ready job, leased to this worker; None if none came within ``wait_s``."""
        raw = await self._redis.blmove(self._ready, self._taken, wait_s, "RIGHT", "LEFT")  # type: ignore[arg-type]
        if raw is None:
            return None
        job = text(raw)
        await self._mux.execute("HSET", self._leases, job, _now_ms() + self._timeout_ms)
        return Job.parse(job)

    @translate_redis_errors
    async def ack(self, job: Job) -> None:
        await self._mux.transaction(
            ("LREM", self._taken, 1, job.raw), ("HDEL", self._leases, job.raw)
        )

    @translate_redis_errors
    async def retry_later(self, job: Job, delay_s: float) -> None:
        """A failed try: the job is taken back (one more try counted) after ``delay_s``."""
        if await self._mux.execute("LPOS", self._taken, job.raw) is None:
            return  # taken back already (this try outlived the timeout): no stray lease
        await self._mux.execute("HSET", self._leases, job.raw, _now_ms() + int(delay_s * 1000))

    @translate_redis_errors
    async def reclaim(self) -> tuple[int, int]:
        """Take back expired jobs; (put back, sent to the dead letters)."""
        back, dead = await self._scripts.queue_reclaim(
            keys=[self._ready, self._taken, self._leases, self._dead],
            args=[_now_ms(), self._timeout_ms, self._max_tries, RECLAIM_BATCH],
        )
        return int(back), int(dead)

    @translate_redis_errors
    async def counts(self) -> QueueCounts:
        ready, taken, dead = await self._mux.pipeline(
            ("LLEN", self._ready), ("LLEN", self._taken), ("LLEN", self._dead)
        )
        return QueueCounts(int(ready), int(taken), int(dead))

    @translate_redis_errors
    async def dead_letters(self, limit: int) -> list[Job]:
        return [
            Job.parse(text(r)) for r in await self._mux.execute("LRANGE", self._dead, 0, limit - 1)
        ]
