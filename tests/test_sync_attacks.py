"""Synced state against a cheating player and a careless game (from an attack on issue
16's first version): no bytes of a hidden field reach a player through the feed, nested
views or type names; values no client could read are refused at the game's write; a
refused write changes nothing."""

from __future__ import annotations

import json
from typing import Any, ClassVar

import msgpack
import pytest

from server.games.sync.codec import Synced, Viewer
from server.games.sync.frames import StateFeed
from server.games.sync.replica import Replica
from server.games.sync.snapshot import plain
from server.games.sync.state import Schema, SyncError, SyncList, SyncMap
from server.games.sync.values import MAX_DEPTH
from server.protocol import Push, packed_head, with_id
from server.services.match_shapes import may_see

SECRET = "s3cr3t-plan"


class Seat(Schema):
    _views: ClassVar[dict[str, str]] = {"plan": "team", "hand": "owner"}
    owner: str
    team: str | None
    x: int
    plan: str
    hand: SyncList[int]


class Table(Schema):
    seats: SyncMap[Seat]


def table() -> Table:
    state = Table(seats=SyncMap())
    state.seats["ann"] = Seat(owner="ann", team="red", x=0, plan="", hand=SyncList())
    state.seats["bob"] = Seat(owner="bob", team="blue", x=0, plan="", hand=SyncList())
    return state


def test_a_patch_for_the_present_only_is_addressed_to_them_not_to_the_feeds_readers() -> None:
    """Bob left (he still reads the feed): a patch made for ann's view carries ``to``."""
    state = table()
    feed = StateFeed(state)
    teams = {"ann": "red", "bob": "blue"}
    feed.want_keyframe(["ann", "bob"])
    feed.frames(1, {"ann", "bob"}, teams.get)
    state.seats["ann"].plan = SECRET
    state.seats["ann"].hand.append(777_777)
    frames = feed.frames(2, {"ann"}, teams.get)
    assert frames
    for frame in frames:
        fields = {"match_id": "m", "base": frame.base, "patch": frame.patch}
        if frame.to is not None:
            fields["to"] = list(frame.to)
        push = with_id(packed_head(Push.MATCH_STATE, fields), "1-0")
        assert may_see(push, "ann")
        assert not may_see(push, "bob")


class Bomb(Schema):
    armed: bool


class Base(Schema):
    _views: ClassVar[dict[str, str]] = {"cache": "team"}
    team: str
    cache: SyncList[Bomb]


class Bases(Schema):
    bases: SyncMap[Base]


def test_types_are_told_up_front_so_a_hidden_object_announces_nothing() -> None:
    state = Bases(bases=SyncMap())
    state.bases["r"] = Base(team="red", cache=SyncList())
    state.bases["b"] = Base(team="blue", cache=SyncList())
    synced = Synced(state)
    red, blue = ("ann", "red"), ("bob", "blue")
    assert synced.full(red)[1] == synced.full(blue)[1]  # every declared type, for all
    assert "Bomb" in json.dumps(synced.full(blue)[1])
    synced.settle()
    state.bases["r"].cache.append(Bomb(armed=True))
    patches = synced.patches([red, blue])
    assert patches[blue] == []  # no type to tell, nothing blue may see
    assert patches[red]


class Spy(Schema):
    _views: ClassVar[dict[str, str]] = {"notes": "team"}
    team: str  # the team the spy reports to
    notes: SyncList[str]


class Hq(Schema):
    _views: ClassVar[dict[str, str]] = {"spy": "team"}
    team: str
    spy: Spy | None


class Hqs(Schema):
    hqs: SyncMap[Hq]


def test_a_view_inside_another_view_needs_both() -> None:
    """Red's HQ holds a spy reporting to blue: blue sees none of it (red's subtree),
    red sees the spy but not its notes (blue's), no one gets a patch it cannot apply."""
    state = Hqs(hqs=SyncMap())
    state.hqs["r"] = Hq(team="red", spy=Spy(team="blue", notes=SyncList()))
    synced = Synced(state)
    viewers: list[Viewer] = [("ann", "red"), ("bob", "blue")]
    replicas = {v: Replica() for v in viewers}
    for viewer, replica in replicas.items():
        replica.keyframe(0, *synced.full(viewer))
    synced.settle()
    spy = state.hqs["r"].spy
    assert spy is not None
    spy.notes.append("red-hq-inside")
    patches = synced.patches(viewers)
    for viewer, replica in replicas.items():
        wire = msgpack.packb(patches[viewer])
        assert b"red-hq-inside" not in wire
        replica.apply(1, 0, msgpack.unpackb(wire))
    assert replicas[viewers[1]].state == {"hqs": {"r": {"team": "red", "spy": None}}}
    spy = replicas[viewers[0]].state["hqs"]["r"]["spy"]
    assert spy == {"team": "blue", "notes": None}


class Item(Schema):
    _views: ClassVar[dict[str, str]] = {"secret": "owner"}
    owner: str
    secret: SyncList[int]


class Pack(Schema):
    _views: ClassVar[dict[str, str]] = {"bag": "owner"}
    owner: str
    bag: SyncMap[Item]


def test_an_owner_view_inside_anothers_owner_view_is_seen_by_no_one_else() -> None:
    state = Pack(owner="ann", bag=SyncMap())
    state.bag[1] = Item(owner="bob", secret=SyncList([1]))
    feed = StateFeed(state)
    feed.want_keyframe(["ann", "bob"])
    replicas = {p: Replica() for p in ("ann", "bob")}
    for frame in feed.frames(1, {"ann", "bob"}, lambda p: None):
        assert frame.full is not None
        assert frame.schema is not None
        for player in frame.to or ("ann", "bob"):
            replicas[player].keyframe(1, frame.full, frame.schema)
    state.bag[1].secret.append(99)
    for frame in feed.frames(2, {"ann", "bob"}, lambda p: None):
        assert frame.base is not None
        assert frame.patch is not None
        for player in frame.to or ("ann", "bob"):
            replicas[player].apply(2, frame.base, frame.patch)
    assert replicas["bob"].state == {"owner": "ann", "bag": None}
    assert replicas["ann"].state == {"owner": "ann", "bag": {1: {"owner": "bob", "secret": None}}}


def test_a_player_without_a_team_sees_no_teams_fields() -> None:
    state = Table(seats=SyncMap())
    state.seats["ann"] = Seat(owner="ann", team=None, x=0, plan=SECRET, hand=SyncList())
    full, _ = Synced(state).full(("bob", None))
    assert SECRET not in json.dumps(full)


class Box(Schema):
    v: Any
    m: SyncMap[int]


@pytest.mark.parametrize(
    "value", [2**53, -(2**53), 2**64, float("nan"), float("inf"), -float("inf"), "\ud800"]
)
def test_values_no_client_could_read_are_refused_at_the_write(value: object) -> None:
    state = Box(v=0, m=SyncMap())
    synced = Synced(state)
    synced.full()
    synced.settle()
    with pytest.raises(SyncError):
        state.v = value
    with pytest.raises(SyncError):
        state.m["k"] = value  # type: ignore[assignment]
    with pytest.raises(SyncError):
        SyncList([value])
    state.v = 2**53 - 1  # the largest exact in JavaScript is fine
    assert synced.patch() == [[state._ref, 0, 2**53 - 1]]
    assert json.loads(json.dumps(synced.full()[0], allow_nan=False))


def test_a_key_and_its_text_are_one_key_to_a_client_so_a_map_holds_one() -> None:
    state = Box(v=0, m=SyncMap())
    state.m[1] = 10
    with pytest.raises(SyncError):
        state.m["1"] = 20
    state.m["01"] = 30  # not how 1 is written: a key of its own
    state.m["-2"] = 40
    with pytest.raises(SyncError):
        state.m[-2] = 50
    with pytest.raises(SyncError):
        state.m[2**60] = 1
    assert plain(state.m) == {1: 10, "01": 30, "-2": 40}


def test_nesting_deeper_than_the_limit_is_refused_at_the_write() -> None:
    state = Box(v=SyncList(), m=SyncMap())
    synced = Synced(state)
    inner = state.v
    for _ in range(MAX_DEPTH - 1):
        deeper: SyncList[object] = SyncList()
        inner.append(deeper)
        inner = deeper
    with pytest.raises(SyncError):
        inner.append(SyncList())
    assert synced.full()  # the keyframe still encodes
    # A deep subtree built apart is refused whole when attached.
    apart: SyncList[object] = SyncList()
    tip = apart
    for _ in range(MAX_DEPTH + 1):
        nested: SyncList[object] = SyncList()
        tip.append(nested)
        tip = nested
    with pytest.raises(SyncError):
        state.v = apart
    assert state.v is not apart


class Root(Schema):
    a: SyncMap[int]
    b: SyncList[int]


def test_a_refused_write_changes_nothing() -> None:
    state = Root(a=SyncMap(), b=SyncList())
    synced = Synced(state)
    replica = Replica()
    replica.keyframe(0, *synced.full())
    synced.settle()
    with pytest.raises(SyncError):
        state.b = state.a  # type: ignore[assignment]  # a container sits in one place
    twice: SyncList[Any] = SyncList([SyncMap(), 1])
    twice.append(twice[0])  # the same container twice in one subtree, not yet attached
    with pytest.raises(SyncError):
        state.b = twice
    state.b.append(7)  # the list as it was, still tracked
    replica.apply(1, 0, synced.patch())
    assert replica.state == plain(state)
    assert replica.state["b"] == [7]
