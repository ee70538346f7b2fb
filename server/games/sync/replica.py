"""A receiver's copy of synced state, built from a keyframe and kept by patches (the
decoder a client in any language writes from ``codec.py``'s description).

``Replica.keyframe(tick, full, schema)`` starts over; ``Replica.apply(tick, base, patch)``
applies a patch made on top of tick ``base``: when ``base`` is not the tick the replica
holds, or a patch names a container it does not hold, it raises ``NeedKeyframe`` and
changes nothing it already held correctly; the caller asks for a keyframe.
"""

from __future__ import annotations

from typing import Any

MAP, LIST = -1, -2


class NeedKeyframe(Exception):
    """The replica cannot apply this patch: it must start over from a keyframe."""


class Replica:
    def __init__(self) -> None:
        self.tick: int | None = None
        self.state: Any = None
        self._refs: dict[int, tuple[int, Any]] = {}  # ref -> (kind, the plain container)
        self._types: dict[int, tuple[str, list[str]]] = {}

    def keyframe(self, tick: int, full: list[Any], schema: list[Any]) -> None:
        self._refs = {}
        self._types = {i: (name, list(fields)) for i, (name, fields) in enumerate(schema)}
        self.state = self._build(full)
        self.tick = tick

    def apply(self, tick: int, base: int, patch: list[Any]) -> None:
        if self.tick is None or base != self.tick:
            raise NeedKeyframe(f"patch on tick {base}, replica at {self.tick}")
        types = set(self._types)  # checked first: a bad patch changes nothing
        types.update(op[1] for op in patch if op[0] == 0)
        for op in patch:
            ref = op[0]
            if ref == 0:
                continue
            if abs(ref) not in self._refs:
                raise NeedKeyframe(f"unknown container {abs(ref)}")
            for value in op[1:]:
                _check_whole(value, types)
        try:
            for op in patch:
                self._apply(op)
        except (LookupError, TypeError, ValueError) as err:  # malformed: nothing to trust
            self.tick = None
            raise NeedKeyframe(f"a malformed patch ({err})") from err
        self.tick = tick

    def _apply(self, op: list[Any]) -> None:
        ref = op[0]
        if ref == 0:
            self._types[op[1]] = (op[2], list(op[3]))
            return
        kind, target = self._refs[abs(ref)]
        if ref < 0:  # a map's deleted keys
            for key in op[1:]:
                target.pop(key, None)
        elif kind == MAP:
            for i in range(1, len(op), 2):
                target[op[i]] = self._value(op[i + 1])
        elif kind == LIST:
            del target[op[1] :]
            while len(target) < op[1]:
                target.append(None)
            for i in range(2, len(op), 2):
                target[op[i]] = self._value(op[i + 1])
        else:
            fields = self._types[kind][1]
            i = 1
            while i < len(op):
                field = op[i]
                if field < 0:  # a run: fields -1 - field, -field, ... to the end
                    first = -1 - field
                    for offset, value in enumerate(op[i + 1 :]):
                        target[fields[first + offset]] = self._value(value)
                    break
                target[fields[field]] = self._value(op[i + 1])
                i += 2

    def _value(self, value: Any) -> Any:
        return self._build(value) if isinstance(value, list) else value

    def _build(self, whole: list[Any]) -> Any:
        ref, kind = whole[0], whole[1]
        built: Any
        if kind == MAP:
            built = {whole[i]: self._value(whole[i + 1]) for i in range(2, len(whole), 2)}
        elif kind == LIST:
            built = [self._value(v) for v in whole[2:]]
        else:
            if kind not in self._types:
                raise NeedKeyframe(f"unknown type {kind}")
            fields = self._types[kind][1]
            built = {name: self._value(v) for name, v in zip(fields, whole[2:], strict=True)}
        self._refs[ref] = (kind, built)
        return built


def _check_whole(value: Any, types: set[int]) -> None:
    """A container written whole names only types this replica knows or is told."""
    if not isinstance(value, list):
        return
    kind = value[1]
    if kind not in (MAP, LIST) and kind not in types:
        raise NeedKeyframe(f"unknown type {kind}")
    for inner in value[2:]:
        _check_whole(inner, types)
