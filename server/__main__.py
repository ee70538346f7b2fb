"""``python -m server`` / ``arena-server``: settings, then (maybe) a private Redis, then the app."""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import errno
import gc
import logging
import signal
import socket
import sys
from collections.abc import Sequence

from aiohttp import web

from server import logs, transport
from server.app import create_app
from server.banner import local_url, pages
from server.embedded_redis import private_redis
from server.setting_errors import EXIT_BAD_SETTING, SettingError
from server.settings import Settings
from server.storage.connection import RedisTooOld, RedisUnreachable

log = logging.getLogger("server")

# Binding failures a setting causes (a port below 1024, an address not of this machine).
CANNOT_BIND = frozenset({errno.EACCES, errno.EADDRNOTAVAIL})


def _event_loop() -> asyncio.AbstractEventLoop:
    try:
        import uvloop
    except ImportError:  # pragma: no cover - platforms without uvloop
        return asyncio.new_event_loop()
    return uvloop.new_event_loop()


async def _ignore_repeated_signals(app: web.Application) -> None:
    """Once stopping, another SIGINT/SIGTERM (an impatient Ctrl-C, a supervisor's repeat)
    must not cut the clean-up short: sockets are being told, seats and presence released."""
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        with contextlib.suppress(NotImplementedError, RuntimeError):
            loop.add_signal_handler(sig, log.info, "already stopping; signal %s ignored", sig)


def _tune_collector(full_every: int) -> None:
    """Full passes of the cyclic collector much rarer than CPython's default. Each socket
    holds 60 to 90 tracked objects, so at 15,000 sockets a full pass walks over a million
    of them (0.5 to 1 s, every socket waiting) and, by default, comes each time that
    count grows by a quarter: every half second while sockets open, freeing nothing.
    Rare full passes are safe only because a closed socket leaves no cycles behind
    (``HeaderDeadline.connection_lost``, ``ws._drop_tracebacks``): otherwise its
    objects would pile up in the oldest generation until the next full pass."""
    young, middle, _ = gc.get_threshold()
    gc.set_threshold(young, middle, full_every)


def main(argv: Sequence[str] | None = None) -> int:
    settings = Settings.from_args(argv)
    logs.configure(settings.log_level, "json" if settings.log_format == "json" else "text")
    _tune_collector(settings.gc_full_every)
    with contextlib.ExitStack() as stack:
        if not settings.redis_url:
            try:
                redis = private_redis(stack, settings.data_dir)
            except RuntimeError as exc:
                print(f"arena: {exc}", file=sys.stderr)
                return 1
            settings = dataclasses.replace(settings, redis_url=redis.url)
        try:
            app = create_app(settings)
        except SettingError as exc:  # a game a mode names that cannot be loaded
            print(f"arena: {exc}", file=sys.stderr)
            return EXIT_BAD_SETTING
        app.on_shutdown.insert(0, _ignore_repeated_signals)
        try:
            transport.run(
                app,
                settings,
                loop=_event_loop(),
                # Called once the port is bound: a port in use fails before this line.
                on_listening=lambda: log.info(
                    "Arena listening on %s: %s",
                    local_url(settings.host, settings.port),
                    pages(settings.host, settings.port),
                ),
            )
        except (RedisTooOld, RedisUnreachable) as exc:
            print(f"arena: {exc}", file=sys.stderr)
            return 1
        except SettingError as exc:  # a check made while starting, past Settings.from_env
            print(f"arena: {exc}", file=sys.stderr)
            return EXIT_BAD_SETTING
        except OSError as exc:
            if exc.errno == errno.EADDRINUSE:
                metrics = settings.metrics_port
                print(
                    f"arena: {settings.host}:{settings.port}"
                    + (f" or the metrics port {metrics}" if metrics else "")
                    + " is in use by another program; choose another port with ARENA_PORT=... "
                    + ("or ARENA_METRICS_PORT=... " if metrics else "")
                    + "(or --port)",
                    file=sys.stderr,
                )
                return 1
            if isinstance(exc, socket.gaierror) or exc.errno in CANNOT_BIND:
                print(
                    f"arena: cannot listen on {settings.host}:{settings.port} ({exc.strerror}); "
                    "check ARENA_HOST and ARENA_PORT",
                    file=sys.stderr,
                )
                return 1
            raise
    log.info("Arena stopped")
    return 0


if __name__ == "__main__":
    sys.exit(main())
