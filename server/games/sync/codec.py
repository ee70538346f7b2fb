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

- an object: ``[ref, f, v, f, v, ...]`` (field index, new value);
- a map: ``[ref, k, v, k, v, ...]`` (set) and ``[-ref, k, k, ...]`` (deleted keys);
- a list: ``[ref, length, i, v, i, v, ...]`` (its new length, then the indexes set);
- a new object type: ``[0, type, name, [field, ...]]``, before its first use.

Refs are never reused while the state lives, so an operation on a ref the receiver does
not hold means it missed something: it asks for a keyframe instead of guessing.

100 objects ``{x, y}`` in a map, one of them moved (small coordinates): the patch
``[[ref, 0, x, 1, y]]`` is 9 bytes of msgpack.
"""

from __future__ import annotations

from typing import Any

import msgpack

from server.games.sync.state import Container, Guard, Schema, SyncList, SyncMap, Tracker

MAP, LIST = -1, -2


Viewer = tuple[str | None, str | None]  # (player id, team); (None, None) sees the public


def visible(guard: Guard, viewer: Viewer) -> bool:
    if guard is None:
        return True
    kind, value = guard
    return bool(viewer[0] == value if kind == "owner" else viewer[1] == value)


class Synced:
    """A state root with its tracker: ``full()`` and ``patches()`` encode it, per view."""

    def __init__(self, root: Schema) -> None:
        self.root = root
        self.tracker = Tracker()
        self._types: dict[type[Schema], int] = {}
        self._announced = 0  # types told so far (the keyframe tells them all)
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
        shared: dict[int, Any] | None = {} if self.views_used() else None
        first = self._ops_for(viewers[0], shared)
        made: dict[Viewer, list[Any]] = {viewers[0]: first}
        for viewer in viewers[1:]:
            if viewer not in made:
                made[viewer] = first if not self.views_used() else self._ops_for(viewer, shared)
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

    def _ops_for(self, viewer: Viewer, shared: dict[int, Any] | None = None) -> list[Any]:
        """One view's operations. ``shared``: what this round found to be the same for
        every view (a container no view guards, written with primitives), kept by ref so
        each further view reuses it instead of encoding it again."""
        tracker = self.tracker
        ops: list[Any] = []
        if shared is None:  # one view for all: nothing to share between views
            for ref, keys in tracker.dirty.items():
                container = tracker.containers.get(ref)
                if container is not None and visible(tracker.guards.get(ref), viewer):
                    ops += self._ops(ref, container, keys, viewer)
            return ops
        for ref, keys in tracker.dirty.items():
            container = tracker.containers.get(ref)
            guard = tracker.guards.get(ref)
            if container is None or not visible(guard, viewer):
                continue
            if guard is None and isinstance(container, Schema) and container._views:
                ops += self._guarded_object_ops(ref, container, keys, viewer, shared)
                continue
            if guard is None and ref in shared:
                ops += shared[ref]
                continue
            made = self._ops(ref, container, keys, viewer)
            if guard is None and not any(_holds_container(op) for op in made):
                shared[ref] = made
            ops += made
        return ops

    def _guarded_object_ops(
        self, ref: int, container: Schema, keys: set[Any], viewer: Viewer, shared: dict[int, Any]
    ) -> list[Any]:
        """An object with fields for some players only: its public fields' part encoded
        once a round (when they hold primitives), each view's own fields added to it."""
        values = container.values()
        public = shared.get(ref)
        if public is None:
            public = []
            for index in sorted(keys):
                if container._view_of[index] is None:
                    public += [index, self._value(values[index], viewer)]
            if not any(isinstance(v, list) for v in public[1::2]):
                shared[ref] = public
        own: list[Any] = []
        for index in sorted(keys):
            if container._view_of[index] is not None and visible(
                container.guard_of(index, None), viewer
            ):
                own += [index, self._value(values[index], viewer)]
        return [[ref, *public, *own]] if public or own else []

    def _ops(self, ref: int, container: Container, keys: set[Any], viewer: Viewer) -> list[Any]:
        if isinstance(container, Schema):
            values = container.values()
            inherited = self.tracker.guards.get(ref)
            op: list[Any] = [ref]
            for index in sorted(keys):
                if visible(container.guard_of(index, inherited), viewer):
                    op += [index, self._value(values[index], viewer)]
            return [op] if len(op) > 1 else []
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
        op = [ref, len(container)]
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


def dump(root: Schema) -> bytes:
    """The whole state, every view included, as bytes (a server-run match's snapshot);
    no tracker needed, refs left out (a load makes fresh ones)."""
    types: dict[type[Schema], int] = {}

    def whole(container: Container) -> list[Any]:
        if isinstance(container, Schema):
            kind = types.setdefault(type(container), len(types))
            return [0, kind, *(value(v) for v in container.values())]
        if isinstance(container, SyncMap):
            flat: list[Any] = [0, MAP]
            for key, v in container.items():
                flat += [key, value(v)]
            return flat
        assert isinstance(container, SyncList)
        return [0, LIST, *(value(v) for v in container)]

    def value(v: Any) -> Any:
        return whole(v) if isinstance(v, Container) else v

    full = whole(root)
    names = [[f"{cls.__module__}:{cls.__qualname__}", list(cls._fields)] for cls in types]
    packed: bytes = msgpack.packb([full, names])
    return packed


def load(blob: bytes) -> Schema:
    """The state ``dump`` wrote, as new containers (fresh refs: receivers get a keyframe).
    The Schema classes are found by name among those defined; a field they no longer
    declare is dropped, one they added starts as None."""
    full, schema = msgpack.unpackb(blob)
    classes = [Schema._registry[name] for name, _ in schema]
    fields = [names for _, names in schema]

    def build(whole: list[Any]) -> Any:
        kind, rest = whole[1], whole[2:]
        if kind == MAP:
            return SyncMap({rest[i]: value(rest[i + 1]) for i in range(0, len(rest), 2)})
        if kind == LIST:
            return SyncList([value(v) for v in rest])
        cls = classes[kind]
        known = {n: value(v) for n, v in zip(fields[kind], rest, strict=True) if n in cls._index}
        return cls(**known)

    def value(v: Any) -> Any:
        return build(v) if isinstance(v, list) else v

    root = build(full)
    assert isinstance(root, Schema)
    return root


def _holds_container(op: list[Any]) -> bool:
    """Whether an operation writes a container whole (which may differ by view)."""
    return any(isinstance(v, list) for v in op[1:])


def _key_order(key: Any) -> tuple[int, Any]:
    return (0, key) if isinstance(key, int) else (1, key)


def plain(value: Any) -> Any:
    """Synced state as plain dicts and lists (what a replica holds), for comparing."""
    if isinstance(value, Schema):
        return {name: plain(v) for name, v in zip(type(value)._fields, value.values(), strict=True)}
    if isinstance(value, SyncMap):
        return {k: plain(v) for k, v in value.items()}
    if isinstance(value, SyncList):
        return [plain(v) for v in value]
    return value
