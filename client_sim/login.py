"""Logging in over HTTP, and the error every refusal raises (HTTP or socket alike)."""

from __future__ import annotations

from dataclasses import dataclass

import aiohttp

from server.protocol import Message


class ArenaError(Exception):
    """An error reply: ``code`` is stable, ``message`` is for people."""

    def __init__(self, code: str, message: str, retry_after_ms: int | None = None) -> None:
        super().__init__(f"{code}: {message}")
        self.code = code
        self.message = message
        self.retry_after_ms = retry_after_ms

    @classmethod
    def from_reply(cls, reply: Message) -> ArenaError:
        error = reply.get("error") or {}
        return cls(
            str(error.get("code", "UNKNOWN")),
            str(error.get("message", "")),
            error.get("retry_after_ms"),
        )


@dataclass(frozen=True, slots=True)
class Login:
    token: str
    player_id: str
    name: str
    expires_in: int


async def guest_login(
    base_url: str,
    device_id: str,
    name: str,
    *,
    http: aiohttp.ClientSession | None = None,
) -> Login:
    """``POST /v1/auth/guest``; raises ArenaError with the server's code on refusal."""
    own = http is None
    http = http or aiohttp.ClientSession()
    try:
        async with http.post(
            base_url.rstrip("/") + "/v1/auth/guest", json={"device_id": device_id, "name": name}
        ) as resp:
            body = await resp.json()
            if resp.status != 200:
                raise ArenaError.from_reply(body)
            return Login(body["token"], body["player_id"], body["name"], body["expires_in"])
    finally:
        if own:
            await http.close()


def ws_url(base_url: str) -> str:
    base = base_url.rstrip("/")
    if base.startswith("http"):
        base = "ws" + base[len("http") :]
    return base + "/v1/ws"
