"""What a game client lives through over HTTP: logging in, its session, health."""

from __future__ import annotations

import asyncio

import aiohttp
import redis as redis_sync

from server.embedded_redis import free_port
from tests.conftest import StartArena
from tests.helpers import connect, eventually, http_json, login, new_device


async def test_guest_login_returns_an_opaque_token_and_a_stable_player(arena: str) -> None:
    device = new_device()
    status, first = await http_json(
        "POST", arena + "/v1/auth/guest", json={"device_id": device, "name": "  alice  "}
    )
    assert status == 200
    assert first["name"] == "alice"  # trimmed
    assert first["expires_in"] == 3600
    token = str(first["token"])
    assert len(token) >= 22  # at least 128 bits, url-safe base64
    secret = first["device_secret"]
    assert len(secret) >= 22  # the device's proof: at least 128 bits as well
    body = {"device_id": device, "device_secret": secret, "name": "alice2"}
    _, again = await http_json("POST", arena + "/v1/auth/guest", json=body)
    assert again["player_id"] == first["player_id"]
    assert "device_secret" not in again  # issued once; the device keeps it
    assert again["token"] != token
    _, other = await http_json(
        "POST", arena + "/v1/auth/guest", json={"device_id": new_device(), "name": "bob"}
    )
    assert other["player_id"] != first["player_id"]


async def test_redis_holds_neither_tokens_nor_device_ids(
    arena: str, redis_client: redis_sync.Redis
) -> None:
    device = new_device()
    player = await login(arena, device_id=device)
    stored: list[bytes | str] = []
    for key in redis_client.keys("*"):
        stored.append(key)
        if redis_client.type(key) == b"string":
            stored.append(redis_client.get(key) or b"")
        elif redis_client.type(key) == b"hash":
            stored.extend(redis_client.hgetall(key).values())
        elif redis_client.type(key) == b"zset":
            stored.extend(redis_client.zrange(key, 0, -1))  # type: ignore[arg-type]
    dump = b" ".join(s if isinstance(s, bytes) else s.encode() for s in stored)
    assert player.token.encode() not in dump
    assert device.encode() not in dump
    assert player.device_secret is not None
    assert player.device_secret.encode() not in dump


async def test_bad_logins_are_refused_with_bad_request(arena: str) -> None:
    bad_bodies: list[object] = [
        {"device_id": "short", "name": "alice"},
        {"device_id": "x" * 129, "name": "alice"},
        {"device_id": 12345678, "name": "alice"},
        {"device_id": "device\n0001", "name": "alice"},
        {"device_id": new_device(), "name": ""},
        {"device_id": new_device(), "name": "   "},
        {"device_id": new_device(), "name": "a" * 25},
        {"device_id": new_device(), "name": "bad\x00name"},
        {"device_id": new_device()},
        ["not", "an", "object"],
    ]
    for body in bad_bodies:
        status, reply = await http_json("POST", arena + "/v1/auth/guest", json=body)
        assert status == 400, body
        assert reply["error"]["code"] == "BAD_REQUEST", body
        assert reply["error"]["message"], body


async def test_undecodable_body_is_a_bad_request(arena: str) -> None:
    async with (
        aiohttp.ClientSession() as http,
        http.post(
            arena + "/v1/auth/guest",
            data=b"{not json",
            headers={"content-type": "application/json"},
        ) as resp,
    ):
        assert resp.status == 400
        assert (await resp.json())["error"]["code"] == "BAD_REQUEST"


async def test_session_is_read_back_with_its_token(arena: str) -> None:
    player = await login(arena, "carol")
    status, session = await http_json("GET", arena + "/v1/session", token=player.token)
    assert status == 200
    assert session["player_id"] == player.player_id
    assert session["name"] == "carol"
    assert 0 < int(session["expires_in"]) <= 3600


async def test_unknown_or_missing_tokens_are_unauthorized(arena: str) -> None:
    for token in (None, "not-a-token", "x" * 1000):
        status, reply = await http_json("GET", arena + "/v1/session", token=token)
        assert status == 401
        assert reply["error"]["code"] == "UNAUTHORIZED"


async def test_an_unused_session_expires_after_its_ttl(
    start_arena: StartArena, redis_client: redis_sync.Redis
) -> None:
    arena = await start_arena(session_ttl_s=1)
    player = await login(arena)
    assert (await http_json("GET", arena + "/v1/session", token=player.token))[0] == 200
    (key,) = redis_client.keys("arena:session:*")

    # Leaving the session alone for a TTL ends it: Redis expires it by itself.
    async def expired() -> bool:
        return redis_client.exists(key) == 0

    await eventually(expired, within_s=5, every_s=0.02)
    status, reply = await http_json("GET", arena + "/v1/session", token=player.token)
    assert status == 401
    assert reply["error"]["code"] == "UNAUTHORIZED"


async def test_http_use_slides_the_session_expiry(
    start_arena: StartArena, redis_client: redis_sync.Redis
) -> None:
    arena = await start_arena(session_ttl_s=60, session_touch_interval_s=1)
    player = await login(arena)
    key = redis_client.keys("arena:session:*")[0]
    redis_client.expire(key, 5)
    assert (await http_json("GET", arena + "/v1/session", token=player.token))[0] == 200
    assert redis_client.ttl(key) > 50


async def test_socket_activity_slides_the_session_expiry(
    start_arena: StartArena, redis_client: redis_sync.Redis
) -> None:
    arena = await start_arena(session_ttl_s=60, session_touch_interval_s=0.01)
    _, client = await connect(arena)
    async with client:
        key = redis_client.keys("arena:session:*")[0]
        redis_client.expire(key, 5)

        async def slid_by_activity() -> bool:
            await client.request("ping")  # activity past the touch interval refreshes the TTL
            return redis_client.ttl(key) > 50

        await eventually(slid_by_activity, within_s=5, every_s=0.01)


async def test_revoking_a_session_closes_its_live_socket(arena: str) -> None:
    player, client = await connect(arena)
    async with client:
        await client.request("ping")
        status, _ = await http_json("DELETE", arena + "/v1/session", token=player.token)
        assert status == 200
        assert await client.wait_closed() == 4002
    assert (await http_json("GET", arena + "/v1/session", token=player.token))[0] == 401


async def test_revoking_one_session_spares_the_players_other_session(arena: str) -> None:
    device = new_device()
    first = await login(arena, device_id=device)
    second = await login(arena, device_id=device)
    from client_sim.client import ArenaClient

    async with await ArenaClient.connect(arena, second.token) as client:
        await client.request("ping")
        assert (await http_json("DELETE", arena + "/v1/session", token=first.token))[0] == 200
        # The socket on the other session is untouched and still answers.
        assert "server_time_ms" in await client.request("ping")
        assert client.close_code is None


async def test_guest_logins_are_rate_limited_per_address(start_arena: StartArena) -> None:
    arena = await start_arena(rate_limits="auth.guest=3/2")
    for _ in range(3):
        await login(arena)
    status, reply = await http_json(
        "POST", arena + "/v1/auth/guest", json={"device_id": new_device(), "name": "x"}
    )
    assert status == 429
    error = reply["error"]
    assert error["code"] == "RATE_LIMITED"
    retry_after_ms = int(error["retry_after_ms"])
    assert 0 < retry_after_ms <= 501
    # Waiting as told is what is tested: the limit runs on Redis's clock (TIME in
    # lua/lib/gcra.lua), which no test can move.
    await asyncio.sleep(retry_after_ms / 1000)
    await login(arena)  # waiting as told is enough


async def test_health_and_readiness(arena: str) -> None:
    assert (await http_json("GET", arena + "/healthz"))[0] == 200
    status, body = await http_json("GET", arena + "/readyz")
    assert (status, body) == (200, {"status": "ready"})


async def test_not_ready_when_redis_does_not_answer(start_arena: StartArena) -> None:
    # ARENA_REDIS_WAIT_S=0: start at once, and say "not ready" until Redis answers.
    arena = await start_arena(
        redis_url=f"redis://127.0.0.1:{free_port()}/0", redis_timeout_s=0.5, redis_wait_s=0
    )
    assert (await http_json("GET", arena + "/healthz"))[0] == 200
    status, body = await http_json("GET", arena + "/readyz")
    assert status == 503
    assert body["error"]["code"] == "UNAVAILABLE"
    status, body = await http_json(
        "POST", arena + "/v1/auth/guest", json={"device_id": new_device(), "name": "x"}
    )
    assert status == 503
    assert body["error"]["code"] == "UNAVAILABLE"


async def test_unknown_routes_answer_with_the_error_shape(arena: str) -> None:
    status, body = await http_json("GET", arena + "/v1/nothing-here")
    assert status == 404
    assert body["error"]["code"] == "NOT_FOUND"


async def test_online_count_over_http(arena: str) -> None:
    assert (await http_json("GET", arena + "/v1/presence"))[1] == {"online": 0}
    _, client = await connect(arena)
    async with client:
        await client.request("ping")
        assert (await http_json("GET", arena + "/v1/presence"))[1] == {"online": 1}


async def test_a_burst_of_logins_is_queued_for_redis_never_refused(
    start_arena: StartArena,
) -> None:
    # 200 logins at once, about a thousand Redis commands in flight: the pipelined
    # client queues them on its connection; nothing fails for want of connections.
    arena = await start_arena(redis_pool_size=2)
    async with aiohttp.ClientSession() as http:

        async def one_login(i: int) -> int:
            body = {"device_id": f"pool-device-{i:04d}", "name": f"p{i}"}
            async with http.post(arena + "/v1/auth/guest", json=body) as resp:
                return resp.status

        statuses = await asyncio.gather(*(one_login(i) for i in range(200)))
    assert statuses == [200] * 200


async def test_an_oversized_body_is_refused_with_413(arena: str) -> None:
    body = {"device_id": new_device(), "name": "x" * 70_000}
    status, reply = await http_json("POST", arena + "/v1/auth/guest", json=body)
    assert status == 413
    assert reply["error"]["code"] == "BAD_REQUEST"


async def test_behind_a_trusted_proxy_each_client_address_has_its_own_login_limit(
    start_arena: StartArena,
) -> None:
    arena = await start_arena(rate_limits="auth.guest=2/0.01", trusted_proxies="127.0.0.1")

    async def guest(forwarded_for: str) -> int:
        body = {"device_id": new_device(), "name": "p"}
        headers = {"X-Forwarded-For": forwarded_for}
        async with (
            aiohttp.ClientSession() as http,
            http.post(arena + "/v1/auth/guest", json=body, headers=headers) as resp,
        ):
            return resp.status

    # The last hop not ours is the client: a forged first hop changes nothing.
    assert [await guest(f"6.6.6.6, 10.0.0.{n}") for n in (1, 1, 1)] == [200, 200, 429]
    assert await guest("10.0.0.2") == 200  # another player behind the same balancer
    assert [await guest("127.0.0.1") for _ in range(3)] == [200, 200, 429]  # only ours: the peer


async def test_http_replies_carry_a_request_id(arena: str) -> None:
    async with aiohttp.ClientSession() as http:
        async with http.get(arena + "/healthz", headers={"X-Request-Id": "trace-123"}) as resp:
            assert resp.headers["X-Request-Id"] == "trace-123"
        async with http.get(arena + "/healthz", headers={"X-Request-Id": "bad id\u00e9"}) as resp:
            assert resp.headers["X-Request-Id"] != "bad id\u00e9"
            assert len(resp.headers["X-Request-Id"]) == 12


async def test_pages_and_their_scripts_are_revalidated_by_browsers(arena: str) -> None:
    async with aiohttp.ClientSession() as http:
        for path in ("/", "/play", "/static/dashboard.js", "/static/play.js"):
            async with http.get(arena + path) as resp:
                assert resp.status == 200, path
                assert resp.headers["Cache-Control"] == "no-cache", path
