"""The matchmaker through real nodes sharing one Redis: tickets in, matches out, every
ticket matched at most once and every match within its mode's rules."""

from __future__ import annotations

import asyncio
import json
import signal
from typing import Any

import pytest

from client_sim.client import ArenaClient, ArenaError
from tests.conftest import SpawnNode, StartArena
from tests.helpers import connect, login
from tests.integrity_helpers import close_all

DUEL = {
    "duel": {
        "capacity": 2,
        "start_when_full": True,
        "matchmaker": {"min": 2, "max": 2, "equal": ["region"]},
    },
    "*": {"capacity": 8},
}
# Two nodes of these modes: passes every 0.1 s, logins for hundreds of players.
NODE_ENV = {
    "ARENA_MODES": json.dumps(DUEL),
    "ARENA_MM_PASS_S": "0.1",
    "ARENA_RATE_LIMITS": "auth.guest=1000/100",
}


async def test_two_tickets_become_a_match_that_starts_for_both(start_arena: StartArena) -> None:
    arena = await start_arena(mm_pass_s=0.05)  # the default modes: tictactoe by count alone
    (a, alice), (b, bob) = await connect(arena, "alice"), await connect(arena, "bob")
    try:
        ticket = (await alice.request("mm.enqueue", mode="tictactoe"))["ticket_id"]
        queued = await alice.next_push("mm.status")
        assert queued["ticket_id"] == ticket
        assert queued["state"] == "queued"
        again = await alice.request("mm.enqueue", mode="tictactoe")  # a retry: the same
        assert again["ticket_id"] == ticket
        await bob.request("mm.enqueue", mode="tictactoe")
        matched = [await c.next_push("mm.matched") for c in (alice, bob)]
        started = [await c.next_push("match.started") for c in (alice, bob)]
        assert matched[0]["match_id"] == matched[1]["match_id"] == started[0]["match_id"]
        assert sorted(matched[0]["players"]) == sorted([a.player_id, b.player_id])
        assert started[0]["authoritative"] is True
        # The match runs: the server-run game takes their inputs.
        current = await alice.request("match.current")
        assert current["match"]["match_id"] == started[0]["match_id"]
    finally:
        await close_all([alice, bob])


async def test_a_cancelled_ticket_is_gone_and_says_so(start_arena: StartArena) -> None:
    arena = await start_arena(mm_pass_s=0.05, modes=json.dumps(DUEL))
    _, alice = await connect(arena, "alice")
    try:
        eu = {"region": "eu"}
        ticket = (await alice.request("mm.enqueue", mode="duel", properties=eu))["ticket_id"]
        await alice.next_push("mm.status")
        with pytest.raises(ArenaError) as other:  # one ticket a mode: not another region
            await alice.request("mm.enqueue", mode="duel", properties={"region": "us"})
        assert other.value.code == "ALREADY_QUEUED"
        with pytest.raises(ArenaError) as missing:
            await alice.request("mm.enqueue", mode="duel")
        assert missing.value.code == "BAD_REQUEST"
        await alice.request("mm.cancel", ticket_id=ticket)
        cancelled = await alice.next_push("mm.status")
        assert (cancelled["ticket_id"], cancelled["state"]) == (ticket, "cancelled")
        for bad, code in [(ticket, "NOT_FOUND"), ("nonsense", "BAD_REQUEST")]:
            with pytest.raises(ArenaError) as refused:
                await alice.request("mm.cancel", ticket_id=bad)
            assert refused.value.code == code
        await alice.request("mm.enqueue", mode="duel", properties=eu)  # free to queue again
    finally:
        await close_all([alice])


async def test_400_tickets_over_two_nodes_each_matched_once_within_the_rules(
    spawn_node: SpawnNode,
) -> None:
    env = NODE_ENV
    nodes = [spawn_node(**env), spawn_node(**env)]
    players = [await login(nodes[i % 2].url, f"p{i}") for i in range(400)]
    clients = [await ArenaClient.connect(nodes[i % 2].url, p.token) for i, p in enumerate(players)]
    region = {p.player_id: ("eu", "us")[i % 3 == 0] for i, p in enumerate(players)}
    try:
        tickets = await asyncio.gather(
            *(
                c.request("mm.enqueue", mode="duel", properties={"region": region[p.player_id]})
                for c, p in zip(clients, players, strict=True)
            )
        )
        assert len({t["ticket_id"] for t in tickets}) == 400
        matched = await asyncio.gather(*(c.next_push("mm.matched", timeout=20) for c in clients))
        matches: dict[str, list[str]] = {}
        for push, player in zip(matched, players, strict=True):
            assert player.player_id in push["players"]
            matches.setdefault(push["match_id"], push["players"])
        assert len(matches) == 200
        seen = [p for members in matches.values() for p in members]
        assert sorted(seen) == sorted(p.player_id for p in players)  # each exactly once
        for members in matches.values():
            assert len(members) == 2
            assert region[members[0]] == region[members[1]]
    finally:
        await close_all(clients)


async def test_the_node_running_the_passes_killed_another_takes_over(
    spawn_node: SpawnNode,
) -> None:
    env = NODE_ENV
    nodes = [spawn_node(**env), spawn_node(**env)]
    players = [await login(nodes[1].url, f"p{i}") for i in range(4)]
    clients = [await ArenaClient.connect(nodes[1].url, p.token) for p in players]
    try:
        first = [
            await c.request("mm.enqueue", mode="duel", properties={"region": "eu"})
            for c in clients[:2]
        ]
        pushes = [await c.next_push("mm.matched", timeout=10) for c in clients[:2]]
        assert pushes[0]["match_id"] == pushes[1]["match_id"]
        assert {p["ticket_id"] for p in pushes} == {t["ticket_id"] for t in first}
        nodes[0].signal(signal.SIGKILL)  # whichever led the passes, one node is left
        await asyncio.to_thread(nodes[0].wait, 5)
        for c in clients[2:]:
            await c.request("mm.enqueue", mode="duel", properties={"region": "eu"})
        later: list[dict[str, Any]] = [
            await c.next_push("mm.matched", timeout=15) for c in clients[2:]
        ]
        assert later[0]["match_id"] == later[1]["match_id"]
    finally:
        await close_all(clients)


async def test_one_who_does_not_accept_is_dropped_the_other_keeps_its_place(
    start_arena: StartArena,
) -> None:
    modes = {"duel": {"capacity": 2, "matchmaker": {"min": 2, "max": 2, "accept_s": 1}}}
    arena = await start_arena(mm_pass_s=0.05, modes=json.dumps(modes))
    (_, ann), (_, ben), (_, cat) = [await connect(arena, n) for n in ("ann", "ben", "cat")]
    try:
        first = (await ann.request("mm.enqueue", mode="duel"))["ticket_id"]
        await ben.request("mm.enqueue", mode="duel")
        proposed = [await c.next_push("mm.matched") for c in (ann, ben)]
        assert proposed[0]["match_id"] == proposed[1]["match_id"]
        assert proposed[0]["accept_by_ms"] > 0
        await cat.request("mm.enqueue", mode="duel")  # queued after ann: behind her
        await ann.request("mm.accept", ticket_id=first)  # ben never accepts

        async def status(client: ArenaClient, state: str) -> dict[str, Any]:
            while True:
                push = await client.next_push("mm.status", timeout=10)
                if push["state"] == state:
                    return push

        dropped = await status(ben, "cancelled")
        assert dropped["reason"] == "not accepted"
        back = await status(ann, "queued")
        assert back["ticket_id"] == first  # the same ticket, at its old place
        # Ann (older) and cat make the next match; both accept; it starts.
        again = [await c.next_push("mm.matched", timeout=10) for c in (ann, cat)]
        assert again[0]["match_id"] == again[1]["match_id"] != proposed[0]["match_id"]
        assert again[0]["ticket_id"] == first
        await ann.request("mm.accept", ticket_id=first)
        await cat.request("mm.accept", ticket_id=again[1]["ticket_id"])
        started = [await c.next_push("match.started") for c in (ann, cat)]
        assert started[0]["match_id"] == again[0]["match_id"]
        with pytest.raises(ArenaError) as late:
            await ben.request("mm.accept", ticket_id=proposed[1]["ticket_id"])
        assert late.value.code == "NOT_FOUND"
    finally:
        await close_all([ann, ben, cat])
