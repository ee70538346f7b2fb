"""The node's one pub/sub connection, delivering node-to-node messages to local sockets.

Two kinds of channel arrive here:

- the node's command channel: orders for one socket this node holds (end it,
  rename its player), sent by whichever node decided it;
- game channels (a lobby's, a match's, a chat room's): pushes for every local
  socket listening. The node subscribes to a game channel while it has at least
  one local listener and unsubscribes when the last one leaves (reference
  counted), so Redis sends each node only what its players need. A push comes
  msgpack-encoded; it is framed once per format and the same bytes are queued
  on every listening socket.

A match's channel is backed by its feed (``MatchTap``): events carry feed ids,
and the feed and the channel have the same order (one script appends and
publishes). So a node that starts following a match, or that lost its Redis
connection, reads from the feed what it may have missed since the last id it
delivered, holding back live events meanwhile, and delivers each event once, in
order. Clients see no gap from a node's outage; only their own drop needs
``match.feed``.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

import msgpack

from server.errors import ArenaError, Unavailable
from server.hub_sockets import Listener, Sockets, apply_command
from server.protocol import FEED_PAGE_MAX, FeedEntry, Frame, Push
from server.push_bytes import event_of, trailing_id
from server.storage.pubsub import Subscriptions
from server.storage.socket_commands import SocketCommand

log = logging.getLogger(__name__)


def _for(conn: Listener, push: bytes) -> bool:
    """Whether a match push is for ``conn``'s player: a server-run game's event sent to
    some players only carries ``to``."""
    if b"\xa2to" not in push:
        return True
    to = msgpack.unpackb(push).get("to")
    return not isinstance(to, list) or conn.player_id in to


def _push_all(frame: Frame, listeners: dict[str, Listener], within_s: float = 0.0) -> None:
    """Queue the frame on every listener, to be written within ``within_s`` (0: at the end
    of this event-loop turn); a frame one format cannot carry fails alone."""
    for conn in list(listeners.values()):
        try:
            conn.push(frame, within_s)
        except Exception:
            log.exception("could not push a frame to socket %s", conn.conn_id)


class MatchFeeds(Protocol):
    """What the hub needs from the match service to catch a match's channel up."""

    def channel(self, match_id: str) -> str: ...

    async def events_after(self, match_id: str, after: str) -> list[FeedEntry]: ...

    async def feed_tail(self, match_id: str) -> str: ...

    async def push_window_s(self, match_id: str) -> float: ...


def _feed_order(entry_id: str) -> tuple[int, int]:
    ms, _, seq = entry_id.partition("-")
    return int(ms), int(seq or 0)


FILL_RETRY_S = 0.2
HELD_MAX = 5000  # live events held while a tap catches up, at most
READ_BACK_PAGES = 20  # feed pages a socket joining a followed match reads back, at most


@dataclass(slots=True)
class MatchTap:
    """This node's view of one match channel: what it delivered last, and whether it is
    catching up from the feed (live events wait in ``held`` meanwhile)."""

    match_id: str
    channel: str
    last: tuple[int, int]
    window_s: float  # how long its events may wait to share a socket write (its mode's)
    filling: bool = True
    again: bool = False  # the fill must read the feed once more before it is done
    held: list[tuple[str, bytes]] = field(default_factory=list)  # (feed id, push)


class Hub:
    def __init__(
        self,
        registry: Sockets,
        subscriber: Subscriptions,
        match_feeds: MatchFeeds,
        *,
        command_channel: str,
        rooms_left_by: Callable[[bytes], list[str]],
        fanout_lag: Callable[[int], None] | None = None,
    ) -> None:
        self._registry = registry
        self._subscriber = subscriber
        self._match_feeds = match_feeds
        self._command_channel = command_channel
        # The chat room channels a push takes its recipients out of (a lobby closed).
        self._rooms_left_by = rooms_left_by
        # Told each live match event's publish time (ms) once delivered: the metrics.
        self._fanout_lag = fanout_lag
        self._listeners: dict[str, dict[str, Listener]] = {}  # channel -> conn_id -> conn
        # conn_id -> channels: a tuple, as a socket follows a few (its player's, a lobby,
        # a room, a match) and a set costs four times the memory of a one-channel tuple.
        self._channels_of: dict[str, tuple[str, ...]] = {}
        self._taps: dict[str, MatchTap] = {}  # match channel -> tap
        self._tasks: set[asyncio.Task[None]] = set()

    async def listen(self, channel: str, conn: Listener) -> None:
        """Deliver the channel's pushes to ``conn``; subscribes on the first local listener."""
        listeners = self._listeners.get(channel)
        first = listeners is None
        if listeners is None:
            listeners = self._listeners[channel] = {}
        # Registered before any await, so a socket closing meanwhile is forgotten cleanly.
        listeners[conn.conn_id] = conn
        followed = self._channels_of.get(conn.conn_id, ())
        if channel not in followed:
            self._channels_of[conn.conn_id] = (*followed, channel)
        if first:
            await self._subscriber.subscribe(channel)

    async def until_subscribed(self, channel: str, *, within_s: float) -> None:
        """Return once Redis confirmed ``channel`` on this node's pub/sub connection: from
        then on its pushes reach the listeners, so state read after cannot miss one.
        Unavailable when not confirmed within ``within_s`` (pub/sub down or refused)."""
        try:
            # A timeout scope, not wait_for: no task of its own per socket opening.
            async with asyncio.timeout(within_s):
                await self._subscriber.until_subscribed(channel)
        except TimeoutError:
            raise Unavailable("this node cannot hear its players' channels now") from None

    async def unlisten(self, channel: str, conn: Listener) -> None:
        """Stop delivering to ``conn``; unsubscribes when no local listener is left."""
        followed = self._channels_of.get(conn.conn_id)
        if followed is not None and channel in followed:
            rest = tuple(c for c in followed if c != channel)
            if rest:
                self._channels_of[conn.conn_id] = rest
            else:
                del self._channels_of[conn.conn_id]
        listeners = self._listeners.get(channel)
        if listeners is None:
            return
        listeners.pop(conn.conn_id, None)
        if not listeners:
            del self._listeners[channel]
            self._taps.pop(channel, None)
            await self._subscriber.unsubscribe(channel)

    async def forget(self, conn: Listener) -> None:
        """A socket closed: drop it from every channel it listened to."""
        for channel in self._channels_of.pop(conn.conn_id, ()):
            await self.unlisten(channel, conn)

    def listening(self, channel: str) -> int:
        """How many local sockets listen to ``channel``."""
        return len(self._listeners.get(channel, ()))

    def following(self, conn: Listener) -> set[str]:
        """The channels ``conn`` listens to."""
        return set(self._channels_of.get(conn.conn_id, ()))

    # --- matches ------------------------------------------------------------------

    async def follow_match(self, conn: Listener, match_id: str, *, from_start: bool) -> None:
        """Deliver the match's events to ``conn``.

        ``from_start``: from the match's first event (the match is starting); else
        from now (a socket opening mid-match: its client catches up with match.feed).
        """
        channel = self._match_feeds.channel(match_id)
        if conn.conn_id in self._listeners.get(channel, {}):
            return  # it follows the match already
        past: list[FeedEntry] = []
        if channel in self._taps and from_start:
            # Others here follow it already: what the tap delivered before this socket
            # came (a server-run game's first events, a player admitted mid-match) is
            # read back for it alone; the tap brings the rest.
            past = await self._delivered_so_far(match_id, channel)
        if channel not in self._taps:  # none yet, or its last listener left meanwhile
            if from_start:
                after = past[-1].id if past else "0-0"  # what this socket is given below
            else:
                after = await self._match_feeds.feed_tail(match_id)
            window_s = await self._match_feeds.push_window_s(match_id)
            if channel not in self._taps:  # another socket may have made it meanwhile
                tap = MatchTap(match_id, channel, _feed_order(after), window_s)
                self._taps[channel] = tap
                self._spawn(self._fill(tap))
        if self._registry.get(conn.conn_id) is not conn:  # the socket closed meanwhile
            if not self._listeners.get(channel):
                self._taps.pop(channel, None)
            return
        # No await from here until the socket listens: what the tap delivers next, it gets.
        delivered = self._taps[channel].last
        for entry in past:
            if _feed_order(entry.id) <= delivered and _for(conn, entry.push):
                conn.push(Frame(packed=entry.push))
        await self.listen(channel, conn)

    async def _delivered_so_far(self, match_id: str, channel: str) -> list[FeedEntry]:
        """The match's feed up to what its tap here has delivered, page by page."""
        past: list[FeedEntry] = []
        after = "0-0"
        for _ in range(READ_BACK_PAGES):
            page = await self._match_feeds.events_after(match_id, after)
            past += page
            tap = self._taps.get(channel)
            if not page or tap is None or _feed_order(page[-1].id) >= tap.last:
                break
            after = page[-1].id
        return past

    def refill(self) -> None:
        """The pub/sub connection came back: every match tap catches up from its feed."""
        for tap in self._taps.values():
            if tap.filling:
                tap.again = True  # a read already made may predate the outage: read again
            else:
                tap.filling = True
                self._spawn(self._fill(tap))

    async def _fill(self, tap: MatchTap) -> None:
        """Read from the feed what came after the tap's last event, once Redis confirmed the
        subscription (so nothing falls between the two), then release the held events."""
        while self._taps.get(tap.channel) is tap and tap.filling:
            tap.again = False
            try:
                await asyncio.wait_for(self._subscriber.until_subscribed(tap.channel), 5.0)
                while True:
                    after = f"{tap.last[0]}-{tap.last[1]}"
                    entries = await self._match_feeds.events_after(tap.match_id, after)
                    for entry in entries:
                        self._deliver(tap, entry.id, entry.push, live=False)
                    if len(entries) < FEED_PAGE_MAX:  # events_after's page
                        break
            except (TimeoutError, ArenaError) as exc:
                log.info("catching up match %s: %s; retrying", tap.match_id, exc)
                await asyncio.sleep(FILL_RETRY_S)
                continue
            except Exception:
                # A bug must not leave the tap holding events for ever: log, retry.
                log.exception("catching up match %s failed; retrying", tap.match_id)
                await asyncio.sleep(1.0)
                continue
            if tap.again:
                continue  # the connection dropped meanwhile, or held events were let go
            tap.filling = False
            held, tap.held = tap.held, []
            for entry_id, payload in held:
                self._deliver(tap, entry_id, payload, live=True)

    def _on_match_event(self, tap: MatchTap, payload: bytes) -> None:
        # The hot path: the id is read from the push's last bytes, not by decoding it.
        entry_id = trailing_id(payload)
        if entry_id is None:
            try:
                entry_id = str(msgpack.unpackb(payload)["id"])
            except Exception:
                log.warning("dropping an undecodable event on %s", tap.channel)
                return
        if tap.filling:
            if len(tap.held) >= HELD_MAX:
                # They are in the feed too: let them go, and have the fill read again.
                tap.held.clear()
                tap.again = True
            tap.held.append((entry_id, payload))
        else:
            self._deliver(tap, entry_id, payload, live=True)

    def _deliver(self, tap: MatchTap, entry_id: str, payload: bytes, *, live: bool) -> None:
        order = _feed_order(entry_id)
        if order <= tap.last:
            return  # delivered already (the feed and the channel overlap)
        tap.last = order
        frame = Frame(packed=payload)  # decoded only if a socket wants JSON
        listeners = self._listeners.get(tap.channel, {})
        if b"\xa2to" in payload:  # a server-run game's event may be for some players only
            to = frame.message.get("to")
            if isinstance(to, list):
                listeners = {k: c for k, c in listeners.items() if c.player_id in to}
        _push_all(frame, listeners, tap.window_s)
        if live and self._fanout_lag is not None:  # live, not read back
            self._fanout_lag(order[0])
        event = event_of(payload)
        if event is None:
            event = frame.message.get("ev")
        if event == Push.MATCH_ENDED:
            self._spawn(self._drop(tap.channel))
        elif event == Push.MATCH_LEFT:
            self._drop_leaver(tap.channel, frame.message.get("player_id"), payload)

    def _drop_leaver(self, channel: str, player_id: object, payload: bytes) -> None:
        """A player left the match (``match.leave`` on any node, or a new match of theirs
        started): their sockets here stop following it and leave its chat room."""
        leavers = [
            conn
            for conn in self._listeners.get(channel, {}).values()
            if conn.player_id == player_id
        ]
        for conn in leavers:
            self._spawn(self.unlisten(channel, conn))
        if leavers:
            self.leave_rooms(self._rooms_left_by(payload), leavers)

    async def _drop(self, channel: str) -> None:
        """A match ended: its sockets stop following it."""
        for conn in list(self._listeners.get(channel, {}).values()):
            await self.unlisten(channel, conn)

    def _spawn(self, coro: Any) -> None:
        task = asyncio.create_task(coro)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def aclose(self) -> None:
        for task in list(self._tasks):
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)

    # --- delivery -----------------------------------------------------------------

    def on_message(self, channel: str, payload: bytes) -> None:
        if channel == self._command_channel:
            self._apply(payload)
            return
        tap = self._taps.get(channel)
        if tap is not None:
            self._on_match_event(tap, payload)
            return
        listeners = self._listeners.get(channel)
        if not listeners:
            return
        _push_all(Frame(packed=payload), listeners)
        self.leave_rooms(self._rooms_left_by(payload), list(listeners.values()))

    def leave_rooms_after(self, payload: bytes, conns: Sequence[Listener]) -> None:
        """Take a push's recipients out of the chat rooms it ended their place in (a push
        told again after a pub/sub gap, as a live one would)."""
        self.leave_rooms(self._rooms_left_by(payload), conns)

    def leave_rooms(self, rooms: list[str], conns: Sequence[Listener]) -> None:
        """Take the push's recipients out of the rooms it ended their membership of."""
        for room in rooms:
            for conn in conns:
                if room in self._channels_of.get(conn.conn_id, ()):
                    self._spawn(self.unlisten(room, conn))

    def _apply(self, payload: bytes) -> None:
        try:
            command = SocketCommand.decode(payload)
        except Exception:
            log.warning("dropping undecodable socket command")
            return
        conn = apply_command(self._registry, command)
        if conn is not None and command.follow_match is not None and not conn.closing:
            self._spawn(self.follow_match(conn, command.follow_match, from_start=True))
