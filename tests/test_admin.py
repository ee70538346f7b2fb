"""The admin API: behind ARENA_ADMIN_KEY, each action felt by the players it touches."""

from __future__ import annotations

import logging

import pytest

from client_sim.client import ArenaClient, ArenaError
from tests.conftest import StartArena
from tests.helpers import connect, http_json, start_match

ADMIN_KEY = "admin-" + "k" * 32


@pytest.fixture
async def arena_admin(start_arena: StartArena) -> str:
    return await start_arena(admin_key=ADMIN_KEY)


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("GET", "/v1/admin/stats"),
        ("POST", "/v1/admin/lobbies/0123456789ab/close"),
        ("POST", "/v1/admin/matches/0123456789abcdef/end"),
        ("POST", "/v1/admin/players/p1/kick"),
        ("POST", "/v1/admin/players/p1/ban"),
        ("POST", "/v1/admin/players/p1/unban"),
    ],
)
async def test_every_admin_route_wants_the_key(arena_admin: str, method: str, path: str) -> None:
    status, body = await http_json(method, arena_admin + path)
    assert (status, body["error"]["code"]) == (401, "UNAUTHORIZED")
    status, body = await http_json(method, arena_admin + path, token="not-the-key")
    assert (status, body["error"]["code"]) == (403, "FORBIDDEN")


async def test_without_a_configured_key_the_admin_api_is_off(arena: str) -> None:
    status, body = await http_json("GET", arena + "/v1/admin/stats", token="anything")
    assert (status, body["error"]["code"]) == (401, "UNAUTHORIZED")
    assert "off" in body["error"]["message"]


async def test_stats_count_what_is_open_and_running(arena_admin: str) -> None:
    _, clients, _ = await start_match([arena_admin], 2)
    _, carol = await connect(arena_admin, "carol")
    try:
        await carol.request("lobby.create", mode="duel", capacity=2)
        status, stats = await http_json("GET", arena_admin + "/v1/admin/stats", token=ADMIN_KEY)
        assert status == 200
        assert stats["online"] == 3
        assert stats["nodes"] == 1
        assert stats["lobbies_open"] == 1
        assert stats["matches_running"] == 1
        assert stats["queues"]["results"] == {"ready": 0, "taken": 0, "dead": 0}
    finally:
        for client in [*clients, carol]:
            await client.close()


async def test_closing_a_lobby_frees_its_seats_and_tells_its_players(
    arena_admin: str, caplog: pytest.LogCaptureFixture
) -> None:
    _, alice = await connect(arena_admin, "alice")
    _, bob = await connect(arena_admin, "bob")
    async with alice, bob:
        lobby = (await alice.request("lobby.create", mode="duel", capacity=4))["lobby"]
        await bob.request("lobby.join", lobby_id=lobby["lobby_id"])
        with caplog.at_level(logging.INFO, logger="server.admin"):
            status, body = await http_json(
                "POST",
                f"{arena_admin}/v1/admin/lobbies/{lobby['lobby_id']}/close",
                token=ADMIN_KEY,
            )
        assert status == 200
        assert body["lobby"]["status"] == "closed"
        for client in (alice, bob):
            closed = await client.next_push("lobby.closed")
            assert closed == {
                "ev": "lobby.closed",
                "lobby_id": lobby["lobby_id"],
                "reason": "admin",
            }
        # Seated nowhere: each can make a lobby of their own at once.
        await alice.request("lobby.create", mode="duel", capacity=2)
        await bob.request("lobby.create", mode="duel", capacity=2)
        assert any(f"closed lobby {lobby['lobby_id']}" in r.getMessage() for r in caplog.records)
        status, body = await http_json(
            "POST", f"{arena_admin}/v1/admin/lobbies/{lobby['lobby_id']}/close", token=ADMIN_KEY
        )
        assert (status, body["error"]["code"]) == (404, "LOBBY_NOT_FOUND")


async def test_ending_a_match_tells_everyone_and_scores_nothing(arena_admin: str) -> None:
    match_id, clients, players = await start_match([arena_admin], 2)
    try:
        status, body = await http_json(
            "POST", f"{arena_admin}/v1/admin/matches/{match_id}/end", token=ADMIN_KEY
        )
        assert status == 200
        assert body["match"]["state"] == "ended"
        for client in clients:
            ended = await client.next_push("match.ended")
            assert (ended["scores"], ended["by"]) == ({}, "admin")
        with pytest.raises(ArenaError) as refused:
            await clients[0].request("match.send", match_id=match_id, type="move", data=1)
        assert refused.value.code == "MATCH_ENDED"
        with pytest.raises(ArenaError) as unranked:
            await clients[0].request("lb.rank", board="global", player_id=players[0].player_id)
        assert unranked.value.code == "NOT_RANKED"
        status, body = await http_json(
            "POST", f"{arena_admin}/v1/admin/matches/{match_id}/end", token=ADMIN_KEY
        )
        assert (status, body["error"]["code"]) == (409, "MATCH_ENDED")
        status, body = await http_json(
            "POST", f"{arena_admin}/v1/admin/matches/{'0' * 16}/end", token=ADMIN_KEY
        )
        assert (status, body["error"]["code"]) == (404, "NOT_FOUND")
    finally:
        for client in clients:
            await client.close()


async def test_a_kicked_player_is_told_disconnected_and_unseated(arena_admin: str) -> None:
    player, alice = await connect(arena_admin, "alice")
    _, bob = await connect(arena_admin, "bob")
    async with bob:
        lobby = (await bob.request("lobby.create", mode="duel", capacity=4))["lobby"]
        await alice.request("lobby.join", lobby_id=lobby["lobby_id"])
        status, body = await http_json(
            "POST", f"{arena_admin}/v1/admin/players/{player.player_id}/kick", token=ADMIN_KEY
        )
        assert status == 200
        assert body == {
            "player_id": player.player_id,
            "connected": True,
            "left_lobby": lobby["lobby_id"],
        }
        await alice.next_push("session.kicked")
        assert await alice.wait_closed() == 4004
        while len((await bob.next_push("lobby.updated"))["lobby"]["members"]) != 1:
            pass  # earlier updates (the create, alice's join) come first
        # A kick is not a ban: the same token opens a socket again.
        async with await ArenaClient.connect(arena_admin, player.token) as again:
            assert (await again.request("session.get"))["player_id"] == player.player_id


async def test_kicking_a_player_who_never_was_is_not_found(arena_admin: str) -> None:
    status, body = await http_json(
        "POST", f"{arena_admin}/v1/admin/players/nobody-at-all/kick", token=ADMIN_KEY
    )
    assert (status, body["error"]["code"]) == (404, "NOT_FOUND")
