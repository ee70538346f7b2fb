"""Parties across nodes and sockets: pushes reach members on any node, a member who drops
keeps the seat for the reconnect grace and loses it after, and a party outlives the node
its creator played on."""

from __future__ import annotations

import signal

from client_sim.client import ArenaClient
from tests.conftest import SpawnNode, StartArena
from tests.helpers import connect, login
from tests.party_helpers import change, ids


async def test_a_party_spans_nodes_and_outlives_its_creators_node(spawn_node: SpawnNode) -> None:
    doomed, survivor = spawn_node(), spawn_node()
    ann = await login(doomed.url, "ann")
    a = await ArenaClient.connect(doomed.url, ann.token)
    bob, b = await connect(survivor.url, "bob")
    party_id = (await a.request("party.create"))["party"]["party_id"]
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
