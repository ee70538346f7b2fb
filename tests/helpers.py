"""Small helpers the tests share: logins and raw sockets."""

from __future__ import annotations

import asyncio
import secrets
import socket
from collections.abc import Awaitable, Callable
from typing import Any

import aiohttp
import redis
import redis.cluster

from client_sim.client import ArenaClient, Login, guest_login
from server.compose import build_services
from server.hub_out import HubPushes
from server.protocol import Message
from server.services import Services
from server.services.leaderboards import Clock
from server.settings import Settings
from server.storage.clients import BlockingClient
from server.storage.mux import Commands
from server.storage.pushes import PushStore


def new_device() -> str:
    return "device-" + secrets.token_hex(8)


# What each test device keeps, as a phone would: its device_secret from its first login.
# By device id alone, so a device logs in on any node sharing one Redis.
DEVICE_SECRETS: dict[str, str] = {}


async def login(base_url: str, name: str = "alice", device_id: str | None = None) -> Login:
    """A guest login; a device logging in again sends the secret its first login got."""
    device_id = device_id or new_device()
    player = await guest_login(
        base_url, device_id, name, device_secret=DEVICE_SECRETS.get(device_id)
    )
    if player.device_secret is not None:
        DEVICE_SECRETS[device_id] = player.device_secret
    return player


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


async def start_match(
    node_urls: list[str], count: int, *, mode: str = "arena", reconnect: bool = False
) -> tuple[str, list[ArenaClient], list[Login]]:
    """``count`` players, spread over the nodes in turn, play through a lobby into a match.

    Returns once every player got ``match.started``: the match id, the sockets, the logins.
    """
    players = [await login(node_urls[i % len(node_urls)], f"p{i}") for i in range(count)]
    clients = [
        await ArenaClient.connect(node_urls[i % len(node_urls)], p.token, reconnect=reconnect)
        for i, p in enumerate(players)
    ]
    owner = clients[0]
    lobby = (await owner.request("lobby.create", mode=mode, capacity=count))["lobby"]
    for client in clients[1:]:
        await client.request("lobby.join", lobby_id=lobby["lobby_id"])
    for client in clients:
        await client.request("lobby.ready", ready=True)
    started = [await client.next_push("match.started") for client in clients]
    match_ids = {push["match_id"] for push in started}
    assert len(match_ids) == 1
    return match_ids.pop(), clients, players


def every_key(client: redis.Redis | redis.cluster.RedisCluster, pattern: str) -> list[bytes | str]:
    """KEYS over one Redis, or over every master of a cluster (test_cluster.py runs both)."""
    if isinstance(client, redis.cluster.RedisCluster):
        return list(client.keys(pattern, target_nodes=redis.cluster.RedisCluster.PRIMARIES))
    return list(client.keys(pattern))


def answers_ping(port: int) -> bool:
    """A Redis (plain TCP) answers PING on 127.0.0.1:``port``."""
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=0.5) as conn:
            conn.sendall(b"PING\r\n")
            return conn.recv(16).startswith(b"+PONG")
    except OSError:
        return False


async def report_all(clients: list[ArenaClient], match_id: str, scores: dict[str, int]) -> None:
    """Every player reports the same result: under the default mode's consensus, the last
    report ends the match."""
    for client in clients:
        await client.request("match.result", match_id=match_id, scores=scores)


# ARENA_MODES for tests about something other than results: any player's first report
# ends a match (the "any" policy), as before modes had results policies.
ANY_RESULTS = '{"*": {"results": "any"}}'


class Pushes:
    """The pushes of one kind a client got, in order; waits for them are bounded."""

    def __init__(self, client: ArenaClient, event: str) -> None:
        self.items: list[Message] = []
        self._arrived = asyncio.Event()
        client.on(event, self._add)

    def _add(self, push: Message) -> None:
        self.items.append(push)
        self._arrived.set()

    async def until(self, check: Callable[[list[Message]], bool], *, within_s: float) -> None:
        async with asyncio.timeout(within_s):
            while not check(self.items):
                self._arrived.clear()
                await self._arrived.wait()


def services_of(settings: Settings, mux: Commands, clock: Clock, redis: BlockingClient) -> Services:
    """A node's services without its sockets and hub, as the results worker builds them."""
    return build_services(
        settings,
        mux,
        redis,
        clock=clock,
        pushes=HubPushes(PushStore(mux)),
        pubsub_hears=lambda channel: False,
    )
