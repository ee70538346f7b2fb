"""Catching a followed match up from its feed after a reconnect.

What the match's feed holds after the last id handed on is read page by page
(``match.feed``) and handed on through the same check as live pushes, so nothing
is missed or doubled.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from typing import Any

from client_sim.following import MatchFollowing
from client_sim.login import ArenaError
from server.protocol import FEED_PAGE_MAX, Message

log = logging.getLogger(__name__)

CATCH_UP_TRIES = 5

Request = Callable[..., Awaitable[Message]]


async def catch_up(
    following: MatchFollowing,
    match_id: str,
    request: Request,
    hand_on: Callable[[Message], Any],
) -> None:
    """Hand on what the match's feed holds after the last id seen, page by page.

    Transient refusals (Redis away, a rate limit, a slow reply) are retried with a
    pause while live pushes stay held; only NOT_IN_MATCH ends the following. A drop
    of the socket cancels this, and the next reconnect starts over.
    """
    failures = 0
    while match_id in following:
        after = following.last[match_id]
        fields: Message = {"match_id": match_id, "limit": FEED_PAGE_MAX}
        if after is not None:
            fields["after"] = after
        try:
            events = (await request("match.feed", **fields))["events"]
        except ArenaError as exc:
            if exc.code == "FEED_TRIMMED":
                following.from_start(match_id)
                continue
            if exc.code == "NOT_IN_MATCH" or failures >= CATCH_UP_TRIES:
                log.warning("cannot catch match %s up: %s", match_id, exc.code)
                following.finish(match_id)
                return
            failures += 1
            await asyncio.sleep((exc.retry_after_ms or 200 * 2**failures) / 1000)
            continue
        except TimeoutError:
            failures += 1
            if failures >= CATCH_UP_TRIES:
                log.warning("cannot catch match %s up: no reply", match_id)
                following.finish(match_id)
                return
            continue
        for push in events:
            if following.is_new(match_id, push):
                hand_on(push)
                if push.get("ev") == "match.ended":
                    following.finish(match_id)
        if len(events) < FEED_PAGE_MAX:  # the server's page is the protocol's
            return
