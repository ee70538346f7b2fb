"""The rating model: Weng-Lin's Bayesian approximation with the Plackett-Luce model
(``openskill``), on a scale of mu 1500, sigma 500. Pure values and arithmetic, no I/O.

A player's skill is a belief, mean ``mu`` and uncertainty ``sigma``. A new player is
1500 +/- 500: a first win moves mu by about 160, and sigma shrinks with every game, so
later results move it less. ``display`` is the conservative mu - 3 sigma, rounded: 0 for a
new player, rising as wins come and as the system grows sure of them (the rating boards
rank by it; the matchmaker's windows work on mu).

A match is a list of sides: a team's players and the team's score (the sum of its
players' scores); free-for-all is one player a side. Higher scores rank first, and
equal scores share a rank (a draw).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from openskill.models import PlackettLuce

MU = 1500.0
SIGMA = 500.0
BETA = SIGMA / 2  # the skill gap at which the better side wins about 76% of the time
TAU = MU / 300  # added uncertainty per game, so ratings keep learning (openskill's ratio)

_MODEL = PlackettLuce(mu=MU, sigma=SIGMA, beta=BETA, tau=TAU)


@dataclass(frozen=True, slots=True)
class Rating:
    mu: float = MU
    sigma: float = SIGMA
    games: int = 0  # rated matches played

    @property
    def display(self) -> int:
        return round(self.mu - 3 * self.sigma)

    def as_wire(self) -> dict[str, float | int]:
        return {
            "mu": round(self.mu, 2),
            "sigma": round(self.sigma, 2),
            "display": self.display,
            "games": self.games,
        }

    def pack(self) -> str:
        """As stored: "mu sigma games" (floats written exactly)."""
        return f"{self.mu!r} {self.sigma!r} {self.games}"

    @classmethod
    def unpack(cls, raw: str) -> Rating:
        """A stored rating; '' (never rated) is the new player's."""
        if not raw:
            return cls()
        mu, sigma, games = raw.split(" ")
        return cls(float(mu), float(sigma), int(games))


@dataclass(frozen=True, slots=True)
class Side:
    """A team (or one free-for-all player) and its score."""

    players: tuple[str, ...]
    score: int


def sides_of(result: Mapping[str, int], teams: Sequence[Sequence[str]] | None) -> list[Side]:
    """The sides of a finished match: its ``teams`` (players without a score left out,
    a player named twice counted once), each player of the result in no team a side of
    their own; without teams, every player of the result a side."""
    placed: set[str] = set()
    sides = []
    for team in teams or ():
        players = tuple(p for p in dict.fromkeys(team) if p in result and p not in placed)
        placed.update(players)
        if players:
            sides.append(Side(players, sum(result[p] for p in players)))
    sides += [Side((p,), score) for p, score in result.items() if p not in placed]
    return sides


def rate(ratings: Mapping[str, Rating], sides: Sequence[Side]) -> dict[str, Rating]:
    """Every player's rating after the match (``ratings`` holds each one's before). Fewer
    than two sides teach nothing: an empty answer."""
    if len(sides) < 2:
        return {}
    teams = [[_MODEL.rating(mu=ratings[p].mu, sigma=ratings[p].sigma) for p in s.players]
             for s in sides]  # fmt: skip
    rated = _MODEL.rate(teams, scores=[float(s.score) for s in sides])
    return {
        player: Rating(after.mu, after.sigma, ratings[player].games + 1)
        for side, team in zip(sides, rated, strict=True)
        for player, after in zip(side.players, team, strict=True)
    }
