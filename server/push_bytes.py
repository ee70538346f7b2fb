"""What a node reads of a match push's bytes without decoding it: its event and its feed
id. Every match event passes through a node's hub; decoding each whole only to learn
these two would cost more than delivering it."""

from __future__ import annotations

# A push as ``packed_head`` and the scripts make it: a map whose first field is ``ev``
# (the event's name as a fixstr) and whose last is ``id`` (the feed id as a fixstr).
_EV_KEY = b"\xa2ev"
_ID_KEY = b"\xa2id"
_ID_TAIL_MAX = 48  # bytes from the end where the id field starts, at most


def event_of(push: bytes) -> str | None:
    """A push's event name read from its first bytes, without decoding the push; None
    when the push is not laid out as ``packed_head`` lays it out."""
    if push[1:4] != _EV_KEY or len(push) < 5 or not 0xA0 <= push[4] <= 0xBF:
        return None
    return push[5 : 5 + push[4] - 0xA0].decode(errors="replace")


def trailing_id(push: bytes) -> str | None:
    """The feed id a script appended as a push's last field, read from its last bytes;
    None when it is not there as ``with_id`` writes it. Feed ids hold only digits and
    a dash, so the last ``\xa2id`` in the push is the id field's key."""
    end = len(push)
    at = push.rfind(_ID_KEY, max(0, end - _ID_TAIL_MAX))
    if at < 0 or at + 4 >= end:
        return None
    size = push[at + 3]
    if 0xA0 <= size <= 0xBF and at + 4 + size - 0xA0 == end:  # fixstr
        return push[at + 4 :].decode()
    if size == 0xD9 and at + 5 + push[at + 4] == end:  # str8: ids of 32 bytes or more
        return push[at + 5 :].decode()
    return None
