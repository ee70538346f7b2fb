"""The node's pub/sub connection on its own: confirmations, passwords, a flapping peer."""

from __future__ import annotations

import asyncio
from pathlib import Path

import redis as redis_sync

from server.embedded_redis import RedisProcess, free_port
from server.storage.pubsub import Subscriber


async def test_messages_arrive_once_the_subscription_is_confirmed_even_with_a_password(
    tmp_path: Path,
) -> None:
    with RedisProcess(tmp_path, appendonly=False, extra_args=["--requirepass", "s3cret"]) as redis:
        got: asyncio.Queue[tuple[str, bytes]] = asyncio.Queue()
        subscriber = Subscriber(f"redis://:s3cret@127.0.0.1:{redis.port}/3")
        await subscriber.subscribe("arena:test:a")
        task = asyncio.create_task(subscriber.run(lambda c, p: got.put_nowait((c, p))))
        try:
            await asyncio.wait_for(subscriber.until_subscribed("arena:test:a"), 5)
            publisher = redis_sync.Redis(port=redis.port, password="s3cret", db=0)
            assert publisher.spublish("arena:test:a", b"one") == 1  # any db: channels are global
            await subscriber.subscribe("arena:test:b")
            await asyncio.wait_for(subscriber.until_subscribed("arena:test:b"), 5)
            publisher.spublish("arena:test:b", b"two")
            assert await asyncio.wait_for(got.get(), 5) == ("arena:test:a", b"one")
            assert await asyncio.wait_for(got.get(), 5) == ("arena:test:b", b"two")
            publisher.close()
        finally:
            subscriber.stopping.set()
            task.cancel()


async def test_a_peer_that_hangs_up_at_once_is_retried_with_backoff() -> None:
    accepted = 0

    async def hang_up(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        nonlocal accepted
        accepted += 1
        writer.close()

    port = free_port()
    server = await asyncio.start_server(hang_up, "127.0.0.1", port)
    subscriber = Subscriber(f"redis://127.0.0.1:{port}/0")
    await subscriber.subscribe("arena:test:a")
    task = asyncio.create_task(subscriber.run(lambda c, p: None))
    try:
        # Watching what a second of failures costs: the backoff's pacing in real time is
        # what is tested (the subscriber sleeps on the loop's clock; no clock to inject).
        await asyncio.sleep(1.0)
        # Backoff doubles from 50 ms up to 1 s: a handful of attempts, not thousands.
        assert 2 <= accepted <= 8
    finally:
        subscriber.stopping.set()
        task.cancel()
        server.close()
        await server.wait_closed()


class _CountedWrites:
    """The subscriber's transport, counting its writes (each one a system call)."""

    def __init__(self, transport: asyncio.Transport) -> None:
        self._transport = transport
        self.writes = 0

    def write(self, data: bytes) -> None:
        self.writes += 1
        self._transport.write(data)

    def __getattr__(self, name: str) -> object:
        return getattr(self._transport, name)


async def test_the_subscriptions_changed_in_one_turn_leave_in_one_write(tmp_path: Path) -> None:
    """A crowd dropping at once unsubscribes thousands of channels: one write per loop
    turn, not one per channel; Redis still gets each (un)subscribe, in order."""
    with RedisProcess(tmp_path, appendonly=False) as redis:
        subscriber = Subscriber(f"redis://127.0.0.1:{redis.port}/0")
        old = [f"arena:test:old{i}" for i in range(30)]
        for channel in old:
            await subscriber.subscribe(channel)
        task = asyncio.create_task(subscriber.run(lambda c, p: None))
        publisher = redis_sync.Redis(port=redis.port)
        try:
            for channel in old:
                await asyncio.wait_for(subscriber.until_subscribed(channel), 5)
            counted = _CountedWrites(subscriber._transport)  # type: ignore[arg-type]
            subscriber._transport = counted  # type: ignore[assignment]
            new = [f"arena:test:new{i}" for i in range(5)]
            for channel in old:
                await subscriber.unsubscribe(channel)
            for channel in new:
                await subscriber.subscribe(channel)
            await subscriber.subscribe(old[0])  # dropped and taken again in the same turn
            for channel in [*new, old[0]]:
                await asyncio.wait_for(subscriber.until_subscribed(channel), 5)
            assert counted.writes == 1
            assert publisher.spublish(old[1], b"x") == 0  # gone from Redis
            assert publisher.spublish(old[0], b"x") == 1  # the later subscribe won
            assert publisher.spublish(new[0], b"x") == 1
        finally:
            publisher.close()
            subscriber.stopping.set()
            task.cancel()
