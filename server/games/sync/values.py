"""What a primitive in synced state may be, checked at the game's write (a SyncError
there, in the game's own tick, rather than a frame that cannot be encoded later): every
client, msgpack or JSON, in any language, reads the same value.

- an int within +/-(2**53 - 1) (JavaScript's exact integers; msgpack stops at 2**64);
- a finite float (JSON has no NaN or Infinity);
- a str that is valid Unicode text (no lone surrogates: they cannot be UTF-8);
- a map key: such an int or str, never both ``k`` and ``str(k)`` in one map (a
  JavaScript object's keys are strings: they would be one key there).
"""

from __future__ import annotations

from typing import Any

SAFE_INT = 2**53 - 1
MAX_DEPTH = 32  # containers inside containers: the keyframe is encoded recursively


class SyncError(TypeError):
    """A write synced state cannot carry (a plain list or dict, an unknown field, a value
    or key no client could read)."""


def check_primitive(value: Any) -> None:
    """Raise SyncError unless ``value`` (None, bool, int, float or str) is carried as is."""
    kind = value.__class__
    if kind is int:
        if not -SAFE_INT <= value <= SAFE_INT:
            raise SyncError(f"an int in synced state is within +/-(2**53 - 1), not {value}")
    elif kind is float:
        if value - value != 0:
            raise SyncError(f"a float in synced state is finite, not {value}")
    elif kind is str and not value.isascii():
        try:
            value.encode()
        except UnicodeEncodeError as exc:
            raise SyncError(f"a str in synced state is valid text: {exc.reason}") from None


def check_key(key: Any, taken: dict[Any, Any]) -> None:
    """Raise SyncError unless ``key`` may be added to a map holding ``taken``."""
    if not isinstance(key, str | int) or isinstance(key, bool):
        raise SyncError(f"a SyncMap's keys are str or int, not {type(key).__name__}")
    check_primitive(key)
    if isinstance(key, int):
        twin: Any = str(key)
    elif key[-1:].isdigit() and key.lstrip("-").isdigit() and str(int(key)) == key:
        twin = int(key)
    else:
        return
    if twin in taken:
        raise SyncError(f"a SyncMap holds {twin!r}: {key!r} would be the same key to a client")
