"""mm.enqueue, mm.cancel, mm.accept, and the pushes mm.status and mm.matched."""

from __future__ import annotations

from server.handlers.matchmaking import MODE_MAX, TICKET_ID_MAX
from server.modes import MODE_NAME
from server.protocol import ErrorCode, Op, Push
from server.schema.build import (
    JsonSchema,
    array,
    integer,
    nullable,
    number,
    obj,
    one_of,
    string,
)
from server.schema.spec import Area, OpSpec, PushSpec
from server.services.matchmaker import QUEUE_MAX
from server.services.mm_tickets import PROPERTIES_MAX, PROPERTY_TEXT_MAX
from server.services.party_news import PartyChange

PROPERTY_NAME_MAX = 32  # as server.services.mm_tickets.bucket_of checks

_TICKET = string(
    1, TICKET_ID_MAX, description="a ticket's id, as mm.enqueue answered it: <mode>.<16 hex>"
)
_TICKET_REQUEST = obj({"ticket_id": _TICKET})
_WAITED = integer(0, description="how long the ticket has waited, in ms")


def _properties() -> JsonSchema:
    values = one_of(string(0, PROPERTY_TEXT_MAX), number())
    schema = {
        "type": "object",
        "additionalProperties": values,
        "propertyNames": {"minLength": 1, "maxLength": PROPERTY_NAME_MAX},
        "maxProperties": PROPERTIES_MAX,
        "description": "what the mode's matchmaker matches on: strings or finite numbers; "
        "its `equal` ones required, as strings",
    }
    return nullable(schema)


MATCHMAKING = Area(
    name="matchmaking",
    ops=(
        OpSpec(
            Op.MM_ENQUEUE,
            "Queue yourself (or, as its leader, your party) for a match of a mode.",
            request=obj(
                {"mode": string(1, MODE_MAX, pattern=MODE_NAME.pattern)},
                {"properties": _properties()},
            ),
            result=obj({"ticket_id": _TICKET}),
            errors=(ErrorCode.ALREADY_QUEUED, ErrorCode.QUEUE_FULL, ErrorCode.FORBIDDEN),
            description=(
                "The same request again while its ticket waits answers that ticket's id. "
                "ALREADY_QUEUED: you or a party member wait in another ticket of the mode; "
                f"QUEUE_FULL: the mode holds {QUEUE_MAX} tickets; FORBIDDEN: a party member "
                "who does not lead it, or a party bigger than a match or a team. "
                "Rate-limited per player (mm.enqueue)."
            ),
        ),
        OpSpec(
            Op.MM_CANCEL,
            "Take your ticket out of the queue.",
            request=_TICKET_REQUEST,
            errors=(ErrorCode.NOT_FOUND,),
            description="NOT_FOUND: not waiting (matched, expired, cancelled) or not yours. "
            "Rate-limited per player (mm.cancel).",
        ),
        OpSpec(
            Op.MM_ACCEPT,
            "Accept the match your ticket was proposed (the last accept starts it).",
            request=_TICKET_REQUEST,
            errors=(ErrorCode.NOT_FOUND,),
            description="NOT_FOUND: no match proposed to it (started, called off, past its "
            "accept_by_ms, or never).",
        ),
    ),
    pushes=(
        PushSpec(
            Push.MM_STATUS,
            "Your matchmaking ticket changed: queued, cancelled or expired.",
            fields=obj(
                {
                    "ticket_id": _TICKET,
                    "state": string(enum=("queued", "cancelled", "expired")),
                    "waited_ms": _WAITED,
                },
                {
                    "reason": string(
                        enum=("not accepted", "the party changed", "queued again"),
                        description="why a ticket was cancelled, when not by mm.cancel",
                    ),
                    "change": string(
                        enum=[c for c in PartyChange if c is not PartyChange.INVITED],
                        description="with reason 'the party changed': what changed",
                    ),
                    "match_id": string(
                        1,
                        description="with state queued: the match that was called off (the "
                        "ticket is back at its old place)",
                    ),
                },
            ),
        ),
        PushSpec(
            Push.MM_MATCHED,
            "Your ticket is in a match; match.started follows (after every mm.accept when "
            "accept_by_ms is there).",
            fields=obj(
                {
                    "ticket_id": _TICKET,
                    "match_id": string(1),
                    "players": array(string(1), description="every player of the match"),
                    "teams": array(
                        array(string(1)),
                        description="each team's player ids; [] for free for all",
                    ),
                    "waited_ms": _WAITED,
                },
                {
                    "accept_by_ms": integer(
                        0, description="server time by which every player must mm.accept"
                    )
                },
            ),
        ),
    ),
)
