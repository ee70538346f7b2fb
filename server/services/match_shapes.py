"""What a match's inputs must look like, and the shape a match is shown in."""

from __future__ import annotations

import re
from typing import Any

import msgpack

from server.boards import SCORE_MAX, SCORE_MIN
from server.errors import BadRequest, NotInMatch
from server.json_limits import json_safe
from server.protocol import Push, Tell, packed
from server.storage.match_record import MatchRecord

MATCH_ID = re.compile(r"^[0-9a-f]{16}$")
SCORES_MAX = 64
JSON_SAFE = (
    "null, booleans, numbers (integers within ±(2^53-1)), strings, lists and maps with "
    "string keys, nested at most 32 deep"
)


def packed_json(value: object, what: str, limit: int) -> bytes:
    """``value`` in msgpack if every client can read it and it fits; else BadRequest."""
    if not json_safe(value):
        raise BadRequest(f"{what}: {JSON_SAFE}")
    encoded = packed(value)
    if len(encoded) > limit:
        raise BadRequest(f"{what}: at most {limit} bytes encoded (msgpack)")
    return encoded


def validate_match_id(match_id: str) -> str:
    if not MATCH_ID.match(match_id):
        raise NotInMatch("not a player of this match")
    return match_id


def validate_scores(scores: object, roster: list[str]) -> dict[str, int]:
    if not isinstance(scores, dict) or not 1 <= len(scores) <= SCORES_MAX:
        raise BadRequest(f"scores: a map of player_id to score, 1 to {SCORES_MAX} entries")
    for player_id, score in scores.items():
        if player_id not in roster:
            raise BadRequest(f"scores: {str(player_id)[:32]!r} is not a player of this match")
        if not isinstance(score, int) or isinstance(score, bool):
            raise BadRequest("scores: every score must be an integer")
        if not SCORE_MIN <= score <= SCORE_MAX:
            raise BadRequest(f"scores: must be between {SCORE_MIN} and {SCORE_MAX}")
    return dict(scores)


def match_wire(match: MatchRecord, playing: int) -> dict[str, Any]:
    """A match as ``match.list`` and ``watch.match`` show it."""
    return {
        "match_id": match.match_id,
        "mode": match.mode,
        "players": len(match.roster),
        "playing": playing,
        "started_ms": match.started_ms,
        "state": match.state,
        "authoritative": match.hosted,
    }


def may_see(push: bytes, player_id: str) -> bool:
    """Whether a feed entry is for ``player_id``: a game's event sent to some players only
    carries ``to`` (msgpack ``"to"`` then the list); the rest are for every reader. Only
    such entries are decoded."""
    if b"\xa2to" not in push:
        return True
    to = msgpack.unpackb(push).get("to")
    return to is None or player_id in to


def is_keyframe_for(push: bytes, player_id: str) -> bool:
    """Whether a feed entry is a synced-state keyframe (``match.state`` with ``full``)
    that ``player_id`` may read. Only entries holding the key ``full`` are decoded."""
    if b"\xa4full" not in push:
        return False
    fields = msgpack.unpackb(push)
    to = fields.get("to")
    keyframe = fields.get("ev") == Push.MATCH_STATE and "full" in fields
    return bool(keyframe and (to is None or player_id in to))


def match_started(
    match_id: str, lobby_id: str, mode: str, players: list[str], *, authoritative: bool
) -> Tell:
    """The push that tells a match's players it started (their sockets follow it);
    ``authoritative``: the server runs its game (players send match.input)."""
    fields = {
        "match_id": match_id,
        "lobby_id": lobby_id,
        "mode": mode,
        "players": players,
        "authoritative": authoritative,
    }
    return Tell(Push.MATCH_STARTED, fields)
