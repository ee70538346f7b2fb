"""Views of synced state: a field or subtree for its owner only, or for a team; a player
never receives bytes of what it may not see (checked on the encoded frames), and a patch
is encoded once per distinct view."""

from __future__ import annotations

from typing import ClassVar

import msgpack

from server.games.sync.codec import Synced, Viewer
from server.games.sync.replica import Replica
from server.games.sync.snapshot import dump, load, plain
from server.games.sync.state import Schema, SyncList, SyncMap


class Card(Schema):
    rank: int


class Seat(Schema):
    _views: ClassVar[dict[str, str]] = {"hand": "owner", "plan": "team"}
    owner: str
    team: str
    x: int
    hand: SyncList[Card]
    plan: str


class Table(Schema):
    seats: SyncMap[Seat]


ANN: Viewer = ("ann", "red")
BOB: Viewer = ("bob", "blue")
CAT: Viewer = ("cat", "red")
SECRET_RANK = 4242  # appears in no public field
SECRET_PLAN = "flank-left"


def table() -> tuple[Table, Synced]:
    state = Table(seats=SyncMap())
    for player, team in (ANN, BOB, CAT):
        assert player is not None
        state.seats[player] = Seat(owner=player, team=team, x=0, hand=SyncList(), plan="")
    return state, Synced(state)


def test_a_keyframe_and_patches_hold_no_bytes_of_what_a_viewer_may_not_see() -> None:
    state, synced = table()
    frames = {v: msgpack.packb(synced.full(v)) for v in (ANN, BOB, CAT)}
    synced.settle()
    replicas = {v: Replica() for v in (ANN, BOB, CAT)}
    for viewer, replica in replicas.items():
        full, schema = msgpack.unpackb(frames[viewer])
        replica.keyframe(0, full, schema)
    state.seats["ann"].hand.append(Card(rank=SECRET_RANK))
    state.seats["ann"].plan = SECRET_PLAN
    state.seats["ann"].x = 7
    patches = synced.patches([ANN, BOB, CAT])
    packed = {v: msgpack.packb(p) for v, p in patches.items()}
    secret_rank = msgpack.packb(SECRET_RANK)
    secret_plan = msgpack.packb(SECRET_PLAN)
    assert secret_rank in packed[ANN]
    assert secret_plan in packed[ANN]
    assert secret_rank not in packed[BOB]
    assert secret_plan not in packed[BOB]
    assert secret_rank not in packed[CAT]
    assert secret_plan in packed[CAT]
    for viewer, replica in replicas.items():
        replica.apply(1, 0, msgpack.unpackb(packed[viewer]))
    seen = {v: r.state["seats"]["ann"] for v, r in replicas.items()}
    assert seen[ANN]["hand"] == [{"rank": SECRET_RANK}]
    assert seen[ANN]["plan"] == SECRET_PLAN
    assert seen[BOB]["hand"] is None
    assert seen[BOB]["plan"] is None
    assert seen[CAT]["hand"] is None
    assert seen[CAT]["plan"] == SECRET_PLAN
    assert all(s["x"] == 7 for s in seen.values())  # public to all
    assert replicas[ANN].state["seats"]["ann"] == plain(state)["seats"]["ann"]


def test_without_views_a_patch_is_encoded_once_for_every_viewer() -> None:
    class Dot(Schema):
        x: int

    class Field(Schema):
        dots: SyncMap[Dot]

    state = Field(dots=SyncMap())
    state.dots["a"] = Dot(x=1)
    synced = Synced(state)
    synced.full()
    synced.settle()
    state.dots["a"].x = 2
    patches = synced.patches([ANN, BOB, CAT])
    assert patches[ANN] is patches[BOB] is patches[CAT]


def test_a_snapshot_keeps_every_view_and_loads_into_the_same_state() -> None:
    state, _ = table()
    state.seats["bob"].hand.append(Card(rank=SECRET_RANK))
    state.seats["bob"].plan = SECRET_PLAN
    blob = dump(state)
    loaded = load(blob)
    assert plain(loaded) == plain(state)
    again = Synced(loaded)  # a new host: fresh refs, and every view keyframed anew
    full, schema = again.full(BOB)
    replica = Replica()
    replica.keyframe(5, full, schema)
    assert replica.state["seats"]["bob"]["hand"] == [{"rank": SECRET_RANK}]
    assert again.full(ANN)[0] != full  # ann sees bob's public part only


class Order(Schema):
    _views: ClassVar[dict[str, str]] = {"note": "owner"}
    owner: str
    step: int
    note: str


class Squad(Schema):
    _views: ClassVar[dict[str, str]] = {"orders": "team"}
    team: str
    orders: SyncMap[Order]


class Field(Schema):
    squads: SyncMap[Squad]


def test_an_owners_field_inside_a_teams_subtree_reaches_only_that_owner() -> None:
    """Two players of one team share the team's patch, but not each other's notes."""
    state = Field(squads=SyncMap())
    state.squads["red"] = Squad(team="red", orders=SyncMap())
    for player in ("ann", "cat"):
        state.squads["red"].orders[player] = Order(owner=player, step=0, note="")
    synced = Synced(state)
    viewers: list[Viewer] = [ANN, CAT, BOB]
    replicas = {v: Replica() for v in viewers}
    for viewer, replica in replicas.items():
        replica.keyframe(0, *synced.full(viewer))
    synced.settle()
    for player in ("ann", "cat"):
        order = state.squads["red"].orders[player]
        order.step, order.note = 1, f"secret-of-{player}"
    patches = synced.patches(viewers)
    for viewer, replica in replicas.items():
        wire = msgpack.packb(patches[viewer])
        replica.apply(1, 0, msgpack.unpackb(wire))
        for player in ("ann", "cat"):
            mine = viewer[0] == player
            assert (f"secret-of-{player}".encode() in wire) is mine
    orders = replicas[ANN].state["squads"]["red"]["orders"]
    assert orders["ann"] == {"owner": "ann", "step": 1, "note": "secret-of-ann"}
    assert orders["cat"] == {"owner": "cat", "step": 1, "note": None}
    assert replicas[BOB].state["squads"]["red"]["orders"] is None
