"""The connection benchmark's baseline: a bare aiohttp WebSocket server, no auth, no Redis.

``python -m loadtest.bench.bare_sockets --port N --heartbeat S`` serves ``GET /ws``:
it accepts a socket, keeps it in a set and answers a msgpack ``{"op": "ping", "rid":
n}`` with ``{"rid": n, "ok": true, "server_time_ms": ...}`` as Arena does. Anything
else is ignored. This is what holding an idle socket costs aiohttp at the least,
with the same event loop (uvloop) and WebSocket settings as Arena.
"""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Sequence

import msgpack
from aiohttp import WSMsgType, web

from loadtest.bench.common import serve_baseline

SOCKETS = web.AppKey("sockets", set[web.WebSocketResponse])
HEARTBEAT = web.AppKey("heartbeat", float)


async def socket(request: web.Request) -> web.WebSocketResponse:
    ws = web.WebSocketResponse(
        max_msg_size=64 * 1024,
        heartbeat=request.app[HEARTBEAT],
        autoping=True,
        compress=False,
    )
    await ws.prepare(request)
    held = request.app[SOCKETS]
    held.add(ws)
    try:
        async for msg in ws:
            if msg.type is not WSMsgType.BINARY:
                continue
            message = msgpack.unpackb(msg.data)
            if isinstance(message, dict) and message.get("op") == "ping":
                reply = {"rid": message.get("rid"), "ok": True}
                reply["server_time_ms"] = int(time.time() * 1000)
                await ws.send_bytes(msgpack.packb(reply))
    finally:
        held.discard(ws)
    return ws


async def readyz(_: web.Request) -> web.Response:
    return web.Response(text="ok")


def create_app(heartbeat_s: float) -> web.Application:
    app = web.Application()
    app[SOCKETS] = set()
    app[HEARTBEAT] = heartbeat_s
    app.router.add_get("/ws", socket)
    app.router.add_get("/readyz", readyz)
    return app


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m loadtest.bench.bare_sockets")
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--heartbeat", type=float, required=True, help="seconds between pings")
    args = parser.parse_args(argv)
    return serve_baseline(create_app(args.heartbeat), args.port)


if __name__ == "__main__":
    sys.exit(main())
