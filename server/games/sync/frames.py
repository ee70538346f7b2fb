"""What each player of a match with synced state is sent at the end of a tick: a patch
on top of the last frame they got, or a keyframe (on joining, on asking with
``match.sync``, after a takeover). Players who see the same view share one frame.
"""

from __future__ import annotations

from collections.abc import Callable, Collection
from dataclasses import dataclass
from typing import Any

from server.games.sync.codec import Synced, Viewer
from server.games.sync.state import Schema


@dataclass(frozen=True, slots=True)
class StateFrame:
    """``match.state`` for the players ``to`` (None: every player of the match): a patch
    (``base``: the tick it applies on top of) or a keyframe (``full`` and ``schema``)."""

    to: tuple[str, ...] | None
    base: int | None = None
    patch: list[Any] | None = None
    full: list[Any] | None = None
    schema: list[Any] | None = None


class StateFeed:
    """The synced state of one match and, per player, the tick of the last frame sent."""

    def __init__(self, root: Schema) -> None:
        self.synced = Synced(root)
        self.sent: dict[str, int] = {}
        self.wanting: set[str] = set()  # players owed a keyframe
        self.known: dict[str, int] = {}  # how many object types each player was told
        self.views: dict[str, Viewer] = {}  # each player's view at the last frames

    def want_keyframe(self, players: Collection[str]) -> None:
        self.wanting.update(players)

    def frames(
        self, tick: int, present: Collection[str], team_of: Callable[[str], str | None]
    ) -> list[StateFrame]:
        synced = self.synced
        viewers: dict[str, Viewer] = {p: (p, team_of(p)) for p in sorted(present)}
        if synced.tracker.reviewed:  # an owner or team changed: views start over
            synced.tracker.reviewed = False
            self.wanting.update(viewers)
        for player, viewer in viewers.items():
            if self.views.get(player, viewer) != viewer:  # the player changed teams
                self.wanting.add(player)
        self.views = viewers
        patched = [p for p in viewers if p not in self.wanting and p in self.sent]
        # Forgets the changes; the types each player lacks are told per player below.
        views = synced.views_used()  # some field is for some players only
        patches = synced.patches([viewers[p] for p in patched], announce=False)
        groups: dict[tuple[int, int, int], list[str]] = {}
        chosen: dict[int, list[Any]] = {}
        for player in patched:
            ops = patches[viewers[player]]
            if ops:
                chosen[id(ops)] = ops
                group = (id(ops), self.sent[player], self.known.get(player, 0))
                groups.setdefault(group, []).append(player)
        frames = []
        for (made, base, known), players in groups.items():
            # No ``to`` only for what anyone may read: a player who left (still a
            # reader of the feed) must not read a patch made for the present's views.
            to = None if len(players) == len(viewers) and not views else tuple(players)
            patch = synced.types_from(known) + chosen[made]
            frames.append(StateFrame(to, base=base, patch=patch))
            for player in players:
                self.sent[player] = tick
                self.known[player] = synced.type_count()
        keyframes: dict[Viewer, list[str]] = {}
        shared = not synced.views_used()  # then one keyframe serves them all
        for player in sorted(self.wanting & set(viewers)):
            keyframes.setdefault((None, None) if shared else viewers[player], []).append(player)
        for viewer, players in keyframes.items():
            full, schema = synced.full(viewer)
            frames.append(StateFrame(tuple(players), full=full, schema=schema))
            for player in players:
                self.sent[player] = tick
                self.known[player] = len(schema)
        self.wanting -= set(viewers)
        for gone in set(self.sent) - set(viewers):
            del self.sent[gone]
            self.known.pop(gone, None)
        return frames
