"""Small helpers the tests share: logins and raw sockets."""

from __future__ import annotations

import asyncio
import secrets
from collections.abc import Awaitable, Callable
from typing import Any

import aiohttp

from client_sim.client import ArenaClient, Login, guest_login


def new_device() -> str:
    return "device-" + secrets.token_hex(8)


async def login(base_url: str, name: str = "alice", device_id: str | None = None) -> Login:
    return await guest_login(base_url, device_id or new_device(), name)


async def connect(
    base_url: str, name: str = "alice", **kwargs: object
) -> tuple[Login, ArenaClient]:
    player = await login(base_url, name)
    return player, await ArenaClient.connect(base_url, player.token, **kwargs)  # type: ignore[arg-type]


async def eventually(
    check: Callable[[], Awaitable[bool]], *, within_s: float, every_s: float = 0.05
) -> None:
    """Wait until ``check`` holds, failing after ``within_s``: for state that changes by itself."""
    deadline = asyncio.get_running_loop().time() + within_s
    while not await check():
        if asyncio.get_running_loop().time() > deadline:
            raise AssertionError(f"condition not met within {within_s}s")
        await asyncio.sleep(every_s)


async def http_json(
    method: str, url: str, *, token: str | None = None, json: object = None
) -> tuple[int, dict[str, Any]]:
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    async with (
        aiohttp.ClientSession() as http,
        http.request(method, url, headers=headers, json=json) as resp,
    ):
        return resp.status, await resp.json()
