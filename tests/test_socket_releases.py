"""The batching of closed sockets' releases (server/socket_releases.py), on a real event
loop with a recording release; the release itself runs against Redis in the socket and
match-life tests."""

from __future__ import annotations

import asyncio

import pytest

from server.errors import Unavailable
from server.socket_releases import SocketReleases


async def test_sockets_closed_in_one_turn_are_released_in_batches() -> None:
    calls: list[list[tuple[str, str]]] = []

    async def release(closed: list[tuple[str, str]]) -> None:
        await asyncio.sleep(0)
        calls.append(closed)

    releases = SocketReleases(release, batch=1000)
    await asyncio.gather(*(releases.release(f"p{i}", f"c{i}") for i in range(2500)))
    assert [len(c) for c in calls] == [1000, 1000, 500]
    assert [pair for c in calls for pair in c] == [(f"p{i}", f"c{i}") for i in range(2500)]
    # A later turn's close is a batch of its own.
    await releases.release("late", "c")
    assert calls[-1] == [("late", "c")]


async def test_a_failed_release_is_raised_to_each_of_its_sockets_only() -> None:
    async def release(closed: list[tuple[str, str]]) -> None:
        if ("bad", "c") in closed:
            raise Unavailable("Redis is away")

    releases = SocketReleases(release, batch=2)
    outcomes = await asyncio.gather(
        releases.release("a", "c"),
        releases.release("bad", "c"),  # the same batch as "a"
        releases.release("b", "c"),
        return_exceptions=True,
    )
    assert [type(o) for o in outcomes] == [Unavailable, Unavailable, type(None)]


async def test_a_cancelled_waiter_does_not_stop_the_others_release() -> None:
    released: list[tuple[str, str]] = []
    gate = asyncio.Event()

    async def release(closed: list[tuple[str, str]]) -> None:
        await gate.wait()
        released.extend(closed)

    releases = SocketReleases(release)
    first = asyncio.create_task(releases.release("a", "c"))
    second = asyncio.create_task(releases.release("b", "c"))
    await asyncio.sleep(0)
    await asyncio.sleep(0)
    first.cancel()
    gate.set()
    await second
    with pytest.raises(asyncio.CancelledError):
        await first
    assert released == [("a", "c"), ("b", "c")]


async def test_settled_waits_for_a_release_whose_waiter_was_cancelled() -> None:
    gate = asyncio.Event()
    released: list[tuple[str, str]] = []

    async def release(closed: list[tuple[str, str]]) -> None:
        await gate.wait()
        released.extend(closed)

    releases = SocketReleases(release)
    waiter = asyncio.create_task(releases.release("a", "c"))
    await asyncio.sleep(0)
    await asyncio.sleep(0)
    waiter.cancel()  # the socket's handler, cancelled at shutdown
    settled = asyncio.create_task(releases.settled())
    await asyncio.sleep(0)
    assert not settled.done()
    gate.set()
    await settled
    assert released == [("a", "c")]
