"""The client's socket link: opening it, how it closed, and opening it again.

- ``open_socket``: the handshake, with a timeout, and heartbeats that find a link
  that died silently.
- ``ConnectionClosed`` and ``close_reason``: a closed socket as an exception and as
  words; a close code in the protocol's ``FINAL_CLOSE_CODES`` forbids coming back.
- ``Backoff`` and ``reopen``: the waits between reconnect attempts, and the attempts.
"""

from __future__ import annotations

import asyncio
import itertools
import random
from collections.abc import Callable
from dataclasses import dataclass

import aiohttp

from client_sim.login import ws_url
from server.protocol import FINAL_CLOSE_CODES, CloseCode

HEARTBEAT_S = 20.0
HANDSHAKE_TIMEOUT_S = 10.0


class ConnectionClosed(Exception):
    """The socket is closed; ``final`` when its close code forbids coming back."""

    def __init__(self, code: int | None) -> None:
        super().__init__(f"socket closed ({close_reason(code)})")
        self.code = code
        self.final = code in FINAL_CLOSE_CODES


def close_reason(code: int | None) -> str:
    """``code 4004 KICKED, final``: a close code as a person reads it."""
    if code is None:
        return "no close code: the link dropped"
    try:
        name = f" {CloseCode(code).name}"
    except ValueError:
        name = ""
    return f"code {code}{name}{', final' if code in FINAL_CLOSE_CODES else ''}"


@dataclass(frozen=True, slots=True)
class Backoff:
    """Waits between reconnect attempts: doubling from ``first_s`` up to ``max_s``, jittered."""

    first_s: float = 0.1
    max_s: float = 5.0
    give_up_after_s: float = 60.0

    def delays(self) -> itertools.chain[float]:
        delay = self.first_s
        steps = []
        while delay < self.max_s:
            steps.append(delay)
            delay *= 2
        return itertools.chain(steps, itertools.repeat(self.max_s))


async def open_socket(
    http: aiohttp.ClientSession, base_url: str, token: str
) -> aiohttp.ClientWebSocketResponse:
    """Open a socket on the session ``token`` names."""
    # Heartbeats find a silently dead link (the peer vanished without a FIN), and a
    # handshake that hangs gives up, so a reconnect moves on.
    async with asyncio.timeout(HANDSHAKE_TIMEOUT_S):
        return await http.ws_connect(
            ws_url(base_url),
            headers={"Authorization": f"Bearer {token}"},
            max_msg_size=0,
            heartbeat=HEARTBEAT_S,
        )


async def reopen(
    http: aiohttp.ClientSession,
    base_url: str,
    token: str,
    backoff: Backoff,
    closing: Callable[[], bool],
) -> aiohttp.ClientWebSocketResponse | None:
    """Open a new socket on the same session, with backoff; None to give up.

    ``closing()`` true (the client is being closed) gives up at the next attempt, and
    closes a socket that opened meanwhile.
    """
    loop = asyncio.get_running_loop()
    deadline = loop.time() + backoff.give_up_after_s
    for delay in backoff.delays():
        if closing() or loop.time() > deadline:
            return None
        await asyncio.sleep(delay * random.uniform(0.5, 1.0))
        try:
            ws = await open_socket(http, base_url, token)
        except aiohttp.WSServerHandshakeError as exc:
            if exc.status == 401:
                return None  # the session is gone: log in again
        except (aiohttp.ClientError, OSError, TimeoutError):
            pass
        else:
            if closing():  # close() came while this socket was opening
                await ws.close()
                return None
            return ws
    return None  # pragma: no cover - delays() never ends
