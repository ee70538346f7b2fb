"""Headers every HTTP reply carries, so a browser treats Arena's pages and API safely.

Every reply: ``X-Content-Type-Options: nosniff`` (a JSON reply is never run as a script),
``Referrer-Policy: no-referrer`` (a page's URL never travels to another site), and a
``Server`` header without a version (no free hint for an attacker's version scan).
The pages (``/``, ``/play``, ``/static/...``) also get a Content-Security-Policy: their
scripts and styles come only from files on this server (none is inline), the socket
goes only to this server, and no other site may frame them (clickjacking).
"""

from __future__ import annotations

from aiohttp import web

SERVER = "arena"
PAGE_PATHS = frozenset({"/", "/play"})
PAGE_CSP = "; ".join(
    [
        "default-src 'self'",
        # The game socket, to this server only: in CSP Level 3 (every current browser)
        # 'self' also matches ws: and wss: on this page's own host and port.
        "connect-src 'self'",
        "script-src 'self'",
        "style-src 'self'",
        "img-src 'self' data:",  # the dashboard's select arrow is an inline SVG data: URL
        "object-src 'none'",
        "base-uri 'none'",
        "form-action 'self'",
        "frame-ancestors 'none'",
    ]
)


def is_page(path: str) -> bool:
    return path in PAGE_PATHS or path.startswith("/static/")


def set_common(response: web.StreamResponse) -> None:
    """What every reply carries, pages or not."""
    headers = response.headers
    headers["Server"] = SERVER
    headers["X-Content-Type-Options"] = "nosniff"
    headers["Referrer-Policy"] = "no-referrer"


async def security_headers(request: web.Request, response: web.StreamResponse) -> None:
    """An ``on_response_prepare`` hook: runs for every reply the app's routes give (the
    transport covers the replies aiohttp gives itself to requests it cannot parse)."""
    set_common(response)
    if is_page(request.path):
        response.headers["Content-Security-Policy"] = PAGE_CSP
