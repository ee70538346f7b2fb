"""One scheduler ticks every hosted match, in virtual time: the clock and the pause are
injected, so seconds of ticking run in no time and every count is exact."""

from __future__ import annotations

import asyncio
import collections
from collections.abc import Callable

import pytest

from server.games.scheduler import Scheduler, TickPlan, pause

END = 10.0004  # just past 10 s: past the slot-0 grid points at 10.0, before any slot 1


class VirtualTime:
    """A clock that moves only when the scheduler pauses (or a tick says it took long)."""

    def __init__(self, end: float) -> None:
        self.now = 0.0
        self.end = end
        self.stop: Callable[[], None] = lambda: None

    def clock(self) -> float:
        return self.now

    async def pause(self, wake: asyncio.Event, seconds: float | None) -> None:
        if wake.is_set():
            return
        if seconds is None or self.now + seconds > self.end:
            self.stop()
            return
        self.now += seconds


def scheduler(
    time: VirtualTime, on_tick: Callable[[str], object] | None = None
) -> tuple[Scheduler[str], collections.Counter[str]]:
    ticks: collections.Counter[str] = collections.Counter()

    def tick(match: str) -> None:
        ticks[match] += 1
        if on_tick is not None:
            on_tick(match)

    driver = Scheduler(tick, clock=time.clock, pause=time.pause)
    time.stop = driver.stop
    return driver, ticks


async def test_matches_at_different_rates_tick_at_their_rates() -> None:
    time = VirtualTime(END)
    driver, ticks = scheduler(time)
    for match, rate in (("slow", 1), ("mid", 20), ("fast", 60)):
        driver.add(match, rate)
    await driver.run()
    assert ticks == {"slow": 10, "mid": 200, "fast": 600}
    assert driver.plan.skipped == 0


async def test_an_overrun_tick_skips_the_ticks_it_missed_and_counts_them() -> None:
    time = VirtualTime(2.0004)

    def slow_once(match: str) -> None:
        if match == "a" and ticks["a"] == 5:  # the tick due at 0.5 s takes 0.35 s
            time.now += 0.35

    driver, ticks = scheduler(time, slow_once)
    driver.add("a", 10)
    driver.add("b", 10)  # same rate, another phase slot: late behind a's slow tick too
    await driver.run()
    # a: due 0.6, 0.7, 0.8 passed by 0.85: one tick at 0.85, two skipped, then 0.9 on
    assert driver.plan.skipped_of("a") == 2
    assert ticks["a"] == 20 - 2
    # b (due 0.005 after a) missed 0.505 .. 0.805 behind it: one tick, three skipped
    assert driver.plan.skipped_of("b") == 3
    assert ticks["b"] == 20 - 3
    assert driver.plan.skipped == 5


async def test_a_removed_match_ticks_no_more() -> None:
    time = VirtualTime(END)

    def leave_at_one_second(match: str) -> None:
        if match == "gone" and time.now >= 1.0:
            driver.remove("gone")

    driver, ticks = scheduler(time, leave_at_one_second)
    driver.add("gone", 20)
    driver.add("stays", 20)
    await driver.run()
    assert ticks["gone"] == 20
    assert ticks["stays"] == 200
    assert "gone" not in driver.plan


async def test_a_tick_that_raises_drops_that_match_only() -> None:
    time = VirtualTime(END)

    def broken(match: str) -> None:
        if match == "bad":
            raise RuntimeError("boom")

    driver, ticks = scheduler(time, broken)
    driver.add("bad", 5)
    driver.add("good", 5)
    await driver.run()
    assert ticks == {"bad": 1, "good": 50}
    assert driver.errors == 1


def test_matches_of_one_rate_spread_over_the_phase_slots() -> None:
    plan: TickPlan[int] = TickPlan(origin=0.0, slots=4)
    for match in range(5):
        plan.add(match, 10, now=0.0)
    # slot s of a 10 Hz period is due at s * 0.025 (+ 0.1 k); the fifth shares slot 0
    assert plan.due(0.0) == []
    assert plan.due(0.025) == [1]
    assert plan.due(0.075) == [2, 3]
    assert plan.due(0.1) == [0, 4]
    assert plan.next_due() == pytest.approx(0.125)
    assert plan.skipped == 0


def test_a_plan_refuses_a_rate_outside_1_to_60_and_a_match_twice() -> None:
    plan: TickPlan[str] = TickPlan()
    with pytest.raises(ValueError, match="tick rate"):
        plan.add("m", 61, now=0.0)
    plan.add("m", 60, now=0.0)
    with pytest.raises(ValueError, match="already"):
        plan.add("m", 30, now=0.0)
    assert plan.remove("m")
    assert not plan.remove("m")
    assert plan.next_due() is None


async def test_the_real_pause_returns_when_woken_and_the_loop_stops_when_told() -> None:
    wake = asyncio.Event()
    wake.set()
    await pause(wake, 3600.0)  # returns at once: already woken
    driver: Scheduler[str] = Scheduler(lambda _: None)
    running = asyncio.create_task(driver.run())  # no matches: waits to be woken
    await asyncio.sleep(0)
    driver.stop()
    await asyncio.wait_for(running, timeout=5)
