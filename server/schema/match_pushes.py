"""The match.* pushes: their fields, and the feed entry a ``match.feed`` reply carries.

A match's feed keeps its pushes exactly as they were sent (``ev`` and ``id`` included):
match.event, match.left, match.presence, match.ended, match.resync and match.state. So each
of those is described once here, as a push (its fields beside ``ev``) and as a feed entry
(``ev`` a constant, then the same fields). match.started and match.refused are not kept.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from server.boards import SCORE_MAX, SCORE_MIN
from server.handlers.matches import SHORT_MAX
from server.protocol import Push
from server.schema.build import (
    JsonSchema,
    anything,
    array,
    boolean,
    const,
    integer,
    mapping,
    obj,
    one_of,
    string,
)
from server.schema.spec import PushSpec
from server.services.match_shapes import MATCH_ID, SCORES_MAX
from server.services.matches import DATA_MAX_BYTES

MATCH_ID_FIELD = string(pattern=MATCH_ID.pattern, description="A match's id: 16 hex characters.")
FEED_ID = string(
    pattern=r"^[0-9]+-[0-9]+$",
    description="A feed id, <ms>-<n> (a Redis stream id): compare as two integers, "
    "milliseconds then sequence.",
)
TS = integer(0, description="When the server made it: Unix time in ms.")
TICK = integer(0, description="The game's tick: only grows.")
PLAYER_IDS = array(string(), description="Player ids.")
SCORES = mapping(
    integer(SCORE_MIN, SCORE_MAX),
    description="Player id to score (integers within ±(2^53 - 1)).",
)
SCORES_REPORTED = {**SCORES, "minProperties": 1, "maxProperties": SCORES_MAX}
GAME_DATA = anything(
    f"The sender's own data (a game's, for from: server): JSON-safe (null, booleans, "
    f"numbers, strings, lists, maps with string keys), at most {DATA_MAX_BYTES} bytes "
    "msgpack; the game's clients (or its server-run rules) check it."
)


@dataclass(frozen=True, slots=True)
class FeedPush:
    """A match push kept in the match's feed."""

    push: Push
    summary: str
    required: dict[str, JsonSchema]
    optional: dict[str, JsonSchema] = field(default_factory=dict)
    description: str = ""
    # Alternatives among the optional fields: exactly one of these sets is present.
    forms: tuple[tuple[str, ...], ...] = ()

    def spec(self) -> PushSpec:
        fields = self._formed(obj({**self.required, "id": FEED_ID}, self.optional))
        return PushSpec(self.push, self.summary, fields=fields, description=self.description)

    def entry(self) -> JsonSchema:
        """The same push as a feed entry: ``ev`` included."""
        return self._formed(
            obj(
                {"ev": const(str(self.push)), **self.required, "id": FEED_ID},
                self.optional,
                description=self.summary,
            )
        )

    def _formed(self, schema: JsonSchema) -> JsonSchema:
        if self.forms:
            schema["oneOf"] = [{"required": list(form)} for form in self.forms]
        return schema


FEED_PUSHES = (
    FeedPush(
        Push.MATCH_EVENT,
        "A player of your match sent an event (yours too: the sender's acknowledgement); "
        "or, from: server, a server-run game said it.",
        {
            "match_id": MATCH_ID_FIELD,
            "from": string(description='The sender\'s player id, or "server" (the game).'),
            "type": string(
                description=f"The event's type: a player's is 1 to {SHORT_MAX} of A-Z a-z "
                "0-9 _ . : - (as match.send checks it); a server-run game's is its own."
            ),
            "data": GAME_DATA,
            "ts": TS,
        },
        {
            "tick": {**TICK, "description": "From a server-run game: the tick it said it at."},
            "to": {
                **PLAYER_IDS,
                "description": "From a server-run game: the players it is for (only they "
                "get it, live and in match.feed); absent: everyone.",
            },
        },
    ),
    FeedPush(
        Push.MATCH_LEFT,
        "A player left your match (match.leave, another match's start, or its game removed them).",
        {"match_id": MATCH_ID_FIELD, "player_id": string(), "ts": TS},
        {"reason": string(enum=["kicked"], description="kicked: the game removed them.")},
    ),
    FeedPush(
        Push.MATCH_PRESENCE,
        "A player of your running match lost their socket or their node stalled "
        "(online: false), or is back (online: true).",
        {"match_id": MATCH_ID_FIELD, "player_id": string(), "online": boolean(), "ts": TS},
    ),
    FeedPush(
        Push.MATCH_ENDED,
        "The match ended; your socket stops following it.",
        {
            "match_id": MATCH_ID_FIELD,
            "scores": {**SCORES, "description": "The result; {} when it ended without one."},
            "by": string(
                description="Who decided: a player id (results: any), consensus, majority, "
                "server; with no result: disputed, admin, abandoned, expired, error."
            ),
            "ts": TS,
        },
        {
            "disputed": const(True, "Only when true: the reports agreed on no result."),
            "reason": string(enum=["error"], description="error: its server-run game failed."),
        },
    ),
    FeedPush(
        Push.MATCH_RESYNC,
        "Another node took the server-run match over (its node died or stopped): events "
        "go on from tick, and a synced state's players get a new keyframe.",
        {"match_id": MATCH_ID_FIELD, "tick": TICK, "epoch": integer(1), "ts": TS},
    ),
    FeedPush(
        Push.MATCH_STATE,
        "A server-run game's synced state: a keyframe (full and schema) or a patch on "
        "top of the last frame you got (base and patch).",
        {"match_id": MATCH_ID_FIELD, "tick": TICK, "ts": TS},
        {
            "full": array(
                anything("A value of the synced format (numbers, strings, arrays)."),
                description="Keyframe: the root container written whole, [ref, kind, ...].",
            ),
            "schema": array(
                array(anything("The type's name, then its field names.")),
                description="Keyframe: the object types, each [name, [field, ...]].",
            ),
            "base": integer(0, description="Patch: the tick of the frame it applies on."),
            "patch": array(
                array(anything("An operation of the synced format.")),
                description="Patch: operations applied in order; apply none of it unless "
                "all of it applies (else ask match.sync).",
            ),
            "to": {**PLAYER_IDS, "description": "The players it is for; absent: everyone."},
        },
        description="Either full and schema, or base and patch; the format is in "
        "docs/protocol.md (Synced state).",
        forms=(("full", "schema"), ("base", "patch")),
    ),
)

MATCH_FEED_ENTRY = one_of(
    *(push.entry() for push in FEED_PUSHES),
    description="A push from the match's feed exactly as it was sent, ev and id included: "
    "hand it to your push handler, skipping an id you already have.",
)

MATCH_STARTED = PushSpec(
    Push.MATCH_STARTED,
    "A match you play started (a lobby all ready or full, match.create, a game took "
    "you in, the matchmaker); your socket follows it from now on.",
    fields=obj(
        {
            "match_id": MATCH_ID_FIELD,
            "lobby_id": string(description='The lobby it started from; "" when none.'),
            "mode": string(),
            "players": PLAYER_IDS,
            "authoritative": boolean("The server runs its game: send match.input."),
        }
    ),
    description="Re-sent after a server node's pub/sub gap: one for the match you already "
    "play is a copy, ignore it.",
)

MATCH_REFUSED = PushSpec(
    Push.MATCH_REFUSED,
    "The game did not take you in (match.join).",
    fields=obj({"match_id": MATCH_ID_FIELD, "reason": string(description="The game's.")}),
)

MATCH_PUSHES = (MATCH_STARTED, *(push.spec() for push in FEED_PUSHES), MATCH_REFUSED)
