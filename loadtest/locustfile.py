"""Locust users that play Arena over its WebSocket protocol (docs/loadtest.md).

    locust -f loadtest/locustfile.py --host http://127.0.0.1:8080

Each user logs in as a new guest (``POST /v1/auth/guest``), opens one socket
(msgpack frames) and then picks weighted tasks: pings, leaderboard submits and
reads, presence, chat, and now and then a whole game (quick-join, ready, the
match's events, the result). The socket itself is ``loadtest.wsclient`` (why
websocket-client under gevent: its docstring).

What Locust's tables show:

- ``WS <op>``: one row per op, the round trip in ms and the reply's size. An error
  reply counts as a failure, except the expected ones (``EXPECTED`` below), which
  get a row of their own, ``WS <op> (<CODE>)``, as a success.
  ``match.send`` is fire-and-forget: its time is the wait for the player's own
  ``match.event`` echo, the protocol's acknowledgement.
- ``WS connect``: the socket's handshake.
- ``PUSH <event>``: one per push received, time 0, its size: pushes are counted,
  not timed (they are in the ``Aggregated`` row too).
"""

from __future__ import annotations

import itertools
import random
import time
import uuid
from collections import deque
from typing import Any

import websocket
from gevent.event import AsyncResult, Event
from locust import HttpUser, between, events, tag, task

from loadtest.wsclient import ArenaSocket, ConnectionClosed, Reply, ReplyTimeout
from server.protocol import ErrorCode, Format, Message, Op, Push

BOARD = "global"
ROOM = "general"
MODE = "loadtest"
REQUEST_TYPE = "WS"
PUSH_TYPE = "PUSH"
CHAT_LISTEN_EVERY = 4  # one player in 4 joins the public room (see ArenaPlayer.__init__)

# Error codes that are the protocol working as designed under this mix: rows of their
# own, never failures. Every other error code is a failure.
EXPECTED_ANY_OP = frozenset({ErrorCode.RATE_LIMITED})
EXPECTED: dict[str, frozenset[str]] = {
    Op.LB_RANK: frozenset({ErrorCode.NOT_RANKED}),  # before the player's first submit
    Op.LOBBY_QUICKJOIN: frozenset({ErrorCode.LOBBY_FULL, ErrorCode.ALREADY_IN_LOBBY}),
    Op.LOBBY_LEAVE: frozenset({ErrorCode.NOT_IN_LOBBY}),  # the match started meanwhile
    Op.MATCH_SEND: frozenset({ErrorCode.MATCH_ENDED}),  # another player reported the result
    Op.MATCH_RESULT: frozenset({ErrorCode.MATCH_ENDED}),  # decided (or disputed) already
}

# Bounds on waiting inside one task, so a user never hangs on a game that does not come.
REPLY_TIMEOUT_S = 10.0
MATCH_START_WAIT_S = 15.0
MATCH_END_WAIT_S = 5.0
MATCH_EVENTS = (3, 6)  # events each player sends per match, inclusive
MATCH_EVENT_GAP_S = (0.1, 0.4)

_user_numbers = itertools.count(1)
# Player ids logged in by this Locust process: what presence.get asks about.
_known_players: deque[str] = deque(maxlen=1000)


def _add_options(parser: Any) -> None:
    parser.add_argument(
        "--arena-format",
        choices=[str(f) for f in Format],
        default=str(Format.MSGPACK),
        help="Arena frames: msgpack (binary, the default) or json (text)",
    )


events.init_command_line_parser.add_listener(_add_options)  # type: ignore[no-untyped-call]


class ArenaReplyError(Exception):
    """An unexpected error reply, as Locust records it (grouped by its text)."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(f"{code}: {message}")
        self.code = code


def is_expected(op: str, code: str) -> bool:
    return code in EXPECTED_ANY_OP or code in EXPECTED.get(op, frozenset())


class ArenaPlayer(HttpUser):
    """A guest who pings, plays the global board, chats, and sometimes plays a match."""

    wait_time = between(0.5, 1.5)

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)  # type: ignore[no-untyped-call]
        self.number = next(_user_numbers)
        self.device_id = f"locust-{uuid.uuid4().hex}"  # 39 characters, unique per user
        self.display_name = f"bot{self.number}"[:24]
        self.token: str | None = None
        self.device_secret: str | None = None  # issued on the first login, sent on later ones
        self.player_id = ""
        self.socket: ArenaSocket | None = None
        # Everyone may send to the public room, but only listeners get its messages: a
        # room everyone listens to costs N^2 pushes, and would make the load generator,
        # not the server, the bottleneck at a few hundred users.
        self.listens_to_chat = self.number % CHAT_LISTEN_EVERY == 1
        self.in_chat = False
        self.notes: list[str] = []  # notification ids not yet acknowledged
        self.match_started: AsyncResult = AsyncResult()
        self.match_ended = Event()
        self.match_id: str | None = None
        self.echoes: dict[int, AsyncResult] = {}  # match.send seq -> its echo
        self.echo_seq = itertools.count(1)

    # -- lifecycle -------------------------------------------------------------

    def on_start(self) -> None:
        self.ensure_socket()

    def on_stop(self) -> None:
        if self.socket is not None:
            self.socket.close()
            self.socket = None

    def login(self) -> bool:
        body = {"device_id": self.device_id, "name": self.display_name}
        if self.device_secret is not None:
            body["device_secret"] = self.device_secret
        with self.client.post(
            "/v1/auth/guest",
            json=body,
            name="/v1/auth/guest",
            catch_response=True,
        ) as resp:
            if resp.status_code != 200:
                resp.failure(f"HTTP {resp.status_code}: {resp.text[:200]}")
                return False
            reply = resp.json()
            self.token, self.player_id = reply["token"], reply["player_id"]
            self.device_secret = reply.get("device_secret", self.device_secret)
        _known_players.append(self.player_id)
        return True

    def ensure_socket(self) -> ArenaSocket | None:
        """The open socket, (re)connecting once if there is none; None if that failed."""
        if self.socket is not None and not self.socket.closed:
            return self.socket
        if self.socket is not None:
            self.socket.close()  # its file descriptor now, not whenever GC comes by
        self.socket = None
        self.in_chat = False
        if self.token is None and not self.login():
            return None
        assert self.token is not None
        start = time.perf_counter()
        try:
            self.socket = ArenaSocket(
                self.host or "",
                self.token,
                fmt=self.frame_format(),
                timeout_s=REPLY_TIMEOUT_S,
                on_push=self.on_push,
                on_orphan_error=self.on_orphan_error,
            )
        except (websocket.WebSocketException, OSError) as exc:
            if getattr(exc, "status_code", None) == 401:
                self.token = None  # session gone: log in again next time
            self.report("connect", start, 0, exc)
            return None
        self.report("connect", start, 0)
        return self.socket

    def frame_format(self) -> Format:
        options = self.environment.parsed_options
        return Format(getattr(options, "arena_format", None) or Format.MSGPACK)

    # -- reporting ---------------------------------------------------------------

    def report(self, name: str, start: float, size: int, exc: Exception | None = None) -> None:
        self.report_ms(name, (time.perf_counter() - start) * 1000, size, exc)

    def report_ms(
        self, name: str, elapsed_ms: float, size: int, exc: Exception | None = None
    ) -> None:
        self.environment.events.request.fire(
            request_type=REQUEST_TYPE,
            name=str(name),
            response_time=elapsed_ms,
            response_length=size,
            exception=exc,
            context={},
        )

    def call(self, op: str, **fields: Any) -> Reply | None:
        """Send a request, report it to Locust, return the reply (None if none came)."""
        sock = self.ensure_socket()
        if sock is None:
            return None
        start = time.perf_counter()
        try:
            reply = sock.request(op, **fields)
        except (ReplyTimeout, ConnectionClosed, websocket.WebSocketException, OSError) as exc:
            self.report(op, start, 0, exc)
            return None
        self.report_reply(op, reply.code, reply.error_message, reply.elapsed_ms, reply.size)
        return reply

    def report_reply(
        self, op: str, code: str | None, message: str, elapsed_ms: float, size: int
    ) -> None:
        if code is None:
            self.report_ms(op, elapsed_ms, size)
        elif is_expected(op, code):
            self.report_ms(f"{op} ({code})", elapsed_ms, size)
        else:
            self.report_ms(op, elapsed_ms, size, ArenaReplyError(code, message))

    # -- what arrives unasked (called in the socket's reader greenlet) ------------

    def on_push(self, message: Message, size: int) -> None:
        event = str(message.get("ev"))
        self.environment.events.request.fire(
            request_type=PUSH_TYPE,
            name=event,
            response_time=0,
            response_length=size,
            exception=None,
            context={},
        )
        if event == Push.MATCH_STARTED:
            self.match_started.set(message)
        elif event == Push.MATCH_ENDED and message.get("match_id") == self.match_id:
            self.match_ended.set()
        elif event == Push.MATCH_EVENT and message.get("from") == self.player_id:
            data = message.get("data")
            seq = data.get("seq") if isinstance(data, dict) else None
            waiter = self.echoes.get(seq) if isinstance(seq, int) else None
            if waiter is not None:
                waiter.set((message, size))
        elif event == Push.NOTIFY and isinstance(message.get("id"), str):
            self.notes.append(message["id"])

    def on_orphan_error(self, message: Message, size: int) -> None:
        # A fire-and-forget request failed. Only match.send goes without a rid here,
        # and one at a time: the failure is the pending send's.
        for waiter in self.echoes.values():
            if not waiter.ready():
                waiter.set((message, size))
                return
        error = message.get("error") or {}
        self.report_ms(
            "(no rid)",
            0,
            size,
            ArenaReplyError(str(error.get("code")), str(error.get("message"))),
        )

    # -- the mix -----------------------------------------------------------------

    @tag("ping")
    @task(10)
    def ping(self) -> None:
        self.call(Op.PING)

    @tag("leaderboard")
    @task(8)
    def leaderboard_top(self) -> None:
        self.call(Op.LB_TOP, board=BOARD, limit=10)

    @tag("leaderboard")
    @task(6)
    def submit_score(self) -> None:
        self.call(Op.LB_SUBMIT, board=BOARD, score=random.randint(0, 1_000_000))

    @tag("leaderboard")
    @task(4)
    def my_rank(self) -> None:
        self.call(Op.LB_RANK, board=BOARD)

    @tag("presence")
    @task(3)
    def presence(self) -> None:
        known = list(_known_players)
        ids = random.sample(known, min(len(known), 10))
        self.call(Op.PRESENCE_GET, player_ids=ids)

    @tag("chat")
    @task(3)
    def chat(self) -> None:
        """Say something in the public room; a share of the players also listen to it."""
        if self.listens_to_chat and not self.in_chat:
            reply = self.call(Op.CHAT_JOIN, room=ROOM)
            self.in_chat = reply is not None and reply.ok
        text = f"gg from {self.display_name} #{random.randint(1, 99)}"
        self.call(Op.CHAT_SEND, room=ROOM, text=text)

    @tag("match")
    @task(2)
    def play_match(self) -> None:
        """Quick-join, ready, and play the match it starts; leave if none starts in time."""
        if self.notes:
            last, self.notes = self.notes[-1], []
            self.call(Op.NOTIFY_ACK, id=last)
        self.match_started = AsyncResult()
        joined = self.call(Op.LOBBY_QUICKJOIN, mode=MODE)
        if joined is None:
            return
        if joined.code == ErrorCode.ALREADY_IN_LOBBY:
            self.call(Op.LOBBY_LEAVE)  # a seat left over from an earlier try
            return
        if not joined.ok:
            return
        ready = self.call(Op.LOBBY_READY, ready=True)
        if ready is None or not ready.ok:
            self.call(Op.LOBBY_LEAVE)
            return
        if not self.match_started.wait(timeout=MATCH_START_WAIT_S):
            # Nobody else pressed Ready in time: give the seat back, unless the match
            # started meanwhile (then the leave gets NOT_IN_LOBBY and we play).
            self.call(Op.LOBBY_LEAVE)
            if not self.match_started.ready():
                return
        self.play(self.match_started.get())

    def play(self, started: Message) -> None:
        self.match_id = match_id = str(started["match_id"])
        self.match_ended.clear()
        players = [str(p) for p in started.get("players") or [self.player_id]]
        try:
            for _ in range(random.randint(*MATCH_EVENTS)):
                if self.match_ended.is_set() or not self.send_event(match_id):
                    break
                time.sleep(random.uniform(*MATCH_EVENT_GAP_S))
            if not self.match_ended.is_set():
                # Every player reports the same scores (drawn from the match id): the
                # mode's consensus ends the match once all still in it agree.
                agreed = random.Random(match_id)
                scores = {p: agreed.randint(0, 100) for p in players}
                self.call(Op.MATCH_RESULT, match_id=match_id, scores=scores)
                self.match_ended.wait(timeout=MATCH_END_WAIT_S)
        finally:
            self.match_id = None

    def send_event(self, match_id: str) -> bool:
        """One match.send without rid, timed until its echo; False once the match is over."""
        sock = self.ensure_socket()
        if sock is None:
            return False
        seq = next(self.echo_seq)
        waiter = AsyncResult()
        self.echoes[seq] = waiter
        data = {"seq": seq, "x": random.randint(0, 99), "y": random.randint(0, 99)}
        start = time.perf_counter()
        try:
            sock.send(Op.MATCH_SEND, match_id=match_id, type="move", data=data)
            # Set by on_push (the echo) or on_orphan_error (a failure); None on timeout.
            arrived: tuple[Message, int] | None = waiter.wait(timeout=REPLY_TIMEOUT_S)
        except (ConnectionClosed, websocket.WebSocketException, OSError) as exc:
            self.report(Op.MATCH_SEND, start, 0, exc)
            return False
        finally:
            self.echoes.pop(seq, None)
        elapsed_ms = (time.perf_counter() - start) * 1000
        if arrived is None:
            # No echo: the socket dropped under it (say so), or the echo never came.
            gone = ConnectionClosed(None) if sock.closed else ReplyTimeout("no match.event echo")
            self.report_ms(Op.MATCH_SEND, elapsed_ms, 0, gone)
            return False
        echo, size = arrived
        if echo.get("ev") == Push.MATCH_EVENT:
            self.report_ms(Op.MATCH_SEND, elapsed_ms, size)
            return True
        error = echo.get("error") or {}
        code = str(error.get("code"))
        self.report_reply(Op.MATCH_SEND, code, str(error.get("message")), elapsed_ms, size)
        if code == ErrorCode.MATCH_ENDED:
            self.match_ended.set()  # another player's result ended it
        return code == ErrorCode.RATE_LIMITED
