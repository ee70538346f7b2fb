"""The running-match index: what ``match.list``, the stats and the abandonment check read.

Three keys under one hash tag (``{matches}``), so a page is one script call:

- the index, running match id -> started ms, newest first for ``match.list``;
- the summaries, match id -> msgpack ``{mode, players, started_ms}`` (what never changes)
  and ``<id>:playing`` -> how many have not left (falls by one per leave);
- last seen, match id -> when one of its players was last seen online; the upkeep
  checks the stalest first (``stalest``), refreshes those with someone online and ends
  the others once they are older than the abandonment delay.

Listing and unlisting are one script each, so the three keys never disagree. A match's
own keys are in another slot (its tag), so no script touches both: the index is written
from Python after the match's script, and a node dying in between leaves a listed match
the upkeep tidies (its match is not running) or an unlisted one, never a wrong count for
long. ``tidy`` walks the summaries and last-seen entries a little at a time and drops
those of unlisted matches (an older node's unlisting that died half-way left them).
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

    def _keys(self) -> list[str]:
        return [keys.running_matches(), keys.running_summaries(), keys.running_seen()]

    @translate_redis_errors
    async def add(self, match_id: str, mode: str, players: int, started_ms: int) -> None:
        summary = msgpack.packb({"mode": mode, "players": players, "started_ms": started_ms})
        await self._scripts.running_add(
            keys=self._keys(), args=[match_id, summary, players, started_ms]
        )

    @translate_redis_errors
    async def remove(self, *match_ids: str) -> None:
        if match_ids:
            await self._scripts.running_remove(keys=self._keys(), args=list(match_ids))

    @translate_redis_errors
    async def tidy(self, cursors: tuple[str, str], count: int) -> tuple[tuple[str, str], int]:
        """One step of the walk over the summaries and last-seen entries, dropping those of
        unlisted matches: (the cursors to continue from, ('0', '0') to start again; how
        many entries were dropped)."""
        summaries, seen, dropped = await self._scripts.running_tidy(
            keys=self._keys(), args=[*cursors, count]
        )
        return (text(summaries), text(seen)), int(dropped)

    @translate_redis_errors
    async def started_before(self, cutoff_ms: int, limit: int) -> list[str]:
        """Running matches started before ``cutoff_ms``, the oldest first."""
        flat = await self._mux.execute(
            "ZRANGEBYSCORE", keys.running_matches(), "-inf", f"({cutoff_ms}", "LIMIT", 0, limit
        )
        return [text(m) for m in flat]

    @translate_redis_errors
    async def seen_of(self, match_ids: list[str]) -> list[int | None]:
        """When each match was last seen with a player online (None: not listed)."""
        if not match_ids:
            return []
        scores = await self._mux.execute("ZMSCORE", keys.running_seen(), *match_ids)
        return [None if s is None else int(float(s)) for s in scores]

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
    async def stalest(
        self, seen_before_ms: int, limit: int, *, skip: int = 0
    ) -> list[tuple[str, int]]:
        """Running matches not seen with a player online since ``seen_before_ms``, the
        stalest first after the first ``skip``: (match id, last seen ms)."""
        flat = await self._mux.execute(
            "ZRANGEBYSCORE", keys.running_seen(), "-inf", f"({seen_before_ms}",
            "WITHSCORES", "LIMIT", skip, limit,
        )  # fmt: skip
        return [(text(flat[i]), int(float(flat[i + 1]))) for i in range(0, len(flat), 2)]

    @translate_redis_errors
    async def seen(self, match_ids: list[str], now_ms: int) -> None:
        """Someone of each match is online now, or just left (XX: an unlisted match stays
        unlisted; GT: a node whose clock lags never moves it back)."""
        if match_ids:
            await self._mux.execute(
                "ZADD", keys.running_seen(), "XX", "GT",
                *(x for m in match_ids for x in (now_ms, m)),
            )  # fmt: skip

    @translate_redis_errors
    async def count_abandoned(self) -> None:
        await self._mux.execute("HINCRBY", keys.match_counts(), "abandoned", 1)

    @translate_redis_errors
    async def abandoned(self) -> int:
        return int(await self._mux.execute("HGET", keys.match_counts(), "abandoned") or 0)
