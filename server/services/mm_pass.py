"""One matchmaking pass over a mode's waiting tickets, in memory: which tickets become a
match. Pure (no I/O): the matchmaker reads the tickets, calls ``plan`` and commits each
group in one script (a group whose tickets changed meanwhile is refused there).

Oldest ticket first: each in turn, if not taken yet, is the anchor; the tickets of its
bucket (equal properties) nearest its rating join it, closest first, while the group
stays mutual (the spread of the group's ratings is within every member's window) and
fits (a party is one ticket: all of it or none), until the match is full. A free-for-all
group of at least ``min`` players is a match; with teams, exactly ``count * size``
players whose parties can be packed into teams (each party on one team), balanced by
rating. Tickets left over wait for the next pass, their windows wider by then.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from server.mm_rules import MatchRules

INFINITE = float("inf")
PACK_SEARCH_MAX = 10  # tickets: count ** 10 packings at most


@dataclass(frozen=True, slots=True)
class Waiting:
    """A ticket as the pass sees it. ``rating``: its players' mean rating."""

    ticket_id: str
    players: tuple[str, ...]
    rating: float
    bucket: tuple[str, ...]  # the values of the rules' ``equal`` properties, in order
    created_ms: int


@dataclass(frozen=True, slots=True)
class Group:
    """Tickets that make one match; ``teams``: the players of each team (none: free for
    all); ``widened``: some member's window had grown past its start to reach."""

    tickets: tuple[Waiting, ...]
    teams: tuple[tuple[str, ...], ...]
    widened: bool

    @property
    def players(self) -> list[str]:
        return [p for ticket in self.tickets for p in ticket.players]


def plan(waiting: Iterable[Waiting], rules: MatchRules, now_ms: int) -> list[Group]:
    buckets: dict[tuple[str, ...], list[Waiting]] = {}
    for ticket in waiting:
        buckets.setdefault(ticket.bucket, []).append(ticket)
    groups: list[Group] = []
    for tickets in buckets.values():
        groups += _plan_bucket(tickets, rules, now_ms)
    return groups


def window_of(ticket: Waiting, rules: MatchRules, now_ms: int) -> float:
    if rules.rating is None:
        return INFINITE
    return rules.rating.at((now_ms - ticket.created_ms) / 1000)


def _plan_bucket(tickets: list[Waiting], rules: MatchRules, now_ms: int) -> list[Group]:
    """One bucket's groups. Written with indexes and plain loops: a pass over 10,000
    tickets is a hot path (docs/benchmarks.md)."""
    low, high = rules.players
    count = len(tickets)
    order = sorted(range(count), key=lambda i: tickets[i].rating)  # rating rank -> ticket
    ratings = [tickets[i].rating for i in order]
    rank = [0] * count
    for place, i in enumerate(order):
        rank[i] = place
    windows = [window_of(t, rules, now_ms) for t in tickets]
    start = rules.rating.start if rules.rating is not None else INFINITE
    sizes = [len(t.players) for t in tickets]
    taken = bytearray(count)
    groups = []
    for a in sorted(range(count), key=lambda i: (tickets[i].created_ms, tickets[i].ticket_id)):
        if taken[a] or sizes[a] > high:
            continue
        rating = lo = hi = tickets[a].rating
        reach, size, chosen = windows[a], sizes[a], [a]
        left, right = rank[a] - 1, rank[a] + 1
        while size < high and (left >= 0 or right < count):
            left_gap = rating - ratings[left] if left >= 0 else INFINITE
            right_gap = ratings[right] - rating if right < count else INFINITE
            if right_gap <= left_gap:
                if right_gap > reach:
                    break  # the nearest left is farther than the anchor accepts
                other = order[right]
                right += 1
            else:
                if left_gap > reach:
                    break
                other = order[left]
                left -= 1
            if taken[other] or size + sizes[other] > high:
                continue
            other_rating, other_window = tickets[other].rating, windows[other]
            new_lo = other_rating if other_rating < lo else lo
            new_hi = other_rating if other_rating > hi else hi
            if new_hi - new_lo > (reach if reach < other_window else other_window):
                continue  # not mutual: some member would not accept it
            if rules.teams and not _packs(
                [tickets[i] for i in [*chosen, other]], rules, full=False
            ):
                continue
            chosen.append(other)
            size += sizes[other]
            lo, hi = new_lo, new_hi
            if other_window < reach:
                reach = other_window
        if size < low:
            continue
        members = [tickets[i] for i in chosen]
        teams: tuple[tuple[str, ...], ...] = ()
        if rules.teams:
            packed = _packs(members, rules, full=True)
            if not packed:
                continue
            teams = packed
        for i in chosen:
            taken[i] = 1
        widened = any(windows[i] > start for i in chosen)
        groups.append(Group(tuple(members), teams, widened))
    return groups


def _packs(
    tickets: Sequence[Waiting], rules: MatchRules, *, full: bool
) -> tuple[tuple[str, ...], ...] | None:
    """The teams these tickets make, each party on one team, balanced by rating (the
    strongest party first onto the team with the lowest total that has room), or None
    when they do not fit; ``full``: every team exactly full."""
    count, size = rules.teams, rules.team_size
    if full and sum(len(t.players) for t in tickets) != count * size:
        return None
    order = sorted(tickets, key=lambda t: (-len(t.players), -t.rating, t.ticket_id))
    teams: list[list[Waiting]] = [[] for _ in range(count)]
    room = [size] * count
    totals = [0.0] * count
    for ticket in order:
        fits = [i for i in range(count) if room[i] >= len(ticket.players)]
        if not fits:
            return _pack_any(tickets, count, size)
        team = min(fits, key=lambda i: (totals[i], i))
        teams[team].append(ticket)
        room[team] -= len(ticket.players)
        totals[team] += ticket.rating * len(ticket.players)
    return tuple(tuple(p for t in team for p in t.players) for team in teams)


def _pack_any(
    tickets: Sequence[Waiting], count: int, size: int
) -> tuple[tuple[str, ...], ...] | None:
    """Any packing of the parties into ``count`` teams of ``size`` (the greedy one did
    not fit): a small search, tried only for a few tickets (a party blocks the greedy
    packing only when parties are most of the match)."""
    order = sorted(tickets, key=lambda t: -len(t.players))
    if len(order) > PACK_SEARCH_MAX:
        return None
    for choice in itertools.product(range(count), repeat=len(order)):
        room = [size] * count
        for ticket, team in zip(order, choice, strict=True):
            room[team] -= len(ticket.players)
        if min(room) >= 0:
            teams: list[list[str]] = [[] for _ in range(count)]
            for ticket, team in zip(order, choice, strict=True):
                teams[team] += ticket.players
            return tuple(tuple(team) for team in teams)
    return None
