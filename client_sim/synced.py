"""A live replica of a server-run match's synced state, kept from its ``match.state``
pushes (docs/protocol.md, "Synced state"), with change callbacks.

    view = SyncedMatch(client, match_id)
    view.on_change(lambda state: print(state["dots"]))
    ...
    view.close()

A patch that does not apply (a frame missed over a reconnect, an unknown container)
makes it ask ``match.sync`` and wait for the keyframe; it never applies a patch on top
of the wrong copy.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from typing import Any

from client_sim.client import ArenaClient
from server.games.sync.replica import NeedKeyframe, Replica

log = logging.getLogger(__name__)

Change = Callable[[Any], object]


class SyncedMatch:
    def __init__(self, client: ArenaClient, match_id: str) -> None:
        self.client = client
        self.match_id = match_id
        self.replica = Replica()
        self.keyframes = 0
        self.resyncs = 0  # keyframes asked for because a patch did not apply
        self._callbacks: list[Change] = []
        self._asking: asyncio.Task[Any] | None = None
        client.on("match.state", self._on_state)

    @property
    def state(self) -> Any:
        return self.replica.state

    @property
    def tick(self) -> int | None:
        return self.replica.tick

    def on_change(self, callback: Change) -> None:
        self._callbacks.append(callback)

    def close(self) -> None:
        self.client.off("match.state", self._on_state)

    def _on_state(self, push: dict[str, Any]) -> None:
        if push.get("match_id") != self.match_id:
            return
        try:
            if "full" in push:
                self.replica.keyframe(push["tick"], push["full"], push["schema"])
                self.keyframes += 1
            else:
                self.replica.apply(push["tick"], push["base"], push["patch"])
        except NeedKeyframe as exc:
            log.info("match %s: %s; asking for a keyframe", self.match_id, exc)
            self._ask()
            return
        for callback in self._callbacks:
            callback(self.replica.state)

    def _ask(self) -> None:
        if self._asking is not None and not self._asking.done():
            return
        self.resyncs += 1
        self._asking = asyncio.get_running_loop().create_task(
            self.client.request("match.sync", match_id=self.match_id)
        )
