"""The browser game at /play, as two people in Debian's chromium live it.

They log in as guests, quick-join one lobby, press Ready, and race their dots to the
numbered ring. The server runs the race (server/games/dots.py): the pages only say where
they steer and draw the synced state the server pushes (match.state, folded by
sync-replica.js). One reloads mid-match and carries on where the match stands; the
first to 10 wins, both see the result the server decided, and the winner sees their
rank. Any error the page logs fails the test. No skipping: a missing chromium fails
(``make test`` installs it). tests/test_sync_replica_js.py checks the page's decoder.
"""

from __future__ import annotations

import asyncio
import json

from playwright.async_api import Browser, Route

from tests.browser import browser as browser  # a fixture: imported so the tests ask for it
from tests.conftest import StartArena
from tests.helpers import http_json
from tests.play_page import WAIT_MS, Player

WIN = 10
STEER_EVERY_MS = 50  # play-match.js: at most 20 steers a second
# Dots as the default mode defines it, but four times as fast: a race to 10 in seconds.
FAST_DOTS = json.dumps(
    {"dots": {"game": "server.games.dots:Dots", "tick_rate": 20, "params": {"speed": 960}}}
)


async def into_one_match(first: Player, second: Player) -> str:
    """Both quick-join and press Ready; returns the match both landed in."""
    lobbies = []
    for player in (first, second):
        await player.page.click("#quickjoin")
        await player.until("p.phase === 'lobby'")
        lobbies.append(await player.read("lobby.lobby_id"))
        await player.page.click("#ready")
    assert lobbies[0] == lobbies[1]
    for player in (first, second):
        # The server runs it, and has said where the dots and the first ring are.
        await player.until("p.phase === 'playing' && !p.catching_up && p.target !== null")
        assert await player.read("authoritative") is True
    match_id = await first.read("match_id")
    assert await second.read("match_id") == match_id
    return str(match_id)


async def bottom_band(player: Player, x: int) -> tuple[int, int]:
    """A field point in the strip where rings never appear: standing there scores nothing."""
    return x, (await player.read("field"))["h"] - 10


async def sees_at(viewer: Player, mover: Player, at: dict[str, int]) -> None:
    """The viewer's page draws the mover's dot at ``at``."""
    await viewer.until(
        "p.players[arg.id] && p.players[arg.id].x === arg.x && p.players[arg.id].y === arg.y",
        {"id": mover.player_id, **at},
    )


async def assert_no_errors(*players: Player) -> None:
    """Nothing in the console, and no error shown on the page."""
    for player in players:
        assert player.errors == [], player.errors
        assert await player.read("error") is None


async def test_two_players_race_to_ten_and_a_reload_catches_up(
    start_arena: StartArena, browser: Browser
) -> None:
    # The results worker: ranks after the match.
    base_url = await start_arena(workers=1, modes=FAST_DOTS)
    alice = await Player.log_in(browser, base_url, "alice")
    bob = await Player.log_in(browser, base_url, "bob")
    await into_one_match(alice, bob)

    # Each sees the other's dot where the server ran it.
    await sees_at(bob, alice, await alice.move_to(*await bottom_band(alice, 100)))
    await sees_at(alice, bob, await bob.move_to(*await bottom_band(bob, 500)))

    for _ in range(3):
        await alice.score()
    await bob.until("p.scores[arg] === 3", alice.player_id)

    # Bob reloads mid-match: same tab, same token, the match picked up from its feed.
    await bob.page.reload()
    await bob.until("p.phase === 'playing' && !p.catching_up && p.target !== null")
    assert await bob.read("player_id") == bob.player_id
    scores = {alice.player_id: 3, bob.player_id: 0}
    assert await bob.read("scores") == await alice.read("scores") == scores
    catchup = await bob.read("catchup")
    assert catchup["trimmed"] is False
    # Read from the last keyframe the feed holds for bob (match.feed keyframe: true): at
    # least that keyframe; then every patch since, so no keyframe to ask for.
    assert catchup["events"] >= 1
    assert (await bob.read("synced"))["need_keyframe"] is False
    assert await bob.inputs_sent("match.sync") == []
    await sees_at(bob, alice, await alice.read("me"))
    assert await bob.read("target") == await alice.read("target")

    for _ in range(WIN - 3):
        await alice.score()
    final = {alice.player_id: WIN, bob.player_id: 0}
    for player in (alice, bob):
        await player.until("p.phase === 'ended'")
        assert await player.read("winner") == alice.player_id
        result = await player.read("result")
        assert (result["scores"], result["by"]) == (final, "server")
        assert await player.read("target") is None
    assert await alice.page.locator("#result-title").inner_text() == "You win!"
    assert await bob.page.locator("#result-title").inner_text() == "alice wins."

    # The rank follows once the results worker applied the result.
    await alice.until("p.rank && p.rank.rank !== null")
    assert await alice.read("rank") == {"board": "global", "rank": 1, "score": WIN}
    assert "#1" in await alice.page.locator("#result-rank").inner_text()
    # The pages only steered: no result reports, no claims, nothing but inputs.
    for player in (alice, bob):
        ops = {json.loads(text)["op"] for _, text in await player.page.evaluate("window.__sent")}
        assert "match.result" not in ops
        assert "match.send" not in ops
    await assert_no_errors(alice, bob)


async def test_a_dropped_socket_comes_back_and_the_client_catches_the_match_up(
    start_arena: StartArena, browser: Browser
) -> None:
    """Bob's socket drops mid-match (closed under the page with 4000: not final), and his
    client gets no socket ticket until the test lets it, while alice scores twice. The
    client reconnects on the same session by itself and reads what it missed from the
    match's feed: bob's page shows what alice's does."""
    base_url = await start_arena(modes=FAST_DOTS)
    alice = await Player.log_in(browser, base_url, "alice")
    bob = await Player.log_in(browser, base_url, "bob")
    sockets: list[str] = []
    bob.page.on("websocket", lambda ws: sockets.append(ws.url))
    await into_one_match(alice, bob)
    await alice.score()
    await bob.until("p.scores[arg] === 1", alice.player_id)
    refused = asyncio.Event()
    refusals = 0

    async def refuse(route: Route) -> None:
        nonlocal refusals
        refusals += 1
        refused.set()
        await route.abort()

    await bob.page.route("**/v1/ws/ticket", refuse)
    await bob.page.evaluate("() => window.__socket.close(4000)")
    await asyncio.wait_for(refused.wait(), WAIT_MS / 1000)  # it tried to come back
    assert "reconnecting" in await bob.page.inner_text("#status")
    for _ in range(2):
        await alice.score()
    assert (await bob.read("scores"))[alice.player_id] == 1  # missed live
    bob.received.clear()
    await bob.page.unroute("**/v1/ws/ticket")
    # The client's backoff tops out at 5 s: its next try comes within that.
    await bob.until("p.scores[arg] === 3 && !p.catching_up", alice.player_id, within_ms=10_000)
    assert len(sockets) == 1  # one new socket, on the same session
    assert await bob.read("player_id") == bob.player_id
    read = [frame for frame in bob.received if frame.get("events")]
    assert read, "the missed points came from the feed"
    assert await bob.read("scores") == await alice.read("scores")
    # Whole from the feed and the held live states, in order: no keyframe asked for.
    assert (await bob.read("synced"))["need_keyframe"] is False
    assert await bob.inputs_sent("match.sync") == []
    await alice.score()
    await bob.until("p.scores[arg] === 4", alice.player_id)
    # The browser logs each refused ticket request; nothing else.
    failed = "console: Failed to load resource: net::ERR_FAILED"
    assert bob.errors == [failed] * refusals
    bob.errors.clear()
    await assert_no_errors(alice, bob)


async def test_a_page_steers_at_most_twenty_times_a_second_and_the_dot_follows(
    start_arena: StartArena, browser: Browser
) -> None:
    """The default dots mode (what ``make run`` serves): 240 px/s at 20 ticks a second.
    The pointer sweeps the field far faster than that; the page sends only the latest
    steer, at most one each 50 ms, and the server's dot ends where the pointer did."""
    base_url = await start_arena()
    alice = await Player.log_in(browser, base_url, "alice")
    bob = await Player.log_in(browser, base_url, "bob")
    await into_one_match(alice, bob)
    # Chromium hands a page at most one pointer move a frame (60 a second): about 2.5 s.
    corners = [(20, 20), (620, 20), (20, 300), (620, 300), (320, 200)]
    await alice.sweep(corners, steps=30)
    await alice.until("p.me && p.me.x === 320 && p.me.y === 200")
    sent = await alice.inputs_sent()
    assert all(frame["type"] == "steer" and set(frame["data"]) == {"x", "y"} for _, frame in sent)
    assert sent[-1][1]["data"] == {"x": 320, "y": 200}
    moves = await alice.page.evaluate("window.__moves")
    assert moves >= 30 * len(corners)
    assert len(sent) < moves / 2  # the latest steer, not every move
    # In any second, at most 20 steers and the one that opened it: under the 30/s limit.
    times = [at for at, _ in sent]
    busiest = max(sum(1 for t in times if start <= t < start + 1000) for start in times)
    assert busiest <= 1000 // STEER_EVERY_MS + 1
    await assert_no_errors(alice, bob)


async def test_a_reload_after_the_feed_trimmed_its_start_still_agrees(
    start_arena: StartArena, browser: Browser
) -> None:
    # A feed of 6: the server's states push the first ones out within a second.
    base_url = await start_arena(match_feed_max=6, modes=FAST_DOTS)
    alice = await Player.log_in(browser, base_url, "alice")
    bob = await Player.log_in(browser, base_url, "bob")
    await into_one_match(alice, bob)
    for _ in range(4):
        await alice.score()
    await bob.until("p.scores[arg] === 4", alice.player_id)

    bob.received.clear()
    await bob.page.reload()
    await bob.until("p.phase === 'playing' && !p.catching_up && p.target !== null")
    # A reloaded page reads from the last keyframe the feed kept for it (match.feed
    # keyframe: true), or, when the feed kept only patches on top of frames it dropped,
    # asks for one (match.sync); or the keyframe of bob's return came live first. Either
    # way it is whole, never patched on nothing.
    first = bob.first_state()
    assert first in ("live keyframe", "feed keyframe", "feed patch"), first
    if first == "feed patch":
        assert len(await bob.inputs_sent("match.sync")) >= 1
    assert (await bob.read("synced"))["need_keyframe"] is False
    assert await bob.read("scores") == await alice.read("scores")

    # And the next point is the same point for both.
    await alice.score()
    await bob.until("p.scores[arg] === 5", alice.player_id)
    assert await bob.read("target") == await alice.read("target")
    await assert_no_errors(alice, bob)


async def test_the_same_name_in_the_same_browser_is_the_same_player_again(
    start_arena: StartArena, browser: Browser
) -> None:
    base_url = await start_arena()
    context = await browser.new_context()
    page = await context.new_page()
    sockets: list[str] = []
    page.on("websocket", lambda ws: sockets.append(ws.url))
    alice = Player(page)
    await page.goto(f"{base_url}/play")
    await page.fill("#name", "alice")
    await page.click("#login")
    await alice.until("p.phase === 'home'")
    first_id = await alice.read("player_id")
    # The page kept the device's secret, and sends it when the device logs in again.
    await page.click("#logout")
    await alice.until("p.phase === 'login'")
    await page.fill("#name", "alice")
    await page.click("#login")
    await alice.until("p.phase === 'home'")
    assert await alice.read("player_id") == first_id
    # Each socket opened with a single-use ticket; the token never went into a URL.
    assert len(sockets) == 2
    assert all("ticket=" in url and "token=" not in url for url in sockets)
    await assert_no_errors(alice)


async def test_a_kicked_page_says_why_and_does_not_reconnect(
    start_arena: StartArena, browser: Browser
) -> None:
    """4004 is final (FINAL_CLOSE_CODES): the page shows why and waits for its player,
    instead of retrying into the server that just closed it."""
    admin_key = "admin-key-" + "k" * 32
    base_url = await start_arena(admin_key=admin_key)
    alice = await Player.log_in(browser, base_url, "alice")
    sockets: list[str] = []
    alice.page.on("websocket", lambda ws: sockets.append(ws.url))
    status, _ = await http_json(
        "POST", f"{base_url}/v1/admin/players/{alice.player_id}/kick", token=admin_key
    )
    assert status == 200
    await alice.until("p.phase === 'replaced' && p.error === '4004: kicked by an operator'")
    assert "reconnecting" not in await alice.page.inner_text("#status")
    assert sockets == []  # no new socket since the kick
    # A kick is not a ban: the player's button connects again, with the same session.
    await alice.page.click("#reconnect")
    await alice.until("p.phase === 'home' && p.error === null")
    assert len(sockets) == 1
    assert await alice.read("player_id") == alice.player_id
    await assert_no_errors(alice)
