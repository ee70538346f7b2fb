"""Taking a match over: the ticks its old host committed, stepped again from a snapshot.

A host commits tick by tick; each commit records the tick and, for a tick that consumed
inputs, the last input id it consumed (``consumed``). A node taking the match over
restores the last snapshot and steps every tick up to the last one committed, handing
each exactly the inputs it had: those after the previous consuming tick's last id, up
to its own. The game's events of those ticks were delivered already and are dropped
here; what must still happen (a kick, the end, a label) is returned for the new host to
carry out again, idempotently. A tick after the last committed one was never seen by
anyone: the new host runs it afresh.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from server.games.api import Event, Game, Input
from server.games.match import HostedMatch, Step
from server.games.sync.frames import StateFrame


def stream_order(entry_id: str) -> tuple[int, int]:
    """A stream id as a comparable pair ('' sorts first)."""
    if not entry_id:
        return (0, 0)
    ms, _, seq = entry_id.partition("-")
    return (int(ms), int(seq or 0))


def replay(
    match: HostedMatch[Any],
    last: int | None,
    consumed: Mapping[int, str],
    inputs: list[Input],
) -> list[Step]:
    """Step ``match`` (restored at its snapshot's tick) up to tick ``last``; ``inputs``:
    the stream's entries after the snapshot's last consumed one, in order. Returns the
    outputs that are not events (kicks, the end, labels), in order."""
    kept: list[Step] = []
    if last is None:
        return kept
    pending = sorted(inputs, key=lambda i: stream_order(i.id))
    at = 0
    while match.ctx.tick < last and not match.ended:
        tick = match.ctx.tick + 1
        upto = consumed.get(tick)
        taken: list[Input] = []
        if upto is not None:
            bound = stream_order(upto)
            while at < len(pending) and stream_order(pending[at].id) <= bound:
                taken.append(pending[at])
                at += 1
        kept += [o for o in match.advance(taken) if not isinstance(o, Event | StateFrame)]
    return kept


@dataclass(slots=True)
class Rebuilt:
    """A match as a node taking it over has it: at the last committed tick, with the last
    input consumed, what tick 0 said if it was never committed (``pending``: to say now),
    and the decisions to carry out again (``side``)."""

    match: HostedMatch[Any]
    in_upto: str
    pending: list[Step] = field(default_factory=list)
    side: list[Step] = field(default_factory=list)


def rebuild(
    game: Game[Any],
    match_id: str,
    record: Mapping[str, Any],
    roster: list[str],
    snapshot: tuple[bytes, str] | None,
    last: int | None,
    consumed: Mapping[int, str],
    inputs: list[Input],
) -> Rebuilt:
    """The match from its snapshot (blob, last input consumed), or afresh from ``record``
    (tick_rate, params, seed) and its roster, then replayed to tick ``last``. A game
    callback that raises propagates."""
    tick_rate = int(record["tick_rate"])
    if snapshot is not None:
        blob, in_upto = snapshot
        rebuilt = Rebuilt(HostedMatch.restore(game, match_id, tick_rate, blob), in_upto)
    else:
        match, started = HostedMatch.start(
            game, match_id, tick_rate, record["params"], seed=int(record["seed"])
        )
        first: list[Step] = [*started, *match.join(list(roster))]
        rebuilt = Rebuilt(match, "")
        if last is None:
            rebuilt.pending = first  # tick 0 was never committed: say it now
        else:
            rebuilt.side = [o for o in first if not isinstance(o, Event | StateFrame)]
    rebuilt.side += replay(rebuilt.match, last, consumed, inputs)
    if rebuilt.match.feed is not None:  # replayed frames were said already: start over
        rebuilt.match.feed.want_keyframe(rebuilt.match.present)
    upto = last_consumed(consumed)
    if upto and stream_order(upto) > stream_order(rebuilt.in_upto):
        rebuilt.in_upto = upto
    return rebuilt


def last_consumed(consumed: Mapping[int, str]) -> str:
    """The last input any committed tick consumed ('' for none)."""
    return max(consumed.values(), key=stream_order, default="")
