"""What the protocol documents are made of: one ``OpSpec`` per op, one ``PushSpec`` per push,
and named shapes. Each area of the protocol (``ops_*.py``) lists its own as an ``Area``."""

from __future__ import annotations

from dataclasses import dataclass, field

from server.protocol import ErrorCode, Op, Push
from server.schema.build import JsonSchema, obj


@dataclass(frozen=True, slots=True)
class OpSpec:
    """A request a client may send, and what a success reply to it carries.

    ``request``: the fields beside ``op`` and ``rid``; ``result``: the fields beside
    ``rid`` and ``ok``. ``errors``: the codes this op may answer with besides those every op
    may (BAD_REQUEST, RATE_LIMITED, READ_ONLY, UNAVAILABLE, INTERNAL, ...).
    """

    op: Op
    summary: str
    request: JsonSchema = field(default_factory=obj)
    result: JsonSchema = field(default_factory=obj)
    errors: tuple[ErrorCode, ...] = ()
    description: str = ""


@dataclass(frozen=True, slots=True)
class PushSpec:
    """An event the server sends unasked: the fields beside ``ev``."""

    push: Push
    summary: str
    fields: JsonSchema = field(default_factory=obj)
    description: str = ""


@dataclass(frozen=True, slots=True)
class Area:
    """One part of the protocol: its ops, its pushes and the shapes they share by name."""

    name: str
    ops: tuple[OpSpec, ...] = ()
    pushes: tuple[PushSpec, ...] = ()
    shapes: dict[str, JsonSchema] = field(default_factory=dict)
