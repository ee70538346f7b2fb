"""Headers on every HTTP reply: a CSP that forbids framing on the pages, nosniff, no
referrer, and a Server header that names no version. Real HTTP against a real server."""

from __future__ import annotations

import asyncio
import re

import aiohttp
from playwright.async_api import Browser

from client_sim.client import ws_url
from server.app import STATIC
from tests.browser import browser as browser  # a fixture: imported so the tests ask for it
from tests.conftest import SpawnNode
from tests.helpers import login


async def headers_of(url: str, method: str = "GET") -> tuple[int, dict[str, str]]:
    async with aiohttp.ClientSession() as http, http.request(method, url) as resp:
        await resp.read()
        return resp.status, dict(resp.headers)


def csp(headers: dict[str, str]) -> dict[str, str]:
    policy = headers["Content-Security-Policy"]
    return {d.split()[0]: d.partition(" ")[2] for d in (p.strip() for p in policy.split(";")) if d}


async def test_pages_get_a_content_security_policy(arena: str) -> None:
    for path in ("/", "/play", "/static/play.js", "/static/dashboard.css"):
        status, headers = await headers_of(arena + path)
        assert status == 200, path
        policy = csp(headers)
        assert policy["frame-ancestors"] == "'none'", path
        assert policy["default-src"] == "'self'"
        assert policy["script-src"] == "'self'"  # no 'unsafe-inline', no 'unsafe-eval'
        assert policy["style-src"] == "'self'"
        assert policy["connect-src"] == "'self'"  # sockets to this server only
        assert policy["img-src"] == "'self' data:"


async def test_every_reply_says_nosniff_no_referrer_and_no_version(arena: str) -> None:
    player = await login(arena)
    urls = [
        "/",
        "/v1/presence",
        "/healthz",
        "/metrics",
        "/v1/leaderboards/global/top",
        f"/v1/leaderboards/global/players/{player.player_id}",
        "/no/such/path",  # 404
        "/v1/session",  # 401
        "/v1/ws",  # 401 before any upgrade
    ]
    for path in urls:
        status, headers = await headers_of(arena + path)
        assert headers["X-Content-Type-Options"] == "nosniff", (path, status)
        assert headers["Referrer-Policy"] == "no-referrer", path
        assert headers["Server"] == "arena", path
    _, api = await headers_of(arena + "/v1/presence")
    assert "Content-Security-Policy" not in api  # JSON, not a page


def test_the_pages_need_no_inline_script_or_style() -> None:
    """What lets the CSP stay strict: every script and style is a file of its own."""
    for page in STATIC.glob("*.html"):
        html = page.read_text()
        assert not re.search(r"<script(?![^>]*\bsrc=)[^>]*>", html), page.name
        assert "<style" not in html, page.name
        assert not re.search(r"\sstyle\s*=", html), page.name
        assert not re.search(r"\son[a-z]+\s*=", html), page.name  # onclick= and friends


async def test_a_request_the_server_cannot_parse_gets_no_version_either(
    spawn_node: SpawnNode,
) -> None:
    """aiohttp answers an unparsable request itself (400), past the app's hooks."""
    node = spawn_node()
    reader, writer = await asyncio.open_connection("127.0.0.1", node.port)
    writer.write(b"GET /\x01 HTTP/1.1\r\nHost: x\r\n\r\n")
    reply = await asyncio.wait_for(reader.read(), 10)
    writer.close()
    head = reply.partition(b"\r\n\r\n")[0].decode().lower().split("\r\n")
    assert head[0].endswith(" 400 bad request")
    assert "server: arena" in head
    assert "x-content-type-options: nosniff" in head
    assert not any("aiohttp" in line for line in head)


# In the page: open a socket and tell how it went. A socket the CSP forbids never leaves
# the browser: the constructor throws, or the page gets a violation event.
OPEN_SOCKET = """async (url) => {
  const violation = new Promise((resolve) => document.addEventListener(
    "securitypolicyviolation", (e) => resolve("blocked " + e.effectiveDirective), {once: true}));
  let ws;
  try { ws = new WebSocket(url); } catch (e) { return "blocked " + e.name; }
  const outcome = new Promise((resolve) => {
    ws.onopen = () => { ws.close(); resolve("open"); };
    ws.onerror = () => resolve("error");
  });
  return await Promise.race([violation, outcome]);
}"""


async def test_the_pages_may_open_sockets_to_this_server_only(arena: str, browser: Browser) -> None:
    player = await login(arena)
    page = await browser.new_page()
    await page.goto(arena + "/")
    # Same host, same port: 'self' covers ws: (CSP Level 3).
    assert await page.evaluate(OPEN_SOCKET, f"{ws_url(arena)}?token={player.token}") == "open"
    # The same server under another name is another origin, and so is any other host.
    port = arena.rsplit(":", 1)[1]
    for other in (f"ws://localhost:{port}/v1/ws", "wss://example.invalid/socket"):
        assert await page.evaluate(OPEN_SOCKET, other) == "blocked connect-src", other
