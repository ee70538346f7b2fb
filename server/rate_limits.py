"""Rate limits: a burst, then a steady rate, per action; the defaults every node starts
from (``ARENA_RATE_LIMITS`` overrides them, ``Settings.rate_limit_table``)."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class RateLimit:
    """A burst, then a steady rate (GCRA)."""

    burst: int
    per_s: float


DEFAULT_RATE_LIMITS = {
    "auth.guest": RateLimit(300, 30.0),  # per client IP
    "lb.submit": RateLimit(20, 10.0),
    "lobby.create": RateLimit(5, 1.0),
    "lobby.join": RateLimit(10, 2.0),
    "lobby.quickjoin": RateLimit(10, 2.0),
    "lobby.get": RateLimit(20, 5.0),
    "lobby.ready": RateLimit(10, 2.0),
    "lobby.leave": RateLimit(10, 2.0),
    "party.create": RateLimit(5, 1.0),
    "party.invite": RateLimit(10, 2.0),  # each may push to another player
    "party.join": RateLimit(10, 2.0),  # counted before the lookup: ids cost to probe
    "party.leave": RateLimit(10, 2.0),
    "party.kick": RateLimit(10, 2.0),
    "party.promote": RateLimit(10, 2.0),
    "party.close": RateLimit(5, 1.0),
    "chat.send": RateLimit(10, 2.0),
    "chat.join": RateLimit(20, 2.0),
    # A fast action game sends 20 to 30 events a second per player, with short bursts.
    "match.send": RateLimit(60, 30.0),
    "match.input": RateLimit(60, 30.0),  # the same, to a game the server runs
    "match.create": RateLimit(5, 1.0),
    "mm.enqueue": RateLimit(10, 2.0),
    "mm.cancel": RateLimit(10, 2.0),
    "match.join": RateLimit(10, 2.0),
    "match.list": RateLimit(20, 5.0),  # with filters: each looks at up to 500 matches
    "match.result": RateLimit(5, 1.0),
    # Per client address: anonymous HTTP board reads (a page is cached, the check is not).
    "http.read": RateLimit(120, 20.0),
    # Per client address: admin and server key checks that failed. Once over, even the
    # right key waits, so guessing runs at this rate at best.
    "auth.key": RateLimit(5, 0.1),
    "ws.ticket": RateLimit(10, 1.0),  # per player: each ticket is a Redis key for 30 s
}
