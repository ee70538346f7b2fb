"""The reference client against a real server: which closes are final, a bounded push
queue, and catch-up over more than one feed page."""

from __future__ import annotations

import asyncio
import re
import signal
from pathlib import Path

import pytest

from client_sim.client import ArenaClient, Backoff, ConnectionClosed
from server.protocol import FEED_PAGE_MAX, FINAL_CLOSE_CODES, CloseCode
from server.services.matches import FEED_LIMIT_MAX
from tests.conftest import SpawnNode, StartArena
from tests.helpers import eventually, http_json, login, start_match

ADMIN_KEY = "admin-key-" + "k" * 32


async def test_a_kicked_client_stays_closed_and_says_why(start_arena: StartArena) -> None:
    arena = await start_arena(admin_key=ADMIN_KEY)
    player = await login(arena, "alice")
    client = await ArenaClient.connect(arena, player.token, reconnect=Backoff(first_s=0.01))
    try:
        await client.request("ping")
        status, _ = await http_json(
            "POST", f"{arena}/v1/admin/players/{player.player_id}/kick", token=ADMIN_KEY
        )
        assert status == 200
        assert (await client.next_push("session.kicked"))["ev"] == "session.kicked"
        # Closed for good: a reconnecting client would never get here (its socket would
        # come back, a kick not being a ban).
        assert await client.wait_closed(timeout=5) == CloseCode.KICKED
        assert client.reconnects == 0
        with pytest.raises(ConnectionClosed) as closed:
            await client.request("ping")
        assert closed.value.final
        assert "4004 KICKED, final" in str(closed.value)
    finally:
        await client.close()


def test_final_close_codes_are_the_ones_the_protocol_says_not_to_reconnect_after() -> None:
    """docs/protocol.md's close code table and FINAL_CLOSE_CODES say the same."""
    doc = (Path(__file__).parent.parent / "docs" / "protocol.md").read_text()
    rows = re.findall(r"^\| `(\d{4})` \|[^|]*\| (\*\*no\*\*|yes) \|", doc, re.MULTILINE)
    documented = {int(code): answer for code, answer in rows}
    assert set(documented) == {int(code) for code in CloseCode}
    assert {code for code, answer in documented.items() if answer == "**no**"} == set(
        FINAL_CLOSE_CODES
    )
    assert CloseCode.KICKED in FINAL_CLOSE_CODES
    assert CloseCode.SLOW_CONSUMER not in FINAL_CLOSE_CODES


def test_the_pages_stop_after_the_protocols_final_close_codes() -> None:
    """The pages' socket is the JavaScript client's (clients/js, served at /client/): its
    FINAL_CLOSE_CODES table is the protocol's set, with words for a kick and a ban
    (tests/test_js_client.py checks the module's exported value too), and no page
    compares close codes by range."""
    root = Path(__file__).parent.parent
    link_js = (root / "clients" / "js" / "link.js").read_text()
    table = re.search(r"FINAL_CLOSE_CODES = Object\.freeze\(\{(.*?)\}\)", link_js, re.S)
    assert table is not None
    codes = {int(code) for code in re.findall(r"^\s*(\d{4}):", table.group(1), re.M)}
    assert codes == set(FINAL_CLOSE_CODES)
    assert '4004: "kicked by an operator"' in table.group(1)
    assert '4005: "banned by an operator"' in table.group(1)
    for page in sorted((root / "server" / "static").glob("*.js")):
        assert not re.search(r"\.code\s*[<>]=?\s*\d", page.read_text()), page.name


async def test_a_client_using_callbacks_only_keeps_a_bounded_queue(
    start_arena: StartArena,
) -> None:
    arena = await start_arena(rate_limits="chat.send=100/100")
    alice_login, bob_login = await login(arena, "alice"), await login(arena, "bob")
    alice = await ArenaClient.connect(arena, alice_login.token, push_queue_max=10)
    bob = await ArenaClient.connect(arena, bob_login.token)
    heard: list[str] = []
    alice.on("chat.message", lambda push: heard.append(push["text"]))
    async with alice, bob:
        await alice.request("chat.join", room="general")
        texts = [f"message {i}" for i in range(40)]
        for text in texts:
            await bob.request("chat.send", room="general", text=text)

        async def all_heard() -> bool:
            return len(heard) == len(texts)

        await eventually(all_heard, within_s=10)
        assert heard == texts  # callbacks get every push
        assert alice.pushes.qsize() == 10  # the queue only the latest
        assert alice.pushes_dropped == len(texts) - 10
        kept = [alice.pushes.get_nowait() for _ in range(10)]
        assert [push["text"] for push in kept] == texts[-10:]


def test_one_feed_page_size_for_server_and_clients() -> None:
    assert FEED_LIMIT_MAX == FEED_PAGE_MAX
    feed_js = (Path(__file__).parent.parent / "clients" / "js" / "feed.js").read_text()
    found = re.search(r"export const FEED_PAGE_MAX = (\d+);", feed_js)
    assert found is not None
    assert int(found.group(1)) == FEED_PAGE_MAX  # the JavaScript client cannot import Python


async def test_a_client_catches_up_more_than_a_feed_page_it_missed(
    spawn_node: SpawnNode,
) -> None:
    missed = 2 * FEED_PAGE_MAX + 100  # three pages
    env = {
        "ARENA_RATE_LIMITS": f"match.send={missed}/{missed}",
        "ARENA_MSG_RATE_BURST": str(2 * missed),
        "ARENA_MATCH_FEED_MAX": str(2 * missed),
    }
    a, b = spawn_node(**env), spawn_node(**env)
    match_id, clients, _ = await start_match([a.url, b.url], 2, reconnect=True)
    follower, sender = clients  # the follower's socket is on node a
    got: list[int] = []
    follower.on("match.event", lambda push: got.append(push["data"]))
    try:
        a.signal(signal.SIGTERM)  # node a stops; the follower cannot come back until it is up
        await follower.next_push("server.shutdown")
        await asyncio.to_thread(a.wait, 10)
        for seq in range(missed):
            await sender.send("match.send", match_id=match_id, type="move", data=seq)
        await sender.request("ping")  # every send read by the server
        await asyncio.to_thread(a.start)

        async def caught_up() -> bool:
            return len(got) >= missed

        await eventually(caught_up, within_s=20)
        assert got == list(range(missed))
        assert follower.reconnects == 1
    finally:
        for client in clients:
            await client.close()
