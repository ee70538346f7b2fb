"""Sessions: one hash per token (hashed), with a sliding TTL; each player's set of them;
socket tickets."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass

from server.storage import keys
from server.storage.connection import text, translate_redis_errors
from server.storage.mux import Arg, Commands


@dataclass(frozen=True, slots=True)
class ListedSession:
    """What opening a player's session saw: the revocation count as the session was
    listed, and the sessions revoked to keep the player under its cap."""

    revocations: int
    evicted: list[str]


@dataclass(frozen=True, slots=True)
class StoredSession:
    player_id: str
    created_ms: int
    ttl_ms: int
    role: str = "player"  # or "spectator": reads and watches, never writes


class SessionStore:
    def __init__(self, mux: Commands) -> None:
        self._mux = mux

    @translate_redis_errors
    async def open_session(
        self, *, player_id: str, token_hash: str, now_ms: int, ttl_s: int, role: str = "player"
    ) -> None:
        key = keys.session(token_hash)
        # MULTI/EXEC: a session must never exist without its expiry.
        await self._mux.transaction(
            ("HSET", key, "player_id", player_id, "created_ms", now_ms, "role", role),
            ("EXPIRE", key, ttl_s),
        )

    @translate_redis_errors
    async def read_session(self, token_hash: str) -> StoredSession | None:
        key = keys.session(token_hash)
        (player_id, created_ms, role), ttl_ms = await self._mux.pipeline(
            ("HMGET", key, "player_id", "created_ms", "role"), ("PTTL", key)
        )
        if player_id is None or ttl_ms < 0:
            return None
        return StoredSession(
            text(player_id), int(created_ms or 0), int(ttl_ms), text(role or b"player")
        )

    @translate_redis_errors
    async def ban_and_life(self, player_id: str | None, token_hash: str) -> tuple[int | None, bool]:
        """In one round trip: until when the player is banned (ms; 0: until lifted; None:
        not banned, or no ``player_id``) and whether the session lives (``read_session``
        would find it: it exists with its expiry)."""
        commands: list[tuple[Arg, ...]] = [("PTTL", keys.session(token_hash))]
        if player_id is not None:
            commands.append(("GET", keys.player_ban(player_id)))
        ttl_ms, *ban = await self._mux.pipeline(*commands)
        until = ban[0] if ban else None
        return (None if until is None else int(until)), ttl_ms >= 0

    @translate_redis_errors
    async def touch_sessions(self, token_hashes: list[str], ttl_s: int) -> list[bool]:
        """Slide each session's expiry; False where the session is already gone."""
        replies = await asyncio.gather(
            *(self._mux.execute("EXPIRE", keys.session(h), ttl_s) for h in token_hashes)
        )
        return [bool(alive) for alive in replies]

    @translate_redis_errors
    async def delete_session(self, token_hash: str) -> bool:
        return bool(await self._mux.execute("DEL", keys.session(token_hash)))

    # --- every session of a player, so all can be revoked ---------------------------

    @translate_redis_errors
    async def open_player_session(
        self,
        *,
        player_id: str,
        token_hash: str,
        now_ms: int,
        ttl_s: int,
        account_ttl_s: int,
        keep_at_most: int,
    ) -> ListedSession:
        """Open a player's session and list it in the player's session set (first, so a
        session never exists unlisted: revoking all cannot miss it). Entries whose
        session is gone are pruned; past ``keep_at_most`` the oldest sessions are
        revoked.

        The listing and the session are two steps (their keys live in different slots),
        so a revocation of every session may run between them: it drops the list, then
        the session appears, unlisted. The revocation count, read in the listing's own
        MULTI/EXEC, lets the caller see that (``revocations_of``) and end the session."""
        listed = keys.player_sessions(player_id)
        members = [text(m) for m in await self._mux.execute("ZRANGE", listed, 0, -1)]
        if members:
            alive = await self._mux.pipeline(*(("EXISTS", keys.session(m)) for m in members))
            gone = [m for m, exists in zip(members, alive, strict=True) if not exists]
            if gone:
                await self._mux.execute("ZREM", listed, *gone)
        revocations = keys.player_revocations(player_id)
        _, _, oldest, _, count = await self._mux.transaction(
            ("ZADD", listed, now_ms, token_hash),
            ("EXPIRE", listed, account_ttl_s),
            ("ZRANGE", listed, 0, -(keep_at_most + 1)),
            ("EXPIRE", revocations, account_ttl_s),
            ("GET", revocations),
        )
        evicted = [text(m) for m in oldest]
        if evicted:
            await self._mux.execute("ZREM", listed, *evicted)
            await self._mux.pipeline(*(("DEL", keys.session(m)) for m in evicted))
        await self.open_session(
            player_id=player_id, token_hash=token_hash, now_ms=now_ms, ttl_s=ttl_s
        )
        return ListedSession(int(count or 0), evicted)

    @translate_redis_errors
    async def revocations_of(self, player_id: str) -> int:
        """How many times every session of the player has been revoked (see above)."""
        return int(await self._mux.execute("GET", keys.player_revocations(player_id)) or 0)

    @translate_redis_errors
    async def delete_player_sessions(self, player_id: str, *, account_ttl_s: int) -> int:
        """Delete every session of the player; how many there were. The set is read and
        dropped in one MULTI/EXEC, so a session listed meanwhile is not forgotten alive;
        the same MULTI/EXEC counts the revocation, so a login whose session was listed
        before it and opened after it finds out (``open_player_session``)."""
        revocations = keys.player_revocations(player_id)
        members, _, _, _ = await self._mux.transaction(
            ("ZRANGE", keys.player_sessions(player_id), 0, -1),
            ("DEL", keys.player_sessions(player_id)),
            ("INCR", revocations),
            ("EXPIRE", revocations, account_ttl_s),
        )
        hashes = [text(m) for m in members]
        if not hashes:
            return 0
        deleted = await self._mux.pipeline(*(("DEL", keys.session(h)) for h in hashes))
        return sum(int(d) for d in deleted)

    # --- socket tickets ---------------------------------------------------------------

    @translate_redis_errors
    async def store_ticket(self, ticket_hash: str, token_hash: str, ttl_s: int) -> None:
        await self._mux.execute("SET", keys.socket_ticket(ticket_hash), token_hash, "EX", ttl_s)

    @translate_redis_errors
    async def take_ticket(self, ticket_hash: str) -> str | None:
        """The token hash a ticket was made for, once: GETDEL, so a second use finds nothing."""
        raw = await self._mux.execute("GETDEL", keys.socket_ticket(ticket_hash))
        return None if raw is None else text(raw)
