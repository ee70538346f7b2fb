"""Headers on every HTTP reply: a CSP that forbids framing on the pages, nosniff, no
referrer, and a Server header that names no version. Real HTTP against a real server."""

from __future__ import annotations

import asyncio
import re

import aiohttp

from server.app import STATIC
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
        assert set(policy["connect-src"].split()) == {"'self'", "ws:", "wss:"}
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
