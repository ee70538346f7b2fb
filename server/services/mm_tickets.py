"""What the matchmaker works with besides its store: a ticket's id and properties, the
made match's record, the counts its passes keep, and the ports to ratings and parties."""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Protocol

import msgpack

from server.errors import BadRequest
from server.metrics import Histogram
from server.mm_rules import MatchRules
from server.modes import MODE_NAME
from server.services.mm_pass import Group
from server.storage.matchmaking import TicketRecord

PROPERTIES_MAX = 16
PROPERTY_TEXT_MAX = 64
NUMBER_MAX = 2**53  # exact in every client's numbers
DEFAULT_RATING = 1500.0


class Rated(Protocol):
    @property
    def mu(self) -> float:
        """The rating's mean: what the matchmaker compares."""


class Ratings(Protocol):
    async def ratings_of(self, player_ids: Sequence[str], mode: str) -> Mapping[str, Rated]:
        """Each player's rating in the mode, the default for a new one (RatingService)."""


class Parties(Protocol):
    async def members_led_by(self, player_id: str) -> tuple[str | None, list[str]]:
        """(the party the player is in, its members) when they lead it; (None, [player])
        alone; Forbidden when they are in a party they do not lead."""


@dataclass(frozen=True, slots=True)
class Unrated:
    mu: float = DEFAULT_RATING


class NoRatings:
    async def ratings_of(self, player_ids: Sequence[str], mode: str) -> Mapping[str, Rated]:
        return dict.fromkeys(player_ids, Unrated())


class NoParties:
    async def members_led_by(self, player_id: str) -> tuple[str | None, list[str]]:
        return None, [player_id]


# Seconds from a ticket's queueing to its match (the time-to-match histogram).
WAIT_BOUNDS = (0.25, 0.5, 1.0, 2.0, 5.0, 10.0, 20.0, 30.0, 60.0, 120.0, 300.0)


@dataclass(slots=True)
class PassCounts:
    """What the passes of this node did (metrics read them)."""

    passes: int = 0
    matches: int = 0
    stale: int = 0  # groups refused at commit: a ticket left the queue meanwhile
    expired: int = 0
    widened: int = 0  # matches some member's window had widened to reach
    waiting: dict[str, int] = field(default_factory=dict)  # at the mode's last pass here
    time_to_match: dict[str, Histogram] = field(default_factory=dict)  # per mode


def ticket_mode(ticket_id: str) -> str:
    """The mode a ticket id names (``mode.hex``); BadRequest for anything else."""
    mode, _, rest = ticket_id.rpartition(".")
    if not MODE_NAME.match(mode) or len(rest) != 16:
        raise BadRequest("ticket_id: not a ticket id (as mm.enqueue returned it)")
    return mode


def made_record(records: list[TicketRecord], group: Group, now_ms: int, accept_by_ms: int) -> bytes:
    payload: bytes = msgpack.packb(
        {
            "players": [p for r in records for p in r.players],
            "teams": [list(team) for team in group.teams],
            "tickets": [[r.ticket_id, list(r.players), r.created_ms, r.pack()] for r in records],
            "made_ms": now_ms,
            "accept_by_ms": accept_by_ms,
        }
    )
    return payload


def bucket_of(rules: MatchRules, properties: object) -> tuple[str, ...]:
    """The values of the rules' ``equal`` properties (every one required)."""
    if properties is None:
        properties = {}
    if not isinstance(properties, Mapping) or len(properties) > PROPERTIES_MAX:
        raise BadRequest(f"properties: a map of at most {PROPERTIES_MAX} entries")
    for name, value in properties.items():
        if not isinstance(name, str) or not 0 < len(name) <= 32:
            raise BadRequest("properties: names of 1 to 32 characters")
        text_ok = isinstance(value, str) and len(value) <= PROPERTY_TEXT_MAX
        number_ok = isinstance(value, int | float) and not isinstance(value, bool)
        number_ok = number_ok and (
            abs(value) <= NUMBER_MAX if isinstance(value, int) else math.isfinite(value)
        )  # an int past a float's range (JSON has any) is refused, not converted
        if not (text_ok or number_ok):
            raise BadRequest(
                f"properties: {name}: a string of at most {PROPERTY_TEXT_MAX} characters "
                "or a finite number"
            )
    missing = [name for name in rules.equal if not isinstance(properties.get(name), str)]
    if missing:
        raise BadRequest(f"properties: {missing[0]} (a string) is required in this mode")
    return tuple(str(properties[name]) for name in rules.equal)
