"""Applying a match's result: leaderboards and ratings (exactly once), the activity feed,
each player's new standing.

Called by the results worker for each queued job. A job may run more than once
(its worker died before acknowledging it): every board update carries the id
``match:player`` and the board script applies an id once, so the leaderboards
count a result once however often the job runs; the ratings script likewise rates a
match once (services/ratings.py). A match ended with no result (abandoned, ended by
an operator or a failed game) or disputed has no result to apply: it moves nothing.
The activity entry and the notifications are at least once: a rerun after a crash
between them and the final mark may repeat them.
"""

from __future__ import annotations

import logging
from typing import Any

from server.modes import ModeBook
from server.services.activity import ActivityFeed
from server.services.leaderboards import LeaderboardService
from server.services.matches import MatchService
from server.services.notifications import NotificationService
from server.services.profiles import ProfileService
from server.services.ratings import RatingService
from server.storage.queue import QueueCounts, TaskQueue

log = logging.getLogger(__name__)


class ResultNotReady(Exception):
    """The match has not ended yet (its end is in flight): try the job again shortly."""


class ResultService:
    def __init__(
        self,
        matches: MatchService,
        leaderboards: LeaderboardService,
        profiles: ProfileService,
        notifications: NotificationService,
        activity: ActivityFeed,
        queue: TaskQueue,
        *,
        ratings: RatingService,
        modes: ModeBook,
    ) -> None:
        self._matches = matches
        self._leaderboards = leaderboards
        self._profiles = profiles
        self._notifications = notifications
        self._activity = activity
        self._queue = queue
        self._ratings = ratings
        self._modes = modes

    async def queue_counts(self) -> QueueCounts:
        """Jobs waiting, being worked on, and dead."""
        return await self._queue.counts()

    def boards_for(self, mode: str) -> tuple[str, ...]:
        """The boards a mode's results feed (ARENA_MODES)."""
        return self._modes.spec_for(mode).boards

    async def apply(self, match_id: str, job_id: str) -> None:
        """Apply the match's accepted result (job ``job_id`` carries it)."""
        match = await self._matches.read(match_id)
        if match is None:
            log.warning("result of match %s: the match is gone; nothing to apply", match_id)
            return
        if match.state == "running":
            raise ResultNotReady(match_id)
        if match.applied or not match.result:
            return
        # Two players reporting at once queue two jobs: one applies it, the other is done.
        # (The claim is the job's, so the same job redone after a crash carries on.)
        if await self._matches.claim_result(match_id, job_id) != job_id:
            return
        boards = self.boards_for(match.mode)
        names: dict[str, str] = {}
        standings: dict[str, dict[str, Any]] = {}
        activity: list[dict[str, Any]] = []
        for player_id, score in match.result.items():
            names[player_id] = (await self._profiles.get(player_id)).name
            standings[player_id] = {}
            for board_id in boards:
                done = await self._leaderboards.record_once(
                    player_id,
                    names[player_id],
                    board_id,
                    score,
                    once=f"{match_id}:{player_id}",
                    at_s=match.ended_ms / 1000,
                )
                standings[player_id][board_id] = {
                    "rank": done.rank,
                    "score": done.score,
                    "improved": done.improved,
                }
                if done.improved and board_id == boards[0]:
                    activity.append(
                        {
                            "kind": "personal_best",
                            "player_id": player_id,
                            "name": names[player_id],
                            "board": board_id,
                            "score": done.score,
                            "rank": done.rank,
                        }
                    )
        ratings = await self._ratings.rate_match(
            match.mode, match_id, match.result, teams=match.teams, names=names
        )
        activity.insert(
            0,
            {
                "kind": "match.result",
                "match_id": match_id,
                "mode": match.mode,
                "scores": dict(match.result),
                "names": names,
            },
        )
        await self._activity.post(activity)
        for player_id, score in match.result.items():
            note: dict[str, Any] = {
                "match_id": match_id,
                "score": score,
                "boards": standings[player_id],
            }
            if player_id in ratings:
                note["rating"] = ratings[player_id].as_wire()
            await self._notifications.notify(player_id, "match.result", note)
        await self._matches.mark_applied(match_id)
