"""One scheduler per process ticks every match the process hosts (not a task per match).

Matches are bucketed by (tick rate, phase slot): a rate's period is cut into
``slots`` phases and a new match joins the least-filled one, so one wake-up ticks
a whole bucket and the load of many matches at one rate is spread over the period
instead of landing at once. (Measured in research/next-features.md 1.5: one driver
over phase slots costs 1-2 % CPU for 3,000 empty 20 Hz matches against 34 % for a
task each.)

The core, ``TickPlan``, is pure: ``due(now)`` says which matches to tick and moves
their buckets on. Due times sit on a fixed grid (``origin + (index + slot/slots) /
rate``, computed, never summed, so they do not drift). A bucket found more than one
period late ticks once and skips the grid points it missed, counted in ``skipped``:
a tick that overruns delays the ticks behind it, which then run once, not in a burst.
The game's virtual clock counts the ticks run, so under overload it falls behind
wall time rather than jumping.

``Scheduler`` is the thin asyncio loop around it, with the clock and the pause
injected so tests drive virtual time.
"""

from __future__ import annotations

import asyncio
import heapq
import logging
import math
import time
from collections.abc import Awaitable, Callable, Hashable
from dataclasses import dataclass, field
from typing import Generic, TypeVar

from server.games.api import check_tick_rate

log = logging.getLogger(__name__)

K = TypeVar("K", bound=Hashable)

DEFAULT_SLOTS = 20

# Waits until ``wake`` is set or ``seconds`` pass (forever when None).
Pause = Callable[[asyncio.Event, float | None], Awaitable[None]]


@dataclass(slots=True)
class _Bucket(Generic[K]):
    rate: int
    slot: int
    index: int  # the grid point this bucket is next due at
    matches: dict[K, None] = field(default_factory=dict)  # an ordered set


class TickPlan(Generic[K]):
    """Which matches are due when: pure, the caller supplies ``now``."""

    def __init__(self, origin: float = 0.0, slots: int = DEFAULT_SLOTS) -> None:
        if slots < 1:
            raise ValueError(f"slots must be at least 1, got {slots}")
        self.origin = origin
        self.slots = slots
        self.skipped = 0  # ticks skipped in all, for the metric
        self._skipped: dict[K, int] = {}
        self._buckets: dict[tuple[int, int], _Bucket[K]] = {}
        self._where: dict[K, tuple[int, int]] = {}
        self._heap: list[tuple[float, int, int, int]] = []  # due, rate, slot, index

    def __contains__(self, match: object) -> bool:
        return match in self._where

    def __len__(self) -> int:
        return len(self._where)

    def add(self, match: K, tick_rate: int, now: float) -> None:
        """Tick ``match`` ``tick_rate`` times a second (1..60) from the next grid point
        of the least-filled phase slot after ``now``."""
        rate = check_tick_rate(tick_rate)
        if match in self._where:
            raise ValueError(f"match {match!r} is already scheduled")
        slot = min(range(self.slots), key=lambda s: self._filled(rate, s))
        bucket = self._buckets.get((rate, slot))
        if bucket is None:
            bucket = _Bucket(rate, slot, self._first_after(rate, slot, now))
            self._buckets[rate, slot] = bucket
            self._push(bucket)
        bucket.matches[match] = None
        self._where[match] = (rate, slot)
        self._skipped[match] = 0

    def remove(self, match: K) -> bool:
        """Stop ticking ``match``; False if it was not scheduled."""
        where = self._where.pop(match, None)
        if where is None:
            return False
        del self._skipped[match]
        bucket = self._buckets[where]
        del bucket.matches[match]
        if not bucket.matches:
            del self._buckets[where]  # its heap entry goes stale and is dropped
        return True

    def skipped_of(self, match: K) -> int:
        """Ticks of ``match`` skipped so far because the scheduler was late."""
        return self._skipped[match]

    def next_due(self) -> float | None:
        """When the earliest bucket is due; None when there are no matches."""
        while self._heap and not self._live(self._heap[0]):
            heapq.heappop(self._heap)
        return self._heap[0][0] if self._heap else None

    def due(self, now: float) -> list[K]:
        """The matches to tick now, bucket by bucket in due order; their buckets move
        to their first grid point after ``now`` (missed points counted as skipped)."""
        ticked: list[K] = []
        while self._heap and self._heap[0][0] <= now:
            entry = heapq.heappop(self._heap)
            if not self._live(entry):
                continue
            bucket = self._buckets[entry[1], entry[2]]
            later = max(self._first_after(bucket.rate, bucket.slot, now), bucket.index + 1)
            missed = later - bucket.index - 1
            if missed:
                self.skipped += missed * len(bucket.matches)
                for match in bucket.matches:
                    self._skipped[match] += missed
            bucket.index = later
            self._push(bucket)
            ticked += bucket.matches
        return ticked

    def _filled(self, rate: int, slot: int) -> int:
        bucket = self._buckets.get((rate, slot))
        return len(bucket.matches) if bucket else 0

    def _due_at(self, rate: int, slot: int, index: int) -> float:
        return self.origin + (index * self.slots + slot) / (rate * self.slots)

    def _first_after(self, rate: int, slot: int, now: float) -> int:
        """The first grid index of (rate, slot) due strictly after ``now``."""
        index = math.floor(((now - self.origin) * rate * self.slots - slot) / self.slots) + 1
        while self._due_at(rate, slot, index) <= now:  # float rounding at a grid point
            index += 1
        return index

    def _push(self, bucket: _Bucket[K]) -> None:
        due = self._due_at(bucket.rate, bucket.slot, bucket.index)
        heapq.heappush(self._heap, (due, bucket.rate, bucket.slot, bucket.index))

    def _live(self, entry: tuple[float, int, int, int]) -> bool:
        bucket = self._buckets.get((entry[1], entry[2]))
        return bucket is not None and bucket.index == entry[3]


async def pause(wake: asyncio.Event, seconds: float | None) -> None:
    """The real pause: until ``wake`` is set or ``seconds`` pass (a timer, no task)."""
    if wake.is_set():
        return
    timer = None if seconds is None else asyncio.get_running_loop().call_later(seconds, wake.set)
    try:
        await wake.wait()
    finally:
        if timer is not None:
            timer.cancel()


class Scheduler(Generic[K]):
    """Runs ``on_tick(match)`` for each due match, then ``flush()`` once per batch (the
    runner commits the batch's outputs there, one pipeline for all).

    ``on_tick`` must not block; one that raises is logged, counted in ``errors`` and
    its match removed (the runner is expected to have ended it already).
    """

    def __init__(
        self,
        on_tick: Callable[[K], object],
        *,
        flush: Callable[[], Awaitable[object]] | None = None,
        clock: Callable[[], float] = time.monotonic,
        pause: Pause = pause,
        slots: int = DEFAULT_SLOTS,
        on_late: Callable[[float], object] | None = None,
    ) -> None:
        self.plan: TickPlan[K] = TickPlan(clock(), slots)
        self._on_late = on_late  # told how late (s) each batch started after its due time
        self.errors = 0
        self._on_tick = on_tick
        self._flush = flush
        self._clock = clock
        self._pause = pause
        self._wake = asyncio.Event()
        self._stopped = False

    def add(self, match: K, tick_rate: int) -> None:
        self.plan.add(match, tick_rate, self._clock())
        self._wake.set()  # it may be due before the loop's current pause ends

    def remove(self, match: K) -> bool:
        return self.plan.remove(match)

    def stop(self) -> None:
        self._stopped = True
        self._wake.set()

    async def run(self) -> None:
        """Tick until ``stop()``."""
        while not self._stopped:
            due_at = self.plan.next_due()
            now = self._clock()
            batch = self.plan.due(now)
            if batch and due_at is not None and self._on_late is not None:
                self._on_late(max(0.0, now - due_at))
            for match in batch:
                if match in self.plan:  # not removed by a tick before it in this batch
                    self._tick(match)
            if batch and self._flush is not None:
                await self._flush()
            if self._stopped:
                break
            self._wake.clear()
            due = self.plan.next_due()
            wait = None if due is None else due - self._clock()
            if wait is None or wait > 0:
                await self._pause(self._wake, wait)
            else:
                await asyncio.sleep(0)  # behind: let the ticks under way run first

    def _tick(self, match: K) -> None:
        try:
            self._on_tick(match)
        except Exception:
            log.exception("tick of match %r raised; it is no longer ticked", match)
            self.errors += 1
            self.plan.remove(match)
