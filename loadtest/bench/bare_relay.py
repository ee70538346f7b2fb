"""The room relay benchmark's ceiling: a bare aiohttp relay, no Redis, rooms in a dict.

``python -m loadtest.bench.bare_relay --port N`` serves ``GET /ws?room=R&player=P``.
A socket joins its room and is told so (``{"ev": "joined"}``); each binary frame it
sends afterwards (a ``match.send``, msgpack) becomes a ``match.event`` push shaped
like Arena's, encoded once and sent to every socket of the room, the sender
included. Nothing is checked, stored or rate limited: this is what any relay has
to do at the least (read a frame, decode it, encode one push, write it N times).
"""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Sequence

import msgpack
from aiohttp import WSMsgType, web

from loadtest.bench.common import serve_baseline

ROOMS = web.AppKey("rooms", dict[str, list[web.WebSocketResponse]])


async def relay(request: web.Request) -> web.WebSocketResponse:
    room_id = request.query["room"]
    player = request.query["player"]
    ws = web.WebSocketResponse(compress=False, max_msg_size=64 * 1024)
    await ws.prepare(request)
    room = request.app[ROOMS].setdefault(room_id, [])
    room.append(ws)
    await ws.send_bytes(msgpack.packb({"ev": "joined", "room": room_id}))
    sent = 0
    try:
        async for msg in ws:
            if msg.type is not WSMsgType.BINARY:
                continue
            event = msgpack.unpackb(msg.data)
            ms = int(time.time() * 1000)
            sent += 1
            push = msgpack.packb(
                {
                    "ev": "match.event",
                    "match_id": room_id,
                    "from": player,
                    "type": event["type"],
                    "data": event["data"],
                    "ts": ms,
                    "id": f"{ms}-{sent}",
                }
            )
            for peer in room:
                if not peer.closed:
                    await peer.send_bytes(push)  # returns at once unless the peer's buffer is full
    finally:
        room.remove(ws)
        if not room:
            request.app[ROOMS].pop(room_id, None)
    return ws


async def readyz(_: web.Request) -> web.Response:
    return web.Response(text="ok")


def create_app() -> web.Application:
    app = web.Application()
    app[ROOMS] = {}
    app.router.add_get("/ws", relay)
    app.router.add_get("/readyz", readyz)
    return app


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m loadtest.bench.bare_relay")
    parser.add_argument("--port", type=int, required=True)
    args = parser.parse_args(argv)
    return serve_baseline(create_app(), args.port)


if __name__ == "__main__":
    sys.exit(main())
