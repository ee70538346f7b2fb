"""The hub's catch-up of a match channel from its feed (``MatchTap``), driven directly: a
real Redis, the real pub/sub ``Subscriber`` and the real match service, whose events land
in the feed and on the channel as in production; the hub delivers to in-process listeners
(tests/hub_parts.py). Feed reads can be held mid-way, so a test decides what a fill sees
and what arrives live meanwhile; every wait is for a condition, with a deadline."""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import AsyncIterator

import pytest
import redis as redis_sync

import server.hub
from server.embedded_redis import RedisProcess
from server.storage.clients import open_mux, open_redis
from server.storage.pubsub import Subscriber
from tests.conftest import settings_for_test
from tests.helpers import services_of
from tests.hub_parts import COMMANDS, DEAF, HUB_PASSWORD, HUB_USER, WITHIN_S, Node, hub_url, until


@pytest.fixture
async def node(redis_server: RedisProcess, redis_client: redis_sync.Redis) -> AsyncIterator[Node]:
    redis_client.acl_setuser(
        HUB_USER,
        enabled=True,
        passwords=[f"+{HUB_PASSWORD}"],
        keys=["*"],
        channels=["*"],
        commands=["+@all"],
    )
    settings = settings_for_test(redis_url=redis_server.url, rate_limits="match.send=1000/1000")
    mux = open_mux(redis_server.url, timeout_s=settings.redis_timeout_s)
    blocking = open_redis(redis_server.url, pool_size=2, timeout_s=settings.redis_timeout_s)
    node = Node(services_of(settings, mux, time.time, blocking), Subscriber(hub_url(redis_server)))
    # Connected and hearing its command channel before the test starts, as a serving node:
    # the refill of that first connection is behind us.
    await node.subscriber.subscribe(COMMANDS)
    task = asyncio.create_task(node.subscriber.run(node.on_message, node.connected))
    await asyncio.wait_for(node.subscriber.until_subscribed(COMMANDS), WITHIN_S)
    yield node
    await node.hub.aclose()
    task.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await task
    await mux.aclose()
    await blocking.aclose()
    redis_client.acl_deluser(HUB_USER)


async def test_following_from_the_start_delivers_the_feed_then_live_events_each_once(
    node: Node,
) -> None:
    match_id, (a, b) = await node.start_match()
    earlier = await node.send(a, match_id, 3)
    listener = node.sockets.open(a)
    await node.hub.follow_match(listener, match_id, from_start=True)
    await until(lambda: node.caught_up(match_id) and len(listener.ids()) >= 3)
    live = await node.send(b, match_id, 2)
    await until(lambda: live[-1] in node.heard and listener.ids()[-1:] == live[-1:])
    assert listener.ids() == earlier + live


async def test_live_events_held_while_filling_come_after_the_feeds_once_each(
    node: Node,
) -> None:
    match_id, (a, b) = await node.start_match()
    earlier = await node.send(a, match_id, 2)
    before, after = node.feeds.hold("before"), node.feeds.hold("after")
    listener = node.sockets.open(a)
    await node.hub.follow_match(listener, match_id, from_start=True)
    tap = node.tap(match_id)
    assert tap is not None

    # Subscribed, the fill is about to read: an event now is on the channel and in the read.
    await asyncio.wait_for(before.reached.wait(), WITHIN_S)
    (in_both,) = await node.send(b, match_id, 1)
    await until(lambda: [h[0] for h in tap.held] == [in_both])
    before.go_on.set()
    # The read came back: an event now is on the channel only.
    await asyncio.wait_for(after.reached.wait(), WITHIN_S)
    (held_only,) = await node.send(b, match_id, 1)
    await until(lambda: [h[0] for h in tap.held] == [in_both, held_only])
    assert listener.messages == []  # nothing goes out while the tap fills
    after.go_on.set()

    await until(lambda: node.caught_up(match_id))
    assert listener.ids() == [*earlier, in_both, held_only]
    assert tap.held == []
    live = await node.send(a, match_id, 1)
    await until(lambda: live[0] in node.heard and listener.ids()[-1:] == live)
    assert listener.ids() == [*earlier, in_both, held_only, *live]


async def test_more_live_events_than_can_be_held_are_let_go_and_read_from_the_feed(
    node: Node, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(server.hub, "HELD_MAX", 3)
    match_id, (a, b) = await node.start_match()
    earlier = await node.send(a, match_id, 1)
    after = node.feeds.hold("after")
    listener = node.sockets.open(a)
    await node.hub.follow_match(listener, match_id, from_start=True)
    tap = node.tap(match_id)
    assert tap is not None

    # The first read came back with the earlier event; five arrive live before it is done.
    await asyncio.wait_for(after.reached.wait(), WITHIN_S)
    burst = await node.send(b, match_id, 5)
    await until(lambda: burst[-1] in node.heard)
    # The fourth found the held list full: it was let go, the fill must read again.
    assert [h[0] for h in tap.held] == burst[3:]
    assert tap.again
    after.go_on.set()

    await until(lambda: node.caught_up(match_id))
    assert node.feeds.reads == 2
    assert listener.ids() == earlier + burst
    live = await node.send(a, match_id, 1)
    await until(lambda: listener.ids()[-1:] == live)
    assert listener.ids() == earlier + burst + live


async def test_refill_reads_what_a_deaf_node_missed_from_the_feed(node: Node) -> None:
    match_id, (a, b) = await node.start_match()
    listener = node.sockets.open(a)
    await node.hub.follow_match(listener, match_id, from_start=True)
    await until(lambda: node.caught_up(match_id))
    heard = await node.send(a, match_id, 2)
    await until(lambda: listener.ids() == heard)

    node.deaf = True  # the connection lost what was published meanwhile
    missed = await node.send(b, match_id, 3)
    await until(lambda: missed[-1] in node.heard)
    node.deaf = False
    assert listener.ids() == heard

    node.hub.refill()  # what the node does once its pub/sub is back
    await until(lambda: node.caught_up(match_id) and len(listener.ids()) == 5)
    live = await node.send(a, match_id, 1)
    await until(lambda: live[0] in node.heard and listener.ids()[-1:] == live)
    assert listener.ids() == heard + missed + live


async def test_refill_during_a_fill_has_it_read_the_feed_again(node: Node) -> None:
    """The connection dropped after the fill read the feed: what was lost in between is
    in no read yet, so the fill reads once more before it lets the held events go."""
    match_id, (a, b) = await node.start_match()
    earlier = await node.send(a, match_id, 1)
    after = node.feeds.hold("after")
    listener = node.sockets.open(a)
    await node.hub.follow_match(listener, match_id, from_start=True)
    await asyncio.wait_for(after.reached.wait(), WITHIN_S)

    node.deaf = True
    missed = await node.send(b, match_id, 2)
    await until(lambda: missed[-1] in node.heard)
    node.deaf = False
    node.hub.refill()
    after.go_on.set()

    await until(lambda: node.caught_up(match_id))
    assert node.feeds.reads == 2
    assert listener.ids() == earlier + missed


async def test_a_killed_pubsub_connection_catches_up_from_the_feed_once_back(
    node: Node, redis_client: redis_sync.Redis
) -> None:
    """The real outage: Redis drops the node's pub/sub connection and refuses it channels
    for a while (so events published meanwhile cannot reach it); once it resubscribes, the
    node's reconnection refills the tap."""
    match_id, (a, b) = await node.start_match()
    listener = node.sockets.open(a)
    await node.hub.follow_match(listener, match_id, from_start=True)
    await until(lambda: node.caught_up(match_id))
    heard = await node.send(a, match_id, 1)
    await until(lambda: listener.ids() == heard)

    connections = node.connections
    redis_client.acl_setuser(HUB_USER, enabled=True, commands=[DEAF])
    assert redis_client.client_kill_filter(_type="pubsub", user=HUB_USER) == 1
    await until(lambda: node.connections > connections)  # back, but refused its channels
    missed = await node.send(b, match_id, 3)
    redis_client.acl_setuser(HUB_USER, enabled=True, commands=["+ssubscribe"])
    assert not any(m in node.heard for m in missed)

    await until(lambda: node.caught_up(match_id) and len(listener.ids()) == 4)
    live = await node.send(a, match_id, 1)
    await until(lambda: live[0] in node.heard and listener.ids()[-1:] == live)
    assert listener.ids() == heard + missed + live


async def test_an_event_at_or_below_the_last_delivered_is_dropped(node: Node) -> None:
    match_id, (a, _) = await node.start_match()
    listener = node.sockets.open(a)
    await node.hub.follow_match(listener, match_id, from_start=True)
    await until(lambda: node.caught_up(match_id))
    first = await node.send(a, match_id, 2)
    await until(lambda: listener.ids() == first)

    # The channel brings again what was delivered (the feed and the channel overlap).
    channel = node.services.matches.channel(match_id)
    for event_id in reversed(first):
        node.hub.on_message(channel, node.heard[event_id])
    live = await node.send(a, match_id, 1)
    await until(lambda: live[0] in node.heard)
    assert listener.ids() == first + live


async def test_match_ended_drops_the_tap_and_its_listeners(node: Node) -> None:
    match_id, (a, b) = await node.start_match()
    channel = node.services.matches.channel(match_id)
    listeners = [node.sockets.open(a), node.sockets.open(b)]
    for listener in listeners:
        await node.hub.follow_match(listener, match_id, from_start=True)
    await until(lambda: node.caught_up(match_id))
    sent = await node.send(a, match_id, 1)
    await until(lambda: all(listener.ids() == sent for listener in listeners))

    await node.services.matches.end_by_operator(match_id)
    await until(lambda: node.hub.listening(channel) == 0)
    assert node.tap(match_id) is None
    assert channel not in node.subscriber.channels
    for listener in listeners:
        assert [m["ev"] for m in listener.messages] == ["match.event", "match.ended"]
    # A late copy of an event reaches nobody.
    node.hub.on_message(channel, node.heard[sent[0]])
    assert all(len(listener.messages) == 2 for listener in listeners)


async def test_a_socket_closing_while_its_follow_reads_the_tail_does_not_listen(
    node: Node,
) -> None:
    match_id, (a, _) = await node.start_match()
    channel = node.services.matches.channel(match_id)
    tail = node.feeds.hold("tail")
    listener = node.sockets.open(a)
    following = asyncio.create_task(node.hub.follow_match(listener, match_id, from_start=False))
    await asyncio.wait_for(tail.reached.wait(), WITHIN_S)
    node.sockets.close(listener)  # the socket closed meanwhile
    await node.hub.forget(listener)
    tail.go_on.set()
    await asyncio.wait_for(following, WITHIN_S)
    assert node.hub.listening(channel) == 0
    assert node.tap(match_id) is None
    assert node.hub.following(listener) == set()
