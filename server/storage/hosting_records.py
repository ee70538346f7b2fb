"""What the hosting store reads and writes, as values: a match's hosting record, a
snapshot, a won claim, the steps since the snapshot, a committed feed entry."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

import msgpack

from server.games.api import JsonValue
from server.storage.connection import text


def fields_of(flat: Sequence[bytes]) -> dict[str, bytes]:
    """A hash's or stream entry's [field, value, ...] with text fields, values as stored."""
    return {text(flat[i]): flat[i + 1] for i in range(0, len(flat), 2)}


class Fenced(Exception):
    """Another node claimed the match (a newer epoch): this host must stop, silently."""


class Refusal(StrEnum):
    """Why a claim won nothing."""

    HELD = "held"  # a live lease: someone hosts it
    GONE = "gone"  # no hosting record: never opened, or expired


@dataclass(frozen=True, slots=True)
class HostRecord:
    """What a node needs to run a match: the game (``module:Class``), its params, tick
    rate and rng seed."""

    game: str
    tick_rate: int
    seed: int
    params: Mapping[str, JsonValue]
    mode: str = ""
    # Placement: until ``place_until`` (ms) only node ``place`` may claim it first.
    place: str = ""
    place_until: int = 0

    def fields(self) -> list[Any]:
        placed = ["place", self.place, "place_until", self.place_until] if self.place else []
        return [
            "game",
            self.game,
            "tick_rate",
            self.tick_rate,
            "seed",
            self.seed,
            "params",
            msgpack.packb(dict(self.params)),
            "mode",
            self.mode,
            *placed,
        ]

    @classmethod
    def parse(cls, raw: Sequence[bytes]) -> HostRecord:
        flat = fields_of(raw)
        return cls(
            game=text(flat["game"]),
            tick_rate=int(flat["tick_rate"]),
            seed=int(flat["seed"]),
            params=msgpack.unpackb(flat["params"]),
            mode=text(flat.get("mode", b"")),
        )


@dataclass(frozen=True, slots=True)
class Snapshot:
    tick: int
    epoch: int
    in_upto: str  # the last input consumed ('' for none)
    out_id: str  # the feed's last entry by then ('' for none)
    blob: bytes  # HostedMatch.snapshot(): tick, rng and game state

    @classmethod
    def parse(cls, raw: Sequence[bytes]) -> Snapshot | None:
        if not raw:
            return None
        flat = fields_of(raw)
        return cls(
            tick=int(flat["tick"]),
            epoch=int(flat["epoch"]),
            in_upto=text(flat["in_upto"]),
            out_id=text(flat["out_id"]),
            blob=flat["blob"],
        )


@dataclass(frozen=True, slots=True)
class Claim:
    """A won claim: the epoch to commit under, the record, and the snapshot to restore
    (None: no snapshot yet, start the match afresh)."""

    epoch: int
    record: HostRecord
    snapshot: Snapshot | None


@dataclass(frozen=True, slots=True)
class Steps:
    """The ticks committed since the last snapshot: the last one (None: none since), and
    for each that consumed inputs, the last input it consumed. A host taking over steps
    from the snapshot's tick to ``last``, handing each tick the inputs after the previous
    one's up to its own (none to a tick not in ``consumed``), emitting nothing; then it
    goes on from ``last + 1``. A tick after ``last`` was never committed: no one saw it."""

    last: int | None
    consumed: dict[int, str]


@dataclass(frozen=True, slots=True)
class Committed:
    """One feed entry a host committed: its id, tick, epoch and last input consumed."""

    id: str
    tick: int
    epoch: int
    in_upto: str
