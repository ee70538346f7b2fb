"""Synced state as a server-run match's snapshot (every view, msgpack) and back, and as
plain dicts and lists (what a replica holds, for comparing)."""

from __future__ import annotations

from typing import Any

import msgpack

from server.games.sync.codec import LIST, MAP
from server.games.sync.state import Container, Schema, SyncList, SyncMap


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


def plain(value: Any) -> Any:
    """Synced state as plain dicts and lists (what a replica holds), for comparing."""
    if isinstance(value, Schema):
        return {name: plain(v) for name, v in zip(type(value)._fields, value.values(), strict=True)}
    if isinstance(value, SyncMap):
        return {k: plain(v) for k, v in value.items()}
    if isinstance(value, SyncList):
        return [plain(v) for v in value]
    return value
