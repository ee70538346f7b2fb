"""The running-match index: what ``match.list``, the stats and the abandonment check read.

Three keys under one hash tag (``{matches}``), so a page is one script call:

- the index, running match id -> started ms, newest first for ``match.list``;
- the summaries, match id -> msgpack ``{mode, players, started_ms}`` (what never changes)
  and ``<id>:playing`` -> how many have not left (falls by one per leave);
- last seen, match id -> when one of its players was last seen online; the upkeep
  checks the stalest first (``stalest``), refreshes those with someone online and ends
  the others once they are older than the abandonment delay.

A match's own keys are in another slot (its tag), so no script touches both: the
index is written from Python after the match's script, and a node dying in between
leaves a listed match the upkeep tidies (its match is not running) or an unlisted
one, never a wrong count for long.
"""

from __future__ import annotations

from dataclasses import dataclass

import msgpack

from server.storage import keys
from server.storage.connection import text, translate_redis_errors
from server.storage.mux import Commands
from server.storage.scripts import Scripts


@dataclass(frozen=True, slots=True)
class RunningSummary:
    """A running match as ``match.list`` shows it."""

    match_id: str
    mode: str
    players: int  # the roster's size
    playing: int  # those who have not left
    started_ms: int


def _playing_field(match_id: str) -> str:
    return f"{match_id}:playing"


class RunningIndex:
    def __init__(self, mux: Commands, scripts: Scripts) -> None:
        self._mux = mux
        self._scripts = scripts

    @translate_redis_errors
    async def add(self, match_id: str, mode: str, players: int, started_ms: int) -> None:
        summary = msgpack.packb({"mode": mode, "players": players, "started_ms": started_ms})
        playing = _playing_field(match_id)
        await self._mux.pipeline(
            ("HSET", keys.running_summaries(), match_id, summary, playing, players),
            ("ZADD", keys.running_seen(), started_ms, match_id),
            ("ZADD", keys.running_matches(), started_ms, match_id),
        )

    @translate_redis_errors
    async def remove(self, *match_ids: str) -> None:
        if not match_ids:
            return
        await self._mux.pipeline(
            ("ZREM", keys.running_matches(), *match_ids),
            ("ZREM", keys.running_seen(), *match_ids),
            ("HDEL", keys.running_summaries(), *match_ids, *map(_playing_field, match_ids)),
        )

    @translate_redis_errors
    async def player_left(self, match_id: str) -> None:
        """One fewer playing. From Python after the leave script (another slot): a page
        read between the two shows the old count for that moment."""
        await self._scripts.running_left(
            keys=[keys.running_summaries()], args=[_playing_field(match_id)]
        )

    @translate_redis_errors
    async def page(self, limit: int, cutoff_ms: int) -> list[RunningSummary]:
        """Up to ``limit`` running matches, newest first, in one call; entries started
        before ``cutoff_ms`` (their match's keys expired) are tidied on the way."""
        flat = await self._scripts.running_page(
            keys=[keys.running_matches(), keys.running_summaries(), keys.running_seen()],
            args=[limit, cutoff_ms],
        )
        found = []
        for i in range(0, len(flat), 3):
            match_id, packed, playing = text(flat[i]), flat[i + 1], flat[i + 2]
            if packed is None or playing is None:
                continue  # indexed before its summary was written: shown once it is
            summary = msgpack.unpackb(packed)
            found.append(
                RunningSummary(
                    match_id=match_id,
                    mode=str(summary["mode"]),
                    players=int(summary["players"]),
                    playing=max(0, int(playing)),
                    started_ms=int(summary["started_ms"]),
                )
            )
        return found

    @translate_redis_errors
    async def count(self) -> int:
        return int(await self._mux.execute("ZCARD", keys.running_matches()))

    @translate_redis_errors
    async def stalest(self, seen_before_ms: int, limit: int) -> list[tuple[str, int]]:
        """Running matches not seen with a player online since ``seen_before_ms``, the
        stalest first: (match id, last seen ms)."""
        flat = await self._mux.execute(
            "ZRANGEBYSCORE", keys.running_seen(), "-inf", f"({seen_before_ms}",
            "WITHSCORES", "LIMIT", 0, limit,
        )  # fmt: skip
        return [(text(flat[i]), int(float(flat[i + 1]))) for i in range(0, len(flat), 2)]

    @translate_redis_errors
    async def seen(self, match_ids: list[str], now_ms: int) -> None:
        """Someone of each match is online now (XX: an unlisted match stays unlisted)."""
        if match_ids:
            await self._mux.execute(
                "ZADD", keys.running_seen(), "XX", *(x for m in match_ids for x in (now_ms, m))
            )

    @translate_redis_errors
    async def count_abandoned(self) -> None:
        await self._mux.execute("HINCRBY", keys.match_counts(), "abandoned", 1)

    @translate_redis_errors
    async def abandoned(self) -> int:
        return int(await self._mux.execute("HGET", keys.match_counts(), "abandoned") or 0)
