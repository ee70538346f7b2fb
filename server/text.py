"""Names and texts that players show each other: one rule, applied where they come in.

Pure (no I/O). A text is NFC-normalised (so the same letters typed two ways are the
same text), trimmed, and refused when it holds characters that are invisible or
that change how the text around them is shown:

- control characters (Unicode category Cc: C0, DEL, C1), which forge lines in logs
  and chat windows. Multi-line texts (chat) keep line feed and tab; a carriage
  return is refused (a lone CR rewrites the line it ends on in a terminal).
- format characters (Cf): bidi embeddings, overrides and isolates (U+202A..U+202E,
  U+2066..U+2069), which make a text read backwards; zero-width spaces, the BOM,
  soft hyphens, tag characters. One exception: the zero-width joiner and
  non-joiner (U+200D, U+200C) between two visible characters, which emoji
  sequences (a family, a rainbow flag) and several scripts (Persian, the Indic
  scripts) need. At either end, or beside a space or another format character,
  they are refused.
- line and paragraph separators (Zl, Zp), surrogates (Cs; a JSON client can send a
  lone one as ``\\ud800``), private-use (Co) and unassigned (Cn) code points.
- in names, any space other than U+0020 (no-break, ideographic, zero-width-looking
  spaces), so a name cannot pad itself with look-alike blanks.
- Default_Ignorable_Code_Point characters (Unicode's DerivedCoreProperties: code
  points a renderer shows as nothing, such as U+034F, the Khmer inherent vowels,
  the Mongolian free variation selectors) and the blank-looking fillers (the
  Hangul fillers U+3164, U+115F, U+1160, U+FFA0, which are ignorable, and the
  blank Braille pattern U+2800, which is not): a name of them looks empty. Two
  exceptions: the joiners above, and the emoji variation selectors U+FE0E
  (text style) and U+FE0F (emoji style) right after a visible character
  (U+2764 U+FE0F is the red heart), and the Mongolian free variation selectors
  (U+180B..U+180D, U+180F) right after a Mongolian letter, whose form they pick;
  every other variation selector is refused.
- a run of more than MARK_RUN_MAX combining marks (category M) in a row: piled
  marks ("Zalgo" text) draw over the lines above and below, and no script needs
  more after NFC (Vietnamese takes two, pointed Hebrew three or four).

And a text must hold at least one visible character: one that is not white
space, a combining mark, or any of the above (so a name cannot be a lone accent).

Lengths are counted in code points after normalising and trimming. The flag
emoji of England, Scotland and Wales use tag characters, so they are refused.
"""

from __future__ import annotations

import bisect
import unicodedata

from server.errors import BadRequest

# Categories refused everywhere (Cf has the joiner exception below).
REFUSED = frozenset({"Cc", "Cf", "Zl", "Zp", "Cs", "Co", "Cn"})
JOINERS = frozenset({"\u200c", "\u200d"})
MULTILINE_CONTROLS = frozenset({"\n", "\t"})
EMOJI_SELECTORS = frozenset({"\ufe0e", "\ufe0f"})  # text style, emoji style
# Mongolian spelling picks a letter's form with these: allowed right after a Mongolian letter.
MONGOLIAN_SELECTORS = frozenset({"\u180b", "\u180c", "\u180d", "\u180f"})
MONGOLIAN_LETTERS = ("\u1820", "\u18aa")
BLANKS = frozenset({"\u2800"})  # blank-looking, yet not Default_Ignorable
MARK_RUN_MAX = 4

# Default_Ignorable_Code_Point, as first..last code points, from Unicode 15.1's
# DerivedCoreProperties.txt (unicodedata has no such property).
_IGNORABLE_RANGES = (
    (0x00AD, 0x00AD),  # soft hyphen
    (0x034F, 0x034F),  # combining grapheme joiner
    (0x061C, 0x061C),  # Arabic letter mark
    (0x115F, 0x1160),  # Hangul choseong and jungseong fillers
    (0x17B4, 0x17B5),  # Khmer inherent vowels
    (0x180B, 0x180F),  # Mongolian free variation selectors, vowel separator
    (0x200B, 0x200F),  # zero-width space, joiners, direction marks
    (0x202A, 0x202E),  # bidi embeddings and overrides
    (0x2060, 0x206F),  # word joiner, invisible operators, isolates, deprecated formats
    (0x3164, 0x3164),  # Hangul filler
    (0xFE00, 0xFE0F),  # variation selectors 1-16
    (0xFEFF, 0xFEFF),  # byte order mark
    (0xFFA0, 0xFFA0),  # halfwidth Hangul filler
    (0xFFF0, 0xFFF8),  # unassigned specials
    (0x1BCA0, 0x1BCA3),  # shorthand format controls
    (0x1D173, 0x1D17A),  # musical formatting symbols
    (0xE0000, 0xE0FFF),  # tags, variation selectors 17-256, unassigned
)
_IGNORABLE_FIRSTS = [first for first, _ in _IGNORABLE_RANGES]


def is_default_ignorable(char: str) -> bool:
    """Whether ``char`` has Unicode's Default_Ignorable_Code_Point property."""
    code = ord(char)
    i = bisect.bisect_right(_IGNORABLE_FIRSTS, code) - 1
    return i >= 0 and code <= _IGNORABLE_RANGES[i][1]


def clean_text(
    value: object, *, field: str, max_len: int, min_len: int = 1, multiline: bool = False
) -> str:
    """``value`` as stored and shown: NFC, trimmed, checked; else BadRequest naming ``field``.

    ``multiline`` (chat) keeps line feeds and tabs and any kind of space; otherwise
    (names) the only space is U+0020.
    """
    if not isinstance(value, str):
        raise BadRequest(f"{field}: must be a string")
    text = unicodedata.normalize("NFC", value).strip()
    if not min_len <= len(text) <= max_len:
        raise BadRequest(f"{field}: must be {min_len} to {max_len} characters after trimming")
    bad = first_refused(text, multiline=multiline)
    if bad is not None:
        raise BadRequest(f"{field}: {bad}")
    return text


def first_refused(text: str, *, multiline: bool = False) -> str | None:
    """Why ``text`` (already normalised) is refused, naming the first offending code
    point; None when it is fine."""
    marks_in_a_row = 0
    seen_visible = False
    for i, char in enumerate(text):
        category = unicodedata.category(char)
        marks_in_a_row = marks_in_a_row + 1 if category.startswith("M") else 0
        if multiline and char in MULTILINE_CONTROLS:
            continue
        if char in JOINERS:
            if _visible(text, i - 1) and _visible(text, i + 1):
                continue
            return f"{_name(char)} only between two visible characters"
        if char in EMOJI_SELECTORS:
            if not (i > 0 and _shown(text[i - 1])):
                return f"{_name(char)} (a variation selector) only right after a visible character"
        elif char in MONGOLIAN_SELECTORS:
            if not (i > 0 and MONGOLIAN_LETTERS[0] <= text[i - 1] <= MONGOLIAN_LETTERS[1]):
                return f"{_name(char)} (a variation selector) only right after a Mongolian letter"
        elif category in REFUSED:
            return f"{_KINDS[category]} are not allowed ({_name(char)})"
        elif is_default_ignorable(char) or char in BLANKS:
            return (
                "invisible characters (fillers, variation selectors, other ignorable code "
                f"points) are not allowed ({_name(char)})"
            )
        if category == "Zs" and char != " " and not multiline:
            return f"only the plain space may be used in a name ({_name(char)})"
        if marks_in_a_row > MARK_RUN_MAX:
            return f"at most {MARK_RUN_MAX} combining marks in a row ({_name(char)})"
        seen_visible = seen_visible or _shown(char)
    if not seen_visible:
        return "must hold a visible character (not only spaces, marks or fillers)"
    return None


def _shown(char: str) -> bool:
    """A character that shows by itself: not space, mark, control, format or filler."""
    category = unicodedata.category(char)
    return (
        category[0] not in "ZMC"
        and category not in REFUSED
        and not is_default_ignorable(char)
        and char not in BLANKS
    )


def _visible(text: str, i: int) -> bool:
    """A joiner's neighbour: a character or mark that is shown (an emoji selector counts)."""
    if not 0 <= i < len(text):
        return False
    char = text[i]
    category = unicodedata.category(char)
    if category in REFUSED or category.startswith("Z"):
        return False
    return char in EMOJI_SELECTORS or not (is_default_ignorable(char) or char in BLANKS)


def _name(char: str) -> str:
    return f"U+{ord(char):04X}"


_KINDS = {
    "Cc": "control characters",
    "Cf": "format characters (such as bidi overrides and zero-width spaces)",
    "Zl": "line separators",
    "Zp": "paragraph separators",
    "Cs": "lone surrogates",
    "Co": "private-use characters",
    "Cn": "unassigned code points",
}
