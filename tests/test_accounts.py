"""Accounts that cannot be taken by guessing: device secrets, revoking every session,
bans, guests that expire, JSON-only logins, per-address limits by IPv6 /64."""

from __future__ import annotations

import asyncio
import hashlib
import json
import time

import aiohttp
import pytest
import redis as redis_sync

from client_sim.client import ArenaClient, guest_login
from server.settings import Settings
from tests.conftest import SpawnNode, StartArena
from tests.helpers import eventually, http_json, login, new_device

ADMIN_KEY = "accounts-admin-" + "k" * 32
DAY_S = 86_400


def device_key(device_id: str) -> str:
    return "arena:device:" + hashlib.sha256(b"device:" + device_id.encode()).hexdigest()


async def post_guest(base_url: str, body: object) -> tuple[int, dict[str, object]]:
    return await http_json("POST", base_url + "/v1/auth/guest", json=body)


def error_code(reply: dict[str, object]) -> object:
    error = reply["error"]
    assert isinstance(error, dict)
    return error["code"]


# --- device secrets -----------------------------------------------------------------------


async def test_another_players_device_id_alone_takes_nothing(arena: str) -> None:
    device = new_device()
    victim = await login(arena, "alice", device_id=device)
    assert victim.device_secret is not None
    async with await ArenaClient.connect(arena, victim.token) as client:
        await client.request("ping")
        for body in (
            {"device_id": device, "name": "mallory"},
            {"device_id": device, "device_secret": None, "name": "mallory"},
            {"device_id": device, "device_secret": "", "name": "mallory"},
            {"device_id": device, "device_secret": "wrong-" + "x" * 40, "name": "mallory"},
            {"device_id": device, "device_secret": "y" * 5000, "name": "mallory"},
        ):
            status, reply = await post_guest(arena, body)
            assert (status, error_code(reply)) == (401, "BAD_CREDENTIALS"), body
        # Nothing changed for the victim: same name, the socket still open and answering.
        _, session = await http_json("GET", arena + "/v1/session", token=victim.token)
        assert session["name"] == "alice"
        assert "server_time_ms" in await client.request("ping")
        assert client.close_code is None
    # With its secret, the device is its player again.
    body = {"device_id": device, "device_secret": victim.device_secret, "name": "alice2"}
    status, again = await post_guest(arena, body)
    assert status == 200
    assert again["player_id"] == victim.player_id
    assert again["name"] == "alice2"


async def test_a_device_secret_of_the_wrong_type_is_a_bad_request(arena: str) -> None:
    body = {"device_id": new_device(), "device_secret": 1234, "name": "x"}
    status, reply = await post_guest(arena, body)
    assert (status, error_code(reply)) == (400, "BAD_REQUEST")


async def test_two_first_logins_of_one_device_make_one_player_and_one_secret(
    arena: str,
) -> None:
    device = new_device()
    replies = await asyncio.gather(
        *(post_guest(arena, {"device_id": device, "name": f"n{i}"}) for i in range(8))
    )
    won = [reply for status, reply in replies if status == 200]
    lost = [reply for status, reply in replies if status != 200]
    assert len(won) == 1
    assert "device_secret" in won[0]
    assert {(error_code(reply)) for reply in lost} == {"BAD_CREDENTIALS"}


async def test_a_device_from_before_secrets_gets_its_secret_on_its_next_login(
    arena: str, redis_client: redis_sync.Redis
) -> None:
    device = new_device()
    # What a login wrote before device secrets: the player id alone, no TTL.
    redis_client.set(device_key(device), "0123456789abcdef")
    redis_client.hset("arena:player:0123456789abcdef", mapping={"name": "old", "created_ms": 1})
    first = await guest_login(arena, device, "old")
    assert first.player_id == "0123456789abcdef"
    assert first.device_secret is not None
    assert redis_client.type(device_key(device)) == b"hash"
    assert 0 < redis_client.ttl(device_key(device)) <= 90 * DAY_S
    # From now on the secret is required.
    status, reply = await post_guest(arena, {"device_id": device, "name": "old"})
    assert (status, error_code(reply)) == (401, "BAD_CREDENTIALS")
    again = await guest_login(arena, device, "old", device_secret=first.device_secret)
    assert again.player_id == first.player_id
    assert again.device_secret is None


# --- every session of a player ------------------------------------------------------------


async def test_deleting_all_sessions_ends_each_and_closes_the_socket_on_another_node(
    spawn_node: SpawnNode,
) -> None:
    a, b = spawn_node(), spawn_node()
    device = new_device()
    first = await login(a.url, "alice", device_id=device)
    second = await login(a.url, "alice", device_id=device)
    intruder_socket = await ArenaClient.connect(b.url, second.token)
    async with intruder_socket:
        await intruder_socket.request("ping")
        status, reply = await http_json("DELETE", a.url + "/v1/sessions", token=first.token)
        assert (status, reply) == (200, {"revoked": 2})
        assert await intruder_socket.wait_closed() == 4002
    for token in (first.token, second.token):
        status, reply = await http_json("GET", b.url + "/v1/session", token=token)
        assert (status, error_code(reply)) == (401, "UNAUTHORIZED")
    # The player itself lives on: its device logs in again.
    assert (await login(b.url, "alice", device_id=device)).player_id == first.player_id


async def test_deleting_all_sessions_wants_a_session(arena: str) -> None:
    status, reply = await http_json("DELETE", arena + "/v1/sessions")
    assert (status, error_code(reply)) == (401, "UNAUTHORIZED")


async def test_a_players_session_list_drops_sessions_that_are_gone(
    arena: str, redis_client: redis_sync.Redis
) -> None:
    device = new_device()
    first = await login(arena, device_id=device)
    assert (await http_json("DELETE", arena + "/v1/session", token=first.token))[0] == 200
    await login(arena, device_id=device)
    listed = redis_client.zrange(f"arena:{{player:{first.player_id}}}:sessions", 0, -1)
    assert len(listed) == 1  # the revoked one was pruned when the new one was added


# --- bans ---------------------------------------------------------------------------------


@pytest.fixture
async def arena_admin(start_arena: StartArena) -> str:
    return await start_arena(admin_key=ADMIN_KEY)


async def admin(
    base_url: str, player_id: str, action: str, body: object = None
) -> tuple[int, dict[str, object]]:
    return await http_json(
        "POST", f"{base_url}/v1/admin/players/{player_id}/{action}", token=ADMIN_KEY, json=body
    )


async def test_a_ban_closes_the_socket_ends_sessions_and_refuses_logins(arena_admin: str) -> None:
    device = new_device()
    player = await login(arena_admin, "cheater", device_id=device)
    async with await ArenaClient.connect(arena_admin, player.token) as client:
        await client.request("ping")
        status, reply = await admin(arena_admin, player.player_id, "ban")
        assert status == 200
        assert reply == {"player_id": player.player_id, "banned": True, "until_ms": None}
        await client.next_push("session.banned")
        assert await client.wait_closed() == 4005
    status, reply = await http_json("GET", arena_admin + "/v1/session", token=player.token)
    assert (status, error_code(reply)) == (401, "UNAUTHORIZED")
    # The device with its secret: refused.
    body = {"device_id": device, "device_secret": player.device_secret, "name": "renamed"}
    status, reply = await post_guest(arena_admin, body)
    assert (status, error_code(reply)) == (403, "BANNED")
    assert "retry_after_ms" not in reply["error"]  # type: ignore[operator]
    # Unbanned: the same device logs in as the same player.
    status, reply = await admin(arena_admin, player.player_id, "unban")
    assert (status, reply["was_banned"]) == (200, True)
    again = await login(arena_admin, "cheater", device_id=device)
    assert again.player_id == player.player_id


async def test_a_timed_ban_ends_by_itself(arena_admin: str, redis_client: redis_sync.Redis) -> None:
    device = new_device()
    player = await login(arena_admin, "brief", device_id=device)
    status, reply = await admin(arena_admin, player.player_id, "ban", {"duration_s": 3600})
    assert status == 200
    until_ms = reply["until_ms"]
    assert isinstance(until_ms, int)
    body = {"device_id": device, "device_secret": player.device_secret, "name": "brief"}
    status, refused = await post_guest(arena_admin, body)
    assert (status, error_code(refused)) == (403, "BANNED")
    error = refused["error"]
    assert isinstance(error, dict)
    assert 3_500_000 < error["retry_after_ms"] <= 3_600_000
    assert "until 20" in error["message"]  # says when, as an ISO date
    # The ban's key ends with the ban; bring its end to now rather than wait an hour.
    ban = f"arena:{{player:{player.player_id}}}:ban"
    assert int(redis_client.get(ban) or 0) == until_ms
    assert 3_500_000 < redis_client.pttl(ban) <= 3_600_000
    redis_client.pexpireat(ban, int(time.time() * 1000) + 50)

    async def logs_in() -> bool:
        return (await post_guest(arena_admin, body))[0] == 200

    await eventually(logs_in, within_s=5)


@pytest.mark.parametrize("duration", [0, -1, 1.5, "60", True, 10 * 365 * DAY_S + 1])
async def test_a_ban_with_a_bad_duration_is_a_bad_request(
    arena_admin: str, duration: object
) -> None:
    player = await login(arena_admin)
    status, reply = await admin(arena_admin, player.player_id, "ban", {"duration_s": duration})
    assert (status, error_code(reply)) == (400, "BAD_REQUEST")


async def test_banning_a_player_who_never_was_is_not_found(arena_admin: str) -> None:
    status, reply = await admin(arena_admin, "no-such-player", "ban")
    assert (status, error_code(reply)) == (404, "NOT_FOUND")


async def test_a_ban_reaches_the_players_socket_on_another_node(
    spawn_node: SpawnNode,
) -> None:
    a = spawn_node(ARENA_ADMIN_KEY=ADMIN_KEY)
    b = spawn_node(ARENA_ADMIN_KEY=ADMIN_KEY)
    player = await login(a.url, "far")
    async with await ArenaClient.connect(b.url, player.token) as client:
        await client.request("ping")
        assert (await admin(a.url, player.player_id, "ban", {"duration_s": 600}))[0] == 200
        assert await client.wait_closed() == 4005


# --- guests that never come back ------------------------------------------------------------


async def test_a_guests_keys_live_the_guest_ttl_from_the_last_login(
    start_arena: StartArena, redis_client: redis_sync.Redis
) -> None:
    arena = await start_arena(guest_ttl_days=2)
    device = new_device()
    player = await login(arena, device_id=device)
    keys = [
        device_key(device),
        f"arena:player:{player.player_id}",
        f"arena:{{player:{player.player_id}}}:sessions",
    ]
    for key in keys:
        assert 2 * DAY_S - 60 < redis_client.ttl(key) <= 2 * DAY_S, key
        redis_client.expire(key, 100)
    await login(arena, device_id=device)  # the next login starts the count again
    for key in keys:
        assert 2 * DAY_S - 60 < redis_client.ttl(key) <= 2 * DAY_S, key


def test_the_guest_ttl_is_a_whole_number_of_days() -> None:
    assert Settings.from_env({}).guest_ttl_days == 90
    assert Settings.from_env({"ARENA_GUEST_TTL_DAYS": "7"}).guest_ttl_days == 7
    with pytest.raises(ValueError, match="ARENA_GUEST_TTL_DAYS"):
        Settings.from_env({"ARENA_GUEST_TTL_DAYS": "0"})


# --- JSON only, and addresses ---------------------------------------------------------------


def multipart(fields: dict[str, str]) -> aiohttp.FormData:
    form = aiohttp.FormData(fields)
    form.add_field("upload", b"y", filename="y.txt")  # a file makes it multipart
    return form


async def test_logins_take_only_json_bodies(arena: str) -> None:
    fields = {"device_id": new_device(), "name": "formed"}
    async with aiohttp.ClientSession() as http:
        # What a cross-site HTML form can send: urlencoded, multipart, text/plain.
        for data, headers in (
            (fields, {}),
            (multipart(fields), {}),
            (json.dumps(fields), {"Content-Type": "text/plain"}),
            (json.dumps(fields), {"Content-Type": "application/json; charset=latin-1"}),
        ):
            async with http.post(arena + "/v1/auth/guest", data=data, headers=headers) as resp:
                assert resp.status == 415
                assert (await resp.json())["error"]["code"] == "UNSUPPORTED_MEDIA_TYPE"
        async with http.post(arena + "/v1/auth/spectator") as resp:
            assert resp.status == 415
        async with http.post(
            arena + "/v1/auth/guest",
            data=b'{"device_id": "device-utf8-00001", "name": "x"}',
            headers={"Content-Type": "application/json; charset=UTF-8"},
        ) as resp:
            assert resp.status == 200


async def test_ipv6_addresses_in_one_slash_64_share_a_login_limit(
    start_arena: StartArena,
) -> None:
    arena = await start_arena(rate_limits="auth.guest=2/0.01", trusted_proxies="127.0.0.1")

    async def guest(address: str) -> int:
        body = {"device_id": new_device(), "name": "p"}
        async with (
            aiohttp.ClientSession() as http,
            http.post(
                arena + "/v1/auth/guest", json=body, headers={"X-Forwarded-For": address}
            ) as resp,
        ):
            return resp.status

    one_host = ["2001:db8:1:2::1", "2001:db8:1:2::2", "2001:db8:1:2:ffff:ffff:ffff:ffff"]
    assert [await guest(address) for address in one_host] == [200, 200, 429]
    assert await guest("2001:db8:1:3::1") == 200  # the next /64 is someone else
    # An IPv4-mapped address is its IPv4 address.
    assert [await guest(a) for a in ("10.9.9.9", "::ffff:10.9.9.9", "10.9.9.9")] == [
        200,
        200,
        429,
    ]


async def test_a_banned_device_from_before_secrets_keeps_its_chance_at_a_secret(
    arena_admin: str, redis_client: redis_sync.Redis
) -> None:
    device = new_device()
    redis_client.set(device_key(device), "00000000000000aa")
    redis_client.hset("arena:player:00000000000000aa", mapping={"name": "old", "created_ms": 1})
    assert (await admin(arena_admin, "00000000000000aa", "ban"))[0] == 200
    status, reply = await post_guest(arena_admin, {"device_id": device, "name": "old"})
    assert (status, error_code(reply)) == (403, "BANNED")
    # No secret was issued into a refused reply: the owner gets it once unbanned.
    assert redis_client.type(device_key(device)) == b"string"
    assert (await admin(arena_admin, "00000000000000aa", "unban"))[0] == 200
    again = await guest_login(arena_admin, device, "old")
    assert again.player_id == "00000000000000aa"
    assert again.device_secret is not None
