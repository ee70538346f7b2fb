"""/play and the dashboard speak to Arena through the one JavaScript client, /client/arena.js.

In Debian's chromium: each page fetches /client/arena.js, and every WebSocket it opens is
constructed by code served from /client/ (the constructor is wrapped, and the caller read
from the stack). And at grep level: no page script under server/static constructs a
WebSocket itself; only clients/js may.
"""

from __future__ import annotations

import re
from pathlib import Path

from playwright.async_api import Browser, Page, Request, expect

from tests.browser import browser as browser  # a fixture: imported so the tests ask for it
from tests.browser import collect_errors
from tests.conftest import StartArena

STATIC = Path(__file__).resolve().parent.parent / "server" / "static"
WAIT_MS = 5_000
# Every WebSocket the page constructs, with the stack of the code that constructed it.
RECORD_SOCKETS = """
window.__socketStacks = [];
const Native = window.WebSocket;
window.WebSocket = class extends Native {
  constructor(...args) {
    super(...args);
    window.__socketStacks.push(new Error().stack);
  }
};
"""
FRAME_URL = re.compile(r"(https?://[^\s)]+?):\d+:\d+")


def page_scripts() -> list[Path]:
    """The pages' own scripts (server/static/client is the client's folder, not a page's)."""
    scripts = sorted(STATIC.glob("*.js"))
    assert len(scripts) > 5, scripts
    return scripts


def test_no_page_script_opens_a_websocket_itself() -> None:
    for script in page_scripts():
        text = script.read_text()
        assert not re.search(r"\bWebSocket\s*\(", text), f"{script.name} constructs a WebSocket"
    importers = [s.name for s in page_scripts() if '"/client/arena.js"' in s.read_text()]
    assert any(name.startswith("play") for name in importers), importers
    assert any(name.startswith("dashboard") for name in importers), importers


async def open_page(browser: Browser, url: str) -> tuple[Page, list[str], list[str]]:
    """A fresh tab on ``url``, recording the URLs it requests and the errors it logs."""
    context = await browser.new_context()
    await context.add_init_script(RECORD_SOCKETS)
    page = await context.new_page()
    errors = collect_errors(page)
    requested: list[str] = []

    def on_request(request: Request) -> None:
        requested.append(request.url)

    page.on("request", on_request)
    await page.goto(url)
    return page, requested, errors


async def socket_openers(page: Page) -> list[str]:
    """For each WebSocket the page constructed, the URL of the script that called `new`
    (the first stack frame with a URL: the wrapper above comes from an init script)."""
    stacks: list[str] = await page.evaluate("window.__socketStacks")
    openers = []
    for stack in stacks:
        urls = FRAME_URL.findall(stack)
        assert urls, stack
        openers.append(urls[0])
    return openers


async def test_both_pages_load_the_client_and_open_sockets_only_through_it(
    start_arena: StartArena, browser: Browser
) -> None:
    base_url = await start_arena()

    dashboard, requested, errors = await open_page(browser, base_url + "/")
    await expect(dashboard.get_by_test_id("conn-status")).to_have_attribute(
        "data-state", "live", timeout=WAIT_MS
    )
    assert base_url + "/client/arena.js" in requested
    openers = await socket_openers(dashboard)
    assert len(openers) == 1
    assert all(url.startswith(base_url + "/client/") for url in openers), openers
    assert errors == []

    play, requested, errors = await open_page(browser, base_url + "/play")
    await play.fill("#name", "alice")
    await play.click("#login")
    await play.wait_for_function("() => window.arenaPlay.phase === 'home'", timeout=WAIT_MS)
    assert base_url + "/client/arena.js" in requested
    openers = await socket_openers(play)
    assert len(openers) == 1
    assert all(url.startswith(base_url + "/client/") for url in openers), openers
    assert errors == []
