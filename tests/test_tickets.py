"""Socket tickets: a browser opens its socket with a single-use ticket, never its token;
a token travels in a URL only to /v1/ws, for old clients."""

from __future__ import annotations

import aiohttp
import pytest
import redis as redis_sync

from client_sim.client import ws_url
from tests.helpers import eventually, http_json, login


async def ticket_for(base_url: str, token: str) -> str:
    status, reply = await http_json("POST", base_url + "/v1/ws/ticket", token=token)
    assert status == 200
    assert reply["expires_in"] == 30
    ticket = reply["ticket"]
    assert isinstance(ticket, str)
    assert len(ticket) >= 22
    return ticket


async def opens_socket(base_url: str, query: str) -> int:
    """101 when the socket opens (and answers a ping), else the refusal's HTTP status."""
    async with aiohttp.ClientSession() as http:
        try:
            async with http.ws_connect(f"{ws_url(base_url)}?{query}&format=json") as ws:
                await ws.send_json({"op": "ping", "rid": 1})
                reply = await ws.receive_json(timeout=5)
                assert reply["ok"] is True
                return 101
        except aiohttp.WSServerHandshakeError as exc:
            return exc.status


async def test_a_ticket_opens_a_socket_once(arena: str) -> None:
    player = await login(arena)
    ticket = await ticket_for(arena, player.token)
    assert await opens_socket(arena, f"ticket={ticket}") == 101
    assert await opens_socket(arena, f"ticket={ticket}") == 401  # used up


async def test_a_request_that_cannot_upgrade_leaves_the_ticket_unspent(arena: str) -> None:
    """A proxy that drops the Upgrade header gets 400, and the ticket still opens the socket."""
    player = await login(arena)
    ticket = await ticket_for(arena, player.token)
    status, reply = await http_json("GET", f"{arena}/v1/ws?ticket={ticket}")
    assert status == 400
    assert reply["error"]["code"] == "BAD_REQUEST"
    assert await opens_socket(arena, f"ticket={ticket}") == 101


async def test_an_expired_ticket_is_refused(arena: str, redis_client: redis_sync.Redis) -> None:
    player = await login(arena)
    ticket = await ticket_for(arena, player.token)
    (key,) = redis_client.keys("arena:ticket:*")
    assert 0 < redis_client.ttl(key) <= 30
    assert ticket.encode() not in key  # stored hashed
    redis_client.pexpire(key, 1)

    async def gone() -> bool:
        return not redis_client.exists(key)

    await eventually(gone, within_s=2)
    assert await opens_socket(arena, f"ticket={ticket}") == 401


async def test_a_ticket_of_a_revoked_session_is_refused(arena: str) -> None:
    player = await login(arena)
    ticket = await ticket_for(arena, player.token)
    assert (await http_json("DELETE", arena + "/v1/session", token=player.token))[0] == 200
    assert await opens_socket(arena, f"ticket={ticket}") == 401


@pytest.mark.parametrize("ticket", ["", "not-a-ticket", "x" * 1000])
async def test_an_unknown_ticket_is_refused(arena: str, ticket: str) -> None:
    assert await opens_socket(arena, f"ticket={ticket}") == 401


async def test_a_ticket_wants_a_session_in_the_header(arena: str) -> None:
    player = await login(arena)
    status, reply = await http_json("POST", f"{arena}/v1/ws/ticket?token={player.token}")
    assert (status, reply["error"]["code"]) == (401, "UNAUTHORIZED")


async def test_a_token_in_the_query_opens_only_the_socket(arena: str) -> None:
    player = await login(arena)
    # HTTP routes read the Authorization header only.
    for method, path in (("GET", "/v1/session"), ("DELETE", "/v1/session")):
        status, reply = await http_json(method, f"{arena}{path}?token={player.token}")
        assert (status, reply["error"]["code"]) == (401, "UNAUTHORIZED"), path
    # /v1/ws still takes it, for clients from before tickets.
    assert await opens_socket(arena, f"token={player.token}") == 101


async def test_tickets_are_rate_limited_per_player(
    arena: str, redis_client: redis_sync.Redis
) -> None:
    """Each ticket is a Redis key for 30 s: a player may not mint them without end."""
    player, other = await login(arena), await login(arena, name="bob")
    for _ in range(10):  # the burst
        await ticket_for(arena, player.token)
    status, reply = await http_json("POST", arena + "/v1/ws/ticket", token=player.token)
    assert status == 429
    assert reply["error"]["code"] == "RATE_LIMITED"
    assert reply["error"]["retry_after_ms"] > 0
    assert len(redis_client.keys("arena:ticket:*")) == 10
    await ticket_for(arena, other.token)  # another player is not held up
