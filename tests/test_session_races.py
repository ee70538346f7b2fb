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

from server.embedded_redis import RedisProcess
from server.errors import BadCredentials, Unauthorized
from server.services import Services
from server.services.sessions import SessionService
from server.storage.accounts import AccountStore
from server.storage.clients import open_mux, open_redis
from server.storage.mux import Commands
from server.storage.scripts import Scripts
from server.storage.sessions import ListedSession, SessionStore
from tests.conftest import settings_for_test
from tests.helpers import new_device, services_of


class RevokingWhileOpening(SessionStore):
    """The real session store; ``meanwhile``, if set, runs once just before a session is
    created: after the login listed it, before it exists. ``before_listing``, if set,
    runs once as a login starts to list its session (after it proved its secret)."""

    meanwhile: Callable[[], Awaitable[object]] | None = None
    before_listing: Callable[[], Awaitable[object]] | None = None

    async def open_player_session(
        self,
        *,
        player_id: str,
        token_hash: str,
        now_ms: int,
        ttl_s: int,
        account_ttl_s: int,
        keep_at_most: int,
    ) -> ListedSession:
        run, self.before_listing = self.before_listing, None
        if run is not None:
            await run()
        return await super().open_player_session(
            player_id=player_id,
            token_hash=token_hash,
            now_ms=now_ms,
            ttl_s=ttl_s,
            account_ttl_s=account_ttl_s,
            keep_at_most=keep_at_most,
        )

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
    yield services_of(settings, mux, time.time, redis), mux
    await mux.aclose()
    await redis.aclose()


def racing_service(services: Services, mux: Commands, store: SessionStore) -> SessionService:
    """The real session service over ``store`` (the other stores and services: the real ones)."""
    return SessionService(
        store,
        services.rate_limiter,
        services.presence,
        services.profiles,
        AccountStore(mux, Scripts.load(mux)),
        ttl_s=3600,
        touch_interval_s=60,
        account_ttl_s=86_400,
    )


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
    racing = racing_service(services, mux, store)

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


async def test_a_login_with_the_old_secret_racing_its_rotation_leaves_no_session_alive(
    real: tuple[Services, Commands], redis_client: redis_sync.Redis
) -> None:
    """The login proved the old secret; the rotation (new secret, every session revoked)
    runs before the login lists its session, so the revocation cannot see it."""
    services, mux = real
    device = new_device()
    first = await services.sessions.guest_login(device, None, "alice", client_ip="127.0.0.1")
    old_secret = first.device_secret
    store = RevokingWhileOpening(mux)
    racing = racing_service(services, mux, store)
    rotations = []

    async def rotate() -> None:
        rotations.append(
            await services.sessions.rotate_device_secret(device, old_secret, client_ip="10.0.0.1")
        )

    store.before_listing = rotate
    with pytest.raises(BadCredentials, match="changed while this login ran"):
        await racing.guest_login(device, old_secret, "intruder", client_ip="127.0.0.1")
    assert store.before_listing is None  # the rotation did run in the window
    assert live_sessions(redis_client, first.player_id) == set()
    # The new secret logs in; the old one no more.
    (rotation,) = rotations
    assert rotation.player_id == first.player_id
    await services.sessions.guest_login(
        device, rotation.device_secret, "alice", client_ip="127.0.0.1"
    )
    with pytest.raises(BadCredentials):
        await services.sessions.guest_login(device, old_secret, "alice", client_ip="127.0.0.1")
