"""A socket that starts following a match this node's hub already taps gets what the tap
delivered before it came, every page of it, once, and only what is for its player; and
when the tap's last other listener leaves meanwhile, the socket still gets a tap (its
filtering of private events, its order): found by the issue-15 review."""

from __future__ import annotations

import asyncio

import msgpack

from tests.hub_parts import WITHIN_S, Node, until
from tests.test_hub_taps import node  # noqa: F401  (the fixture)


async def test_a_tap_lost_during_the_read_back_is_made_again(node: Node) -> None:  # noqa: F811
    match_id, (a, b) = await node.start_match()
    channel = node.services.matches.channel(match_id)
    await node.send(a, match_id, 2)
    first = node.sockets.open(a)
    await node.hub.follow_match(first, match_id, from_start=True)
    await until(lambda: node.caught_up(match_id) and len(first.ids()) >= 2)
    gate = node.feeds.hold("before")
    second = node.sockets.open(b)
    following = asyncio.create_task(node.hub.follow_match(second, match_id, from_start=True))
    await asyncio.wait_for(gate.reached.wait(), WITHIN_S)
    node.sockets.close(first)  # a's socket goes while b's read-back is in flight
    await node.hub.forget(first)
    gate.go_on.set()
    await asyncio.wait_for(following, WITHIN_S)
    assert node.tap(match_id) is not None
    secret: dict[str, object] = {"ev": "match.event", "match_id": match_id, "from": "server"}
    secret |= {"type": "hand", "data": [1, 2], "to": [a], "tick": 5, "ts": 1}
    secret["id"] = "9999999999999-0"
    node.hub.on_message(channel, msgpack.packb(secret))
    assert not [m for m in second.messages if m.get("type") == "hand"]
    assert second.ids()[:2] == first.ids()[:2]  # the past, read back, in order


async def test_the_read_back_covers_every_page_and_nothing_twice(node: Node) -> None:  # noqa: F811
    match_id, (a, b) = await node.start_match()
    first = node.sockets.open(a)
    await node.hub.follow_match(first, match_id, from_start=True)
    sent = await node.send(a, match_id, 700)  # more than one page (500)
    await until(lambda: node.caught_up(match_id) and len(first.ids()) >= 700, within_s=20)
    second = node.sockets.open(b)
    await node.hub.follow_match(second, match_id, from_start=True)
    await node.hub.follow_match(second, match_id, from_start=True)  # again: no copies
    live = await node.send(a, match_id, 1)
    await until(lambda: second.ids()[-1:] == live)
    assert second.ids() == sent + live
