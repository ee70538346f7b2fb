"""A match's record: the hash every node reads of it (who, which mode, how it ended)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import msgpack

from server.storage.connection import text


@dataclass(frozen=True, slots=True)
class MatchRecord:
    match_id: str
    lobby_id: str
    mode: str
    roster: list[str]  # everyone who started it, in lobby order
    state: str  # running | ended
    started_ms: int
    ended_ms: int = 0
    result: dict[str, int] | None = None
    applied: bool = False  # the result reached the leaderboards
    hosted: bool = False  # a server-run game's: players send inputs, not events
    # Team modes (the matchmaker sets them): who played together; None: free-for-all.
    teams: list[list[str]] | None = None

    def fields(self) -> dict[str, Any]:
        return {
            "match_id": self.match_id,
            "lobby_id": self.lobby_id,
            "mode": self.mode,
            "roster": ",".join(self.roster),
            "state": self.state,
            "started_ms": self.started_ms,
            "hosted": int(self.hosted),
        } | ({} if self.teams is None else {"teams": msgpack.packb(self.teams)})

    @classmethod
    def parse(cls, raw: list[bytes]) -> MatchRecord | None:
        if not raw:
            return None
        flat = {text(raw[i]): raw[i + 1] for i in range(0, len(raw), 2)}
        result, teams = flat.get("result"), flat.get("teams")
        return cls(
            match_id=text(flat["match_id"]),
            lobby_id=text(flat["lobby_id"]),
            mode=text(flat["mode"]),
            roster=text(flat["roster"]).split(","),
            state=text(flat["state"]),
            started_ms=int(flat["started_ms"]),
            ended_ms=int(flat.get("ended_ms", 0)),
            result=None if result is None else dict(msgpack.unpackb(result)),
            applied=flat.get("applied") == b"1",
            hosted=flat.get("hosted") == b"1",
            teams=None if teams is None else msgpack.unpackb(teams),
        )
