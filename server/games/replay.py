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
from typing import Any

from server.games.api import End, Event, Input, Kick, SetLabel
from server.games.match import HostedMatch, Step


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
        kept += [o for o in match.advance(taken) if not isinstance(o, Event)]
    return kept


__all__ = ["End", "Kick", "SetLabel", "replay", "stream_order"]
