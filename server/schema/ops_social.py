"""chat.join, chat.leave, chat.send, chat.history, feed.global, notify.list, notify.ack,
and the pushes chat.message and notify."""

from __future__ import annotations

from server.boards import SCORE_MAX, SCORE_MIN
from server.handlers.social import NOTE_ID_MAX, NOTE_ID_MIN, ROOM_MAX_LEN
from server.protocol import ErrorCode, Op, Push
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
    ref,
    string,
)
from server.schema.spec import Area, OpSpec, PushSpec
from server.services.activity import LIMIT_MAX as ACTIVITY_LIMIT_MAX
from server.services.chat import HISTORY_MAX, ROOM, TEXT_MAX, TEXT_RAW_MAX
from server.services.notifications import KIND
from server.services.notifications import LIST_MAX as NOTES_LIST_MAX

FEED_ID = r"^[0-9]+-[0-9]+$"  # a Redis stream id, <ms>-<seq> (server.feed_ids)

_TS = integer(0, description="server time, Unix ms")
_SCORE = integer(SCORE_MIN, SCORE_MAX)
_ID = string(3, pattern=FEED_ID, description="a feed id, <ms>-<seq>: orders like time")
_ROOM_REQUEST = obj(
    {
        "room": string(
            1,
            ROOM_MAX_LEN,
            pattern=ROOM.pattern,
            description="a public room's name, lobby:<lobby_id>, match:<match_id> or "
            "party:<party_id> (NOT_IN_ROOM unless you may be in it)",
        )
    }
)

CHAT_FIELDS: dict[str, JsonSchema] = {
    "room": string(1, ROOM_MAX_LEN, pattern=ROOM.pattern),
    "id": _ID,
    "from": string(1, description="the sender's player id"),
    "name": string(1, description="the sender's name when sent"),
    "text": string(1, TEXT_MAX, description="as normalised (NFC, trimmed)"),
    "ts": _TS,
}

NOTE_FIELDS: dict[str, JsonSchema] = {
    "id": _ID,
    "kind": string(
        1,
        pattern=KIND.pattern,
        description="what the note is about: match.result so far (ignore kinds you do not know)",
    ),
    "data": anything("the kind's data: a MatchResultNote for match.result"),
    "ts": _TS,
}

# data's shape by kind (a closed object for the kinds described).
_NOTE_DATA_BY_KIND: JsonSchema = {
    "if": {"properties": {"kind": {"const": "match.result"}}, "required": ["kind"]},
    "then": {"properties": {"data": ref("MatchResultNote")}},
}


def _note(fields: dict[str, JsonSchema], description: str | None = None) -> JsonSchema:
    return {**obj(fields, description=description), **_NOTE_DATA_BY_KIND}


SHAPES: dict[str, JsonSchema] = {
    "ChatMessage": obj(
        {"ev": const(str(Push.CHAT_MESSAGE)), **CHAT_FIELDS},
        description="A chat.message push as a room's history keeps it.",
    ),
    "Note": _note(
        {"ev": const(str(Push.NOTIFY)), **NOTE_FIELDS},
        description="A notify push as the player's pending notes keep it.",
    ),
    "MatchResultNote": obj(
        {
            "match_id": string(1),
            "score": _SCORE,
            "boards": mapping(
                obj(
                    {
                        "rank": integer(1),
                        "score": _SCORE,
                        "improved": boolean("whether this result bettered the stored score"),
                    }
                ),
                description="each board the mode's results go to: your standing there",
            ),
        },
        {"rating": ref("Rating")},
        description="A match.result note's data: your score, standings, and new rating "
        "(when the match was rated).",
    ),
    "ActivityEntry": one_of(
        ref("ActivityMatchResult"),
        ref("ActivityPersonalBest"),
        description="An activity-feed entry, by kind (ignore kinds you do not know).",
    ),
    "ActivityMatchResult": obj(
        {
            "kind": const("match.result"),
            "match_id": string(1),
            "mode": string(1),
            "scores": mapping(_SCORE, description="player id: score"),
            "names": mapping(string(1), description="player id: name"),
            "ts": _TS,
        },
        description="A match ended with a result.",
    ),
    "ActivityPersonalBest": obj(
        {
            "kind": const("personal_best"),
            "player_id": string(1),
            "name": string(1),
            "board": string(1),
            "score": _SCORE,
            "rank": integer(1),
            "ts": _TS,
        },
        description="A match result bettered a player's score on the mode's first board.",
    ),
}

SOCIAL = Area(
    name="social",
    ops=(
        OpSpec(
            Op.CHAT_JOIN,
            "Hear a room: chat.message pushes from now on.",
            request=_ROOM_REQUEST,
            errors=(ErrorCode.NOT_IN_ROOM,),
            description="A socket joins at most 16 rooms (BAD_REQUEST past that). "
            "Rate-limited per player (chat.join).",
        ),
        OpSpec(Op.CHAT_LEAVE, "Stop hearing a room.", request=_ROOM_REQUEST),
        OpSpec(
            Op.CHAT_SEND,
            "Post a message to a room you may be in.",
            request=obj(
                {
                    "room": _ROOM_REQUEST["properties"]["room"],
                    "text": string(
                        1,
                        TEXT_RAW_MAX,
                        description=f"1 to {TEXT_MAX} characters once normalised, not blank; "
                        "line feeds and tabs allowed",
                    ),
                }
            ),
            result=obj({"id": _ID}),
            errors=(ErrorCode.NOT_IN_ROOM,),
            description="You need not have joined the room; you hear your own message only "
            "if you did. Rate-limited per player (chat.send).",
        ),
        OpSpec(
            Op.CHAT_HISTORY,
            "A room's latest messages, oldest first.",
            request=obj(
                {"room": _ROOM_REQUEST["properties"]["room"]},
                {"limit": integer(1, HISTORY_MAX, description="default 50")},
            ),
            result=obj({"messages": array(ref("ChatMessage"))}),
            errors=(ErrorCode.NOT_IN_ROOM,),
        ),
        OpSpec(
            Op.FEED_GLOBAL,
            "Recent activity across the game, newest first.",
            request=obj(
                optional={"limit": integer(1, ACTIVITY_LIMIT_MAX, description="default 20")}
            ),
            result=obj({"entries": array(ref("ActivityEntry"))}),
        ),
        OpSpec(
            Op.NOTIFY_LIST,
            "Your unacknowledged notifications, oldest first, shaped like the pushes.",
            request=obj(
                optional={
                    "limit": integer(1, NOTES_LIST_MAX, description=f"default {NOTES_LIST_MAX}")
                }
            ),
            result=obj({"notes": array(ref("Note"))}),
        ),
        OpSpec(
            Op.NOTIFY_ACK,
            "Acknowledge a notification and every older one.",
            request=obj({"id": string(NOTE_ID_MIN, NOTE_ID_MAX, pattern=FEED_ID)}),
        ),
    ),
    pushes=(
        PushSpec(
            Push.CHAT_MESSAGE,
            "A message in a room this socket joined.",
            fields=obj(CHAT_FIELDS),
            description="Not re-sent after a node's pub/sub gap: chat.history has them.",
        ),
        PushSpec(
            Push.NOTIFY,
            "A notification; again on each connect until acknowledged (handle it by id).",
            fields=_note(NOTE_FIELDS),
        ),
    ),
    shapes=SHAPES,
)
