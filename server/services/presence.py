"""Presence: one live socket per player across all nodes, and who is online.

Each player has at most one live socket anywhere. Opening a socket claims the
player in Redis (``SET ... GET``, so the last claim wins and returns the one it
displaced); the displaced socket's node is told through its node channel to
close it. Nodes re-stamp their players' presence (and live-socket claims) every
``presence_interval``; a node that dies stops stamping, and its players drop
out of the online count within ``presence_ttl`` seconds.

Whoever takes a lapsed player tells their match they have gone, and the heartbeat that
brings back a player whose lapse was taken (their node had stalled) says they are back.
A node judges others' players lapsed only once its own heartbeat has run unbroken for a
presence TTL (``steady``): after a Redis outage every live node has stamped its
players again by then, so none of them is taken for gone.
"""

from __future__ import annotations

import asyncio
import time
from enum import StrEnum

from server.storage.presence import PresenceStore
from server.storage.socket_commands import SocketCommand, SocketCommandBus, SocketEnd, SocketRef


def _now_ms() -> int:
    return int(time.time() * 1000)


class Standing(StrEnum):
    """Where a player of a running match stands, for its abandonment check."""

    ONLINE = "online"  # a live socket on a live node
    LAPSING = "lapsing"  # their node stopped stamping them; their match is not told yet
    GONE = "gone"  # their socket closed, or their lapse was told


class PresenceService:
    def __init__(
        self,
        store: PresenceStore,
        commands: SocketCommandBus,
        *,
        node_id: str,
        presence_ttl_s: float,
    ) -> None:
        self._store = store
        self._commands = commands
        self.node_id = node_id
        self._presence_ttl_ms = int(presence_ttl_s * 1000)
        self._presence_ttl_s = presence_ttl_s
        # Monotonic times: the start of the last heartbeat that succeeded, and of the
        # first of the unbroken run it belongs to (None: the last one failed).
        self._last_beat: float | None = None
        self._steady_since: float | None = None

    @property
    def command_channel(self) -> str:
        """The channel this node listens on for socket commands."""
        return self._commands.channel(self.node_id)

    async def socket_opened(self, player_id: str, conn_id: str) -> str | None:
        """Make this socket the player's live one; end whichever socket held them before.

        The moment they came online (no socket held them: they were gone; what orders
        their ``match.presence``), or None when this socket replaces a live one (they
        never went away).
        """
        mine = SocketRef(self.node_id, conn_id)
        previous, moment = await self._store.claim_live_socket(
            player_id, mine, until_ms=_now_ms() + self._presence_ttl_ms
        )
        if previous is not None and previous != mine:
            await self._commands.send(previous, SocketCommand(previous.conn_id, SocketEnd.REPLACED))
        return moment if previous is None else None

    async def spectator_socket_opened(self, spectator_id: str, conn_id: str) -> None:
        """One socket per spectator session, across nodes: this one; the one it replaces
        (on whichever node) is ended as a player's is. The claim is kept by the node's
        heartbeat, like a player's (``refresh_spectator_sockets``), and lapses within
        the presence TTL of a node that died; it counts nobody online."""
        mine = SocketRef(self.node_id, conn_id)
        previous = await self._store.claim_spectator_socket(
            spectator_id, mine, ttl_ms=self._presence_ttl_ms
        )
        if previous is not None and previous != mine:
            await self._commands.send(previous, SocketCommand(previous.conn_id, SocketEnd.REPLACED))

    async def refresh_spectator_sockets(self, sockets: dict[str, str]) -> None:
        """Keep this node's spectator claims (conn_id -> spectator id) for another TTL."""
        if sockets:
            await self._store.refresh_spectator_sockets(
                {s: SocketRef(self.node_id, conn_id) for conn_id, s in sockets.items()},
                ttl_ms=self._presence_ttl_ms,
            )

    async def spectator_socket_closed(self, spectator_id: str, conn_id: str) -> None:
        await self._store.release_spectator_socket(spectator_id, SocketRef(self.node_id, conn_id))

    async def sockets_closed(self, closed: list[tuple[str, str]]) -> dict[str, str]:
        """Release these closed sockets of this node (player, socket id): the players
        whose live socket it was (not one already replaced), each with the moment of its
        release (what orders their ``match.presence``)."""
        moments = await self._store.release_live_sockets(
            [(player_id, SocketRef(self.node_id, conn_id)) for player_id, conn_id in closed]
        )
        return {
            player_id: moment
            for (player_id, _), moment in zip(closed, moments, strict=True)
            if moment is not None
        }

    def player_channel(self, player_id: str) -> str:
        """The channel a player's pushes travel on, to whichever node holds their socket."""
        return self._store.player_channel(player_id)

    async def end_socket(self, player_id: str, end: SocketEnd, *, only_session: str | None) -> bool:
        """End the player's live socket, on whichever node, if it runs ``only_session``
        (None: whatever session it runs). False when the player has no live socket."""
        ref = await self._store.live_socket(player_id)
        if ref is None:
            return False
        command = SocketCommand(ref.conn_id, end, only_session)
        await self._commands.send(ref, command, keep_for=player_id)
        return True

    async def player_renamed(self, player_id: str, name: str) -> None:
        """Tell the player's live socket, on whichever node, its player's new name."""
        ref = await self._store.live_socket(player_id)
        if ref is not None:
            command = SocketCommand(ref.conn_id, new_name=name)
            await self._commands.send(ref, command, keep_for=player_id)

    async def follow_match(self, player_ids: list[str], match_id: str) -> None:
        """Have each player's live socket, on whichever node, follow the match's events."""
        refs = await self._store.live_sockets(player_ids)
        await asyncio.gather(
            *(
                self._commands.send(ref, SocketCommand(ref.conn_id, follow_match=match_id))
                for ref in refs
                if ref is not None
            )
        )

    async def sockets_displaced(self, sockets: dict[str, str]) -> list[str]:
        """Of this node's sockets (conn_id -> player_id), those no longer their player's live one.

        A node calls it after its command channel was down, to catch up on
        replacements it may have missed. A claim that is gone altogether (Redis came
        back without it) displaces nobody: the heartbeat restores it.
        """
        refs = await self._store.live_sockets(list(sockets.values()))
        return [
            conn_id
            for (conn_id, _), ref in zip(sockets.items(), refs, strict=True)
            if ref is not None and ref != SocketRef(self.node_id, conn_id)
        ]

    async def orders_missed(self, sockets: dict[str, str]) -> list[SocketCommand]:
        """Of the orders kept for this node's sockets (conn_id -> player_id), those for
        them: a node reapplies them after its command channel was down (they are
        idempotent: a socket ended twice, or renamed twice to the same name, is no
        different)."""
        kept = await self._commands.kept(sorted(set(sockets.values())))
        return [
            command
            for ref, command in kept
            if ref.node_id == self.node_id and ref.conn_id in sockets
        ]

    async def heartbeat(self, sockets: dict[str, str]) -> dict[str, str]:
        """Keep this node, its players and their live-socket claims alive for another TTL;
        the players it brought back after their lapse had been taken (their node stalled,
        or Redis was away), with the moment: their matches must hear they are back."""
        began = time.monotonic()
        now = _now_ms()
        try:
            back = await self._store.heartbeat(
                self.node_id,
                {player: SocketRef(self.node_id, conn_id) for conn_id, player in sockets.items()},
                now,
                now + self._presence_ttl_ms,
            )
        except Exception:  # whatever the failure, this node's players may lapse now
            self._last_beat = self._steady_since = None
            raise
        if self._last_beat is None or began - self._last_beat > self._presence_ttl_s:
            self._steady_since = began  # a gap: this node's own players may have lapsed
        self._last_beat = began
        return back

    def steady(self) -> bool:
        """Whether this node's heartbeat has run unbroken for a presence TTL: only then
        may it take others' players as lapsed (after an outage, every live node has
        stamped its players again by then)."""
        return (
            self._steady_since is not None
            and time.monotonic() - self._steady_since >= self._presence_ttl_s
        )

    async def lease_lapsed(self, limit: int, lease_s: float) -> tuple[list[str], int, str]:
        """Players whose node stopped stamping them (it died or stalled) and who did not
        come back elsewhere, leased for ``lease_s`` to this caller: (players, lease,
        moment), the lease to hand back to ``drop_lapsed`` once their matches were told,
        the moment to order their ``match.presence``. Untold, they are leased again when
        the lease ends."""
        now = _now_ms()
        lease = now + int(lease_s * 1000)
        players, moment = await self._store.lease_lapsed(now, limit, lease)
        return players, lease, moment

    async def drop_lapsed(self, player_ids: list[str], lease: int) -> None:
        await self._store.drop_lapsed(player_ids, lease)

    async def standing_of(self, player_ids: list[str]) -> dict[str, Standing]:
        """Where each of ``player_ids`` stands: online, lapsing (not yet told), or gone."""
        now = _now_ms()
        scores = await self._store.scores(player_ids)
        return {
            p: Standing.GONE if s is None else Standing.ONLINE if s > now else Standing.LAPSING
            for p, s in zip(player_ids, scores, strict=True)
        }

    async def node_stopping(self) -> None:
        await self._store.leave_node(self.node_id)

    async def online_count(self) -> int:
        return await self._store.online_count(_now_ms())

    async def lookup(self, player_ids: list[str]) -> tuple[int, dict[str, bool]]:
        """How many are online, and which of ``player_ids`` are."""
        count, statuses = await self._store.online(player_ids, _now_ms())
        return count, dict(zip(player_ids, statuses, strict=True))

    async def nodes_alive(self) -> int:
        return await self._store.nodes_alive(_now_ms())
