"""Logging in over HTTP, and the error every refusal raises (HTTP or socket alike)."""

from __future__ import annotations

import contextlib
import json
import os
from dataclasses import dataclass
from pathlib import Path

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
    # Issued on a device's first login (and to a device from before secrets): keep it,
    # and send it on every later login of the device. None when none was issued now.
    device_secret: str | None = None


async def guest_login(
    base_url: str,
    device_id: str,
    name: str,
    *,
    device_secret: str | None = None,
    http: aiohttp.ClientSession | None = None,
) -> Login:
    """``POST /v1/auth/guest``; raises ArenaError with the server's code on refusal
    (``BAD_CREDENTIALS``: a known device without its secret, or a wrong one)."""
    own = http is None
    http = http or aiohttp.ClientSession()
    body: dict[str, str] = {"device_id": device_id, "name": name}
    if device_secret is not None:
        body["device_secret"] = device_secret
    try:
        async with http.post(base_url.rstrip("/") + "/v1/auth/guest", json=body) as resp:
            reply = await resp.json()
            if resp.status != 200:
                raise ArenaError.from_reply(reply)
            return Login(
                reply["token"],
                reply["player_id"],
                reply["name"],
                reply["expires_in"],
                reply.get("device_secret"),
            )
    finally:
        if own:
            await http.close()


class DeviceSecrets:
    """What a device keeps: its ``device_secret`` per server, so a device id logs in again
    as the same player. In memory, and in a JSON file when given a path."""

    def __init__(self, path: Path | None = None) -> None:
        self.path = path
        self._secrets: dict[str, dict[str, str]] = {}  # base url -> device id -> secret
        self._dirty = False
        if path is not None:
            with contextlib.suppress(FileNotFoundError, ValueError):
                loaded = json.loads(path.read_text("utf-8"))
                if isinstance(loaded, dict):
                    self._secrets = loaded

    def get(self, base_url: str, device_id: str) -> str | None:
        """The secret kept for the device at this server; else one kept for it at another
        address (the same Redis behind another port or host name, as a demo restarted on
        a new ARENA_PORT is)."""
        secret = self._secrets.get(base_url.rstrip("/"), {}).get(device_id)
        if secret is not None:
            return secret
        for kept in self._secrets.values():
            if device_id in kept:
                return kept[device_id]
        return None

    def keep(self, base_url: str, login: Login, device_id: str) -> None:
        """Remember the secret a login issued (if it issued one)."""
        if login.device_secret is not None:
            self._secrets.setdefault(base_url.rstrip("/"), {})[device_id] = login.device_secret
            self._dirty = True

    async def login(
        self, base_url: str, device_id: str, name: str, *, http: aiohttp.ClientSession | None
    ) -> Login:
        """``guest_login`` sending the kept secret, keeping any new one."""
        secret = self.get(base_url, device_id)
        login = await guest_login(base_url, device_id, name, device_secret=secret, http=http)
        self.keep(base_url, login, device_id)
        return login

    def save(self) -> None:
        """Write the file (atomically) if anything new came since the last save."""
        if self.path is None or not self._dirty:
            return
        self.path.parent.mkdir(parents=True, exist_ok=True)
        spare = self.path.with_name(self.path.name + ".tmp")
        spare.write_text(json.dumps(self._secrets), "utf-8")
        os.replace(spare, self.path)
        self._dirty = False


def ws_url(base_url: str) -> str:
    base = base_url.rstrip("/")
    if base.startswith("http"):
        base = "ws" + base[len("http") :]
    return base + "/v1/ws"
