"""The only WebSocket code: auth before the upgrade, the read loop, dispatch, error replies."""

from __future__ import annotations

import asyncio
import collections
import contextvars
import logging
import time
from collections.abc import Callable

from aiohttp import WSMsgType, web

from server import logs
from server.connection import SENT_HEADERS, Connection, FloodGate, SocketRegistry, UpgradeCheck
from server.errors import (
    ArenaError,
    BadRequest,
    RateLimited,
    ReadOnly,
    TooManySockets,
    UnknownOp,
)
from server.handlers import HANDLERS, SPECTATOR_OPS, OpContext, Request
from server.http_api import answered, answers_itself, failure_response
from server.http_common import bearer_header
from server.hub import Hub
from server.hub_sockets import HubChannels, end_socket
from server.identity import Identity
from server.metrics import OK, OpMeter
from server.protocol import (
    CloseCode,
    ErrorCode,
    Format,
    Frame,
    FrameError,
    Message,
    decode,
    failure,
    ok,
)
from server.services import Services
from server.services.sessions import Session
from server.settings import Settings
from server.socket_releases import SocketReleases

log = logging.getLogger(__name__)


def _drop_tracebacks(exc: BaseException | None) -> None:
    """Cut a closed socket's stored error (``ws.exception()``) from its tracebacks.

    A client that drops its connection makes aiohttp fail to send its close frame; it
    keeps that error on the socket, and the error's traceback (and that of the EOF it
    was raised during) holds frames whose ``self`` is the socket: a cycle that only the
    cyclic collector frees, with the socket's request, transport and buffers. Without
    the tracebacks, refcounting frees them as soon as the handler returns."""
    seen: set[int] = set()
    while exc is not None and id(exc) not in seen:
        seen.add(id(exc))
        exc.__traceback__ = None
        exc = exc.__context__


class SocketEndpoint:
    """``GET /v1/ws``: one instance per app, one ``handle`` call per socket."""

    def __init__(
        self,
        settings: Settings,
        registry: SocketRegistry,
        services: Services,
        hub: Hub,
        ops: OpMeter | None = None,
        *,
        releases: SocketReleases,
        address_of: Callable[[web.Request], str] = lambda request: request.remote or "",
    ) -> None:
        self._settings = settings
        self._registry = registry
        self._services = services
        self._hub = hub
        self._releases = releases  # closed players' sockets, released a turn's worth at once
        self._ops = ops  # None: metrics off
        self._address_of = address_of  # what per-address caps count by
        # Sockets open or opening per client address, on this node.
        self._per_address: collections.Counter[str] = collections.Counter()

    async def releases_settled(self) -> None:
        await self._releases.settled()  # at shutdown: closed sockets released before Redis goes

    @answers_itself
    async def handle(self, request: web.Request) -> web.StreamResponse:
        """One coroutine from the upgrade to the close, read loop included: it stays
        suspended for the socket's whole life, and each frame more is held per socket. So
        it renders its own failures and logs its own line (``answers_itself``): no
        middleware's coroutine waits on it."""
        started = time.perf_counter()
        try:
            address = self._address_of(request)
            ws, session = await self._upgrade(request, address)
        except Exception as exc:  # refused before the upgrade (401, 429, 400)
            return answered(request, failure_response(request, exc), started)
        try:
            transport = request.transport
            if transport is None:  # the peer left during the upgrade
                return answered(request, ws, started)
            conn = self._connection(request, ws, transport, session)
            try:
                if await self._claim(conn, session):
                    channels = HubChannels(self._hub, conn)
                    ctx = OpContext(self._services, conn.identity, session.token_hash, channels)
                    # Not held for the socket's life (about 200 bytes): the connection has
                    # what is read of it from here (its hash, player, spectator flag).
                    del session
                    while not conn.closing:  # the read loop
                        msg = await ws.receive()
                        if msg.type is WSMsgType.BINARY:
                            fmt = Format.MSGPACK
                        elif msg.type is WSMsgType.TEXT:
                            fmt = Format.JSON
                        else:
                            # CLOSE, CLOSING, CLOSED or ERROR (aiohttp already closed an
                            # oversized frame with 1009): the socket is done.
                            break
                        await self._request(conn, ctx, msg.data, fmt)
                        del msg  # not held while the socket waits for its next frame
            except ArenaError as exc:  # Redis gone while opening: tell the client why, then close
                conn.reply(failure(None, exc.code, exc.message, exc.retry_after_ms), Format.MSGPACK)
                conn.close(CloseCode.INTERNAL_ERROR, exc.code)
            finally:
                await self._closed(conn)
        except Exception as exc:  # a bug: rendered as request_log_middleware renders any
            return answered(request, failure_response(request, exc), started)
        finally:
            self._uncount(address)
        return answered(request, ws, started)

    async def _upgrade(
        self, request: web.Request, address: str
    ) -> tuple[web.WebSocketResponse, Session]:
        """The socket upgraded, and its session. At most ARENA_MAX_SOCKETS_PER_IP sockets
        per client address on this node: one more is refused before the upgrade (429
        TOO_MANY_SOCKETS), before any Redis work. Counted from the handshake on (until
        ``_uncount``), so a burst of handshakes cannot overshoot."""
        cap = self._settings.max_sockets_per_ip
        if self._per_address[address] >= cap:
            raise TooManySockets(f"this address holds {cap} sockets on this node already")
        self._per_address[address] += 1
        try:
            # A request that cannot upgrade (a proxy that drops the Upgrade header) is
            # refused before its single-use ticket is spent, so the client's next try can
            # still use it.
            if not UpgradeCheck(compress=False).can_prepare(request).ok:
                raise BadRequest("not a WebSocket upgrade request")
            session = await self._session(request)  # refused with 401 before the upgrade
            # Made here, with no await before it is prepared: see UpgradeCheck.
            ws = web.WebSocketResponse(
                max_msg_size=self._settings.max_frame_bytes,
                heartbeat=self._settings.heartbeat_s,
                autoping=True,
                # Game frames are small and many: deflate would cost more CPU than it saves.
                compress=False,
            )
            await ws.prepare(request)
        except BaseException:
            self._uncount(address)
            raise
        # The 101's headers are sent: nothing reads them again, and held for the socket's
        # life they cost about 1 KB. An empty, read-only stand-in (a write would fail).
        ws._headers = SENT_HEADERS  # type: ignore[assignment]
        return ws, session

    def _uncount(self, address: str) -> None:
        self._per_address[address] -= 1
        if not self._per_address[address]:
            del self._per_address[address]

    async def _session(self, request: web.Request) -> Session:
        """Who opens ``/v1/ws``: ``?ticket=`` (single use, from POST /v1/ws/ticket: what
        browsers send, as they cannot set socket headers), else the Authorization header,
        else ``?token=`` (kept for old clients, on this route only)."""
        # The query is parsed (and kept on the request, for the socket's life) only if
        # there is one: a client with a header sends none.
        ticket = request.query.get("ticket") if request.rel_url.raw_query_string else None
        if ticket is not None:
            return await self._services.sessions.authenticate_ticket(ticket)
        token = bearer_header(request)
        if token is None and request.rel_url.raw_query_string:
            token = request.query.get("token")
        return await self._services.sessions.authenticate(token)

    def _connection(
        self,
        request: web.Request,
        ws: web.WebSocketResponse,
        transport: asyncio.Transport,
        session: Session,
    ) -> Connection:
        """The socket, upgraded, registered on this node."""
        settings = self._settings
        conn = Connection(
            ws,
            transport,
            identity=Identity(session.player_id, "", spectator=session.spectator),
            session_hash=session.token_hash,
            outbox_bytes=settings.outbox_bytes,
            flood_gate=FloodGate(settings.msg_rate_burst, settings.msg_rate_per_s),
            flusher=self._registry.flusher,
            close_timeout_s=settings.shutdown_grace_s,
        )
        if request.rel_url.raw_query_string and request.query.get("format") == "json":
            conn.push_format = Format.JSON  # a browser's pushes are text from the first one
        self._registry.add(conn)
        logs.conn_id.set(conn.conn_id)  # on every log line of this socket from here
        log.info("socket opened for %s %s", session.role, conn.player_id)
        return conn

    async def _claim(self, conn: Connection, session: Session) -> bool:
        """Make the socket its player's (or spectator session's) live one, and catch its
        player up; False when a ban or revocation ended it meanwhile."""
        services, hub = self._services, self._hub
        if session.spectator:  # one socket per spectator session: this one replaces any other
            await services.presence.spectator_socket_opened(conn.player_id, conn.conn_id)
            return not await self._ended_while_opening(conn, services, session)
        # A dashboard is nobody's presence and holds no seat; a player is both.
        online_since = await services.presence.socket_opened(conn.player_id, conn.conn_id)
        conn.claimed = True
        if await self._ended_while_opening(conn, services, session):
            return False
        channel = services.presence.player_channel(conn.player_id)
        await hub.listen(channel, conn)
        # What is read below must not predate the subscription: a push published before
        # Redis confirmed it (a lobby change, a match start, a note) would be lost for
        # this socket, and the read would not show it either.
        await hub.until_subscribed(channel, within_s=self._settings.redis_timeout_s)
        await services.lobbies.renew_seats([conn.player_id])  # back within the grace
        conn.identity.name = await services.profiles.name_of(session.player_id)
        await self._rejoin(conn, hub, services, online_since=online_since)
        return True

    async def _closed(self, conn: Connection) -> None:
        """The socket is done: forget it here, finish its closing handshake, release it."""
        services = self._services
        self._registry.remove(conn)
        await self._hub.forget(conn)
        ws = conn.ws
        if ws.closed:
            # Closed already (the peer left, or answered a close): no handshake to make.
            conn.closed_already()
        else:
            conn.close(CloseCode.NORMAL)
            # Give the closing handshake time to get through what is still buffered,
            # so the client can read its close code; then aiohttp drops the connection.
            await conn.wait_closed(within_s=self._settings.shutdown_grace_s)
        _drop_tracebacks(ws.exception())
        try:
            # The seat lease is no longer renewed from here: it lapses after the grace.
            if not conn.identity.spectator:
                # With every socket closed this turn: MatchLifeService.sockets_closed.
                await self._releases.release(conn.player_id, conn.conn_id)
            else:
                await services.presence.spectator_socket_closed(conn.player_id, conn.conn_id)
        except ArenaError:
            log.warning("could not release the socket: Redis unavailable")
        log.info("socket closed for %s (code %s)", conn.player_id, conn.close_code)

    async def _ended_while_opening(
        self, conn: Connection, services: Services, session: Session
    ) -> bool:
        """Whether a ban or revocation ended the socket's session while it opened: one run
        between the authentication and the claim looked for the player's live socket before
        this one was it, so it could not close it. Each writes (ban, sessions gone) before
        it looks, so once the claim is stored this read sees it; the socket then closes as
        that ban or revocation would have closed it."""
        end = await services.sessions.ended_meanwhile(session)
        if end is None:
            return False
        log.info("socket of %s ended while opening: %s", conn.player_id, end)
        end_socket(self._registry, conn.conn_id, end)
        return True

    async def _rejoin(
        self, conn: Connection, hub: Hub, services: Services, *, online_since: str | None
    ) -> None:
        """A player back mid-match follows it again (from now: the client catches up with
        match.feed), the match hears they are back (unless this socket replaced a live
        one), and they get their lobby and party as they are now (a change published
        while the socket opened reached no socket of theirs) and the notifications they
        have not acknowledged. Called once the player's channel is confirmed."""
        lobby = await services.lobbies.seat_news(conn.player_id)
        if lobby is not None:
            conn.push(Frame(lobby.message()))
        party = await services.parties.party_news(conn.player_id)
        if party is not None:
            conn.push(Frame(party.message()))
        match_id = await services.matches.current_match(conn.player_id)
        if match_id is not None:
            await hub.follow_match(conn, match_id, from_start=False)
            if online_since is not None:
                await services.match_life.player_back(conn.player_id, match_id, online_since)
        for note in await services.notifications.pending(conn.player_id):
            conn.push(Frame(packed=note.push))

    async def _request(
        self, conn: Connection, ctx: OpContext, data: bytes | str, fmt: Format
    ) -> None:
        """One frame the client sent: its reply, then the session's expiry slid."""
        conn.push_format = fmt
        # A close meanwhile (the node draining) waits for this request's reply.
        conn.request_started()
        try:
            await self._dispatch(conn, ctx, data, fmt)
        finally:
            conn.request_done()
        await self._keep_session_alive(conn, ctx)

    async def _dispatch(
        self, conn: Connection, ctx: OpContext, data: bytes | str, fmt: Format
    ) -> None:
        if self._ops is None:
            await self._answer(conn, ctx, data, fmt)
            return
        started = time.perf_counter()
        op, code = await self._answer(conn, ctx, data, fmt)
        self._ops.record(op, code, time.perf_counter() - started)

    async def _answer(
        self, conn: Connection, ctx: OpContext, data: bytes | str, fmt: Format
    ) -> tuple[str, str]:
        """Decode, run and reply to one frame; the op's name and the result code."""
        rid = None
        op = "unknown"
        req_token: contextvars.Token[str] | None = None
        try:
            # Every frame counts, garbage included, before any work is done on it.
            wait_ms = conn.flood_gate.admit()
            try:
                message = decode(data, fmt)
            except FrameError as exc:
                if not wait_ms:
                    conn.reply(failure(None, ErrorCode.BAD_FRAME, str(exc)), fmt)
                    return op, ErrorCode.BAD_FRAME
            else:
                rid = message.get("rid")
                if isinstance(named := message.get("op"), str):
                    op = named
            if wait_ms:
                raise RateLimited("too many messages on this socket", retry_after_ms=wait_ms)
            if isinstance(rid, int) and not isinstance(rid, bool):  # never a client's text
                req_token = logs.request_id.set(f"{conn.conn_id}/{rid}")
            result = await self._call(ctx, message, rid, fmt)
            if rid is not None:
                conn.reply(ok(rid, result), fmt)
            return op, OK
        except ArenaError as exc:
            conn.reply(failure(rid, exc.code, exc.message, exc.retry_after_ms), fmt)
            return op, exc.code
        except Exception:
            log.exception("op %s failed", str(op)[:64])
            conn.reply(failure(rid, ErrorCode.INTERNAL, "internal error"), fmt)
            return op, ErrorCode.INTERNAL
        finally:
            if req_token is not None:
                logs.request_id.reset(req_token)  # back to the socket's own request id

    async def _call(
        self, ctx: OpContext, message: Message, rid: object, fmt: Format
    ) -> Message | None:
        if rid is not None and (not isinstance(rid, int) or isinstance(rid, bool)):
            raise BadRequest("rid: must be an integer")
        op = message.get("op")
        if not isinstance(op, str):
            raise BadRequest("op: required, a string")
        handler = HANDLERS.get(op)
        if handler is None:
            raise UnknownOp(f"unknown op {op[:64]!r}")
        if ctx.identity.spectator and op not in SPECTATOR_OPS:
            raise ReadOnly(f"a spectator session may only read; {op} changes the game")
        return await handler(ctx, Request(message, fmt))

    async def _keep_session_alive(self, conn: Connection, ctx: OpContext) -> None:
        """Slide the session's expiry on activity, at most once per touch interval."""
        now = time.monotonic()
        if now - conn.session_touched < self._settings.session_touch_interval_s:
            return
        conn.session_touched = now
        try:
            alive = await ctx.services.sessions.refresh([conn.session_hash])
        except ArenaError:
            return  # Redis is away; the next message tries again
        if not alive[0]:
            conn.close(CloseCode.SESSION_EXPIRED, "session expired")
