"""Matches whose game the server runs: what players do to them, and what the game's host
does through them.

Players (any node):
- ``create``: a match of a mode that allows it (``create: true``), its creator alone
  in it at first; others find it in ``match.list`` and ask to join.
- ``join``: a wish to join, stored in the match's input stream; at its next tick the
  game's ``join_attempt`` decides, and the player hears ``match.started`` (taken) or
  ``match.refused {match_id, reason}``.
- ``input``: a player's input, stored (membership and rate checked in one script) for
  the host's next tick; once stored it is applied even if the host dies.
- ``current_of`` and ``listing``: where a match runs (host, epoch) and the labels its
  game set, with filters.

The host (``MatchHost``, whichever node holds the lease) carries out what its game
decided: ``admit`` and ``refuse`` joiners, ``kick`` players, ``finish`` with the
result (through the results queue, once), or ``fail`` the match when the game raised.
Each is safe to repeat: a node taking a match over repeats the last ones.
"""

from __future__ import annotations

import contextlib
import logging
import re
import secrets
from collections.abc import Mapping
from typing import Any

from server.errors import BadRequest, Forbidden, MatchEnded, MatchFull, NotFound, NotInMatch
from server.modes import MODE_NAME, ModeBook
from server.protocol import Push, Tell
from server.services.match_shapes import (
    MATCH_ID,
    match_started,
    match_wire,
    packed_json,
    validate_match_id,
)
from server.services.matches import DATA_MAX_BYTES, EVENT_TYPE, MatchService
from server.services.ports import Pushes
from server.services.presence import PresenceService
from server.services.ratelimits import RateLimiter
from server.storage.host_nodes import HostNodes
from server.storage.hosting import HostStore
from server.storage.match_record import MatchRecord
from server.storage.matches import MatchStore

log = logging.getLogger(__name__)

META_MAX_BYTES = 1024
LIST_SCAN_MAX = 500  # running matches one filtered match.list looks at, newest first
LABEL_KEY = re.compile(r"^[A-Za-z0-9_.-]{1,32}$")


class HostedMatches:
    def __init__(
        self,
        matches: MatchService,
        store: MatchStore,
        hosting: HostStore,
        nodes: HostNodes,
        presence: PresenceService,
        pushes: Pushes,
        rate_limiter: RateLimiter,
        *,
        modes: ModeBook,
    ) -> None:
        self._matches = matches
        self._store = store
        self._hosting = hosting
        self._nodes = nodes
        self._presence = presence
        self._pushes = pushes
        self._rate_limiter = rate_limiter
        self._modes = modes

    # --- players ------------------------------------------------------------------

    async def create(self, player_id: str, mode: str, params: object) -> dict[str, Any]:
        """A new match of ``mode`` with the player in it; its wire shape."""
        await self._rate_limiter.check("match.create", player_id)
        spec = self._modes.spec_for(mode) if MODE_NAME.match(mode) else None
        if spec is None or not spec.create:
            raise Forbidden(f"mode {mode[:32]!r} does not let players create matches")
        if params is None:
            params = {}
        if not isinstance(params, dict):
            raise BadRequest("params: a map")
        unknown = sorted(set(params) - set(spec.create_params))
        if unknown:
            allowed = ", ".join(spec.create_params) or "none"
            raise BadRequest(f"params: {unknown[0][:32]!r} is not one a creator sets ({allowed})")
        packed_json(params, "params", DATA_MAX_BYTES)
        match_id = secrets.token_hex(8)
        await self._matches.start(match_id, "", mode, [player_id], params)
        await self._pushes.to_players(
            [player_id], match_started(match_id, "", mode, [player_id], authoritative=True)
        )
        await self._matches.told_started(match_id, mode)
        match = await self._matches.read(match_id)
        assert match is not None
        return match_wire(match, 1)

    async def join(self, player_id: str, match_id: str, meta: object) -> str:
        """Ask the game to take the player (``asked``: its answer comes as a push), or
        ``joined`` when they are in it already."""
        await self._rate_limiter.check("match.join", player_id)
        if not MATCH_ID.match(match_id):
            raise NotFound("no such match")
        match = await self._matches.read(match_id)
        if match is None:
            raise NotFound("no such match")
        if not match.hosted:
            raise Forbidden("players join this match through its lobby")
        if match.state != "running":
            raise MatchEnded("the match has ended")
        # Checked before the answer for a player in it already: a malformed request is
        # BAD_REQUEST however the match stands, never a success.
        if meta is None:
            meta = {}
        if not isinstance(meta, dict):
            raise BadRequest("meta: a map")
        packed_meta = packed_json(meta, "meta", META_MAX_BYTES)
        if player_id not in match.roster:
            if len(match.roster) >= self._modes.spec_for(match.mode).capacity:
                raise MatchFull("the match has no open seat")
        elif await self._matches.in_match(match_id, player_id):
            return "joined"  # a retried join that was answered already
        await self._store.asked_to_join(match_id, player_id, packed_meta)
        return "asked"

    async def input(self, player_id: str, match_id: str, type: str, data: object) -> str:
        """Store a player's input for the game's next tick; its id."""
        validate_match_id(match_id)
        if not EVENT_TYPE.match(type):
            raise BadRequest("type: 1 to 32 of A-Z, a-z, 0-9 and _ . : -")
        packed_json(data, "data", DATA_MAX_BYTES)
        return await self._hosting.add_input(
            match_id, player_id, type, data, self._rate_limiter.limit("match.input")
        )

    async def sync(self, player_id: str, match_id: str) -> str:
        """Ask for a keyframe of the match's synced state (``match.state {full, schema}``
        at its next tick): stored in order with the inputs, and rate-limited as they are."""
        validate_match_id(match_id)
        return await self._hosting.add_input(
            match_id, player_id, "$sync", None, self._rate_limiter.limit("match.input")
        )

    async def current_of(self, player_id: str) -> dict[str, Any] | None:
        """The player's running match (``match.current``), with its host and epoch when
        the server runs its game."""
        current = await self._matches.current_of(player_id)
        if current is not None and current.get("authoritative"):
            holder = await self._hosting.holder(current["match_id"])
            current["host"], current["epoch"] = holder if holder else (None, None)
        return current

    async def listing(
        self, player_id: str, limit: int, mode: str | None, label: object, open_only: bool
    ) -> list[dict[str, Any]]:
        """Running matches, newest first; with filters, among the newest LIST_SCAN_MAX
        (then rate-limited: each such read looks at hundreds of matches)."""
        wanted = _label_filter(label)
        if mode is None and not wanted and not open_only:
            return await self._matches.running(limit)
        await self._rate_limiter.check("match.list", player_id)
        found = [
            m
            for m in await self._matches.running(LIST_SCAN_MAX)
            if (mode is None or m["mode"] == mode)
            and (not open_only or m["players"] < self._modes.spec_for(m["mode"]).capacity)
        ]
        labels = await self._nodes.labels([m["match_id"] for m in found])
        chosen = []
        for match, its_label in zip(found, labels, strict=True):
            if wanted and (its_label is None or not _matches_label(its_label, wanted)):
                continue
            chosen.append({**match, "label": its_label or {}})
            if len(chosen) == limit:
                break
        return chosen

    # --- the host -----------------------------------------------------------------

    async def read(self, match_id: str) -> MatchRecord | None:
        return await self._matches.read(match_id)

    async def admit(self, match_id: str, player_id: str, attempt: str) -> None:
        """Seat a player the game took (once per ask; a replayed ask of a player still in
        redoes the steps after, each safe to repeat): they leave another running match
        (one at a time, as at a start), hear ``match.started``, then follow this one."""
        match = await self._matches.read(match_id)
        if match is None or not await self._store.admit(match_id, player_id, attempt):
            return
        await self._matches.leave_other_matches([player_id], match_id)
        await self._store.point_to(match_id, player_id)
        roster = match.roster if player_id in match.roster else [*match.roster, player_id]
        started = match_started(match_id, match.lobby_id, match.mode, roster, authoritative=True)
        await self._pushes.to_players([player_id], started, keep=True)
        # Then their socket follows it from its first event (the hub reads back what it
        # delivered before), so the game's events come after match.started.
        await self._presence.follow_match([player_id], match_id)

    async def refuse(self, match_id: str, player_id: str, reason: str) -> None:
        refused = Tell(Push.MATCH_REFUSED, {"match_id": match_id, "reason": reason})
        await self._pushes.to_players([player_id], refused, keep=True)

    async def kick(self, match_id: str, player_id: str) -> None:
        with contextlib.suppress(NotInMatch, MatchEnded):  # gone already
            await self._matches.leave(player_id, match_id, kicked=True)

    async def finish(self, match_id: str, scores: Mapping[str, float]) -> bool:
        """The game's result: to the results queue and the boards, once. Scores no board
        takes (not whole numbers, or for someone not in the match) end it as an error:
        False then."""
        whole = {
            p: int(s) if isinstance(s, float) and s.is_integer() else s for p, s in scores.items()
        }
        try:
            with contextlib.suppress(MatchEnded):  # ended already (a repeat after a takeover)
                await self._matches.report_result(match_id, whole, reported_by=None)
        except BadRequest as exc:
            # Refused every time: left to a takeover, it would be retried forever.
            log.error("match %s: its game's result was refused: %s", match_id, exc.message)
            await self.fail(match_id)
            return False
        return True

    async def abandon(self, match_id: str) -> None:
        """Every player left the match: it ends with no result (``by: "abandoned"``)."""
        with contextlib.suppress(MatchEnded, NotFound):
            await self._matches.end_by_operator(match_id, by="abandoned")

    async def fail(self, match_id: str) -> None:
        """The game raised: the match ends with no result (``by``/``reason``: error)."""
        with contextlib.suppress(MatchEnded, NotFound):
            await self._matches.end_by_operator(match_id, by="error")


def _label_filter(label: object) -> dict[str, Any]:
    """``{key: "text" | number | {"min": a, "max": b}}``, checked; BadRequest otherwise."""
    if label is None:
        return {}
    if not isinstance(label, dict) or len(label) > 8:
        raise BadRequest("label: a map of at most 8 keys")
    for key, want in label.items():
        if not LABEL_KEY.match(key):
            raise BadRequest("label: keys of 1 to 32 of A-Z, a-z, 0-9 and _ . -")
        if isinstance(want, dict):
            bounds = set(want)
            if (
                not bounds
                or bounds - {"min", "max"}
                or not all(_is_number(v) for v in want.values())
            ):
                raise BadRequest(f"label.{key}: a range is {{min?, max?}} of numbers")
        elif not isinstance(want, str) and not _is_number(want) and not isinstance(want, bool):
            raise BadRequest(f"label.{key}: a string, a number, a boolean or {{min, max}}")
    return dict(label)


def _is_number(value: object) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def _matches_label(label: Mapping[str, Any], wanted: Mapping[str, Any]) -> bool:
    for key, want in wanted.items():
        have = label.get(key)
        if isinstance(want, dict):
            if not _is_number(have):
                return False
            if "min" in want and have < want["min"]:
                return False
            if "max" in want and have > want["max"]:
                return False
        elif have != want or isinstance(have, bool) != isinstance(want, bool):
            return False
    return True
