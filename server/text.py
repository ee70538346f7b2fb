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

Lengths are counted in code points after normalising and trimming. The flag
emoji of England, Scotland and Wales use tag characters, so they are refused.
"""

from __future__ import annotations

import unicodedata

from server.errors import BadRequest

# Categories refused everywhere (Cf has the joiner exception below).
REFUSED = frozenset({"Cc", "Cf", "Zl", "Zp", "Cs", "Co", "Cn"})
JOINERS = frozenset({"\u200c", "\u200d"})
MULTILINE_CONTROLS = frozenset({"\n", "\t"})


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
    for i, char in enumerate(text):
        category = unicodedata.category(char)
        if multiline and char in MULTILINE_CONTROLS:
            continue
        if char in JOINERS:
            if _visible(text, i - 1) and _visible(text, i + 1):
                continue
            return f"{_name(char)} only between two visible characters"
        if category in REFUSED:
            return f"{_KINDS[category]} are not allowed ({_name(char)})"
        if category == "Zs" and char != " " and not multiline:
            return f"only the plain space may be used in a name ({_name(char)})"
    return None


def _visible(text: str, i: int) -> bool:
    if not 0 <= i < len(text):
        return False
    category = unicodedata.category(text[i])
    return category not in REFUSED and not category.startswith("Z")


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
