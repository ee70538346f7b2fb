"""Parties across nodes and sockets: pushes reach members on any node, a member who drops
keeps the seat for the reconnect grace and loses it after, and a party outlives the node
its creator played on."""

from __future__ import annotations

import asyncio
import signal

import redis as redis_sync

from client_sim.client import ArenaClient, ArenaError
from server.storage import keys
from tests.conftest import SpawnNode, StartArena
from tests.helpers import connect, login
from tests.party_helpers import change, ids


async def test_a_party_spans_nodes_and_outlives_its_creators_node(spawn_node: SpawnNode) -> None:
    doomed, survivor = spawn_node(), spawn_node()
    ann = await login(doomed.url, "ann")
    a = await ArenaClient.connect(doomed.url, ann.token)
    bob, b = await connect(survivor.url, "bob")
    party_id = (await a.request("party.create"))["party"]["party_id"]
    # A reply means bob's node hears his channel: a socket serves ops only once subscribed
    # (pushes are at most once, and a push before that would miss him).
    await b.request("ping")
    await a.request("party.invite", player_id=bob.player_id)
    assert (await b.next_push("party.invited"))["party_id"] == party_id  # across nodes
    await b.request("party.join", party_id=party_id)
    assert ids((await change(a, "joined"))["party"]) == [ann.player_id, bob.player_id]
    await b.request("chat.join", room=f"party:{party_id}")

    # Ann's node dies at once. The party is in Redis: she comes back on the other node
    # (within the reconnect grace), is told her party as it is, and leads it on.
    doomed.signal(signal.SIGKILL)
    doomed.wait(10)
    await a.close()
    a = await ArenaClient.connect(survivor.url, ann.token)
    retold = await a.next_push("party.updated")
    assert retold["change"] is None
    assert retold["party"]["leader"] == ann.player_id
    assert ids(retold["party"]) == [ann.player_id, bob.player_id]
    cat, c = await connect(survivor.url, "cat")
    await a.request("party.invite", player_id=cat.player_id)
    await c.request("party.join", party_id=party_id)
    joined = await change(b, "joined", about=cat.player_id)
    assert ids(joined["party"]) == [ann.player_id, bob.player_id, cat.player_id]
    await a.request("chat.join", room=f"party:{party_id}")
    await a.request("chat.send", room=f"party:{party_id}", text="still here")
    assert (await b.next_push("chat.message"))["text"] == "still here"
    for client in (a, b, c):
        await client.close()


async def test_a_member_who_drops_keeps_the_seat_for_the_grace_and_loses_it_after(
    start_arena: StartArena,
) -> None:
    arena = await start_arena(party_grace_s=0.6, presence_interval_s=0.1, presence_ttl_s=0.5)
    (ann, a), (bob, b) = [await connect(arena, n) for n in ("ann", "bob")]
    cat, dan = await login(arena, "cat"), await login(arena, "dan")
    party_id = (await a.request("party.create", open=True))["party"]["party_id"]
    c = await ArenaClient.connect(arena, cat.token)
    await c.request("party.join", party_id=party_id)
    d = await ArenaClient.connect(arena, dan.token)
    await d.request("party.join", party_id=party_id)
    await c.close()  # drops...
    await d.close()  # (dan drops after her, and for good)
    c = await ArenaClient.connect(arena, cat.token)  # ...and comes back in time
    assert (await c.next_push("party.updated"))["change"] is None  # told her party

    # Dan's seat goes once his grace ran out and an upkeep round ran: by then cat's grace
    # had run out too, so had her return not kept her seat, she would be gone as well.
    dropped = await change(a, "dropped", within_s=10)
    assert dropped["change"]["player_id"] == dan.player_id
    assert ids(dropped["party"]) == [ann.player_id, cat.player_id]
    await b.request("party.join", party_id=party_id)
    joined = await change(a, "joined", about=bob.player_id)
    assert ids(joined["party"]) == [ann.player_id, cat.player_id, bob.player_id]

    # The leader drops for good: the lead goes to the oldest member left.
    await a.close()
    dropped = await change(b, "dropped", within_s=10)
    assert dropped["change"]["player_id"] == ann.player_id
    assert dropped["party"]["leader"] == cat.player_id
    for client in (b, c):
        await client.close()


async def test_joins_racing_on_two_nodes_never_overfill_a_party_or_seat_one_player_twice(
    start_arena: StartArena, redis_client: redis_sync.Redis
) -> None:
    nodes = [await start_arena(), await start_arena()]
    leaders = [(await connect(nodes[i % 2], f"lead{i}"))[1] for i in range(3)]
    first, second, third = [
        (await c.request("party.create", open=True))["party"]["party_id"] for c in leaders
    ]
    crowd = [(await connect(nodes[i % 2], f"p{i}"))[1] for i in range(20)]

    async def join(client: ArenaClient, party_id: str) -> str:
        try:
            await client.request("party.join", party_id=party_id)
        except ArenaError as exc:
            return exc.code
        return "ok"

    def members(party_id: str) -> set[str]:
        found: list[bytes] = redis_client.zrange(keys.party(party_id, "members"), 0, -1)  # type: ignore[assignment]
        return {m.decode() for m in found}

    # Twenty at once, over both nodes, into a party with seven free places.
    outcomes = await asyncio.gather(*(join(c, first) for c in crowd))
    assert sorted(set(outcomes)) == ["PARTY_FULL", "ok"]
    assert outcomes.count("ok") == 7
    assert len(members(first)) == 8
    # Those left out (13) each try two parties (7 places each) at the same moment: each
    # lands in exactly one.
    left_out = [c for c, outcome in zip(crowd, outcomes, strict=True) if outcome != "ok"]
    tries = await asyncio.gather(*(join(c, p) for c in left_out for p in (second, third)))
    assert set(tries) <= {"ok", "ALREADY_IN_PARTY", "PARTY_FULL"}
    assert tries.count("ok") == len(left_out)
    assert not members(second) & members(third)
    assert len(members(second)) + len(members(third)) == len(left_out) + 2
    # Each member's pointer names the one party they are in, and nobody else has one.
    pointed = {
        str(k, "utf-8"): str(redis_client.get(k), "utf-8")  # type: ignore[arg-type]
        for k in redis_client.scan_iter(match="arena:{player:*}:party")
    }
    assert len(pointed) == 20 + 3
    for party_id in (first, second, third):
        for player_id in members(party_id):
            assert pointed[keys.player_party(player_id)] == party_id
    for client in (*leaders, *crowd):
        await client.close()
