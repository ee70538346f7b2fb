"""A socket opening: nothing published for its player while it opens is lost, and a ban
or revocation run while it opens still closes it.

An in-process server on the test's Redis, so the test can stop the opening at exactly
its worst moment: the player's SSUBSCRIBE held back (as a busy Redis or a slow link
would delay it) while a change is published for them, or a ban run between the
socket's authentication and its claim of the player's live socket.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import pytest
import redis as redis_sync
from aiohttp import web

from client_sim.client import ArenaClient
from server.app import create_app
from server.appkeys import HUB, REGISTRY, SERVICES, SUBSCRIBER
from server.embedded_redis import RedisProcess
from server.protocol import CloseCode, Message
from server.services import Services
from server.services.sessions import Session
from server.storage.pubsub import Subscriptions
from tests.conftest import settings_for_test
from tests.helpers import eventually, login

Served = tuple[str, web.Application]


@pytest.fixture
async def serve(
    redis_server: RedisProcess, redis_client: redis_sync.Redis
) -> AsyncIterator[Callable[..., Awaitable[Served]]]:
    """Start Arena in this process; its URL and its app (to reach its hub and services)."""
    runners: list[web.AppRunner] = []

    async def start(**overrides: Any) -> Served:
        settings = settings_for_test(**{"redis_url": redis_server.url, **overrides})
        app = create_app(settings)
        runner = web.AppRunner(app, shutdown_timeout=settings.shutdown_grace_s)
        await runner.setup()
        await web.TCPSite(runner, "127.0.0.1", 0).start()
        runners.append(runner)
        host, port = runner.addresses[0][:2]
        return f"http://{host}:{port}", app

    yield start
    for runner in reversed(runners):
        await runner.cleanup()


class HeldSubscription:
    """The node's real subscriber, with one channel's SSUBSCRIBE held back until
    ``release``: until then Redis does not deliver that channel to the node. ``waited``
    is set when the node starts waiting for the channel's confirmation."""

    def __init__(
        self, subscriber: Subscriptions, channel: str, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        self._channel = channel
        self._subscribe = subscriber.subscribe
        self._until_subscribed = subscriber.until_subscribed
        self.asked = asyncio.Event()  # the node asked to subscribe the channel
        self.waited = asyncio.Event()
        self._released = False
        monkeypatch.setattr(subscriber, "subscribe", self._held_subscribe)
        monkeypatch.setattr(subscriber, "until_subscribed", self._noted_wait)

    async def _held_subscribe(self, channel: str) -> None:
        if channel == self._channel and not self._released:
            self.asked.set()
            return
        await self._subscribe(channel)

    async def _noted_wait(self, channel: str) -> None:
        if channel == self._channel:
            self.waited.set()
        await self._until_subscribed(channel)

    async def release(self) -> None:
        self._released = True
        await self._subscribe(self._channel)


async def pushes_until_note(client: ArenaClient, kind: str) -> list[Message]:
    """Every push up to and including the notification of ``kind``."""
    seen = []
    while True:
        push = await client.next_push()
        seen.append(push)
        if push.get("ev") == "notify" and push.get("kind") == kind:
            return seen


async def test_what_is_published_while_a_socket_opens_reaches_it(
    serve: Callable[..., Awaitable[Served]], monkeypatch: pytest.MonkeyPatch
) -> None:
    """A lobby join and a notification published after the node asked to subscribe the
    player's channel but before Redis confirmed it: the socket still gets both (it
    reads the player's lobby and notes only once the channel is confirmed)."""
    base, app = await serve()
    hub, services = app[HUB], app[SERVICES]
    alice = await login(base, "alice")
    bob = await login(base, "bob")
    first = await ArenaClient.connect(base, alice.token)
    lobby = (await first.request("lobby.create", mode="arena", capacity=4))["lobby"]
    await first.close()
    channel = services.presence.player_channel(alice.player_id)

    async def channel_dropped() -> bool:
        return hub.listening(channel) == 0

    await eventually(channel_dropped, within_s=5)  # the next socket subscribes afresh
    held = HeldSubscription(app[SUBSCRIBER], channel, monkeypatch)
    bobs = await ArenaClient.connect(base, bob.token)
    again = await ArenaClient.connect(base, alice.token)
    try:
        ping = asyncio.create_task(again.request("ping"))
        waited = asyncio.create_task(held.waited.wait())
        async with asyncio.timeout(5):
            await held.asked.wait()
            # The socket has read what it reads (it answers requests), or waits for the
            # confirmation: either way, what is published now is in its window.
            await asyncio.wait({ping, waited}, return_when=asyncio.FIRST_COMPLETED)
        waited.cancel()
        await bobs.request("lobby.join", lobby_id=lobby["lobby_id"])
        await services.notifications.notify(alice.player_id, "meanwhile", {"n": 1})
        await held.release()
        await ping
        # Published after the socket is surely subscribed: everything before it is in.
        await services.notifications.notify(alice.player_id, "marker", {})
        seen = await pushes_until_note(again, "marker")
        lobbies = [p["lobby"] for p in seen if p.get("ev") == "lobby.updated"]
        assert any(
            {m["player_id"] for m in lobby["members"]} == {alice.player_id, bob.player_id}
            for lobby in lobbies
        ), seen
        assert any(p.get("ev") == "notify" and p.get("kind") == "meanwhile" for p in seen), seen
    finally:
        await again.close()
        await bobs.close()


async def test_a_socket_whose_channel_is_never_confirmed_closes_for_a_retry(
    serve: Callable[..., Awaitable[Served]], monkeypatch: pytest.MonkeyPatch
) -> None:
    """Redis never confirms the channel (pub/sub down or refusing): the socket is not left
    deaf; it gets UNAVAILABLE and 1011 (retry with backoff) after the Redis timeout."""
    base, app = await serve(redis_timeout_s=0.5)
    alice = await login(base, "alice")
    channel = app[SERVICES].presence.player_channel(alice.player_id)
    HeldSubscription(app[SUBSCRIBER], channel, monkeypatch)
    client = await ArenaClient.connect(base, alice.token)
    try:
        assert await client.wait_closed(timeout=10) == CloseCode.INTERNAL_ERROR
        assert (await client.errors.get())["error"]["code"] == "UNAVAILABLE"
    finally:
        await client.close()


def run_once_before_claim(
    services: Services, monkeypatch: pytest.MonkeyPatch, meanwhile: Callable[[], Awaitable[Any]]
) -> None:
    """Run ``meanwhile`` once, after the next socket was authenticated and just before it
    claims its player's live socket: a ban or revocation then finds no live socket."""
    presence = services.presence
    socket_opened = presence.socket_opened

    async def claim_after(player_id: str, conn_id: str) -> str | None:
        monkeypatch.setattr(presence, "socket_opened", socket_opened)  # once
        await meanwhile()
        return await socket_opened(player_id, conn_id)

    monkeypatch.setattr(presence, "socket_opened", claim_after)


async def test_a_ban_while_the_socket_opens_closes_it_as_banned(
    serve: Callable[..., Awaitable[Served]], monkeypatch: pytest.MonkeyPatch
) -> None:
    base, app = await serve()
    services = app[SERVICES]
    mallory = await login(base, "mallory")
    run_once_before_claim(
        services, monkeypatch, lambda: services.sessions.ban(mallory.player_id, None)
    )
    client = await ArenaClient.connect(base, mallory.token)
    try:
        assert (await client.next_push("session.banned"))["ev"] == "session.banned"
        assert await client.wait_closed() == CloseCode.BANNED
    finally:
        await client.close()


# What can end a session while its socket opens, and the close code the socket must get.
ENDS_WHILE_OPENING: dict[str, tuple[Callable[[Services, Session], Awaitable[Any]], int]] = {
    "revoked": (lambda s, session: s.sessions.revoke_all(session), CloseCode.SESSION_REVOKED),
    "banned": (lambda s, session: s.sessions.ban(session.player_id, 3600), CloseCode.BANNED),
}


@pytest.mark.parametrize("end", list(ENDS_WHILE_OPENING))
async def test_a_session_ended_while_its_socket_opens_closes_it_with_the_ends_code(
    serve: Callable[..., Awaitable[Served]], monkeypatch: pytest.MonkeyPatch, end: str
) -> None:
    """A revocation or a timed ban landing between the authentication and the claim."""
    action, code = ENDS_WHILE_OPENING[end]
    base, app = await serve()
    services = app[SERVICES]
    player = await login(base, "alice")
    session = await services.sessions.authenticate(player.token)
    run_once_before_claim(services, monkeypatch, lambda: action(services, session))
    client = await ArenaClient.connect(base, player.token)
    try:
        assert await client.wait_closed() == code
    finally:
        await client.close()


async def test_a_socket_opening_reads_its_players_name_once_not_through_the_cache(
    serve: Callable[..., Awaitable[Served]],
) -> None:
    """Each socket reads its own player's name once, fresh from a login that emptied the
    profile cache's copy: a read of the name, not the cache's lookup, lock and fill."""
    base, app = await serve()
    alice = await login(base, "alice")
    before = app[SERVICES].cache_stats.node_counts()
    client = await ArenaClient.connect(base, alice.token)
    try:
        (conn,) = app[REGISTRY].all()

        async def named() -> bool:
            return conn.identity.name == "alice"

        await eventually(named, within_s=5)
        assert app[SERVICES].cache_stats.node_counts() == before
    finally:
        await client.close()


async def test_a_socket_waits_for_its_channel_in_its_own_task(
    serve: Callable[..., Awaitable[Served]], monkeypatch: pytest.MonkeyPatch
) -> None:
    """The wait for the player's channel to be confirmed is bounded by a timeout scope in
    the socket's own task, not by a task made for it per socket opening (wait_for's)."""
    base, app = await serve()
    subscriber = app[SUBSCRIBER]
    confirmed = subscriber.until_subscribed
    waited_in: list[str] = []

    async def recording(channel: str) -> None:
        task = asyncio.current_task()
        assert task is not None
        waited_in.append(task.get_coro().__name__)  # type: ignore[union-attr]
        await confirmed(channel)

    monkeypatch.setattr(subscriber, "until_subscribed", recording)
    alice = await login(base, "alice")
    client = await ArenaClient.connect(base, alice.token)
    try:

        async def waited() -> bool:
            return bool(waited_in)

        await eventually(waited, within_s=5)
        assert "recording" not in waited_in
    finally:
        await client.close()
