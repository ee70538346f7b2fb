"""Synced state, pure: tracked writes, patches and keyframes, a replica kept equal to the
server's state by random writes (hypothesis), the sizes of schema's own benchmark."""

from __future__ import annotations

import copy
from typing import Any

import msgpack
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from server.games.sync.codec import Synced
from server.games.sync.replica import NeedKeyframe, Replica
from server.games.sync.snapshot import plain
from server.games.sync.state import Schema, SyncError, SyncList, SyncMap


class Entity(Schema):
    x: int
    y: int


class World(Schema):
    entities: SyncMap[Entity]
    names: SyncList[str]
    tick: int


def world(n: int = 100) -> tuple[World, Synced, Replica]:
    state = World(entities=SyncMap(), names=SyncList(), tick=0)
    for i in range(n):
        state.entities[f"e{i}"] = Entity(x=i % 100, y=(i * 7) % 100)
    synced = Synced(state)
    replica = Replica()
    full, schema = synced.full()
    synced.settle()
    replica.keyframe(0, full, schema)
    assert replica.state == plain(state)
    return state, synced, replica


@pytest.mark.parametrize(("moved", "most"), [(1, 9), (50, 342), (100, 668)])
def test_schema_readmes_scenario_fits_in_its_bytes(moved: int, most: int) -> None:
    """100 entities with x and y, moving 1, 50 and 100: @colyseus/schema reports 9, 342
    and 668 bytes. Coordinates stay below 128 here, as small numbers do in schema's."""
    state, synced, replica = world()
    for i in range(moved):
        entity = state.entities[f"e{i}"]
        entity.x = (entity.x + 3) % 100
        entity.y = (entity.y + 5) % 100
    patch = synced.patch()
    size = len(msgpack.packb(patch))
    assert size <= most, size
    replica.apply(1, 0, patch)
    assert replica.state == plain(state)


def test_nothing_changed_is_an_empty_patch_and_a_same_value_is_no_change() -> None:
    state, synced, _ = world(3)
    state.entities["e1"].x = state.entities["e1"].x
    assert synced.patch() == []


def test_plain_lists_and_dicts_and_unknown_fields_are_refused() -> None:
    state, _, _ = world(1)
    with pytest.raises(SyncError):
        state.tick = [1, 2]  # type: ignore[assignment]
    with pytest.raises(SyncError):
        state.entities["e0"].z = 1
    with pytest.raises(SyncError):
        state.entities["e9"] = {"x": 1}  # type: ignore[assignment]


def test_a_patch_on_another_base_or_an_unknown_container_asks_for_a_keyframe() -> None:
    state, synced, replica = world(2)
    state.entities["e0"].x = 50
    patch = synced.patch()
    with pytest.raises(NeedKeyframe):
        replica.apply(2, 1, patch)  # the replica holds tick 0
    lost = Replica()
    lost.keyframe(0, [1, 0, [20, -1], [30, -2], 0], [["World", ["entities", "names", "tick"]]])
    with pytest.raises(NeedKeyframe):
        lost.apply(1, 0, patch)  # e0's container is unknown to it


def test_a_patch_naming_an_unknown_type_changes_nothing() -> None:
    state, synced, replica = world(2)
    before = copy.deepcopy(replica.state)
    state.entities["e0"].x = 50
    patch = synced.patch()
    stray = [state.entities._ref, "e9", [99, 7, 1, 2]]  # type 7 was never told
    with pytest.raises(NeedKeyframe):
        replica.apply(1, 0, [*patch, stray])
    assert replica.state == before  # e0's move, before it in the patch, not applied
    assert replica.tick == 0


class Wide(Schema):
    a: int
    b: int
    c: int
    d: int
    e: int
    f: int


@settings(max_examples=100, deadline=None)
@given(st.lists(st.sets(st.integers(0, 5)), min_size=1, max_size=6))
def test_any_set_of_changed_fields_round_trips(changes: list[set[int]]) -> None:
    """Pairs, runs of consecutive fields, and the two mixed, through msgpack."""
    wide = Wide(a=0, b=0, c=0, d=0, e=0, f=0)
    synced, replica = Synced(wide), Replica()
    replica.keyframe(0, *synced.full())
    synced.settle()
    for tick, changed in enumerate(changes, start=1):
        for index in changed:
            setattr(wide, Wide._fields[index], tick * 10 + index)
        patch = msgpack.unpackb(msgpack.packb(synced.patch()))
        replica.apply(tick, tick - 1, patch)
        assert replica.state == plain(wide)


def test_more_of_a_map_and_schema_method_names_refused() -> None:
    entities = SyncMap({"a": 1, "b": 2})
    assert entities.keys() == ["a", "b"]
    assert entities.values() == [1, 2]
    assert entities.get("c") is None
    assert entities.get("a") == 1
    with pytest.raises(SyncError, match="values"):

        class Bad(Schema):
            values: int  # type: ignore[assignment]


# Random writes: the replica equals the state after every patch, and after a keyframe.
KEYS = st.sampled_from(["a", "b", "c", 1, 2])
SMALL = st.one_of(st.none(), st.booleans(), st.integers(-300, 300), st.text(max_size=3))
WRITE = st.one_of(
    st.tuples(st.just("set_x"), KEYS, st.integers(-1000, 1000)),
    st.tuples(st.just("put"), KEYS, st.integers(0, 50)),
    st.tuples(st.just("delete"), KEYS, st.just(0)),
    st.tuples(st.just("append"), SMALL, st.just(0)),
    st.tuples(st.just("pop"), st.just(0), st.just(0)),
    st.tuples(st.just("set_name"), st.integers(0, 5), SMALL),
    st.tuples(st.just("tick"), st.integers(0, 10**6), st.just(0)),
    st.tuples(st.just("patch"), st.just(0), st.just(0)),
    st.tuples(st.just("keyframe"), st.just(0), st.just(0)),
)


def write(state: World, op: tuple[str, Any, Any]) -> None:
    kind, a, b = op
    if kind == "set_x" and a in state.entities:
        state.entities[a].x = b
    elif kind == "put":
        state.entities[a] = Entity(x=b, y=-b)
    elif kind == "delete" and a in state.entities:
        del state.entities[a]
    elif kind == "append":
        state.names.append(a)
    elif kind == "pop" and len(state.names):
        state.names.pop()
    elif kind == "set_name" and a < len(state.names):
        state.names[a] = b
    elif kind == "tick":
        state.tick = a


@settings(max_examples=200, deadline=None)
@given(st.lists(WRITE, max_size=60))
def test_random_writes_keep_the_replica_equal_to_the_state(ops: list[Any]) -> None:
    state, synced, replica = world(2)
    tick = 0
    for op in ops:
        if op[0] == "patch":
            patch = synced.patch()
            replica.apply(tick + 1, tick, msgpack.unpackb(msgpack.packb(patch)))
            tick += 1
            assert replica.state == plain(state)
        elif op[0] == "keyframe":
            full, schema = synced.full()
            synced.settle()
            tick += 1
            replica.keyframe(tick, full, schema)
            assert replica.state == plain(state)
        else:
            write(state, op)
    replica.apply(tick + 1, tick, synced.patch())
    assert replica.state == plain(state)
