"""A node's hub with in-process parts around it, for direct tests of its match catch-up
(test_hub_taps.py): listeners that record the frames they are given (not WebSockets), the
node's open sockets, and the real match service's feeds whose reads can be held mid-way.
The node's pub/sub is the real ``Subscriber``; it connects as a Redis user of its own, so
a test can refuse it its channels (as test_pubsub_gap.py does to a whole node)."""

from __future__ import annotations

import asyncio
import secrets
from collections.abc import Callable

import msgpack

from server.embedded_redis import RedisProcess
from server.hub import Hub, MatchTap
from server.hub_sockets import Listener
from server.identity import Identity
from server.protocol import FeedEntry, Frame, Message
from server.room_exits import RoomExits
from server.services import Services
from server.services.match_feeds import MatchFeedReader
from server.storage.pubsub import Subscriber

COMMANDS = "arena:test:hub-taps:commands"  # the node's command channel: heard first
HUB_USER, HUB_PASSWORD = "hub-taps", "hub-taps-secret"
DEAF = "-ssubscribe"  # the hub's user may do anything but subscribe
WITHIN_S = 3.0


async def until(check: Callable[[], bool], *, within_s: float = WITHIN_S) -> None:
    """Wait until ``check`` holds, failing after ``within_s``."""
    deadline = asyncio.get_running_loop().time() + within_s
    while not check():
        if asyncio.get_running_loop().time() > deadline:
            raise AssertionError(f"condition not met within {within_s}s")
        await asyncio.sleep(0.005)


class Recorder:
    """A socket as the hub sees it (a ``Listener``), in process: it keeps what it is given."""

    def __init__(self, player_id: str) -> None:
        self.conn_id = secrets.token_hex(6)
        self.player_id = player_id
        self.session_hash = "s" + secrets.token_hex(4)
        self.identity = Identity(player_id, player_id)
        self.messages: list[Message] = []
        self.closing = False

    def push(self, frame: Frame, within_s: float = 0.0) -> None:
        self.messages.append(frame.message)

    def close(self, code: int, reason: str = "") -> None:
        self.closing = True

    def ids(self) -> list[str]:
        return [str(m["id"]) for m in self.messages if m.get("ev") == "match.event"]


class Sockets:
    """The node's open sockets by id, as ``SocketRegistry`` keeps them."""

    def __init__(self) -> None:
        self._open: dict[str, Listener] = {}

    def get(self, conn_id: str) -> Listener | None:
        return self._open.get(conn_id)

    def open(self, player_id: str) -> Recorder:
        listener = Recorder(player_id)
        self._open[listener.conn_id] = listener
        return listener

    def close(self, listener: Recorder) -> None:
        del self._open[listener.conn_id]


class Gate:
    """Holds one step until the test lets it go."""

    def __init__(self) -> None:
        self.reached = asyncio.Event()
        self.go_on = asyncio.Event()

    async def wait_here(self) -> None:
        self.reached.set()
        await self.go_on.wait()


class Feeds:
    """The match service's feeds as the hub reads them; the next read can be held before
    it goes to Redis or after it came back, and the next tail read after it came back."""

    def __init__(self, matches: MatchFeedReader) -> None:
        self._matches = matches
        self.reads = 0
        self._gates: dict[str, Gate] = {}

    def hold(self, step: str) -> Gate:
        """Hold the next ``step`` ("before" a read, "after" it, or "tail") till let go."""
        gate = self._gates[step] = Gate()
        return gate

    async def _at(self, step: str) -> None:
        gate = self._gates.pop(step, None)
        if gate is not None:
            await gate.wait_here()

    def channel(self, match_id: str) -> str:
        return self._matches.channel(match_id)

    async def events_after(self, match_id: str, after: str) -> list[FeedEntry]:
        self.reads += 1
        await self._at("before")
        entries = await self._matches.events_after(match_id, after)
        await self._at("after")
        return entries

    async def feed_tail(self, match_id: str) -> str:
        tail = await self._matches.feed_tail(match_id)
        await self._at("tail")
        return tail

    async def push_window_s(self, match_id: str) -> float:
        return await self._matches.push_window_s(match_id)


class Node:
    """One node's hub on its own pub/sub connection, with the match service beside it."""

    def __init__(self, services: Services, subscriber: Subscriber) -> None:
        self.services = services
        self.subscriber = subscriber
        self.sockets = Sockets()
        self.feeds = Feeds(services.match_feeds)
        self.hub = Hub(
            self.sockets,
            subscriber,
            self.feeds,
            command_channel=COMMANDS,
            rooms_left_by=RoomExits(
                services.chat.lobby_room_channel,
                services.chat.match_room_channel,
                services.chat.party_room_channel,
            ).after,
        )
        self.heard: dict[str, bytes] = {}  # match event id -> payload, as it came on the channel
        self.deaf = False  # drop what arrives, as a connection that lost it would
        self.connections = 0

    def on_message(self, channel: str, payload: bytes) -> None:
        message = msgpack.unpackb(payload)
        if isinstance(message, dict) and "id" in message:
            self.heard[str(message["id"])] = payload
        if not self.deaf:
            self.hub.on_message(channel, payload)

    async def connected(self) -> None:
        """What the node does on every (re)connection: taps catch up first."""
        self.connections += 1
        self.hub.refill()

    def tap(self, match_id: str) -> MatchTap | None:
        return self.hub._taps.get(self.services.matches.channel(match_id))

    def caught_up(self, match_id: str) -> bool:
        tap = self.tap(match_id)
        return tap is not None and not tap.filling

    async def start_match(self) -> tuple[str, list[str]]:
        match_id = secrets.token_hex(8)
        players = [f"p{secrets.token_hex(4)}" for _ in range(2)]
        await self.services.matches.start(match_id, secrets.token_hex(6), "duel", players)
        return match_id, players

    async def send(self, player_id: str, match_id: str, count: int) -> list[str]:
        return [
            await self.services.matches.send(player_id, match_id, "move", {"n": n})
            for n in range(count)
        ]


def hub_url(redis: RedisProcess) -> str:
    return f"redis://{HUB_USER}:{HUB_PASSWORD}@127.0.0.1:{redis.port}/0"
