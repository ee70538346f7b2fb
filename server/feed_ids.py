"""Feed ids, as Redis streams make them (``<ms>-<seq>``): what a client may send as
``after`` (match.feed) or ``id`` (notify.ack), and the id after one."""

from __future__ import annotations

FEED_ID_MAX = 2**64 - 1


def is_feed_id(text: str) -> bool:
    """A feed id as Redis streams make them: ``<ms>-<seq>``, each part ASCII digits below
    2**64 (``18446744073709551615-18446744073709551615`` is the largest there is)."""
    ms, sep, seq = text.partition("-")
    return (
        bool(sep)
        and ms.isascii()
        and ms.isdigit()
        and seq.isascii()
        and seq.isdigit()
        # 2**64 - 1 has 20 digits: a longer part is too big (and int() of a huge one raises)
        and len(ms.lstrip("0")) <= 20
        and len(seq.lstrip("0")) <= 20
        and int(ms) <= FEED_ID_MAX
        and int(seq) <= FEED_ID_MAX
    )


def next_feed_id(text: str) -> str | None:
    """The smallest feed id after ``text`` (a valid feed id), or None after the largest:
    a stream range cannot start past the largest id (Redis refuses it)."""
    ms_text, _, seq_text = text.partition("-")
    ms, seq = int(ms_text), int(seq_text)
    if seq < FEED_ID_MAX:
        return f"{ms}-{seq + 1}"
    if ms < FEED_ID_MAX:
        return f"{ms + 1}-0"
    return None
