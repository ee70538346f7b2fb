"""Who is online, which socket holds each player, and which nodes are alive."""

from __future__ import annotations

import asyncio

from server.storage import keys
from server.storage.connection import text, translate_redis_errors
from server.storage.mux import Commands
from server.storage.scripts import Scripts
from server.storage.socket_commands import SocketRef

# Players per heartbeat or release script call, so one call never blocks Redis for long;
# presence_stamp passes a chunk's stamps to one ZADD (twice this many arguments), well
# within Lua's stack (8,000).
HEARTBEAT_CHUNK = 1000


class PresenceStore:
    _NOBODY = "-"  # a node id no node has: its socket is nobody's live one

    def __init__(self, mux: Commands, scripts: Scripts) -> None:
        self._mux = mux
        self._scripts = scripts
        # Whether this node loaded the release script into Redis (see claim_live_socket).
        self._release_loaded = False

    @staticmethod
    def player_channel(player_id: str) -> str:
        """The channel a player's pushes travel on, to whichever node holds their socket."""
        return keys.player_channel(player_id)

    @translate_redis_errors
    async def claim_live_socket(
        self, player_id: str, ref: SocketRef, *, until_ms: int
    ) -> tuple[SocketRef | None, str]:
        """Make ``ref`` the player's live socket and count them online until ``until_ms``.

        Returns the socket it displaced, if any, so the caller can end it, and the
        moment of the claim (what orders the player's ``match.presence``).
        """
        if not self._release_loaded:
            # Scripts load on their first NOSCRIPT: the release's first use on a node is
            # often a crowd dropping at once, and Redis may have been restarted since the
            # node loaded its scripts. Their releases go in batches, so that would cost
            # each batch a failed call and a load; the first claim runs the release once
            # first instead, for a socket no claim names (it changes nothing).
            self._release_loaded = True
            await self.release_live_sockets([(player_id, SocketRef(self._NOBODY, ""))])
        previous, moment = await self._scripts.claim_live_socket(
            keys=[keys.live_socket(player_id), keys.presence()],
            args=[ref.encode(), until_ms, player_id],
        )
        return (None if previous is None else SocketRef.decode(text(previous))), text(moment)

    @translate_redis_errors
    async def claim_spectator_socket(
        self, spectator_id: str, ref: SocketRef, *, ttl_ms: int
    ) -> SocketRef | None:
        """Make ``ref`` the spectator session's one socket for ``ttl_ms``; the socket it
        displaced, if any. Unlike a player's claim: nobody is counted online."""
        previous = await self._mux.execute(
            "SET", keys.live_socket(spectator_id), ref.encode(), "PX", ttl_ms, "GET"
        )
        return None if previous is None else SocketRef.decode(text(previous))

    @translate_redis_errors
    async def refresh_spectator_sockets(self, claims: dict[str, SocketRef], *, ttl_ms: int) -> None:
        """Keep this node's spectator claims for another ``ttl_ms``, never taking over one
        a newer socket holds (the players' heartbeat script)."""
        ids = list(claims)
        for i in range(0, len(ids), HEARTBEAT_CHUNK):
            chunk = ids[i : i + HEARTBEAT_CHUNK]
            await self._scripts.refresh_live_sockets(
                keys=[keys.live_socket(s) for s in chunk],
                args=[ttl_ms, *(claims[s].encode() for s in chunk)],
            )

    @translate_redis_errors
    async def release_spectator_socket(self, spectator_id: str, ref: SocketRef) -> None:
        """Forget the claim, unless a newer socket holds it."""
        await self._scripts.delete_if_equal(
            keys=[keys.live_socket(spectator_id)], args=[ref.encode()]
        )

    @translate_redis_errors
    async def release_live_sockets(self, claims: list[tuple[str, SocketRef]]) -> list[str | None]:
        """Forget these sockets' claims (player, socket) and mark their players offline,
        each unless a newer socket holds the player: for each, the moment of its release
        (what orders the player's ``match.presence``), or None."""
        moments: list[str | None] = []
        for i in range(0, len(claims), HEARTBEAT_CHUNK):
            chunk = claims[i : i + HEARTBEAT_CHUNK]
            moment, released = await self._scripts.release_live_sockets(
                keys=[*(keys.live_socket(p) for p, _ in chunk), keys.presence()],
                args=[*(ref.encode() for _, ref in chunk), *(p for p, _ in chunk)],
            )
            moments += [text(moment) if r == 1 else None for r in released]
        return moments

    @translate_redis_errors
    async def live_socket(self, player_id: str) -> SocketRef | None:
        raw = await self._mux.execute("GET", keys.live_socket(player_id))
        return None if raw is None else SocketRef.decode(text(raw))

    @translate_redis_errors
    async def live_sockets(self, player_ids: list[str]) -> list[SocketRef | None]:
        if not player_ids:
            return []
        raws = await self._mux.execute("MGET", *(keys.live_socket(p) for p in player_ids))
        return [None if raw is None else SocketRef.decode(text(raw)) for raw in raws]

    @translate_redis_errors
    async def heartbeat(
        self, node_id: str, sockets: dict[str, SocketRef], now_ms: int, until_ms: int
    ) -> dict[str, str]:
        """Keep this node, its players and their claims counted until ``until_ms``; the
        players it brought back after their lapse had been taken (their matches were told
        they had gone), each with the moment (what orders their ``match.presence``)."""
        ttl_ms = until_ms - now_ms
        players = list(sockets)
        chunks = [players[i : i + HEARTBEAT_CHUNK] for i in range(0, len(players), HEARTBEAT_CHUNK)]
        # Issued together, these leave in one write (the client pipelines by itself).
        replies = await asyncio.gather(
            self._mux.execute("ZADD", keys.nodes(), until_ms, node_id),
            *(
                self._scripts.refresh_live_sockets(
                    keys=[keys.live_socket(p) for p in chunk],
                    args=[ttl_ms, *(sockets[p].encode() for p in chunk)],
                )
                for chunk in chunks
            ),
            *(
                self._scripts.presence_stamp(keys=[keys.presence()], args=[until_ms, *chunk])
                for chunk in chunks
            ),
        )
        # Lapsed players are not trimmed here but leased by ``lease_lapsed``: their
        # matches are told they are gone, once.
        await self._mux.execute("ZREMRANGEBYSCORE", keys.nodes(), "-inf", now_ms)
        return {text(p): text(moment) for moment, back in replies[1 + len(chunks) :] for p in back}

    @translate_redis_errors
    async def lease_lapsed(
        self, now_ms: int, limit: int, lease_until_ms: int
    ) -> tuple[list[str], str]:
        """Lease up to ``limit`` players whose presence lapsed by ``now_ms`` (their node
        stopped stamping them) until ``lease_until_ms``: nobody else takes them meanwhile,
        and they are taken again after it unless ``drop_lapsed`` dropped them. Returns
        them and the moment of the lease (what orders their ``match.presence``)."""
        moment, leased = await self._scripts.lease_lapsed(
            keys=[keys.presence()], args=[now_ms, limit, lease_until_ms]
        )
        return [text(p) for p in leased], text(moment)

    @translate_redis_errors
    async def drop_lapsed(self, player_ids: list[str], lease_until_ms: int) -> None:
        """Forget lapsed players whose matches were told, unless they came back meanwhile
        (or a later lease replaced ours)."""
        if player_ids:
            await self._scripts.drop_lapsed(
                keys=[keys.presence()], args=[lease_until_ms, *player_ids]
            )

    @translate_redis_errors
    async def scores(self, player_ids: list[str]) -> list[float | None]:
        """Each player's presence score: online until (ms), or -(lease end) while their
        lapse is being told, or None when they have none (gone, and told)."""
        if not player_ids:
            return []
        scores = await self._mux.execute("ZMSCORE", keys.presence(), *player_ids)
        return [None if s is None else float(s) for s in scores]

    @translate_redis_errors
    async def leave_node(self, node_id: str) -> None:
        await self._mux.execute("ZREM", keys.nodes(), node_id)

    @translate_redis_errors
    async def online_count(self, now_ms: int) -> int:
        return int(await self._mux.execute("ZCOUNT", keys.presence(), f"({now_ms}", "+inf"))

    @translate_redis_errors
    async def online(self, player_ids: list[str], now_ms: int) -> tuple[int, list[bool]]:
        """The online count and each given player's status, in one round trip."""
        commands: list[tuple[str | int, ...]] = [("ZCOUNT", keys.presence(), f"({now_ms}", "+inf")]
        if player_ids:
            commands.append(("ZMSCORE", keys.presence(), *player_ids))
        results = await self._mux.pipeline(*commands)
        scores = results[1] if player_ids else []
        return int(results[0]), [s is not None and float(s) > now_ms for s in scores]

    @translate_redis_errors
    async def nodes_alive(self, now_ms: int) -> int:
        return int(await self._mux.execute("ZCOUNT", keys.nodes(), f"({now_ms}", "+inf"))
