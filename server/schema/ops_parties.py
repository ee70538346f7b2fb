"""party.create, party.invite, party.join, party.leave, party.kick, party.promote,
party.close, and the pushes party.updated and party.invited."""

from __future__ import annotations

from server.handlers.parties import PARTY_ID_MAX, PLAYER_ID_MAX
from server.protocol import ErrorCode, Op, Push
from server.schema.build import (
    JsonSchema,
    array,
    boolean,
    integer,
    nullable,
    obj,
    ref,
    string,
)
from server.schema.spec import Area, OpSpec, PushSpec
from server.services.parties import (
    INVITE_TTL_S,
    INVITES_MAX,
    MAX_SIZE_MAX,
    MAX_SIZE_MIN,
    PARTY_ID,
)
from server.services.party_news import PartyChange

_PARTY_ID = string(1, PARTY_ID_MAX, description="a party's id (NOT_FOUND unless 12 hex characters)")
_PARTY_ID_SENT = string(12, 12, pattern=PARTY_ID.pattern, description="12 hex characters")
_PLAYER = obj({"player_id": string(1, PLAYER_ID_MAX)})
_PARTY = obj({"party": ref("Party")})
_GONE = obj({"party_id": _PARTY_ID_SENT})  # the party you are out of

SHAPES: dict[str, JsonSchema] = {
    "PartyMember": obj({"player_id": string(1), "name": string(1)}),
    "Party": obj(
        {
            "party_id": _PARTY_ID_SENT,
            "leader": string(1, description="the leader's player id"),
            "open": boolean("anyone may join (false: invite only)"),
            "max_size": integer(MAX_SIZE_MIN, MAX_SIZE_MAX),
            "members": array(ref("PartyMember"), description="oldest first"),
            "invited": array(
                string(1),
                max_items=INVITES_MAX,
                description=f"player ids with a live invite (each lasts {INVITE_TTL_S} s)",
            ),
            "rev": integer(
                0,
                description="grows with every change: ignore a party.updated of the party "
                "whose rev is lower than the one you hold",
            ),
        },
        description="A party: players who queue together (only its leader queues it).",
    ),
    "PartyChange": obj(
        {
            "what": string(enum=PartyChange),
            "player_id": string(
                1, description="who joined, left, ...; for promoted, who leads now"
            ),
        },
        {"by": string(1, description="the leader who kicked, promoted or invited")},
        description="What changed in a party.",
    ),
}

_LEADER_OPS = (ErrorCode.NOT_IN_PARTY, ErrorCode.NOT_PARTY_LEADER)

PARTIES = Area(
    name="parties",
    ops=(
        OpSpec(
            Op.PARTY_CREATE,
            "Make a party: you are its leader and only member.",
            request=obj(
                optional={
                    "open": boolean("default false: invite only"),
                    "max_size": integer(
                        MAX_SIZE_MIN, MAX_SIZE_MAX, description=f"default {MAX_SIZE_MAX}"
                    ),
                }
            ),
            result=_PARTY,
            errors=(ErrorCode.ALREADY_IN_PARTY, ErrorCode.LOCK_TIMEOUT),
        ),
        OpSpec(
            Op.PARTY_INVITE,
            "Invite a player (again: renews the invite); they get party.invited.",
            request=_PLAYER,
            result=_PARTY,
            errors=(*_LEADER_OPS, ErrorCode.NOT_FOUND, ErrorCode.TOO_MANY_INVITES),
            description=f"NOT_FOUND: no such player. TOO_MANY_INVITES: {INVITES_MAX} live "
            "invites, with retry_after_ms until the oldest expires. BAD_REQUEST: yourself, "
            "or a member already.",
        ),
        OpSpec(
            Op.PARTY_JOIN,
            "Join an open party, or one that invited you (the invite is used up).",
            request=obj({"party_id": _PARTY_ID}),
            result=_PARTY,
            errors=(
                ErrorCode.NOT_FOUND,
                ErrorCode.FORBIDDEN,
                ErrorCode.PARTY_FULL,
                ErrorCode.ALREADY_IN_PARTY,
                ErrorCode.LOCK_TIMEOUT,
            ),
            description="Joining a party you are in returns it and changes nothing. "
            "FORBIDDEN: invite only, and no live invite for you.",
        ),
        OpSpec(
            Op.PARTY_LEAVE,
            "Leave your party (and its chat room).",
            result=_GONE,
            errors=(ErrorCode.NOT_IN_PARTY,),
            description="A leader who leaves hands the lead to the oldest member; the last "
            "member out ends the party.",
        ),
        OpSpec(
            Op.PARTY_KICK,
            "Take a member out of your party.",
            request=_PLAYER,
            result=obj({"party": nullable(ref("Party"))}),
            errors=(*_LEADER_OPS, ErrorCode.NOT_FOUND),
            description="NOT_FOUND: not a member. BAD_REQUEST: yourself (party.leave). "
            "party is null when the party is gone meanwhile.",
        ),
        OpSpec(
            Op.PARTY_PROMOTE,
            "Hand the lead to a member (yourself: changes nothing).",
            request=_PLAYER,
            result=_PARTY,
            errors=(*_LEADER_OPS, ErrorCode.NOT_FOUND),
        ),
        OpSpec(
            Op.PARTY_CLOSE,
            "End your party: everyone is out.",
            result=_GONE,
            errors=_LEADER_OPS,
        ),
    ),
    pushes=(
        PushSpec(
            Push.PARTY_UPDATED,
            "Your party changed, or it took you out (party null).",
            fields=obj(
                {
                    "party_id": _PARTY_ID_SENT,
                    "party": nullable(ref("Party")),
                    "change": nullable(ref("PartyChange")),
                }
            ),
            description="party null: you are out of it (your socket leaves its chat room). "
            "change null: a re-tell of your party as it is (on socket open, after a node's "
            "pub/sub gap).",
        ),
        PushSpec(
            Push.PARTY_INVITED,
            "A party's leader invited you: party.join it within the invite's life.",
            fields=obj(
                {"party_id": _PARTY_ID_SENT, "party": ref("Party"), "from": ref("PartyMember")}
            ),
        ),
    ),
    shapes=SHAPES,
)
