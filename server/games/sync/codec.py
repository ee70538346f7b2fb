"""The wire forms of synced state: a keyframe (everything) and a patch (what changed).

Both are nested arrays of numbers and strings only, so a msgpack socket and a JSON socket
carry the same thing (no map keys: an int key would not survive JSON). A container is
written whole as ``[ref, kind, ...]``:

- an object: ``[ref, type, v0, v1, ...]``, its field values in declared order; ``type``
  indexes the schema (``[[name, [field, ...]], ...]``, sent with each keyframe);
- a map: ``[ref, -1, k, v, k, v, ...]``;
- a list: ``[ref, -2, v, v, ...]``.

A value is a primitive (null, bool, number, string) or, where an array stands, a
container written whole (state holds no plain lists, so an array is always one).

A patch is a list of operations, each on one container the receiver already holds:

- an object: ``[ref, f, v, f, v, ...]`` (field index, new value), where a negative
  ``f`` starts a run: ``-1 - first`` then the values of fields ``first``, ``first + 1``,
  ... to the end of the operation (an object whose x and y both moved is
  ``[ref, -1, x, y]``, one byte less than ``[ref, 0, x, 1, y]``);
- a map: ``[ref, k, v, k, v, ...]`` (set) and ``[-ref, k, k, ...]`` (deleted keys);
- a list: ``[ref, length, i, v, i, v, ...]`` (its new length, then the indexes set);
- a new object type: ``[0, type, name, [field, ...]]``, before its first use.

Refs are never reused while the state lives, so an operation on a ref the receiver does
not hold means it missed something: it asks for a keyframe instead of guessing.

100 objects ``{x, y}`` in a map, one of them moved (small coordinates): the patch
``[[ref, -1, x, y]]`` is 6 bytes of msgpack.
"""

from __future__ import annotations

import typing
from typing import Any

from server.games.sync.state import (
    PRIMITIVE_TYPES,
    Container,
    Guard,
    Schema,
    SyncList,
    SyncMap,
    Tracker,
)

MAP, LIST = -1, -2


Viewer = tuple[str | None, str | None]  # (player id, team); (None, None) sees the public
PUBLIC: Viewer = (None, None)


def primitive_op(ref: int, values: list[Any], keys: set[int]) -> list[Any] | None:
    """An object's operation for its fields ``keys`` when they all hold primitives (the
    common write, kept short: one or two fields without the general path); else None."""
    primitive = PRIMITIVE_TYPES
    if len(keys) == 2:
        a, b = keys
        if a > b:
            a, b = b, a
        va, vb = values[a], values[b]
        if va.__class__ not in primitive or vb.__class__ not in primitive:
            return None
        return [ref, -1 - a, va, vb] if b == a + 1 else [ref, a, va, b, vb]
    if len(keys) == 1:
        (a,) = keys
        va = values[a]
        return [ref, a, va] if va.__class__ in primitive else None
    indexes = sorted(keys)
    got = [values[i] for i in indexes]
    for v in got:
        if v.__class__ not in primitive:
            return None
    return object_op(ref, indexes, got)


def declared_types(root: type[Schema]) -> list[type[Schema]]:
    """Every Schema class the root's field annotations name (``SyncMap[Dot]``,
    ``Piece | None``, ...), the root first: all told in the first keyframe, so an object
    appearing in a subtree hidden from a player announces nothing to them. A class
    found only at run time (a field annotated ``Any``) is told when first written."""
    found: list[type[Schema]] = []

    def walk(hint: Any) -> None:
        if isinstance(hint, type) and issubclass(hint, Schema):
            if hint in found:
                return
            found.append(hint)
            try:
                hints = typing.get_type_hints(hint)
            except Exception:  # a name its module cannot resolve: told when first used
                return
            for name, inner in hints.items():
                if not name.startswith("_"):
                    walk(inner)
            return
        for arg in typing.get_args(hint):
            walk(arg)

    walk(root)
    return found


def object_op(ref: int, indexes: list[int], values: list[Any]) -> list[Any]:
    """An object's operation for fields ``indexes`` (ascending) set to ``values``: pairs,
    the longest run of two or more consecutive fields at the end written as a run."""
    count = len(indexes)
    start = count - 1
    while start > 0 and indexes[start - 1] == indexes[start] - 1:
        start -= 1
    if count - start < 2:
        start = count
    op: list[Any] = [ref]
    for i in range(start):
        op += (indexes[i], values[i])
    if start < count:
        op.append(-1 - indexes[start])
        op += values[start:]
    return op


def visible(guard: Guard, viewer: Viewer) -> bool:
    """Whether ``viewer`` meets every condition of ``guard``. A condition naming no one
    (an owner or team of None) is met by no one: a player without a team sees no team's
    fields."""
    if guard is None:
        return True
    for kind, value in guard:
        if value is None or value != (viewer[0] if kind == "owner" else viewer[1]):
            return False
    return True


class Synced:
    """A state root with its tracker: ``full()`` and ``patches()`` encode it, per view."""

    def __init__(self, root: Schema) -> None:
        self.root = root
        self.tracker = Tracker()
        self._types: dict[type[Schema], int] = {}
        for cls in declared_types(type(root)):
            self._types.setdefault(cls, len(self._types))
        self._announced = 0  # types told so far (the keyframe tells them all)
        root._check_free(self.tracker, 0, set())
        root._attach(self.tracker)

    def schema(self) -> list[Any]:
        return [[cls.__name__, list(cls._fields)] for cls in self._types]

    def full(self, viewer: Viewer = (None, None)) -> tuple[list[Any], list[Any]]:
        """(the whole state as ``viewer`` may see it, the schema). Call ``settle`` once
        every view's keyframe is made: what changed before is covered by them."""
        encoded = self._whole(self.root, viewer)
        return encoded, self.schema()

    def settle(self) -> None:
        """Everything so far was sent (keyframes): patches start from here."""
        self.tracker.dirty.clear()
        self.tracker.fresh.clear()
        self._announced = len(self._types)

    def views_used(self) -> bool:
        return bool(self.tracker.guards) or bool(self.tracker.viewed)

    def patch(self, viewer: Viewer = (None, None)) -> list[Any]:
        """One view's patch since the last one ([] for nothing); forgets what changed."""
        return self.patches([viewer])[viewer]

    def patches(self, viewers: list[Viewer], *, announce: bool = True) -> dict[Viewer, list[Any]]:
        """Each viewer's patch since the last call, encoded once per distinct view (once
        for all when no field is for some players only); what changed is then forgotten."""
        if not viewers:
            viewers = [(None, None)]
        made: dict[Viewer, list[Any]]
        if self.views_used():
            made = self._view_ops(viewers)
        else:
            first = self._public_ops()
            made = dict.fromkeys(viewers, first)
        told = self._new_types() if announce else []
        self.tracker.dirty.clear()
        self.tracker.fresh.clear()
        out: dict[int, list[Any]] = {}  # one list per distinct encoding, shared
        return {v: out.setdefault(id(ops), told + ops) for v, ops in made.items()}

    def types_from(self, known: int) -> list[Any]:
        """The type announcements a receiver that knows the first ``known`` types lacks."""
        return [
            [0, i, cls.__name__, list(cls._fields)] for cls, i in self._types.items() if i >= known
        ]

    def type_count(self) -> int:
        return len(self._types)

    def _new_types(self) -> list[Any]:
        if len(self._types) == self._announced:
            return []
        told = [
            [0, i, cls.__name__, list(cls._fields)]
            for cls, i in self._types.items()
            if i >= self._announced
        ]
        self._announced = len(self._types)
        return told

    def _public_ops(self) -> list[Any]:
        """Every change, when no view guards anything (the common case, kept short)."""
        containers = self.tracker.containers
        ops: list[Any] = []
        for ref, keys in self.tracker.dirty.items():
            container = containers.get(ref)
            if container is None:
                continue
            op = None
            if isinstance(container, Schema):
                op = primitive_op(ref, container.__dict__["_values"], keys)
            if op is None:
                ops += self._ops(ref, container, keys, PUBLIC)
            else:
                ops.append(op)
        return ops

    def _view_ops(self, viewers: list[Viewer]) -> dict[Viewer, list[Any]]:
        """Each distinct view's operations when some fields are for some players only.
        What every view sees alike is made once (``common``); what only some see is
        grouped by who may see it (an ``("owner", player)`` or ``("team", team)`` guard)
        and made once per group, so a view costs what it sees apart from the others. An
        operation that writes a container whole (its subtree may differ by view) is made
        per view. A view that sees nothing apart shares ``common`` itself."""
        tracker = self.tracker
        common: list[Any] = []
        place: dict[int, int] = {}  # an object's public operation's index in common
        per_view: list[tuple[int, Container, set[Any]]] = []
        guarded: dict[Guard, list[tuple[int, Container, set[Any]]]] = {}
        hidden: dict[Guard, list[tuple[int, Schema, int]]] = {}  # objects' own fields
        for ref, keys in tracker.dirty.items():
            container = tracker.containers.get(ref)
            if container is None:
                continue
            guard = tracker.guards.get(ref)
            if guard is not None:
                guarded.setdefault(guard, []).append((ref, container, keys))
                continue
            if isinstance(container, Schema):
                values = container.__dict__["_values"]
                secret = keys & container._hidden
                public = keys - secret if secret else keys
                op = primitive_op(ref, values, public) if public else None
                if public and op is None:  # a container written whole: per view
                    per_view.append((ref, container, keys))
                    continue
                if op is not None:
                    place[ref] = len(common)
                    common.append(op)
                for i in secret:
                    hidden.setdefault(container.guard_of(i, None), []).append((ref, container, i))
                continue
            ops = self._ops(ref, container, keys, PUBLIC)
            if any(_holds_container(o) for o in ops):
                per_view.append((ref, container, keys))
            else:
                common += ops
        group_ops: dict[Guard, list[Any] | None] = {}  # None: holds containers, per view
        made: dict[Viewer, list[Any]] = {}
        for viewer in viewers:
            if viewer in made:
                continue
            mine = [guard for guard in guarded if visible(guard, viewer)]
            extra: list[Any] = []
            for ref, container, keys in per_view:
                extra += self._ops(ref, container, keys, viewer)
            for guard in mine:
                if guard not in group_ops:
                    group = guarded[guard]
                    ops = [o for r, c, k in group for o in self._ops(r, c, k, viewer)]
                    # Shared by the group's viewers unless some of it is for fewer of them
                    # (an owner's field under a team's subtree) or written whole.
                    apart = any(isinstance(c, Schema) and k & c._hidden for _, c, k in group)
                    shared = not apart and not any(_holds_container(o) for o in ops)
                    group_ops[guard] = ops if shared else None
                    extra += ops
                    continue
                cached = group_ops[guard]
                if cached is None:
                    cached = [o for r, c, k in guarded[guard] for o in self._ops(r, c, k, viewer)]
                extra += cached
            seen: dict[int, tuple[Schema, list[int]]] = {}
            for guard in (g for g in hidden if visible(g, viewer)):
                for ref, obj, index in hidden[guard]:
                    seen.setdefault(ref, (obj, []))[1].append(index)
            if not extra and not seen:
                made[viewer] = common
                continue
            ops = list(common)
            for ref, (obj, indexes) in seen.items():
                indexes += tracker.dirty[ref] - obj._hidden
                merged = self._fields_op(ref, obj, sorted(indexes), viewer)
                if ref in place:
                    ops[place[ref]] = merged
                else:
                    ops.append(merged)
            made[viewer] = ops + extra
        return made

    def _fields_op(self, ref: int, obj: Schema, indexes: list[int], viewer: Viewer) -> list[Any]:
        """An object's operation for its fields ``indexes`` (ascending, all visible)."""
        values = obj.__dict__["_values"]
        primitive = PRIMITIVE_TYPES
        return object_op(
            ref,
            indexes,
            [
                v if v.__class__ in primitive else self._value(v, viewer)
                for v in (values[i] for i in indexes)
            ],
        )

    def _ops(self, ref: int, container: Container, keys: set[Any], viewer: Viewer) -> list[Any]:
        if isinstance(container, Schema):
            values = container.values()
            inherited = self.tracker.guards.get(ref)
            indexes = [i for i in sorted(keys) if visible(container.guard_of(i, inherited), viewer)]
            if not indexes:
                return []
            return [object_op(ref, indexes, [self._value(values[i], viewer) for i in indexes])]
        if isinstance(container, SyncMap):
            sets: list[Any] = [ref]
            gone: list[Any] = [-ref]
            for key in sorted(keys, key=_key_order):
                if key in container:
                    sets += [key, self._value(container[key], viewer)]
                else:
                    gone.append(key)
            return [o for o in (sets, gone) if len(o) > 1]
        assert isinstance(container, SyncList)
        op: list[Any] = [ref, len(container)]
        for index in sorted(keys):
            if index < len(container):
                op += [index, self._value(container[index], viewer)]
        return [op]

    def _value(self, value: Any, viewer: Viewer) -> Any:
        return self._whole(value, viewer) if isinstance(value, Container) else value

    def _whole(self, container: Container, viewer: Viewer) -> list[Any]:
        if isinstance(container, Schema):
            kind = self._types.setdefault(type(container), len(self._types))
            inherited = self.tracker.guards.get(container._ref)
            values = [
                self._value(v, viewer)
                if visible(container.guard_of(i, inherited), viewer)
                else None
                for i, v in enumerate(container.values())
            ]
            return [container._ref, kind, *values]
        if isinstance(container, SyncMap):
            flat: list[Any] = [container._ref, MAP]
            for key, value in container.items():
                flat += [key, self._value(value, viewer)]
            return flat
        assert isinstance(container, SyncList)
        return [container._ref, LIST, *(self._value(v, viewer) for v in container)]


def _holds_container(op: list[Any]) -> bool:
    """Whether an operation writes a container whole (which may differ by view)."""
    return any(isinstance(v, list) for v in op[1:])


def _key_order(key: Any) -> tuple[int, Any]:
    return (0, key) if isinstance(key, int) else (1, key)
