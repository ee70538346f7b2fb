"""Top pages cut from whole cached pages, without decoding and re-encoding each read.

The leaderboard cache holds whole pages (``CACHE_PAGE`` entries at offsets that are
multiples of it, as msgpack); a read asks for any ``offset`` and ``limit``. Each
process keeps, per cached page, its entries encoded one by one in each wire format,
so a read is a join of slices. A page is recognised by its bytes as the cache
returned them: a rebuilt page is new bytes, split once.
"""

from __future__ import annotations

import time
from typing import Any

import msgpack

from server.boards import BoardPeriod
from server.protocol import Format, encode_value
from server.storage.leaderboards import LeaderboardStore

CACHE_PAGE = 100  # entries per cached page; pages start at multiples of it
PAGES_KEPT = 256  # split pages kept per process (the oldest goes first)
SIZE_TTL_S = 1.0  # how long a process trusts a board period's size it read

_ARRAY = msgpack.Packer()


def pack_page(entries: list[dict[str, Any]]) -> bytes:
    """A whole page as the cache stores it."""
    return msgpack.packb(entries, use_bin_type=True)  # type: ignore[no-any-return]


def join(parts: list[bytes], fmt: Format) -> bytes:
    """Entries encoded one by one, as one encoded list."""
    if fmt is Format.MSGPACK:
        header: bytes = _ARRAY.pack_array_header(len(parts))
        return header + b"".join(parts)
    return b"[" + b",".join(parts) + b"]"


class SplitPages:
    """Per process: each page's entries, encoded one by one per format."""

    def __init__(self, keep: int = PAGES_KEPT) -> None:
        self._keep = keep
        self._pages: dict[str, tuple[bytes, dict[Format, list[bytes]]]] = {}

    def entries(self, item: str, page: bytes, fmt: Format) -> list[bytes]:
        known = self._pages.get(item)
        if known is None or known[0] != page:
            known = (page, {})
            self._pages.pop(item, None)
            self._pages[item] = known
            if len(self._pages) > self._keep:
                del self._pages[next(iter(self._pages))]
        parts = known[1].get(fmt)
        if parts is None:
            parts = [_encoded(entry, fmt) for entry in msgpack.unpackb(page)]
            known[1][fmt] = parts
        return parts


def _encoded(value: Any, fmt: Format) -> bytes:
    encoded = encode_value(value, fmt)
    return encoded if isinstance(encoded, bytes) else encoded.encode()


class BoardSizes:
    """Per process: each board period's size, read at most once per SIZE_TTL_S.

    A read past the end of a board is answered empty without building a page; the
    size it is measured by may be SIZE_TTL_S old (like a cached page, which may be its
    TTL old). Kept per board period within retention, so the map stays small.
    """

    def __init__(self, store: LeaderboardStore, ttl_s: float = SIZE_TTL_S) -> None:
        self._store = store
        self._ttl_s = ttl_s
        self._sizes: dict[tuple[str, str], tuple[int, float]] = {}

    async def size(self, at: BoardPeriod) -> int:
        item = (at.board.id, at.period_id)
        now = time.monotonic()
        known = self._sizes.get(item)
        if known is not None and now - known[1] < self._ttl_s:
            return known[0]
        size = await self._store.size(at.board.id, at.period_id)
        self._sizes.pop(item, None)
        self._sizes[item] = (size, now)
        if len(self._sizes) > PAGES_KEPT:
            del self._sizes[next(iter(self._sizes))]
        return size
