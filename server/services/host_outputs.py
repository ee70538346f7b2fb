"""What a host keeps per match, and how a tick's outputs become pushes.

A game's events become ``match.event`` pushes (``from: "server"``, the tick, and ``to``
when sent to some players only), encoded once here whatever the number of recipients;
a takeover's ``match.resync`` is one more push; a new label rides the same commit. What
is not said to players (kick, end, admit, refuse) is handed back to be carried out after
the commit.
"""

from __future__ import annotations

from bisect import bisect_left
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import msgpack

from server.games.api import Event, SetLabel
from server.games.match import HostedMatch, Step
from server.games.sync.frames import StateFrame
from server.json_limits import json_safe
from server.protocol import Preencoded, Push, packed_head

LABEL_MAX_BYTES = 2048  # as Nakama's
SNAPSHOT_MAX_BYTES = 1 << 20  # a game's state in Redis, at most (else the match ends)
RESYNC = Event("$resync", None)  # the takeover's push, queued like an event


class GameOutputError(Exception):
    """A game emitted something no client could read."""


@dataclass(slots=True)
class Hosted:
    match_id: str
    mode: str
    match: HostedMatch[Any]
    epoch: int
    in_upto: str
    out_id: str = ""
    snap_tick: int = -1
    snap_at: float = 0.0
    renew_at: float = 0.0
    pending: list[Step] = field(default_factory=list)


LATE_BOUNDS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1.0)


@dataclass(slots=True)
class HostCounts:
    """What the metrics read: counters, and how late tick batches started (buckets of
    ``LATE_BOUNDS``, the last one past them all)."""

    ticks: int = 0
    errors: int = 0  # game callbacks that raised (each ended its match)
    fenced: int = 0  # matches dropped because another node took them
    takeovers: int = 0  # matches taken over from another node (or this one's past)
    busy: int = 0  # ticks skipped because the match's previous tick was still under way
    late: list[int] = field(default_factory=lambda: [0] * (len(LATE_BOUNDS) + 1))
    late_sum: float = 0.0

    def observe_late(self, seconds: float) -> None:
        self.late[bisect_left(LATE_BOUNDS, seconds)] += 1
        self.late_sum += seconds


def encode_outputs(
    hosted: Hosted, outputs: list[Step], ts: int
) -> tuple[list[bytes], list[Step], Mapping[str, Any] | None]:
    pushes: list[bytes] = []
    side: list[Step] = []
    label: Mapping[str, Any] | None = None
    tick = hosted.match.ctx.tick
    for output in outputs:
        if output is RESYNC:
            fields = {
                "match_id": hosted.match_id,
                "tick": tick,
                "epoch": hosted.epoch,
                "ts": ts,
            }
            pushes.append(packed_head(Push.MATCH_RESYNC, fields))
        elif isinstance(output, Event):
            if not isinstance(output.type, str) or not json_safe(output.data):
                raise GameOutputError(f"event {output.type!r}: data no client can read")
            event: dict[str, Any] = {
                "match_id": hosted.match_id,
                "from": "server",
                "type": output.type,
                "data": Preencoded(msgpack.packb(output.data, use_bin_type=True)),
                "tick": tick,
                "ts": ts,
            }
            if output.to is not None:
                event["to"] = list(output.to)
            pushes.append(packed_head(Push.MATCH_EVENT, event))
        elif isinstance(output, StateFrame):
            pushes.append(packed_head(Push.MATCH_STATE, state_fields(hosted, output, ts)))
        elif isinstance(output, SetLabel):
            if (
                not json_safe(dict(output.label))
                or len(msgpack.packb(dict(output.label))) > LABEL_MAX_BYTES
            ):
                raise GameOutputError("label: not readable by clients, or over 2048 bytes")
            label = output.label
        else:
            side.append(output)
    return pushes, side, label


def checked_snapshot(match: HostedMatch[Any]) -> bytes:
    """The match's snapshot; GameOutputError past SNAPSHOT_MAX_BYTES."""
    blob = match.snapshot()
    if len(blob) > SNAPSHOT_MAX_BYTES:
        raise GameOutputError(f"a snapshot of {len(blob)} bytes, over {SNAPSHOT_MAX_BYTES}")
    return blob


def state_fields(hosted: Hosted, frame: StateFrame, ts: int) -> dict[str, Any]:
    """``match.state``: a patch ``{base, patch}`` or a keyframe ``{full, schema}``."""
    fields: dict[str, Any] = {"match_id": hosted.match_id, "tick": hosted.match.ctx.tick}
    if frame.full is not None:
        fields |= {"full": frame.full, "schema": frame.schema}
    else:
        fields |= {"base": frame.base, "patch": frame.patch}
    fields["ts"] = ts
    if frame.to is not None:
        fields["to"] = list(frame.to)
    return fields
