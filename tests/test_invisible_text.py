"""Texts that look blank or pile marks on each other: refused in player names (HTTP),
lobby names and chat (socket), in both formats; what scripts and emoji need still passes."""

from __future__ import annotations

import unicodedata

import pytest

from client_sim.client import ArenaError
from server.errors import BadRequest
from server.protocol import Format
from server.text import MARK_RUN_MAX, clean_text, is_default_ignorable
from tests.conftest import StartArena
from tests.helpers import connect, http_json, new_device

# Each is refused in every kind of text; the key says what it is.
REFUSED = {
    "hangul filler": "\u3164",
    "hangul filler beside a letter": "a\u3164b",
    "hangul choseong filler": "\u115f",
    "hangul jungseong filler": "\u1160",
    "halfwidth hangul filler": "\uffa0",
    "braille blank": "\u2800",
    "braille blank beside a letter": "ab\u2800",
    "combining grapheme joiner": "a\u034fb",
    "variation selector 1": "a\ufe00",
    "variation selector 16 alone": "\ufe0f",
    "variation selector 16 at the start": "\ufe0fa",
    "variation selector 16 after a space": "a \ufe0f",
    "variation selector 17": "a\U000e0100",
    "variation selector 256": "a\U000e01ef",
    "khmer inherent vowel": "a\u17b4",
    "khmer inherent vowel aa": "a\u17b5",
    "mongolian free variation selector": "a\u180b",
    "mongolian vowel separator": "a\u180eb",
    "mongolian free variation selector four": "a\u180f",
    "mongolian selector after a space": "\u1820 \u180b",
    "only a combining accent": "\u0301",
    "only combining marks": "\u0301\u0302\u0303",
    "zalgo": "a" + "\u0301" * 499,
    "five marks in a row": "x\u0301\u0302\u0303\u0304\u0305",
}

# What real names and messages use: each is accepted as it is.
ACCEPTED = {
    "red heart with VS16": "\u2764\ufe0f",
    "keycap one": "1\ufe0f\u20e3",
    "heart on fire (VS16, then ZWJ)": "\u2764\ufe0f\u200d\U0001f525",
    "text-style VS15": "\u2764\ufe0e",
    "vietnamese": "Nguy\u1ec5n",
    "hindi": "\u0915\u094d\u0937\u093f\u0924\u093f",
    "persian with ZWNJ": "\u0645\u06cc\u200c\u062e\u0648\u0627\u0647\u0645",
    "four marks on one letter": "x\u0301\u0302\u0303\u0304",
    "mongolian with free variation selectors": "\u1820\u180b\u1828\u180c",
    "hebrew with points": unicodedata.normalize(
        "NFC", "\u05e9\u05c1\u05b8\u05dc\u05d5\u05b9\u05dd"
    ),
}


def test_the_ignorable_table_matches_the_unicode_property() -> None:
    for char in "\u00ad\u034f\u061c\u115f\u1160\u17b4\u17b5\u180b\u180e\u180f\u200b\u200f":
        assert is_default_ignorable(char), f"U+{ord(char):04X}"
    for char in "\u202a\u2060\u2065\u206f\u3164\ufe00\ufe0f\ufeff\uffa0\ufff0\ufff8":
        assert is_default_ignorable(char), f"U+{ord(char):04X}"
    for code in (0x1BCA0, 0x1D173, 0xE0000, 0xE0001, 0xE007F, 0xE0100, 0xE01EF, 0xE0FFF):
        assert is_default_ignorable(chr(code)), f"U+{code:04X}"
    for char in "a \u0301\u2800\u3163\u3165\ufff9\u17b3\u17b6\u180a\u1810\u2070":
        assert not is_default_ignorable(char), f"U+{ord(char):04X}"
    assert not is_default_ignorable(chr(0xE1000))


@pytest.mark.parametrize("text", REFUSED.values(), ids=REFUSED.keys())
def test_the_validator_refuses_blank_looking_and_stacked_texts(text: str) -> None:
    for multiline in (False, True):
        with pytest.raises(BadRequest) as refused:
            clean_text(text, field="text", max_len=500, multiline=multiline)
        assert refused.value.message.startswith("text: ")


@pytest.mark.parametrize("text", ACCEPTED.values(), ids=ACCEPTED.keys())
def test_the_validator_keeps_what_emoji_and_scripts_need(text: str) -> None:
    for multiline in (False, True):
        assert clean_text(text, field="text", max_len=24, multiline=multiline) == text


def test_mark_runs_are_counted_after_normalising() -> None:
    assert MARK_RUN_MAX == 4
    # e + 5 marks typed, NFC folds e + U+0301 into é: 4 marks remain, accepted.
    assert clean_text("e\u0301\u0302\u0303\u0304\u0305", field="name", max_len=24) == (
        "\u00e9\u0302\u0303\u0304\u0305"
    )
    with pytest.raises(BadRequest, match="U\\+0306"):
        clean_text("e\u0301\u0302\u0303\u0304\u0305\u0306", field="name", max_len=24)
    with pytest.raises(BadRequest, match="visible"):
        clean_text("\u0301", field="name", max_len=24)


async def test_player_names_refuse_blank_looking_and_stacked_names(arena: str) -> None:
    for label, name in REFUSED.items():
        status, body = await http_json(
            "POST", arena + "/v1/auth/guest", json={"device_id": new_device(), "name": name[:24]}
        )
        assert status == 400, label
        assert body["error"]["code"] == "BAD_REQUEST", label
        assert body["error"]["message"].startswith("name: "), label
    for label, name in ACCEPTED.items():
        status, body = await http_json(
            "POST", arena + "/v1/auth/guest", json={"device_id": new_device(), "name": name}
        )
        assert (status, body.get("name")) == (200, name), label


@pytest.mark.parametrize("fmt", [Format.MSGPACK, Format.JSON])
async def test_lobby_names_and_chat_refuse_blank_looking_and_stacked_texts(
    start_arena: StartArena, fmt: Format
) -> None:
    arena = await start_arena(rate_limits="lobby.create=200/100,chat.send=200/100")
    _, client = await connect(arena, "alice", fmt=fmt)
    async with client:
        await client.request("chat.join", room="general")
        for label, text in REFUSED.items():
            with pytest.raises(ArenaError) as refused:
                await client.request("lobby.create", mode="duel", capacity=2, name=text[:32])
            assert (refused.value.code, refused.value.message[:6]) == ("BAD_REQUEST", "name: ")
            with pytest.raises(ArenaError) as refused:
                await client.request("chat.send", room="general", text=text)
            assert (refused.value.code, refused.value.message[:6]) == ("BAD_REQUEST", "text: "), (
                label
            )
        lobby = (
            await client.request("lobby.create", mode="duel", capacity=2, name="\u2764\ufe0f")
        )["lobby"]
        assert lobby["name"] == "\u2764\ufe0f"
        await client.request("lobby.leave")
        for text in ACCEPTED.values():
            await client.request("chat.send", room="general", text=text)
            assert (await client.next_push("chat.message"))["text"] == text
