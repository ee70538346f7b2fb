"""Revoking every session of a player (``DELETE /v1/sessions``, a ban) while the same
player logs in: no session may outlive the revocation unlisted, where no later
revocation could find it.

A login lists its session, then creates it (two keys in two slots, so two steps). The
race is run at exactly its worst moment: the real stores on the test's Redis, with the
revocation run by the real service between those two steps."""

from __future__ import annotations

import time
from collections.abc import AsyncIterator, Awaitable, Callable

import pytest
import redis as redis_sync

from server.app import build_services
from server.embedded_redis import RedisProcess
from server.errors import Unauthorized
from server.services import Services
from server.services.sessions import SessionService
from server.storage.accounts import AccountStore
from server.storage.clients import open_mux, open_redis
from server.storage.mux import Commands
from server.storage.scripts import Scripts
from server.storage.sessions import SessionStore
from tests.conftest import settings_for_test
from tests.helpers import new_device


class RevokingWhileOpening(SessionStore):
    """The real session store; ``meanwhile``, if set, runs once just before a session is
    created: after the login listed it, before it exists."""

    meanwhile: Callable[[], Awaitable[object]] | None = None

    async def open_session(
        self, *, player_id: str, token_hash: str, now_ms: int, ttl_s: int, role: str = "player"
    ) -> None:
        run, self.meanwhile = self.meanwhile, None
        if run is not None:
            await run()
        await super().open_session(
            player_id=player_id, token_hash=token_hash, now_ms=now_ms, ttl_s=ttl_s, role=role
        )


@pytest.fixture
async def real(
    redis_server: RedisProcess, redis_client: redis_sync.Redis
) -> AsyncIterator[tuple[Services, Commands]]:
    settings = settings_for_test(redis_url=redis_server.url)
    mux = open_mux(redis_server.url, timeout_s=5)
    redis = open_redis(redis_server.url, pool_size=2, timeout_s=5)
    yield build_services(settings, mux, time.time, redis), mux
    await mux.aclose()
    await redis.aclose()


def live_sessions(redis_client: redis_sync.Redis, player_id: str) -> set[bytes]:
    """The token hashes of the player's sessions that exist in Redis."""
    found = set()
    for key in redis_client.scan_iter("arena:session:*"):
        assert isinstance(key, bytes)
        if redis_client.hget(key, "player_id") == player_id.encode():
            found.add(key.removeprefix(b"arena:session:"))
    return found


async def test_a_login_racing_a_revoke_of_every_session_leaves_no_session_alive(
    real: tuple[Services, Commands], redis_client: redis_sync.Redis
) -> None:
    services, mux = real
    device = new_device()
    first = await services.sessions.guest_login(device, None, "alice", client_ip="127.0.0.1")
    assert first.device_secret is not None
    owner = await services.sessions.authenticate(first.token)
    store = RevokingWhileOpening(mux)
    racing = SessionService(
        store,
        services.rate_limiter,
        services.presence,
        services.profiles,
        AccountStore(mux, Scripts.load(mux)),
        ttl_s=3600,
        touch_interval_s=60,
        account_ttl_s=86_400,
    )

    async def revoke_every_session() -> None:
        assert await services.sessions.revoke_all(owner) == 1  # the owner's; not yet the new one

    store.meanwhile = revoke_every_session
    refused: Unauthorized | None = None
    try:
        await racing.guest_login(device, first.device_secret, "alice", client_ip="127.0.0.1")
    except Unauthorized as exc:
        refused = exc
    assert store.meanwhile is None  # the revocation did run in the window
    # The revocation came after the new session was listed: it must not survive it.
    assert live_sessions(redis_client, first.player_id) == set()
    assert refused is not None
    assert "revoked while this login ran" in str(refused)

    # Logging in again afterwards is an ordinary login.
    again = await racing.guest_login(device, first.device_secret, "alice", client_ip="127.0.0.1")
    assert (await services.sessions.authenticate(again.token)).player_id == first.player_id
    assert len(live_sessions(redis_client, first.player_id)) == 1
