"""Lobbies as players live them on one node: create, list, join, leave, ready, grace."""

from __future__ import annotations

import asyncio
from typing import Any

import msgpack
import pytest
import redis as redis_sync

from client_sim.client import ArenaClient, ArenaError
from server.protocol import Message
from server.storage import keys
from tests.conftest import StartArena
from tests.helpers import Pushes, connect, eventually, login


async def players(arena: str, *names: str) -> list[ArenaClient]:
    return [(await connect(arena, name))[1] for name in names]


def member_names(lobby: dict[str, Any]) -> list[str]:
    return [m["name"] for m in lobby["members"]]


async def test_create_join_and_everyone_hears_of_it(arena: str) -> None:
    alice, bob = await players(arena, "alice", "bob")
    async with alice, bob:
        lobby = (await alice.request("lobby.create", mode="duel", capacity=2))["lobby"]
        assert lobby["owner"] == lobby["members"][0]["player_id"]
        assert (lobby["name"], lobby["private"], lobby["capacity"]) == ("alice's lobby", False, 2)
        joined = (await bob.request("lobby.join", lobby_id=lobby["lobby_id"]))["lobby"]
        assert member_names(joined) == ["alice", "bob"]

        async def alice_hears_bob() -> bool:
            push = await alice.next_push("lobby.updated")
            return member_names(push["lobby"]) == ["alice", "bob"]

        await eventually(alice_hears_bob, within_s=2)
        got = (await bob.request("lobby.get", lobby_id=lobby["lobby_id"]))["lobby"]
        assert got == joined


async def test_lobby_errors(arena: str) -> None:
    alice, bob, carol = await players(arena, "alice", "bob", "carol")
    async with alice, bob, carol:
        lobby_id = (await alice.request("lobby.create", mode="duel", capacity=2))["lobby"][
            "lobby_id"
        ]
        cases: list[tuple[str, dict[str, Any], str]] = [
            ("lobby.join", {"lobby_id": "0" * 12}, "LOBBY_NOT_FOUND"),
            ("lobby.join", {"lobby_id": "not-an-id"}, "LOBBY_NOT_FOUND"),
            ("lobby.get", {"lobby_id": "0" * 12}, "LOBBY_NOT_FOUND"),
            ("lobby.leave", {}, "NOT_IN_LOBBY"),
            ("lobby.ready", {"ready": True}, "NOT_IN_LOBBY"),
            ("lobby.create", {"mode": "duel", "capacity": 1}, "BAD_REQUEST"),
            ("lobby.create", {"mode": "duel", "capacity": 65}, "BAD_REQUEST"),
            ("lobby.create", {"mode": "Bad Mode", "capacity": 2}, "BAD_REQUEST"),
            ("lobby.ready", {"ready": "yes"}, "BAD_REQUEST"),
        ]
        for op, fields, code in cases:
            with pytest.raises(ArenaError) as refused:
                await carol.request(op, **fields)
            assert refused.value.code == code, (op, fields)
        await bob.request("lobby.join", lobby_id=lobby_id)
        with pytest.raises(ArenaError) as full:
            await carol.request("lobby.join", lobby_id=lobby_id)
        assert full.value.code == "LOBBY_FULL"
        with pytest.raises(ArenaError) as twice:
            await alice.request("lobby.create", mode="duel", capacity=2)
        assert twice.value.code == "ALREADY_IN_LOBBY"
        other = (await carol.request("lobby.create", mode="duel", capacity=2))["lobby"]
        with pytest.raises(ArenaError) as elsewhere:
            await bob.request("lobby.join", lobby_id=other["lobby_id"])
        assert elsewhere.value.code == "ALREADY_IN_LOBBY"


async def test_owner_leaving_hands_over_and_the_last_one_out_closes_it(arena: str) -> None:
    alice, bob = await players(arena, "alice", "bob")
    async with alice, bob:
        lobby = (await alice.request("lobby.create", mode="duel", capacity=4))["lobby"]
        bob_id = (await bob.request("lobby.join", lobby_id=lobby["lobby_id"]))["lobby"]["members"][
            1
        ]["player_id"]
        await alice.request("lobby.leave")
        after = (await bob.request("lobby.get", lobby_id=lobby["lobby_id"]))["lobby"]
        assert after["owner"] == bob_id
        assert member_names(after) == ["bob"]
        await bob.request("lobby.leave")
        with pytest.raises(ArenaError) as gone:
            await bob.request("lobby.get", lobby_id=lobby["lobby_id"])
        assert gone.value.code == "LOBBY_NOT_FOUND"
        # Both are free to sit elsewhere now.
        await alice.request("lobby.create", mode="duel", capacity=2)


async def test_list_shows_open_public_lobbies_fullest_first(arena: str) -> None:
    a, b, c, d, e = await players(arena, "a", "b", "c", "d", "e")
    async with a, b, c, d, e:
        small = (await a.request("lobby.create", mode="ffa", capacity=8))["lobby"]
        busy = (await b.request("lobby.create", mode="ffa", capacity=8))["lobby"]
        await c.request("lobby.join", lobby_id=busy["lobby_id"])
        await d.request("lobby.create", mode="ffa", capacity=8, private=True)
        await e.request("lobby.create", mode="other", capacity=8)
        listed = (await a.request("lobby.list", mode="ffa"))["lobbies"]
        assert [lobby["lobby_id"] for lobby in listed] == [busy["lobby_id"], small["lobby_id"]]
        everything = (await a.request("lobby.list"))["lobbies"]
        assert len(everything) == 3  # every mode, still no private one


async def test_all_ready_starts_one_match_and_closes_the_lobby(arena: str) -> None:
    alice, bob = await players(arena, "alice", "bob")
    async with alice, bob:
        lobby_id = (await alice.request("lobby.create", mode="duel", capacity=2))["lobby"][
            "lobby_id"
        ]
        await bob.request("lobby.join", lobby_id=lobby_id)
        assert (await alice.request("lobby.ready", ready=True))["match_id"] is None
        started = await bob.request("lobby.ready", ready=True)
        match_id = started["match_id"]
        for client in (alice, bob):
            push = await client.next_push("match.started")
            assert push["match_id"] == match_id
            assert len(push["players"]) == 2
        with pytest.raises(ArenaError) as closed:
            await alice.request("lobby.get", lobby_id=lobby_id)
        assert closed.value.code == "LOBBY_NOT_FOUND"
        await alice.request("lobby.quickjoin", mode="duel")  # free to play again


async def test_a_reconnect_within_the_grace_keeps_the_seat_and_after_it_frees(
    start_arena: StartArena,
) -> None:
    arena = await start_arena(lobby_grace_s=0.6, presence_interval_s=0.1, presence_ttl_s=0.5)
    alice, bob, dave = await players(arena, "alice", "bob", "dave")
    carol = await login(arena, "carol")
    async with alice, bob:
        updates = Pushes(alice, "lobby.updated")
        lobby_id = (await alice.request("lobby.create", mode="duel", capacity=4))["lobby"][
            "lobby_id"
        ]
        carol_socket = await ArenaClient.connect(arena, carol.token)
        await carol_socket.request("lobby.join", lobby_id=lobby_id)
        await dave.request("lobby.join", lobby_id=lobby_id)
        await carol_socket.close()  # drops...
        await dave.close()  # (dave drops after her, and for good)
        carol_socket = await ArenaClient.connect(arena, carol.token)  # ...and comes back

        # Dave's seat is freed once his grace has run out and an upkeep round has run:
        # by then carol's grace has run out too, so had her return not kept her seat,
        # that round would have freed it as well.
        def dave_came_and_went(pushed: list[Message]) -> bool:
            names = [member_names(p["lobby"]) for p in pushed]
            joined = next((i for i, n in enumerate(names) if "dave" in n), len(names))
            return any("dave" not in n for n in names[joined:])

        await updates.until(dave_came_and_went, within_s=5)
        got = (await bob.request("lobby.join", lobby_id=lobby_id))["lobby"]
        assert member_names(got) == ["alice", "carol", "bob"]
        await carol_socket.close()  # drops for good

        async def seat_freed_and_told() -> bool:
            push = await alice.next_push("lobby.updated")
            return member_names(push["lobby"]) == ["alice", "bob"]

        await eventually(seat_freed_and_told, within_s=3)


async def test_joins_are_rate_limited_before_any_lookup(start_arena: StartArena) -> None:
    arena = await start_arena(rate_limits="lobby.join=3/1")
    alice, bob = await players(arena, "alice", "bob")
    async with alice, bob:
        for _ in range(3):
            with pytest.raises(ArenaError) as probe:
                await alice.request("lobby.join", lobby_id="0" * 12)
            assert probe.value.code == "LOBBY_NOT_FOUND"
        with pytest.raises(ArenaError) as limited:
            await alice.request("lobby.join", lobby_id="0" * 12)
        assert limited.value.code == "RATE_LIMITED"
        assert 0 < (limited.value.retry_after_ms or 0) <= 1001
        with pytest.raises(ArenaError) as not_slowed:  # alice's flood does not slow bob
            await bob.request("lobby.join", lobby_id="0" * 12)
        assert not_slowed.value.code == "LOBBY_NOT_FOUND"
        # Waiting as told is what is tested: the limit runs on Redis's clock (TIME in
        # lua/lib/gcra.lua), which no test can move.
        await asyncio.sleep((limited.value.retry_after_ms or 0) / 1000)
        with pytest.raises(ArenaError) as after_waiting:  # waiting as told is enough
            await alice.request("lobby.join", lobby_id="0" * 12)
        assert after_waiting.value.code == "LOBBY_NOT_FOUND"


async def test_a_seat_left_behind_by_a_crash_does_not_lock_the_player_out(
    arena: str, redis_client: redis_sync.Redis
) -> None:
    alice_login = await login(arena, "alice")
    # A node died between taking alice's seat and writing the lobby: the seat points
    # at a lobby that does not have her (here: one that does not exist at all).
    redis_client.set(f"arena:{{player:{alice_login.player_id}}}:lobby", "0123456789ab")
    async with await ArenaClient.connect(arena, alice_login.token) as alice:
        lobby = (await alice.request("lobby.create", mode="duel", capacity=2))["lobby"]
        assert member_names(lobby) == ["alice"]


async def test_when_the_one_not_ready_leaves_the_rest_start(arena: str) -> None:
    alice, bob, carol = await players(arena, "alice", "bob", "carol")
    async with alice, bob, carol:
        lobby_id = (await alice.request("lobby.create", mode="trio", capacity=3))["lobby"][
            "lobby_id"
        ]
        await bob.request("lobby.join", lobby_id=lobby_id)
        await carol.request("lobby.join", lobby_id=lobby_id)
        await alice.request("lobby.ready", ready=True)
        await bob.request("lobby.ready", ready=True)
        await carol.request("lobby.leave")
        started = await alice.next_push("match.started")
        assert (await bob.next_push("match.started"))["match_id"] == started["match_id"]
        assert len(started["players"]) == 2


async def test_ready_from_a_stale_seat_is_refused_and_frees_it(
    arena: str, redis_client: redis_sync.Redis
) -> None:
    alice, bob = await players(arena, "alice", "bob")
    bob_login = await login(arena, "bob2")
    async with alice, bob:
        lobby_id = (await alice.request("lobby.create", mode="duel", capacity=2))["lobby"][
            "lobby_id"
        ]
        # A seat pointing at alice's lobby, which bob2 never got into (a crashed node).
        redis_client.set(f"arena:{{player:{bob_login.player_id}}}:lobby", lobby_id)
        async with await ArenaClient.connect(arena, bob_login.token) as ghost:
            with pytest.raises(ArenaError) as refused:
                await ghost.request("lobby.ready", ready=True)
            assert refused.value.code == "NOT_IN_LOBBY"
            lobby = (await alice.request("lobby.get", lobby_id=lobby_id))["lobby"]
            assert member_names(lobby) == ["alice"]  # the ghost's ready started nothing
            await ghost.request("lobby.join", lobby_id=lobby_id)  # and the seat was freed


async def test_a_lobbys_rev_grows_with_each_change_and_an_older_copy_is_ignored(
    arena: str, redis_client: redis_sync.Redis
) -> None:
    alice, bob, carol = await players(arena, "alice", "bob", "carol")
    async with alice, bob, carol:
        created = (await alice.request("lobby.create", mode="ffa", capacity=4))["lobby"]
        lobby_id = created["lobby_id"]
        joined = (await bob.request("lobby.join", lobby_id=lobby_id))["lobby"]
        readied = (await bob.request("lobby.ready", ready=True))["lobby"]
        assert created["rev"] < joined["rev"] < readied["rev"]
        assert (await alice.request("lobby.get", lobby_id=lobby_id))["lobby"] == readied
        while (await alice.next_push("lobby.updated"))["lobby"]["rev"] != readied["rev"]:
            pass  # the pushes of bob's join, then of his ready, in that order
        assert alice.lobby == readied

        # An older copy arrives late on alice's channel (as a re-send after a node's pub/sub
        # gap can, read before bob's ready), then carol's join: alice's client drops the copy.
        stale = msgpack.packb({"ev": "lobby.updated", "lobby": joined})
        redis_client.spublish(keys.player_channel(created["owner"]), stale)
        with_carol = (await carol.request("lobby.join", lobby_id=lobby_id))["lobby"]
        assert with_carol["rev"] > readied["rev"]
        assert (await alice.next_push("lobby.updated"))["lobby"] == with_carol
        assert alice.lobby == with_carol
