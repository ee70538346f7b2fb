"""The hub's sending half: the ``Pushes`` port services push through.

Each push is encoded once (msgpack) and published on its recipients' channels;
every node's hub (``server.hub``) hears the channels of the sockets it holds and
frames the same bytes for all of them.
"""

from __future__ import annotations

import logging
from collections.abc import Collection

import msgpack

from server.errors import ArenaError
from server.protocol import Push, push
from server.services.ports import Tell
from server.storage.pushes import PushStore

log = logging.getLogger(__name__)


def packed(tell: Tell) -> bytes:
    data: bytes = msgpack.packb(push(tell.event, **tell.fields), use_bin_type=True)
    return data


class HubPushes:
    def __init__(self, store: PushStore) -> None:
        self._store = store

    async def to_players(
        self, player_ids: Collection[str], tell: Tell, *, keep: bool = False
    ) -> None:
        payload = packed(tell)
        if keep:  # first: a node that misses the publish finds it kept
            await self._store.keep(player_ids, payload)
        await self._store.to_players(player_ids, payload)

    async def to_watchers(self, tell: Tell) -> None:
        # Best effort: a dashboard re-reads its snapshot now and then; the change stands.
        try:
            await self._store.to_watchers(packed(tell))
        except ArenaError as exc:
            log.warning("watch push %s not sent: %s", tell.event, exc.message)

    async def kept(self, player_id: str) -> list[Tell]:
        tells = []
        for payload in await self._store.kept(player_id):
            message = msgpack.unpackb(payload)
            tells.append(Tell(Push(message.pop("ev")), message))
        return tells
