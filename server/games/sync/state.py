"""Synced state for server-run games: containers whose writes are tracked, so the end of a
tick knows what changed without diffing (issue 16).

A game's state is a tree of three kinds of container, written in plain Python::

    class Dot(Schema):
        x: int
        y: int

    class Race(Schema):
        dots: SyncMap[Dot]
        k: int

    race = Race(dots=SyncMap(), k=0)
    race.dots["ann"] = Dot(x=10, y=20)
    race.dots["ann"].x = 11          # tracked: (the dot's ref, field 0) changed

- ``Schema``: an object with fields declared in order (class annotations); the field's
  index is its wire id, so names travel once, in the keyframe's schema.
- ``SyncMap``: keys str or int, values primitives or containers.
- ``SyncList``: values primitives or containers.

A field or entry holds a primitive (None, bool, int, float, str) or a container; a plain
list or dict is refused (a write to it could not be tracked). Each container attached to
a ``Tracker``'s root gets a ref (a small int, never reused while the tracker lives);
``Tracker.patch()`` encodes what changed since the last call and forgets it,
``Tracker.full()`` encodes everything (a keyframe). The wire forms are in ``codec.py``.
"""

from __future__ import annotations

import inspect
from collections.abc import Iterator
from typing import Any, ClassVar, Generic, TypeVar

from server.games.sync.values import MAX_DEPTH, check_key, check_primitive
from server.games.sync.values import SyncError as SyncError  # raised here, imported from here

V = TypeVar("V")
PRIMITIVES = (type(None), bool, int, float, str)
PRIMITIVE_TYPES = frozenset(PRIMITIVES)
VIEWS = ("owner", "team")
# Who may see a container or field: None (everyone), else every condition must hold,
# each ("owner", player id) or ("team", team): a view under another view adds to it.
Guard = tuple[tuple[str, Any], ...] | None


def check_value(value: object) -> None:
    if value.__class__ in PRIMITIVE_TYPES:
        check_primitive(value)
        return
    if isinstance(value, Container):
        return
    raise SyncError(
        f"synced state holds None, bool, int, float, str, Schema, SyncMap or SyncList, "
        f"not {type(value).__name__}"
    )


class Container:
    """What the three kinds share: a ref once attached, and the tracker told of writes."""

    _ref: int
    _tracker: Tracker | None

    def _check_free(self, tracker: Tracker, depth: int, seen: set[int]) -> None:
        """Raise SyncError, changing nothing, unless this subtree may be attached at
        ``depth``: no container of it in the state already, or twice in it."""
        if getattr(self, "_tracker", None) is not None or id(self) in seen:
            if self._tracker is tracker or id(self) in seen:
                raise SyncError("a container may sit in one place of the state only")
            raise SyncError("a container belongs to one state only")
        if depth > MAX_DEPTH:
            raise SyncError(f"synced state nests containers {MAX_DEPTH} deep at most")
        seen.add(id(self))
        for _, child in self._children_at():
            child._check_free(tracker, depth + 1, seen)

    def _attach(self, tracker: Tracker, guard: Guard = None, depth: int = 0) -> None:
        """Call ``_check_free`` first: this one assumes the subtree may be attached."""
        object.__setattr__(self, "_tracker", tracker)
        object.__setattr__(self, "_depth", depth)
        object.__setattr__(self, "_ref", tracker.adopt(self, guard))
        for key, child in self._children_at():
            child._attach(tracker, self._guard_at(key, guard), depth + 1)

    def _guard_at(self, key: Any, guard: Guard) -> Guard:
        """Who may see what sits at ``key`` (a field's view, else this container's)."""
        return guard

    def _children_at(self) -> Iterator[tuple[Any, Container]]:
        raise NotImplementedError

    def _detach(self) -> None:
        tracker = getattr(self, "_tracker", None)
        if tracker is None:
            return
        tracker.drop(self._ref)
        object.__setattr__(self, "_tracker", None)
        for child in self._children():
            child._detach()

    def _children(self) -> Iterator[Container]:
        raise NotImplementedError

    def _changed(self, key: Any) -> None:
        tracker = getattr(self, "_tracker", None)
        if tracker is not None:
            tracker.mark(self._ref, key)

    def _place(self, old: object, new: object, key: Any = None) -> None:
        """``new`` replaces ``old`` at ``key``: detach the one, attach the other (checked
        first: a refused write changes nothing)."""
        check_value(new)
        if old is new:
            return
        tracker = getattr(self, "_tracker", None)
        joining = new if isinstance(new, Container) and tracker is not None else None
        if joining is not None and tracker is not None:
            joining._check_free(tracker, self.__dict__["_depth"] + 1, set())
        if isinstance(old, Container):
            old._detach()
        if joining is not None and tracker is not None:
            guard = self._guard_at(key, tracker.guards.get(self._ref))
            joining._attach(tracker, guard, self.__dict__["_depth"] + 1)


class Schema(Container):
    """An object with declared fields (its class annotations, in order)."""

    _fields: ClassVar[tuple[str, ...]] = ()
    _index: ClassVar[dict[str, int]] = {}
    # Fields only some players see: name -> "owner" (the player this object's ``owner``
    # field names) or "team" (players whose team is this object's ``team`` field).
    _views: ClassVar[dict[str, str]] = {}
    _view_of: ClassVar[tuple[str | None, ...]] = ()
    _hidden: ClassVar[frozenset[int]] = frozenset()  # the indexes of fields with a view
    _view_keys: ClassVar[frozenset[int]] = frozenset()  # of the fields naming who sees them
    # Every Schema class by name (``load`` rebuilds a snapshot from names): a class
    # attribute of the base, shared by all, filled as classes are defined.
    _registry: ClassVar[dict[str, type[Schema]]] = {}

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        own = inspect.get_annotations(cls)
        names = [n for n in own if not n.startswith("_")]
        taken = [n for n in names if hasattr(Schema, n)]
        if taken:
            raise SyncError(f"{cls.__name__}: {taken[0]!r} is a Schema method, not a field name")
        cls._fields = (*cls._fields, *names)
        if len(cls._fields) > 255:
            raise SyncError(f"{cls.__name__}: at most 255 fields")
        cls._index = {name: i for i, name in enumerate(cls._fields)}
        for name, view in cls._views.items():
            if name not in cls._index or view not in VIEWS or view not in cls._index:
                raise SyncError(
                    f"{cls.__name__}: _views maps fields to 'owner' or 'team', and the "
                    f"class needs that field (got {name!r}: {view!r})"
                )
        cls._view_of = tuple(cls._views.get(name) for name in cls._fields)
        cls._hidden = frozenset(i for i, view in enumerate(cls._view_of) if view is not None)
        cls._view_keys = frozenset(cls._index[view] for view in cls._views.values())
        Schema._registry[f"{cls.__module__}:{cls.__qualname__}"] = cls

    def guard_of(self, index: int, inherited: Guard) -> Guard:
        """Who may see field ``index``: as the object, and its view's player or team."""
        view = self._view_of[index]
        if view is None:
            return inherited
        condition = (view, self.__dict__["_values"][self._index[view]])
        return (condition,) if inherited is None else (*inherited, condition)

    def _guard_at(self, key: Any, guard: Guard) -> Guard:
        return self.guard_of(key, guard)

    def __init__(self, **values: Any) -> None:
        object.__setattr__(self, "_tracker", None)
        object.__setattr__(self, "_values", [None] * len(self._fields))
        for name, value in values.items():
            setattr(self, name, value)

    def __setattr__(self, name: str, value: Any) -> None:
        index = self._index.get(name)
        if index is None:
            raise SyncError(f"{type(self).__name__} has no field {name!r}")
        own = self.__dict__
        values: list[Any] = own["_values"]
        old = values[index]
        if value.__class__ in PRIMITIVE_TYPES and not isinstance(old, Container):
            # The common write, kept short: a number or text over another.
            if old.__class__ is value.__class__ and old == value:
                return  # the same value: nothing to send
            if value.__class__ is not bool and value is not None:
                check_primitive(value)
            values[index] = value
            tracker = own["_tracker"]
            if tracker is not None:
                tracker.mark(own["_ref"], index)
                if index in self._view_keys:
                    tracker.review(self)
            return
        self._place(old, value, index)
        values[index] = value
        self._changed(index)
        if index in self._view_keys and own["_tracker"] is not None:
            own["_tracker"].review(self)

    def __getattr__(self, name: str) -> Any:
        index = type(self)._index.get(name)
        if index is None:
            raise AttributeError(name)
        return self.__dict__["_values"][index]

    def _children(self) -> Iterator[Container]:
        return (v for v in self.__dict__["_values"] if isinstance(v, Container))

    def _children_at(self) -> Iterator[tuple[Any, Container]]:
        values = self.__dict__["_values"]
        return ((i, v) for i, v in enumerate(values) if isinstance(v, Container))

    def values(self) -> list[Any]:
        return list(self.__dict__["_values"])


class SyncMap(Container, Generic[V]):
    """A map keyed by str or int."""

    def __init__(self, items: dict[Any, V] | None = None) -> None:
        object.__setattr__(self, "_tracker", None)
        self._data: dict[Any, V] = {}
        for key, value in (items or {}).items():
            self[key] = value

    def __setitem__(self, key: str | int, value: V) -> None:
        if key not in self._data:
            check_key(key, self._data)
        old = self._data.get(key)
        same = old is value or (type(old) is type(value) and old == value)
        if key in self._data and same and not isinstance(value, Container):
            return
        self._place(old, value)
        self._data[key] = value
        self._changed(key)

    def __delitem__(self, key: str | int) -> None:
        old = self._data.pop(key)
        if isinstance(old, Container):
            old._detach()
        self._changed(key)

    def __getitem__(self, key: str | int) -> V:
        return self._data[key]

    def __contains__(self, key: object) -> bool:
        return key in self._data

    def __len__(self) -> int:
        return len(self._data)

    def __iter__(self) -> Iterator[Any]:
        return iter(self._data)

    def items(self) -> list[tuple[Any, V]]:
        return list(self._data.items())

    def keys(self) -> list[Any]:
        return list(self._data)

    def values(self) -> list[V]:
        return list(self._data.values())

    def get(self, key: str | int, default: V | None = None) -> V | None:
        return self._data.get(key, default)

    def pop(self, key: str | int) -> V:
        value = self._data[key]
        del self[key]
        return value

    def _children(self) -> Iterator[Container]:
        return (v for v in self._data.values() if isinstance(v, Container))

    def _children_at(self) -> Iterator[tuple[Any, Container]]:
        return ((k, v) for k, v in self._data.items() if isinstance(v, Container))


class SyncList(Container, Generic[V]):
    """A list: set an index, append, pop from the end."""

    def __init__(self, items: list[V] | None = None) -> None:
        object.__setattr__(self, "_tracker", None)
        self._data: list[V] = []
        for item in items or []:
            self.append(item)

    def append(self, value: V) -> None:
        self._place(None, value)
        self._data.append(value)
        self._changed(len(self._data) - 1)

    def pop(self) -> V:
        value = self._data.pop()
        if isinstance(value, Container):
            value._detach()
        self._changed(len(self._data))  # the length changed
        return value

    def __setitem__(self, index: int, value: V) -> None:
        old = self._data[index]
        same = old is value or (type(old) is type(value) and old == value)
        if same and not isinstance(value, Container):
            return
        self._place(old, value)
        self._data[index] = value
        self._changed(index % len(self._data))

    def __getitem__(self, index: int) -> V:
        return self._data[index]

    def __len__(self) -> int:
        return len(self._data)

    def __iter__(self) -> Iterator[V]:
        return iter(self._data)

    def _children(self) -> Iterator[Container]:
        return (v for v in self._data if isinstance(v, Container))

    def _children_at(self) -> Iterator[tuple[Any, Container]]:
        return ((i, v) for i, v in enumerate(self._data) if isinstance(v, Container))


class Tracker:
    """The refs of one state's containers and what changed since the last patch."""

    def __init__(self) -> None:
        self._next = 1
        self.containers: dict[int, Container] = {}
        self.dirty: dict[int, set[Any]] = {}
        self.fresh: set[int] = set()  # attached since the last patch: sent whole
        self.guards: dict[int, Guard] = {}  # the containers only some players see
        self.viewed: set[int] = set()  # objects with fields only some players see
        self.reviewed = False  # an owner or team changed since the last keyframes

    def adopt(self, container: Container, guard: Guard = None) -> int:
        ref = self._next
        self._next += 1
        self.containers[ref] = container
        self.fresh.add(ref)
        if guard is not None:
            self.guards[ref] = guard
        if isinstance(container, Schema) and container._views:
            self.viewed.add(ref)
        return ref

    def drop(self, ref: int) -> None:
        self.guards.pop(ref, None)
        self.viewed.discard(ref)
        self.containers.pop(ref, None)
        self.dirty.pop(ref, None)
        self.fresh.discard(ref)

    def mark(self, ref: int, key: Any) -> None:
        if ref not in self.fresh:
            self.dirty.setdefault(ref, set()).add(key)

    def review(self, obj: Schema) -> None:
        """``obj``'s owner or team changed: who may see its fields and subtrees is worked
        out again, and every viewer starts over from a keyframe (one who now may see a
        field never got its value; one who no longer may still holds it)."""
        self.reviewed = True

        def guard_below(container: Container, guard: Guard) -> None:
            for key, child in container._children_at():
                below = container._guard_at(key, guard)
                if below is None:
                    self.guards.pop(child._ref, None)
                else:
                    self.guards[child._ref] = below
                guard_below(child, below)

        guard_below(obj, self.guards.get(obj._ref))
