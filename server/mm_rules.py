"""A mode's matchmaking rules (``ARENA_MODES``' ``matchmaker`` entry): who may be matched
with whom. Pure values, parsed and checked at start-up.

    "matchmaker": {
        "min": 2, "max": 4,                      # players in a match (free for all), or
        "teams": {"count": 2, "size": 3},       # teams of exactly this many
        "equal": ["region", "platform"],        # ticket properties that must be equal
        "rating": {"start": 100, "widen": 50, "every_s": 5, "max": 600},
        "accept_s": 10,                         # matched players must mm.accept in time
        "ticket_ttl_s": 120                     # a ticket not matched by then expires
    }

A mode with no entry is matched by its player count alone: 2 to its capacity, no
rating window, no properties. ``rating``: a ticket accepts tickets whose rating is
within ``start`` of its own, ``widen`` more every ``every_s`` it waited, up to ``max``;
two tickets are matched only when each accepts the other.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

from server.setting_errors import SettingError, one_of

SETTING = "ARENA_MODES"
PLAYERS_MAX = 64  # as a lobby's capacity
TEAMS_MAX = 8
EQUAL_MAX = 8  # properties that must be equal
TICKET_TTL_DEFAULT_S = 120.0
TICKET_TTL_MAX_S = 3600.0
ACCEPT_MAX_S = 120.0
RATING_MAX = 100_000.0


@dataclass(frozen=True, slots=True)
class Window:
    """How far apart two ratings may be, by how long a ticket has waited."""

    start: float = 100.0
    widen: float = 50.0
    every_s: float = 5.0
    max: float = 600.0

    def at(self, waited_s: float) -> float:
        steps = math.floor(max(waited_s, 0.0) / self.every_s)
        return min(self.max, self.start + self.widen * steps)

    def widened(self, waited_s: float) -> bool:
        return self.at(waited_s) > self.start


@dataclass(frozen=True, slots=True)
class MatchRules:
    min: int = 2
    max: int = 8
    teams: int = 0  # 0: free for all; else teams of exactly ``team_size``
    team_size: int = 0
    equal: tuple[str, ...] = ()
    rating: Window | None = None
    accept_s: float | None = None
    ticket_ttl_s: float = TICKET_TTL_DEFAULT_S

    @property
    def players(self) -> tuple[int, int]:
        """The fewest and most players of a match."""
        if self.teams:
            return self.teams * self.team_size, self.teams * self.team_size
        return self.min, self.max


def by_count(capacity: int) -> MatchRules:
    """The rules of a mode with no ``matchmaker`` entry: 2 to ``capacity`` players."""
    return MatchRules(min=min(2, capacity), max=capacity)


def parse_rules(where: str, raw: object, capacity: int) -> MatchRules:
    """A ``matchmaker`` entry; raises SettingError naming ARENA_MODES, the mode and field."""
    part = f"{where}: matchmaker"
    if not isinstance(raw, dict):
        raise SettingError(SETTING, "a JSON object", part=part, got=raw)
    known = ["accept_s", "equal", "max", "min", "rating", "teams", "ticket_ttl_s"]
    unknown = sorted(set(raw) - set(known))
    if unknown:
        raise SettingError(SETTING, one_of(known), part=f"{part}: fields", got=unknown[0])
    teams = team_size = 0
    low, high = _whole(raw, "min", 2, 1, PLAYERS_MAX, part), None
    if "teams" in raw:
        if "min" in raw or "max" in raw:
            raise SettingError(SETTING, "teams, or min and max, not both", part=part, got=raw)
        shape = raw["teams"]
        if not isinstance(shape, dict) or set(shape) != {"count", "size"}:
            raise SettingError(SETTING, "{count, size}", part=f"{part}: teams", got=shape)
        teams = _whole(shape, "count", 2, 2, TEAMS_MAX, f"{part}: teams")
        team_size = _whole(shape, "size", 1, 1, PLAYERS_MAX, f"{part}: teams")
        if teams * team_size > PLAYERS_MAX:
            raise SettingError(
                SETTING, f"count * size at most {PLAYERS_MAX}", part=f"{part}: teams", got=shape
            )
    else:
        high = _whole(raw, "max", max(low, capacity), low, PLAYERS_MAX, part)
    equal = raw.get("equal", [])
    if (
        not isinstance(equal, list)
        or len(equal) > EQUAL_MAX
        or not all(isinstance(p, str) and 0 < len(p) <= 32 for p in equal)
        or len(set(equal)) != len(equal)
    ):
        raise SettingError(
            SETTING,
            f"a list of at most {EQUAL_MAX} distinct property names (1..32 characters)",
            part=f"{part}: equal",
            got=equal,
        )
    rating = None
    if "rating" in raw:
        window = raw["rating"]
        if not isinstance(window, dict) or not set(window) <= {"start", "widen", "every_s", "max"}:
            raise SettingError(
                SETTING, "{start, widen, every_s, max}", part=f"{part}: rating", got=window
            )
        base = Window()
        rating = Window(
            start=_number(window, "start", base.start, 0.0, RATING_MAX, f"{part}: rating"),
            widen=_number(window, "widen", base.widen, 0.0, RATING_MAX, f"{part}: rating"),
            every_s=_number(window, "every_s", base.every_s, 0.1, 3600.0, f"{part}: rating"),
            max=_number(window, "max", base.max, 0.0, RATING_MAX, f"{part}: rating"),
        )
        if rating.max < rating.start:
            raise SettingError(SETTING, "max at least start", part=f"{part}: rating", got=window)
    accept = raw.get("accept_s")
    if accept is not None:
        accept = _number(raw, "accept_s", 0.0, 1.0, ACCEPT_MAX_S, part)
    ttl = _number(raw, "ticket_ttl_s", TICKET_TTL_DEFAULT_S, 1.0, TICKET_TTL_MAX_S, part)
    if teams:
        return MatchRules(0, 0, teams, team_size, tuple(equal), rating, accept, ttl)
    assert high is not None
    return MatchRules(low, high, 0, 0, tuple(equal), rating, accept, ttl)


def _whole(raw: dict[str, Any], name: str, default: int, low: int, high: int, part: str) -> int:
    value = raw.get(name, default)
    if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
        raise SettingError(SETTING, f"an integer {low}..{high}", part=f"{part}: {name}", got=value)
    return value


def _number(
    raw: dict[str, Any], name: str, default: float, low: float, high: float, part: str
) -> float:
    value = raw.get(name, default)
    if (
        isinstance(value, bool)
        or not isinstance(value, int | float)
        or not math.isfinite(value)
        or not low <= value <= high
    ):
        raise SettingError(
            SETTING, f"a number {low:g}..{high:g}", part=f"{part}: {name}", got=value
        )
    return float(value)
