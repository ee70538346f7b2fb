"""What decoded JSON may hold and how deep it may nest: checks that walk any depth in a
loop (never recursion), shared by the socket frame decoder (protocol.py) and the HTTP
body reader (http_common.py)."""

from __future__ import annotations

import math
import re
from typing import Any

JSON_SAFE_INT = 2**53 - 1  # integers every JSON reader holds exactly
DEPTH_MAX = 32

# A JSON text that spells a surrogate escape (only such a text can decode to a lone one).
SURROGATE_ESCAPE = re.compile(r"\\u[dD][89abcdefABCDEF]")


def has_lone_surrogate(value: Any) -> bool:
    """Whether a decoded JSON value holds a lone surrogate (``"\\ud800"``) anywhere: text
    that no UTF-8 or msgpack can carry, so it must be refused where it comes in.

    A loop over a stack, not recursion: a body nested 100,000 deep is walked like a flat
    one (recursion would raise RecursionError, a crash, at about a thousand)."""
    pending = [value]
    while pending:
        item = pending.pop()
        if isinstance(item, str):
            if any("\ud800" <= char <= "\udfff" for char in item):
                return True
        elif isinstance(item, list):
            pending.extend(item)
        elif isinstance(item, dict):
            pending.extend(item.keys())
            pending.extend(item.values())
    return False


# How deep an HTTP body may nest: twice what a match event's ``data`` may
# (protocol.DEPTH_MAX).
# (A socket frame nested past what the decoders recurse through is a BAD_FRAME; a
# deep field no op reads is ignored there, as any unknown field is.)
BODY_DEPTH_MAX = 64


def nested_deeper_than(value: Any, limit: int) -> bool:
    """Whether lists and maps in ``value`` nest more than ``limit`` deep (a scalar is 0,
    ``[]`` is 1); a loop, so any depth is measured without recursion."""
    pending = [(value, 0)]
    while pending:
        item, depth = pending.pop()
        if isinstance(item, list | dict):
            depth += 1
            if depth > limit:
                return True
            children = item.values() if isinstance(item, dict) else item
            pending.extend((child, depth) for child in children if isinstance(child, list | dict))
    return False


def json_safe(value: Any, depth: int = 0) -> bool:
    """Whether a value means the same to msgpack and JSON clients: null, booleans, finite
    numbers (integers within JSON_SAFE_INT), strings, lists, and maps with string keys,
    nested at most DEPTH_MAX deep. Binary and extension values are not."""
    kind = type(value)
    # Exact types first, in a loop without a generator: every match event's data comes
    # through here, and it is mostly a small map of numbers and strings.
    if kind is dict:
        if depth >= DEPTH_MAX:
            return False
        for key, item in value.items():
            if type(key) is not str and not isinstance(key, str):
                return False
            if not _scalar_safe(item) and not json_safe(item, depth + 1):
                return False
        return True
    if kind is list or isinstance(value, list | tuple):  # a game's tuple goes out as a list
        if depth >= DEPTH_MAX:
            return False
        for item in value:
            if not _scalar_safe(item) and not json_safe(item, depth + 1):
                return False
        return True
    if value is None or isinstance(value, bool | str):
        return True
    if isinstance(value, int):
        return -JSON_SAFE_INT <= value <= JSON_SAFE_INT
    if isinstance(value, float):
        return math.isfinite(value)
    if isinstance(value, dict):
        return json_safe(dict(value), depth)
    return False


def _scalar_safe(value: Any) -> bool:
    """The common scalars of exact type, safe: a quick yes, or no for "look closer"."""
    kind = type(value)
    if kind is str or kind is bool or value is None:
        return True
    if kind is int:
        return bool(-JSON_SAFE_INT <= value <= JSON_SAFE_INT)
    if kind is float:
        return math.isfinite(value)
    return False
