"""Guest logins and sessions: opaque tokens whose state lives in Redis with a sliding TTL.

A device proves itself with its ``device_secret``: issued on its first login (only
its SHA-256 is stored), required on every later one, and changed (rotated) by
whoever holds it. Each player's sessions are listed so all can be revoked at once
(``DELETE /v1/sessions``, a ban, a rotation); a login racing such a revocation
leaves no session behind it. A socket may be opened with a single-use ticket
instead of the token itself.
"""

from __future__ import annotations

import dataclasses
import datetime
import hashlib
import hmac
import secrets
import time
from dataclasses import dataclass

from server.errors import BadCredentials, Banned, Unauthorized
from server.services.presence import PresenceService
from server.services.profiles import ProfileService
from server.services.ratelimits import RateLimiter
from server.services.session_rules import (
    validate_device_id,
    validate_device_secret,
    validate_name,
)
from server.storage.accounts import AccountStore, DeviceBinding
from server.storage.sessions import SessionStore
from server.storage.socket_commands import SocketEnd

TOKEN_BYTES = 32  # 256 bits from secrets; the issue asks for at least 128
SECRET_BYTES = 32  # a device's secret: 256 bits as well
SECRET_MAX = 256  # longer is never one we issued
TICKET_TTL_S = 30
SESSIONS_PER_PLAYER_MAX = 64  # past this, a login revokes the player's oldest session
SPECTATOR = "spectator"


def device_hash(device_id: str) -> str:
    """What Redis keys a device by instead of its id."""
    return hashlib.sha256(b"device:" + device_id.encode()).hexdigest()


def token_hash(token: str) -> str:
    """What Redis stores instead of the token itself."""
    return hashlib.sha256(token.encode()).hexdigest()


def secret_hash(secret: str) -> str:
    """What Redis stores instead of a device's secret."""
    return hashlib.sha256(b"device-secret:" + secret.encode()).hexdigest()


@dataclass(frozen=True, slots=True)
class Session:
    """An authenticated session. ``token_hash`` identifies it without revealing the token."""

    player_id: str
    token_hash: str
    created_ms: int
    expires_in_s: int
    role: str = "player"

    @property
    def spectator(self) -> bool:
        return self.role == SPECTATOR


@dataclass(frozen=True, slots=True)
class Login:
    token: str
    player_id: str
    name: str
    expires_in_s: int
    role: str = "player"
    device_secret: str | None = None  # set when this login issued the device a new secret


@dataclass(frozen=True, slots=True)
class Rotation:
    """A device's new secret, and how many sessions of its player ended with the old."""

    player_id: str
    device_secret: str
    revoked: int


def _now_ms() -> int:
    return int(time.time() * 1000)


class SessionService:
    def __init__(
        self,
        store: SessionStore,
        rate_limiter: RateLimiter,
        presence: PresenceService,
        profiles: ProfileService,
        accounts: AccountStore,
        *,
        ttl_s: int,
        touch_interval_s: float,
        account_ttl_s: int,
    ) -> None:
        self._store = store
        self._rate_limiter = rate_limiter
        self._presence = presence
        self._profiles = profiles
        self._accounts = accounts
        self._ttl_s = ttl_s
        self._touch_interval_s = touch_interval_s
        self._account_ttl_s = account_ttl_s

    @property
    def ttl_s(self) -> int:
        return self._ttl_s

    async def guest_login(
        self, device_id: object, device_secret: object, name: object, *, client_ip: str
    ) -> Login:
        """Log a device in as its player (made on first login) and open a new session.

        The same device id always maps to the same player id; the name given
        becomes the player's current name. The first login of a device (or the
        first of a device stored before secrets) issues its ``device_secret``; every
        later one must send it, else BadCredentials. A banned player gets Banned.
        ``client_ip`` is the address bucket the login limit counts.
        """
        # Count the attempt before looking at anything, so probing costs the same as logging in.
        await self._rate_limiter.check("auth.guest", client_ip)
        device_id = validate_device_id(device_id)
        offered = validate_device_secret(device_secret)
        name = validate_name(name)
        device = device_hash(device_id)
        new_secret = secrets.token_urlsafe(SECRET_BYTES)
        binding = await self._accounts.device_login(
            device,
            new_player_id=secrets.token_hex(8),
            new_secret_hash=secret_hash(new_secret),
            ttl_s=self._account_ttl_s,
            upgrade_legacy=False,
        )
        player_id = binding.player_id
        if binding.state == "known":
            self._prove(binding, offered)
        if binding.state != "new":
            await self._refuse_banned(player_id)  # before the name: a banned player renames no one
        await self._profiles.set_name(player_id, name, ttl_s=self._account_ttl_s)
        await self._accounts.keep_account(device, player_id, self._account_ttl_s)
        token = secrets.token_urlsafe(TOKEN_BYTES)
        hashed = token_hash(token)
        listing = await self._store.open_player_session(
            player_id=player_id,
            token_hash=hashed,
            now_ms=_now_ms(),
            ttl_s=self._ttl_s,
            account_ttl_s=self._account_ttl_s,
            keep_at_most=SESSIONS_PER_PLAYER_MAX,
        )
        try:
            # Again after the session is listed: a ban set meanwhile either shows here or
            # finds the session in the player's set and revokes it. Either way none survives.
            await self._refuse_banned(player_id)
            await self._refuse_revoked_meanwhile(player_id, listing.revocations)
            if binding.state == "known":
                await self._refuse_rotated_meanwhile(device, binding.secret_hash)
            if binding.state == "legacy":
                binding = await self._upgrade_legacy(device, player_id, new_secret, offered)
        except (Banned, BadCredentials, Unauthorized):
            await self._store.delete_session(hashed)
            raise
        return Login(
            token=token,
            player_id=player_id,
            name=name,
            expires_in_s=self._ttl_s,
            device_secret=new_secret if binding.state == "new" else None,
        )

    @staticmethod
    def _prove(binding: DeviceBinding, offered: str | None) -> None:
        """BadCredentials unless ``offered`` is the device's secret."""
        # Hash against hash, in constant time: a wrong guess learns nothing from timing.
        given = offered if offered and len(offered) <= SECRET_MAX else None
        if given is None or not hmac.compare_digest(secret_hash(given), binding.secret_hash):
            raise BadCredentials(
                "this device_id is taken: send its device_secret (from its first login)"
            )

    async def _upgrade_legacy(
        self, device_hash: str, player_id: str, new_secret: str, offered: str | None
    ) -> DeviceBinding:
        """Give a device stored before secrets its secret: the login's last write, so a
        login that fails before it (a ban, Redis away) never leaves the owner locked out
        by a secret nobody received. Another login that upgraded it meanwhile wins."""
        binding = await self._accounts.device_login(
            device_hash,
            new_player_id=player_id,  # should the key have expired meanwhile
            new_secret_hash=secret_hash(new_secret),
            ttl_s=self._account_ttl_s,
            upgrade_legacy=True,
        )
        if binding.state == "known":
            self._prove(binding, offered)
        return binding

    async def _refuse_revoked_meanwhile(self, player_id: str, listed_at: int) -> None:
        """Unauthorized when every session of the player was revoked after this login
        listed its session: that revocation may have dropped the list before the session
        existed, so it would live on unlisted. A revocation after this check finds the
        session listed and ends it; one before the listing is older than this login."""
        if await self._store.revocations_of(player_id) != listed_at:
            raise Unauthorized(
                "every session of this player was revoked while this login ran: log in again"
            )

    async def _refuse_rotated_meanwhile(self, device: str, proved: str) -> None:
        """BadCredentials when the device's secret changed after this login proved the old
        one: the rotation revokes every session, but may have run before this session was
        listed. A rotation after this check finds the session listed and ends it."""
        if await self._accounts.secret_hash_of(device) != proved:
            raise BadCredentials("this device's secret was changed while this login ran")

    async def rotate_device_secret(
        self, device_id: object, device_secret: object, *, client_ip: str
    ) -> Rotation:
        """Give a device a new secret in place of the one offered (which then no longer
        logs in), and end every session of its player and its live socket: what a player
        who fears its secret leaked does. BadCredentials for a wrong secret or a device
        without one; limited with guest logins (``auth.guest``), as it is a guess too."""
        await self._rate_limiter.check("auth.guest", client_ip)
        device = device_hash(validate_device_id(device_id))
        offered = validate_device_secret(device_secret)
        if not offered or len(offered) > SECRET_MAX:
            raise BadCredentials("device_secret: the device's current secret is required")
        new_secret = secrets.token_urlsafe(SECRET_BYTES)
        player_id = await self._accounts.rotate_secret(
            device,
            offered_hash=secret_hash(offered),
            new_secret_hash=secret_hash(new_secret),
            ttl_s=self._account_ttl_s,
        )
        if player_id is None:
            raise BadCredentials("wrong device_id or device_secret")
        # After the secret: a login that proved the old one either sees the change
        # (_refuse_rotated_meanwhile) or has listed its session, which this ends.
        revoked = await self._store.delete_player_sessions(
            player_id, account_ttl_s=self._account_ttl_s
        )
        await self._presence.end_socket(player_id, SocketEnd.REVOKED, only_session=None)
        return Rotation(player_id, new_secret, revoked)

    async def _refuse_banned(self, player_id: str) -> None:
        until_ms = await self._accounts.banned_until(player_id)
        if until_ms is None:
            return
        if until_ms == 0:
            raise Banned("this player is banned until an operator lifts the ban")
        left_ms = until_ms - _now_ms()
        if left_ms <= 0:
            return  # ended; the key is on its way out
        ends = datetime.datetime.fromtimestamp(until_ms / 1000, datetime.UTC)
        raise Banned(
            f"this player is banned until {ends.isoformat(timespec='seconds')}",
            retry_after_ms=left_ms,
        )

    async def spectator_login(self, *, client_ip: str) -> Login:
        """A read-only session (a dashboard): no player, no presence, no seat; it may read
        and watch, never write. Rate-limited with guest logins, per address."""
        await self._rate_limiter.check("auth.guest", client_ip)
        token = secrets.token_urlsafe(TOKEN_BYTES)
        spectator_id = f"{SPECTATOR}-{secrets.token_hex(6)}"
        await self._store.open_session(
            player_id=spectator_id,
            token_hash=token_hash(token),
            now_ms=int(time.time() * 1000),
            ttl_s=self._ttl_s,
            role=SPECTATOR,
        )
        return Login(token, spectator_id, SPECTATOR, self._ttl_s, role=SPECTATOR)

    async def authenticate(self, token: str | None) -> Session:
        """The live session behind a token, or Unauthorized."""
        if not token:
            raise Unauthorized("a session token is required")
        if len(token) > 256:
            raise Unauthorized("unknown or expired session")
        return await self._session(token_hash(token))

    async def authenticate_ticket(self, ticket: str) -> Session:
        """The live session a socket ticket was made for, or Unauthorized. A ticket works
        once (it is taken as it is read) and within TICKET_TTL_S of being issued."""
        if not ticket or len(ticket) > 256:
            raise Unauthorized("unknown, used or expired ticket")
        hashed = await self._store.take_ticket(token_hash(ticket))
        if hashed is None:
            raise Unauthorized("unknown, used or expired ticket")
        return await self._session(hashed)

    async def issue_ticket(self, session: Session) -> str:
        """A single-use ticket opening a socket as ``session`` (for browsers, whose socket
        URL would otherwise carry the token into logs and history)."""
        await self._rate_limiter.check("ws.ticket", session.player_id)
        ticket = secrets.token_urlsafe(TOKEN_BYTES)
        await self._store.store_ticket(token_hash(ticket), session.token_hash, TICKET_TTL_S)
        return ticket

    async def _session(self, hashed: str) -> Session:
        stored = await self._store.read_session(hashed)
        if stored is None:
            raise Unauthorized("unknown or expired session")
        if stored.ttl_ms < (self._ttl_s - self._touch_interval_s) * 1000:
            # Use slides the expiry, at most once per touch interval per session.
            await self._store.touch_sessions([hashed], self._ttl_s)
            stored = dataclasses.replace(stored, ttl_ms=self._ttl_s * 1000)
        return Session(
            player_id=stored.player_id,
            token_hash=hashed,
            created_ms=stored.created_ms,
            expires_in_s=max(1, stored.ttl_ms // 1000),
            role=stored.role,
        )

    async def refresh(self, token_hashes: list[str]) -> list[bool]:
        """Slide the expiry of sessions in use; False for each that is gone (expired or revoked)."""
        return await self._store.touch_sessions(token_hashes, self._ttl_s)

    async def describe(self, token_hash_: str) -> dict[str, object]:
        """The session as clients see it (``session.get``, ``GET /v1/session``)."""
        stored = await self._store.read_session(token_hash_)
        if stored is None:
            raise Unauthorized("unknown or expired session")
        if stored.role == SPECTATOR:
            return {
                "player_id": stored.player_id,
                "role": SPECTATOR,
                "created_ms": stored.created_ms,
                "expires_in": max(1, stored.ttl_ms // 1000),
            }
        return {
            "player_id": stored.player_id,
            "name": (await self._profiles.get(stored.player_id)).name,
            "created_ms": stored.created_ms,
            "expires_in": max(1, stored.ttl_ms // 1000),
        }

    async def revoke(self, session: Session) -> None:
        """End the session now and close the live socket running it, on whichever node."""
        await self._store.delete_session(session.token_hash)
        await self._presence.end_socket(
            session.player_id, SocketEnd.REVOKED, only_session=session.token_hash
        )

    async def revoke_all(self, session: Session) -> int:
        """End every session of the session's player now (a spectator's: that one) and
        close its live socket, on whichever node. How many sessions ended."""
        if session.spectator:
            await self.revoke(session)
            return 1
        ended = await self._store.delete_player_sessions(
            session.player_id, account_ttl_s=self._account_ttl_s
        )
        # The caller's own, even if it is not listed (made before sessions were listed).
        ended += int(await self._store.delete_session(session.token_hash))
        await self._presence.end_socket(session.player_id, SocketEnd.REVOKED, only_session=None)
        return ended

    async def ended_meanwhile(self, session: Session) -> SocketEnd | None:
        """Asked once a socket's claim is stored: how a ban or revocation that ran while the
        socket opened would have ended it (None: neither did). Both write first (the ban,
        the sessions deleted) and then look for the live socket: one that looked before
        the claim is seen here."""
        player = None if session.spectator else session.player_id  # nobody bans a spectator
        banned_until, alive = await self._store.ban_and_life(player, session.token_hash)
        if banned_until is not None and (banned_until == 0 or banned_until > _now_ms()):
            return SocketEnd.BANNED  # as _refuse_banned judges: 0 until lifted, else until then
        return None if alive else SocketEnd.REVOKED

    async def ban(self, player_id: str, duration_s: int | None) -> int | None:
        """Ban the player (``duration_s`` None: until unbanned): logins refused, every
        session revoked, the live socket closed (BANNED). When it ends (ms), if it does."""
        until_ms = None if duration_s is None else _now_ms() + duration_s * 1000
        # The ban first, then the sessions: a login racing it sees one or the other.
        await self._accounts.ban(player_id, until_ms or 0)
        await self._store.delete_player_sessions(player_id, account_ttl_s=self._account_ttl_s)
        await self._presence.end_socket(player_id, SocketEnd.BANNED, only_session=None)
        return until_ms

    async def unban(self, player_id: str) -> bool:
        """Lift a ban; False when the player was not banned."""
        return await self._accounts.unban(player_id)
