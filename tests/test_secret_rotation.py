"""A player who fears its device secret leaked changes it: ``POST /v1/auth/guest/rotate``.
The old secret logs in no more, and every session made with it ends."""

from __future__ import annotations

import aiohttp
import pytest

from client_sim.client import ArenaClient
from tests.conftest import SpawnNode
from tests.helpers import http_json, login, new_device


async def rotate(base_url: str, body: object) -> tuple[int, dict[str, object]]:
    return await http_json("POST", base_url + "/v1/auth/guest/rotate", json=body)


async def guest(base_url: str, device: str, secret: object) -> tuple[int, dict[str, object]]:
    body = {"device_id": device, "device_secret": secret, "name": "alice"}
    return await http_json("POST", base_url + "/v1/auth/guest", json=body)


def error_code(reply: dict[str, object]) -> object:
    error = reply["error"]
    assert isinstance(error, dict)
    return error["code"]


async def test_a_new_secret_shuts_out_whoever_holds_the_old_one(spawn_node: SpawnNode) -> None:
    a, b = spawn_node(), spawn_node()
    device = new_device()
    owner = await login(a.url, "alice", device_id=device)
    leaked = owner.device_secret
    intruder = await login(b.url, "alice", device_id=device)  # with the leaked secret
    async with await ArenaClient.connect(b.url, intruder.token) as intruder_socket:
        await intruder_socket.request("ping")
        status, reply = await rotate(a.url, {"device_id": device, "device_secret": leaked})
        assert status == 200
        assert reply["player_id"] == owner.player_id
        assert reply["revoked"] == 2
        new_secret = reply["device_secret"]
        assert isinstance(new_secret, str)
        assert len(new_secret) >= 22
        assert new_secret != leaked
        assert await intruder_socket.wait_closed() == 4002
    for token in (owner.token, intruder.token):
        status, reply = await http_json("GET", b.url + "/v1/session", token=token)
        assert (status, error_code(reply)) == (401, "UNAUTHORIZED")
    status, reply = await guest(b.url, device, leaked)
    assert (status, error_code(reply)) == (401, "BAD_CREDENTIALS")
    status, reply = await guest(b.url, device, new_secret)
    assert (status, reply["player_id"]) == (200, owner.player_id)
    assert "device_secret" not in reply  # issued once, by the rotation


@pytest.mark.parametrize(
    ("body", "status", "code"),
    [
        ({"device_secret": "not-the-secret"}, 401, "BAD_CREDENTIALS"),
        ({}, 401, "BAD_CREDENTIALS"),
        ({"device_secret": None}, 401, "BAD_CREDENTIALS"),
        ({"device_secret": 7}, 400, "BAD_REQUEST"),
        ({"device_id": "no-such-device-1", "device_secret": "x" * 43}, 401, "BAD_CREDENTIALS"),
        ({"device_id": 12}, 400, "BAD_REQUEST"),
    ],
)
async def test_a_wrong_rotation_changes_nothing(
    arena: str, body: dict[str, object], status: int, code: str
) -> None:
    device = new_device()
    owner = await login(arena, device_id=device)
    got, reply = await rotate(arena, {"device_id": device, **body})
    assert (got, error_code(reply)) == (status, code)
    assert (await http_json("GET", arena + "/v1/session", token=owner.token))[0] == 200
    assert (await guest(arena, device, owner.device_secret))[0] == 200


async def test_rotation_takes_only_json(arena: str) -> None:
    async with (
        aiohttp.ClientSession() as http,
        http.post(arena + "/v1/auth/guest/rotate", data="device_id=x") as resp,
    ):
        assert resp.status == 415
