"""A lean load generator: many sockets, a window of requests in flight on each.

Benchmarks need a generator cheaper than the server it loads, or they measure
themselves. Requests are msgpack frames; replies (frames that begin with "rid")
are counted, not decoded, except to spot failures; pushes are skipped.
"""

from __future__ import annotations

import asyncio
import random
import time
from collections.abc import Callable

import aiohttp
import msgpack

from client_sim.client import guest_login, ws_url

MakeRequest = Callable[[random.Random, int], dict[str, object]]


async def flood(
    url: str,
    *,
    sockets: int,
    window: int,
    duration_s: float,
    make_request: MakeRequest,
    name_prefix: str = "flood",
    around_load: Callable[[], object] | None = None,
) -> tuple[float, int]:
    """Requests answered per second, and how many answers were failures. ``around_load``
    is called as the load starts and again as it ends (every socket logged in and open
    before, none closed yet after), for a caller that meters the load alone."""
    # limit=0: a socket holds its connection for good; aiohttp's default pool stops at 100.
    async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=0)) as http:
        tokens = [
            (await guest_login(url, f"{name_prefix}-{i:05d}", f"{name_prefix}{i}", http=http)).token
            for i in range(sockets)
        ]
        conns = [
            await http.ws_connect(ws_url(url), headers={"Authorization": f"Bearer {t}"})
            for t in tokens
        ]
        answered = 0
        failed = 0
        stop_at = time.monotonic() + duration_s

        async def drive(ws: aiohttp.ClientWebSocketResponse, seed: int) -> None:
            nonlocal answered, failed
            rng = random.Random(seed)
            rid = 0

            async def send() -> None:
                nonlocal rid
                rid += 1
                await ws.send_bytes(msgpack.packb({**make_request(rng, rid), "rid": rid}))

            for _ in range(window):
                await send()
            in_flight = window
            while in_flight:
                msg = await ws.receive()
                if msg.type is not aiohttp.WSMsgType.BINARY:
                    break
                if msg.data[1:5] != b"\xa3rid":  # a push, not a reply: not ours to count
                    continue
                in_flight -= 1
                answered += 1
                if b"\xa2ok\xc2" in msg.data:  # "ok": false
                    failed += 1
                if time.monotonic() < stop_at:
                    await send()
                    in_flight += 1

        if around_load is not None:
            around_load()
        started = time.perf_counter()
        await asyncio.gather(*(drive(ws, i) for i, ws in enumerate(conns)))
        elapsed = time.perf_counter() - started
        if around_load is not None:
            around_load()
        for ws in conns:
            await ws.close()
    return answered / elapsed, failed
