"""The results worker: takes match results off the queue and applies them.

Runs inside each server process (``ARENA_WORKERS``, default 1) and as its own
process: ``python -m server.worker`` (any number of them; they share the queue).

Each job is taken with a blocking move to the *taken* list, applied, then
acknowledged. A worker that dies before acknowledging leaves the job taken; any
worker takes it back after ``ARENA_JOB_TIMEOUT`` and redoes it (applying a
result is idempotent). A job that keeps failing goes to the dead letters after
``ARENA_JOB_TRIES`` tries, visible in ``/v1/stats``.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal
import sys
import time
from collections.abc import Sequence

from server import logs
from server.compose import build_worker
from server.errors import ArenaError
from server.services import Services
from server.services.matches import RESULT_JOB
from server.services.results import ResultNotReady, ResultService
from server.settings import Settings
from server.storage.connection import RedisUnreachable, wait_for_redis
from server.storage.queue import Job, TaskQueue

log = logging.getLogger(__name__)

TAKE_WAIT_S = 1.0  # how long one blocking take waits at most; also how fast a worker stops
RECLAIM_EVERY_S = 1.0
NOT_READY_DELAY_S = 0.5


def take_wait(settings: Settings) -> float:
    """A blocking take must end well before the Redis client's own timeout would fire."""
    return min(TAKE_WAIT_S, settings.redis_timeout_s / 2)


class ResultWorker:
    def __init__(
        self, queue: TaskQueue, results: ResultService, *, name: str, take_wait_s: float
    ) -> None:
        self._queue = queue
        self._results = results
        self.name = name
        self._take_wait_s = take_wait_s
        self.done = 0
        self.idle = asyncio.Event()  # set while not in the middle of a job
        self.idle.set()

    async def run(self, stopping: asyncio.Event) -> None:
        next_reclaim = 0.0
        while not stopping.is_set():
            try:
                if time.monotonic() >= next_reclaim:
                    next_reclaim = time.monotonic() + RECLAIM_EVERY_S
                    back, dead = await self._queue.reclaim()
                    if back or dead:
                        log.warning("took back %d jobs (%d to the dead letters)", back, dead)
                # Busy from the take on: a job Redis moved to 'taken' is in hand already.
                self.idle.clear()
                try:
                    job = await self._queue.take(self._take_wait_s)
                    if job is not None:
                        await self._handle(job)
                finally:
                    self.idle.set()
            except ArenaError as exc:
                log.warning("worker %s: %s; retrying", self.name, exc.message)
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(stopping.wait(), 0.5)
            except Exception:
                # A bug (or a job that cannot be read) must not end the worker for good.
                log.exception("worker %s failed a round; going on", self.name)
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(stopping.wait(), 1.0)

    async def _handle(self, job: Job) -> None:
        try:
            if job.kind != RESULT_JOB:
                raise ValueError(f"unknown job kind {job.kind!r}")
            await self._apply(str(job.args["match_id"]), job.id)
        except ResultNotReady:
            await self._queue.retry_later(job, NOT_READY_DELAY_S)
            return
        except Exception:
            log.exception("job %s failed (try %d)", job.id, job.tries + 1)
            await self._queue.retry_later(job, min(30.0, 0.5 * 2**job.tries))
            return
        await self._queue.ack(job)
        self.done += 1

    async def _apply(self, match_id: str, job_id: str) -> None:
        # The job is queued just before the match ends (so that a node dying between the
        # two loses nothing): a worker that is quick may find it still running. The end
        # lands within milliseconds; give it that before counting a failed try.
        for pause_s in (0.005, 0.02, 0.1, 0.3):
            try:
                await self._results.apply(match_id, job_id)
                return
            except ResultNotReady:
                await asyncio.sleep(pause_s)
        await self._results.apply(match_id, job_id)


def make_workers(
    services: Services, settings: Settings, count: int, prefix: str
) -> list[ResultWorker]:
    return [
        ResultWorker(
            services.results_queue,
            services.results,
            name=f"{prefix}{i}",
            take_wait_s=take_wait(settings),
        )
        for i in range(count)
    ]


async def run_workers(workers: list[ResultWorker], stopping: asyncio.Event) -> None:
    await asyncio.gather(*(worker.run(stopping) for worker in workers))


async def finish_jobs(workers: list[ResultWorker], grace_s: float) -> None:
    """Wait (up to ``grace_s``) for the jobs in hand, and for blocking takes to end (at most
    a take's wait): a job cut off half-way would be redone only after ARENA_JOB_TIMEOUT."""
    with contextlib.suppress(TimeoutError):
        await asyncio.wait_for(asyncio.gather(*(w.idle.wait() for w in workers)), grace_s)


async def _serve(argv: Sequence[str] | None) -> int:
    settings = Settings.from_args(argv, prog="python -m server.worker")
    logs.configure(settings.log_level, "json" if settings.log_format == "json" else "text")
    if not settings.redis_url:
        print("arena worker: set REDIS_URL to the Redis the servers use", file=sys.stderr)
        return 2
    parts = build_worker(settings)
    mux, redis, services = parts.mux, parts.redis, parts.services
    try:
        await wait_for_redis(
            mux,
            settings.redis_url,
            within_s=settings.redis_wait_s,
            timeout_s=settings.redis_timeout_s,
        )
    except RedisUnreachable as exc:
        print(f"arena worker: {exc}", file=sys.stderr)
        await mux.aclose()
        await redis.aclose()
        return 1
    count = max(1, settings.workers)
    workers = make_workers(services, settings, count, "w")
    stopping = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stopping.set)
    log.info("%d result workers running", count)
    try:
        await run_workers(workers, stopping)
    finally:
        await mux.aclose()
        await redis.aclose()
    log.info("result workers stopped (%d jobs done)", sum(w.done for w in workers))
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    return asyncio.run(_serve(argv))


if __name__ == "__main__":
    sys.exit(main())
