"""Which matches a client follows, and the last feed id it handed on for each.

A match's pushes carry feed ids that grow along its feed, so a push whose id is
not past the last one handed on is a copy (the socket and a catch-up read
overlapping) and is dropped. While a reconnected client catches up from the
feeds, live match pushes are held, then released through the same check.
"""

from __future__ import annotations

from server.protocol import Message

FINISHED_KEPT = 200  # ended matches whose last id is kept, to drop late copies


def feed_order(entry_id: str) -> tuple[int, int]:
    """Feed ids (``<ms>-<n>``) compare as two integers."""
    ms, _, seq = entry_id.partition("-")
    return int(ms), int(seq or 0)


class MatchFollowing:
    def __init__(self) -> None:
        self.last: dict[str, str | None] = {}  # followed match -> last id handed on
        self._finished: dict[str, str] = {}
        self._held: dict[str, list[Message]] | None = None

    def __contains__(self, match_id: str) -> bool:
        return match_id in self.last

    def matches(self) -> list[str]:
        return list(self.last)

    def start(self, match_id: str) -> None:
        self.last.setdefault(match_id, None)

    def knows(self, match_id: str) -> bool:
        """Whether the match is followed, or ended lately: a ``match.started`` for it is a
        copy (a node re-tells its players after its pub/sub came back)."""
        return match_id in self.last or match_id in self._finished

    def is_new(self, match_id: str, push: Message) -> bool:
        """Whether a match push is one not handed on yet; if so, it becomes the last."""
        entry_id = push.get("id")
        if not isinstance(entry_id, str):
            return True
        last = self.last.get(match_id, self._finished.get(match_id))
        if last is not None and feed_order(entry_id) <= feed_order(last):
            return False
        if match_id in self._finished:
            self._finished[match_id] = entry_id
        else:
            self.last[match_id] = entry_id
        return True

    def finish(self, match_id: str) -> None:
        """Stop following a match, remembering where it stopped (late copies are dropped)."""
        last = self.last.pop(match_id, None)
        if last is not None:
            self._finished[match_id] = last
            while len(self._finished) > FINISHED_KEPT:
                del self._finished[next(iter(self._finished))]

    def from_start(self, match_id: str) -> None:
        """Read the match again from the oldest event kept (after FEED_TRIMMED)."""
        self.last[match_id] = None

    def hold(self) -> None:
        """From now on, live pushes of the followed matches wait for ``release``."""
        self._held = {match_id: [] for match_id in self.last}

    def held(self, match_id: str, push: Message) -> bool:
        """Keep the push if its match is being caught up; True when kept."""
        if self._held is not None and match_id in self._held:
            self._held[match_id].append(push)
            return True
        return False

    def release(self) -> list[Message]:
        """The held pushes, in arrival order per match; holding stops."""
        held, self._held = self._held or {}, None
        return [push for pushes in held.values() for push in pushes]
