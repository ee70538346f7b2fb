"""The protocol as data: every op's request and result, every push, the error and close
codes, and the HTTP routes, from which the AsyncAPI and OpenAPI documents, the TypeScript
declarations of the JavaScript client and the contract test are all made.

The op, push, error and close code names come from ``server.protocol``, the limits from
the constants the handlers check; ``tests/test_schema.py`` holds the rest in step with the
server (every op and push described, the committed documents current), and the contract
test (``tests/contract.py``) checks every reply and push the test suite receives.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import TypeVar

from server.schema.build import JsonSchema
from server.schema.ops_leaderboards import LEADERBOARDS
from server.schema.ops_lobbies import LOBBIES
from server.schema.ops_matches import MATCHES
from server.schema.ops_matchmaking import MATCHMAKING
from server.schema.ops_parties import PARTIES
from server.schema.ops_social import SOCIAL
from server.schema.ops_system import SYSTEM
from server.schema.spec import Area, OpSpec, PushSpec

T = TypeVar("T")

AREAS: tuple[Area, ...] = (
    SYSTEM,
    LEADERBOARDS,
    LOBBIES,
    MATCHES,
    MATCHMAKING,
    PARTIES,
    SOCIAL,
)


def op_specs() -> dict[str, OpSpec]:
    """Every described op by name, in the areas' order."""
    return _by_name((str(spec.op), spec) for area in AREAS for spec in area.ops)


def push_specs() -> dict[str, PushSpec]:
    return _by_name((str(spec.push), spec) for area in AREAS for spec in area.pushes)


def shapes() -> dict[str, JsonSchema]:
    """The named shapes every area shares (``components.schemas``)."""
    return _by_name(item for area in AREAS for item in area.shapes.items())


def _by_name(items: Iterable[tuple[str, T]]) -> dict[str, T]:
    """The items by name; a name given twice (two areas describing one thing) is a bug."""
    found: dict[str, T] = {}
    for name, item in items:
        assert name not in found, f"{name} described twice"
        found[name] = item
    return found


__all__ = ["AREAS", "Area", "OpSpec", "PushSpec", "op_specs", "push_specs", "shapes"]
