"""Parties as players live them on one node: create, invite, join, leave, kick, promote,
close; invite-only and full parties; the lead handed on; the party's chat room; limits."""

from __future__ import annotations

import redis as redis_sync

from server.services.parties import INVITES_MAX
from server.storage import keys
from tests.conftest import StartArena
from tests.helpers import connect, every_key, login
from tests.party_helpers import change, ids, refused


async def test_a_party_from_create_to_close(arena: str, redis_client: redis_sync.Redis) -> None:
    (ann, a), (bob, b), (cat, c) = [await connect(arena, n) for n in ("ann", "bob", "cat")]
    party = (await a.request("party.create"))["party"]
    assert party["leader"] == ann.player_id
    assert (party["open"], party["max_size"], ids(party)) == (False, 8, [ann.player_id])
    party_id = party["party_id"]

    # Invite-only: bob gets in once invited, and is told he was.
    await refused(b, "FORBIDDEN", "party.join", party_id=party_id)
    await a.request("party.invite", player_id=bob.player_id)
    invited = await b.next_push("party.invited")
    assert invited["party_id"] == party_id
    assert invited["from"] == {"player_id": ann.player_id, "name": "ann"}
    joined = (await b.request("party.join", party_id=party_id))["party"]
    assert ids(joined) == [ann.player_id, bob.player_id]
    assert joined["invited"] == []
    told = await change(a, "joined")
    assert told["party"] == joined
    assert told["change"]["player_id"] == bob.player_id

    # Kicked: bob is told he is out (party null); ann sees the party without him.
    await a.request("party.kick", player_id=bob.player_id)
    out = await change(b, "kicked")
    assert out["party"] is None
    assert out["party_id"] == party_id
    assert out["change"] == {"what": "kicked", "player_id": bob.player_id, "by": ann.player_id}
    assert ids((await change(a, "kicked"))["party"]) == [ann.player_id]
    await refused(b, "NOT_IN_PARTY", "party.leave")

    # Promoted: cat leads, and ann may no longer kick.
    await a.request("party.invite", player_id=cat.player_id)
    await c.request("party.join", party_id=party_id)
    promoted = (await a.request("party.promote", player_id=cat.player_id))["party"]
    assert promoted["leader"] == cat.player_id
    assert (await change(c, "promoted"))["party"]["leader"] == cat.player_id
    await refused(a, "NOT_PARTY_LEADER", "party.kick", player_id=cat.player_id)
    await refused(a, "NOT_PARTY_LEADER", "party.close")

    # Closed: everyone is out, and nothing of the party stays in Redis.
    await c.request("party.close")
    for client in (a, c):
        closed = await change(client, "closed")
        assert closed["party"] is None
        assert closed["party_id"] == party_id
    assert every_key(redis_client, f"*party:{party_id}*") == []
    for player in (ann, bob, cat):
        assert redis_client.get(keys.player_party(player.player_id)) is None
    assert redis_client.zcard(keys.party_leases()) == 0
    await refused(a, "NOT_FOUND", "party.join", party_id=party_id)
    for client in (a, b, c):
        await client.close()


async def test_an_open_party_takes_anyone_until_full(arena: str) -> None:
    (ann, a), (bob, b), (_, c) = [await connect(arena, n) for n in ("ann", "bob", "cat")]
    party = (await a.request("party.create", open=True, max_size=2))["party"]
    party_id = party["party_id"]
    joined = (await b.request("party.join", party_id=party_id))["party"]
    assert ids(joined) == [ann.player_id, bob.player_id]
    # Joining again changes nothing (a retry); a full party refuses another.
    again = (await b.request("party.join", party_id=party_id))["party"]
    assert again["rev"] == joined["rev"]
    await refused(c, "PARTY_FULL", "party.join", party_id=party_id)
    # One party per player.
    await refused(b, "ALREADY_IN_PARTY", "party.create")
    other = (await c.request("party.create", open=True))["party"]
    await refused(b, "ALREADY_IN_PARTY", "party.join", party_id=other["party_id"])
    # An invite lets a player past an invite-only party, not past a full one.
    dan, d = await connect(arena, "dan")
    await a.request("party.invite", player_id=dan.player_id)
    await refused(d, "PARTY_FULL", "party.join", party_id=party_id)
    for client in (a, b, c, d):
        await client.close()


async def test_a_leader_who_leaves_hands_the_lead_to_the_oldest_member(
    arena: str, redis_client: redis_sync.Redis
) -> None:
    (ann, a), (bob, b), (cat, c) = [await connect(arena, n) for n in ("ann", "bob", "cat")]
    party_id = (await a.request("party.create", open=True))["party"]["party_id"]
    await b.request("party.join", party_id=party_id)
    await c.request("party.join", party_id=party_id)
    # Ann hands the lead to cat, who joined last, then takes it back: join order stands.
    await a.request("party.promote", player_id=cat.player_id)
    await c.request("party.promote", player_id=ann.player_id)
    assert (await a.request("party.leave")) == {"party_id": party_id}
    left = await change(c, "left")
    assert left["party"]["leader"] == bob.player_id  # the oldest, not the last promoted
    assert ids(left["party"]) == [bob.player_id, cat.player_id]
    assert (await change(a, "left"))["party"] is None  # the leaver is told too
    await b.request("party.leave")
    await c.request("party.leave")  # the last one out ends it
    assert every_key(redis_client, f"*party:{party_id}*") == []
    for client in (a, b, c):
        await client.close()


async def test_the_party_room_is_for_members_only(arena: str) -> None:
    (_ann, a), (bob, b) = [await connect(arena, n) for n in ("ann", "bob")]
    party_id = (await a.request("party.create", open=True))["party"]["party_id"]
    room = f"party:{party_id}"
    await refused(b, "NOT_IN_ROOM", "chat.join", room=room)
    await refused(b, "NOT_IN_ROOM", "chat.send", room=room, text="let me in")
    await b.request("party.join", party_id=party_id)
    for client in (a, b):
        await client.request("chat.join", room=room)
    await b.request("chat.send", room=room, text="hello party")
    heard = await a.next_push("chat.message")
    assert (heard["room"], heard["text"]) == (room, "hello party")
    await b.next_push("chat.message")

    # Kicked on another request's say-so: bob's socket leaves the room. What ann says
    # next reaches him no more; what he hears next is the public room's line.
    await a.request("party.kick", player_id=bob.player_id)
    await change(b, "kicked")
    await b.request("chat.join", room="general")
    await a.request("chat.send", room=room, text="bob is gone")
    await a.request("chat.send", room="general", text="public")
    assert (await b.next_push("chat.message"))["text"] == "public"
    await refused(b, "NOT_IN_ROOM", "chat.history", room=room)
    await refused(b, "NOT_IN_ROOM", "chat.join", room=room)
    await a.close()
    await b.close()


async def test_invites_are_capped_renewed_and_expire_with_the_party(
    start_arena: StartArena, redis_client: redis_sync.Redis
) -> None:
    arena = await start_arena(rate_limits="party.invite=100/100")
    (ann, a), (bob, b) = [await connect(arena, n) for n in ("ann", "bob")]
    party_id = (await a.request("party.create"))["party"]["party_id"]
    guests = [await login(arena, f"g{i}") for i in range(INVITES_MAX)]
    for guest in guests:
        await a.request("party.invite", player_id=guest.player_id)
    await a.request("party.invite", player_id=guests[0].player_id)  # renewing one is fine
    message = await refused(a, "TOO_MANY_INVITES", "party.invite", player_id=bob.player_id)
    assert str(INVITES_MAX) in message
    # Every key of the party, the pointer and the invites included, expires.
    for key in every_key(redis_client, f"*party:{party_id}*"):
        assert redis_client.pttl(key) > 0, key
    assert redis_client.pttl(keys.player_party(ann.player_id)) > 0
    await a.close()
    await b.close()


async def test_bad_asks_get_clear_codes(arena: str) -> None:
    (ann, a), (bob, b) = [await connect(arena, n) for n in ("ann", "bob")]
    for op, fields in [
        ("party.leave", {}),
        ("party.close", {}),
        ("party.kick", {"player_id": bob.player_id}),
        ("party.promote", {"player_id": bob.player_id}),
        ("party.invite", {"player_id": bob.player_id}),
    ]:
        await refused(a, "NOT_IN_PARTY", op, **fields)
    await refused(a, "NOT_FOUND", "party.join", party_id="0123456789ab")
    await refused(a, "NOT_FOUND", "party.join", party_id="not-an-id")
    await refused(a, "BAD_REQUEST", "party.create", max_size=9)
    await refused(a, "BAD_REQUEST", "party.create", max_size=0)
    party_id = (await a.request("party.create", open=True, max_size=1))["party"]["party_id"]
    await refused(b, "PARTY_FULL", "party.join", party_id=party_id)
    await refused(a, "NOT_FOUND", "party.invite", player_id="nobody")
    await refused(a, "BAD_REQUEST", "party.invite", player_id=ann.player_id)
    await refused(a, "BAD_REQUEST", "party.kick", player_id=ann.player_id)
    await refused(a, "NOT_FOUND", "party.kick", player_id=bob.player_id)
    await refused(a, "NOT_FOUND", "party.promote", player_id=bob.player_id)
    # Promoting oneself as the leader changes nothing.
    assert (await a.request("party.promote", player_id=ann.player_id))["party"]["rev"] == 1
    await a.request("party.close")
    party_id = (await b.request("party.create", open=True))["party"]["party_id"]
    await a.request("party.join", party_id=party_id)
    await refused(a, "NOT_PARTY_LEADER", "party.invite", player_id=bob.player_id)
    await refused(a, "BAD_REQUEST", "party.create", open="yes")
    await a.close()
    await b.close()


async def test_party_ops_are_rate_limited(start_arena: StartArena) -> None:
    arena = await start_arena(rate_limits="party.join=3/1")
    _, a = await connect(arena, "ann")
    for _ in range(3):
        await refused(a, "NOT_FOUND", "party.join", party_id="0123456789ab")
    await refused(a, "RATE_LIMITED", "party.join", party_id="0123456789ab")
    await a.close()
