"""The HTTP server under the app: aiohttp's, with a deadline for a request's headers.

aiohttp has no header read timeout: its keep-alive timer (75 s) is the only thing that
ends a connection whose request never completes, so a slowloris client that sends its
headers a byte at a time holds a connection (and a file descriptor) for over a minute,
and a few thousand of them exhaust a node. Here each connection gets a timer when it
opens, and again whenever the first byte of a next request arrives on a kept-alive
connection; it is cancelled once that request's headers are parsed. A client still
sending headers when it fires (ARENA_HEADER_TIMEOUT) is disconnected. A request's body
and an open WebSocket are not timed by it. The replies aiohttp makes by itself (a 400
for a request it cannot parse) get Arena's headers here too.

It hooks in where aiohttp makes the protocol of each connection: a ``Server`` (the
protocol factory) that makes ``HeaderDeadline`` handlers, set up by ``ArenaRunner``.
It reads three private attributes of aiohttp's ``RequestHandler`` (``_request_count``,
``_waiter``, ``_upgraded``), clears a fourth (``_data_received_cb``), drops two more
once a WebSocket upgrade is accepted (``_parser``, ``_messages``: memory held per idle
socket) and reads the ``Server``'s ``_kwargs``; tests/test_socket_caps.py and
tests/test_socket_memory_held.py fail if an aiohttp upgrade changes them.
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
import logging
from collections.abc import Callable
from typing import Any

from aiohttp import web
from aiohttp.web_protocol import RequestHandler
from aiohttp.web_request import BaseRequest

from server import http_headers
from server.settings import Settings

log = logging.getLogger(__name__)

KEEPALIVE_TIMEOUT_S = 75.0  # aiohttp's run_app default: an idle kept-alive connection
# An upgraded connection's queue of parsed requests: nothing parses a request on it again.
_NO_MESSAGES: collections.deque[Any] = collections.deque(maxlen=0)


class HeaderDeadline(RequestHandler):
    """aiohttp's connection protocol, cut off when a request's headers take too long."""

    __slots__ = ("_header_timeout_s", "_header_timer", "_requests_seen")

    def __init__(self, manager: web.Server, *, header_timeout_s: float, **kwargs: Any) -> None:
        super().__init__(manager, **kwargs)
        self._header_timeout_s = header_timeout_s
        self._header_timer: asyncio.TimerHandle | None = None
        self._requests_seen = 0

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        super().connection_made(transport)
        self._arm()

    def data_received(self, data: bytes) -> None:
        if self._header_timer is None and self._between_requests():
            self._arm()  # the first bytes of the next request on a kept-alive connection
        super().data_received(data)
        if self._request_count > self._requests_seen:  # its headers are in: parsed
            self._requests_seen = self._request_count
            self._disarm()

    def set_parser(self, parser: Any, data_received_cb: Callable[[], None] | None = None) -> None:
        """A WebSocket's upgrade was accepted: its frames' parser takes every byte from now
        on. The connection's HTTP parser (about 760 bytes) and its queue of parsed requests
        (a deque's 624-byte block) are never used again, yet aiohttp keeps them for the
        socket's life: the parser goes (aiohttp's own ``connection_lost`` drops it too), and
        the queue becomes one shared empty one that keeps nothing put in it."""
        super().set_parser(parser, data_received_cb)
        self._parser = None
        self._messages = _NO_MESSAGES

    def connection_lost(self, exc: BaseException | None) -> None:
        self._disarm()
        super().connection_lost(exc)
        # aiohttp keeps the WebSocket's bound method here after the connection is gone:
        # protocol -> socket -> request -> protocol, a cycle that only the cyclic collector
        # would free (with everything the socket holds). Gone, refcounting frees it now.
        self._data_received_cb = None

    def handle_error(
        self,
        request: BaseRequest,
        status: int = 500,
        exc: BaseException | None = None,
        message: str | None = None,
    ) -> web.StreamResponse:
        """aiohttp's own reply to a request it could not parse (a 400) never reaches the
        app's hooks: give it the same headers (no version in ``Server``)."""
        response = super().handle_error(request, status, exc, message)
        http_headers.set_common(response)
        return response

    def _between_requests(self) -> bool:
        """Waiting for a next request (not reading a body, not a WebSocket)."""
        waiter = self._waiter
        return not self._upgraded and waiter is not None and not waiter.done()

    def _arm(self) -> None:
        self._header_timer = self._loop.call_later(self._header_timeout_s, self._expire)

    def _disarm(self) -> None:
        if self._header_timer is not None:
            self._header_timer.cancel()
            self._header_timer = None

    def _expire(self) -> None:
        self._header_timer = None
        # DEBUG: a flood of slow clients must not become a flood of log lines.
        log.debug("headers not complete within %.1f s: connection closed", self._header_timeout_s)
        self.force_close()


class GuardedServer(web.Server):
    """aiohttp's protocol factory, making ``HeaderDeadline`` protocols."""

    def __init__(self, inner: web.Server, *, header_timeout_s: float) -> None:
        super().__init__(
            inner.request_handler,
            request_factory=inner.request_factory,
            handler_cancellation=inner.handler_cancellation,
            **inner._kwargs,  # the handler's settings the runner chose (private in aiohttp)
        )
        self._header_timeout_s = header_timeout_s

    def __call__(self) -> RequestHandler:
        return HeaderDeadline(
            self, loop=self._loop, header_timeout_s=self._header_timeout_s, **self._kwargs
        )


class ArenaRunner(web.AppRunner):
    """``web.AppRunner`` whose connections have a header deadline."""

    __slots__ = ("_header_timeout_s",)

    def __init__(self, app: web.Application, *, header_timeout_s: float, **kwargs: Any) -> None:
        super().__init__(app, **kwargs)
        self._header_timeout_s = header_timeout_s

    async def _make_server(self) -> web.Server:
        inner = await super()._make_server()
        return GuardedServer(inner, header_timeout_s=self._header_timeout_s)


def run(
    app: web.Application,
    settings: Settings,
    *,
    loop: asyncio.AbstractEventLoop,
    on_listening: Callable[[], None],
) -> None:
    """Serve ``app`` on ARENA_HOST:ARENA_PORT until SIGINT or SIGTERM, then stop cleanly:
    ``web.run_app``'s life cycle, with ``ArenaRunner`` underneath. What fails while
    starting (a port in use, Redis too old) is raised from here."""
    runner = ArenaRunner(
        app,
        header_timeout_s=settings.header_timeout_s,
        handle_signals=True,  # SIGINT/SIGTERM raise GracefulExit out of the loop
        access_log=None,
        shutdown_timeout=settings.shutdown_grace_s,
        keepalive_timeout=KEEPALIVE_TIMEOUT_S,
    )

    async def serve() -> None:
        await runner.setup()
        try:
            await web.TCPSite(runner, settings.host, settings.port).start()
            on_listening()
            await asyncio.Event().wait()  # until a signal
        finally:
            await runner.cleanup()

    asyncio.set_event_loop(loop)
    main = loop.create_task(serve())
    try:
        loop.run_until_complete(main)
    except (web.GracefulExit, KeyboardInterrupt):
        pass
    finally:
        try:
            if not main.done():
                main.cancel()  # runs the clean-up: sockets told, the app's contexts closed
                with contextlib.suppress(asyncio.CancelledError):
                    loop.run_until_complete(main)
        finally:
            _cancel_rest(loop)
            loop.run_until_complete(loop.shutdown_asyncgens())
            loop.close()


def _cancel_rest(loop: asyncio.AbstractEventLoop) -> None:
    tasks = asyncio.all_tasks(loop)
    for task in tasks:
        task.cancel()
    if tasks:
        loop.run_until_complete(asyncio.gather(*tasks, return_exceptions=True))
