"""The live dashboard at /, as someone watching it in Debian's chromium sees it.

The page logs in as a spectator and shows the game as it stands; then a player's
high score shows in the top 10 within 2 s of the submit, and a lobby someone opens
shows in the lobby list. Any error the page logs fails the test. No skipping: a
missing chromium fails (``make test`` installs it).
"""

from __future__ import annotations

import time

from playwright.async_api import Browser, expect

from client_sim.client import ArenaClient
from server.protocol import Format
from tests.browser import browser as browser  # a fixture: imported so the tests ask for it
from tests.browser import collect_errors
from tests.conftest import StartArena
from tests.helpers import login

SCORE_WITHIN_MS = 2_000
LOBBY_WITHIN_MS = 5_000
HIGH_SCORE = 987_654


async def test_dashboard_shows_scores_and_lobbies_as_they_happen(
    start_arena: StartArena, browser: Browser
) -> None:
    base_url = await start_arena()
    context = await browser.new_context(viewport={"width": 1366, "height": 768}, locale="en-US")
    page = await context.new_page()
    errors = collect_errors(page)
    sockets: list[str] = []
    page.on("websocket", lambda ws: sockets.append(ws.url))
    await page.goto(base_url + "/")
    await expect(page.get_by_test_id("conn-status")).to_have_attribute(
        "data-state", "live", timeout=5_000
    )
    # The socket URL carries a single-use ticket, never the session's token.
    assert sockets
    assert all("ticket=" in url and "token=" not in url for url in sockets)
    await expect(page.get_by_test_id("stat-nodes")).to_have_text("1")
    board = await page.get_by_test_id("board-select").input_value()
    assert board == "global"

    ace = await login(base_url, "ace")
    async with await ArenaClient.connect(base_url, ace.token, fmt=Format.JSON) as client:
        submitted = await client.request("lb.submit", board=board, score=HIGH_SCORE)
        replied_at = time.monotonic()
        assert submitted["rank"] == 1
        row = page.locator(f'[data-testid="top-row"][data-player-id="{ace.player_id}"]')
        await expect(row).to_contain_text("ace", timeout=SCORE_WITHIN_MS)
        await expect(row).to_contain_text(f"{HIGH_SCORE:,}", timeout=SCORE_WITHIN_MS)
        assert time.monotonic() - replied_at < SCORE_WITHIN_MS / 1000

        # A periodic board: the push names today's period, which the page must match.
        await page.get_by_test_id("board-select").select_option("daily")
        await expect(page.locator('[data-testid="top-list"][data-board="daily"]')).to_have_count(1)
        await client.request("lb.submit", board="daily", score=HIGH_SCORE)
        replied_at = time.monotonic()
        await expect(row).to_contain_text(f"{HIGH_SCORE:,}", timeout=SCORE_WITHIN_MS)
        assert time.monotonic() - replied_at < SCORE_WITHIN_MS / 1000

    host = await login(base_url, "host")
    async with await ArenaClient.connect(base_url, host.token, fmt=Format.JSON) as client:
        created = await client.request("lobby.create", mode="duel", capacity=4, name="Friday duel")
        lobby_id = created["lobby"]["lobby_id"]
        lobby_row = page.locator(f'[data-testid="lobby-row"][data-lobby-id="{lobby_id}"]')
        await expect(lobby_row).to_contain_text("Friday duel", timeout=LOBBY_WITHIN_MS)
        await expect(lobby_row).to_contain_text("1/4")

    assert errors == []
    await context.close()


# The socket that sent last (the dashboard has one at a time), and every state the
# connection badge took.
RECORD_SOCKET = """
const send = WebSocket.prototype.send;
WebSocket.prototype.send = function (data) {
  window.__socket = this;
  return send.call(this, data);
};
window.__states = [];
document.addEventListener("DOMContentLoaded", () => {
  const badge = document.getElementById("conn-status");
  new MutationObserver(() => window.__states.push(badge.dataset.state)).observe(
    badge, { attributes: true, attributeFilter: ["data-state"] });
});
"""


async def test_a_dropped_dashboard_comes_back_live_and_watches_again(
    start_arena: StartArena, browser: Browser
) -> None:
    """The socket closes under the page (4000: not final); the client reconnects on the
    same spectator session by itself, the page watches and reads again, and what happens
    next shows."""
    base_url = await start_arena()
    context = await browser.new_context(locale="en-US")
    await context.add_init_script(RECORD_SOCKET)
    page = await context.new_page()
    errors = collect_errors(page)
    sockets: list[str] = []
    page.on("websocket", lambda ws: sockets.append(ws.url))
    status = page.get_by_test_id("conn-status")
    await page.goto(base_url + "/")
    await expect(status).to_have_attribute("data-state", "live", timeout=5_000)
    await page.evaluate("() => { window.__states = []; window.__socket.close(4000); }")
    await page.wait_for_function("() => window.__states.at(-1) === 'live'", timeout=10_000)
    assert "offline" in await page.evaluate("window.__states")  # it noticed, and said so
    assert len(sockets) == 2

    ace = await login(base_url, "ace")
    async with await ArenaClient.connect(base_url, ace.token, fmt=Format.JSON) as client:
        await client.request("lb.submit", board="global", score=HIGH_SCORE)
        row = page.locator(f'[data-testid="top-row"][data-player-id="{ace.player_id}"]')
        await expect(row).to_contain_text(f"{HIGH_SCORE:,}", timeout=SCORE_WITHIN_MS)
    assert errors == []
    await context.close()
