"""Leaderboard definitions and their calendar: pure values and arithmetic, no I/O.

A board is defined by its ``id``, its ``order`` (``desc``: higher is better;
``asc``: lower is better, e.g. race times), its ``operator`` (``best`` keeps the
better of old and new, ``latest`` overwrites, ``incr`` adds) and its ``period``
(``alltime``, ``daily``, ``weekly`` or ``monthly``, in UTC) and its ``writers``
(``players``: any player may ``lb.submit``; ``server``: only the server-key route and
server-side code, e.g. match results, write it). A periodic board
keeps one sorted set per period; a new period starts empty, and each old one
stays readable for ``retention`` more periods, then expires.

Definitions come from ``ARENA_BOARDS``: a JSON list, or ``@path`` to a JSON
file holding one::

    [{"id": "global", "order": "desc", "operator": "best", "period": "alltime"},
     {"id": "daily", "order": "desc", "operator": "best", "period": "daily", "retention": 7}]
"""

from __future__ import annotations

import datetime as dt
import json
import re
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path
from typing import Any, TypeVar

from server.setting_errors import SettingError, one_of

# Scores are integers that survive a JSON round trip through a JavaScript client
# and a Redis sorted set (a double) exactly.
SCORE_MAX = 2**53 - 1
SCORE_MIN = -SCORE_MAX

BOARD_ID = re.compile(r"^[a-z0-9][a-z0-9_-]{0,31}$")
BOARDS_ENV = "ARENA_BOARDS"
BOARDS_FORM = "a JSON list of boards, or @path to a file holding one (docs/protocol.md)"


class Order(StrEnum):
    DESC = "desc"
    ASC = "asc"


class Operator(StrEnum):
    BEST = "best"
    LATEST = "latest"
    INCR = "incr"


class Writers(StrEnum):
    """Who may write a board: every player (casual), or only the server (competitive)."""

    PLAYERS = "players"
    SERVER = "server"


class Period(StrEnum):
    ALLTIME = "alltime"
    DAILY = "daily"
    WEEKLY = "weekly"
    MONTHLY = "monthly"


DEFAULT_RETENTION = {Period.ALLTIME: 0, Period.DAILY: 7, Period.WEEKLY: 4, Period.MONTHLY: 3}


@dataclass(frozen=True, slots=True)
class BoardSpec:
    id: str
    order: Order = Order.DESC
    operator: Operator = Operator.BEST
    period: Period = Period.ALLTIME
    # How many past periods stay readable after a period ends.
    retention: int = 0
    writers: Writers = Writers.PLAYERS

    def better(self, new: int, old: int) -> bool:
        return new > old if self.order is Order.DESC else new < old


DEFAULT_BOARDS = (
    BoardSpec("global", Order.DESC, Operator.BEST, Period.ALLTIME),
    BoardSpec("daily", Order.DESC, Operator.BEST, Period.DAILY, DEFAULT_RETENTION[Period.DAILY]),
)


def parse_boards(raw: str) -> tuple[BoardSpec, ...]:
    """Board definitions from ``ARENA_BOARDS`` (JSON, or ``@file``); empty means the defaults."""
    if not raw.strip():
        return DEFAULT_BOARDS
    text = _read_file(raw[1:]) if raw.startswith("@") else raw
    try:
        items = json.loads(text)
    except (ValueError, RecursionError) as exc:  # nested past Python's limit
        raise SettingError(BOARDS_ENV, BOARDS_FORM, reason=f"not JSON: {exc}") from None
    if not isinstance(items, list) or not items:
        raise SettingError(BOARDS_ENV, BOARDS_FORM, reason="empty, or not a list")
    boards = tuple(_board(item) for item in items)
    ids = [b.id for b in boards]
    duplicate = next((i for i in ids if ids.count(i) > 1), None)
    if duplicate is not None:
        raise SettingError(BOARDS_ENV, "boards with different ids", got=duplicate)
    return boards


def _read_file(path: str) -> str:
    try:
        return Path(path).read_text()
    except (OSError, UnicodeDecodeError) as exc:
        reason = exc.strerror if isinstance(exc, OSError) and exc.strerror else str(exc)
        raise SettingError(
            BOARDS_ENV, "@path to a readable JSON file", got="@" + path, reason=reason
        ) from None


def _board(item: Any) -> BoardSpec:
    if not isinstance(item, dict) or not isinstance(item.get("id"), str):
        raise SettingError(BOARDS_ENV, 'boards that each have a string "id"', got=item)
    board_id = item["id"]
    if not BOARD_ID.match(board_id):
        raise SettingError(BOARDS_ENV, "1 to 32 of a-z, 0-9, _ and -", part="id", got=board_id)
    board = f"board {board_id!r}"
    unknown = set(item) - {"id", "order", "operator", "period", "retention", "writers"}
    if unknown:
        fields = "among id, order, operator, period, retention, writers"
        raise SettingError(BOARDS_ENV, fields, part=f"{board}: fields", got=sorted(unknown))
    period = _choice(item, "period", Period.ALLTIME, board)
    spec = BoardSpec(
        id=board_id,
        order=_choice(item, "order", Order.DESC, board),
        operator=_choice(item, "operator", Operator.BEST, board),
        period=period,
        retention=_retention(item.get("retention", DEFAULT_RETENTION[period]), board),
        writers=_choice(item, "writers", Writers.PLAYERS, board),
    )
    return spec


E = TypeVar("E", bound=StrEnum)


def _choice(item: dict[str, Any], name: str, default: E, board: str) -> E:
    """The board's ``name``, one of ``default``'s enum, or an error listing them all."""
    kind = type(default)
    value = item.get(name, default.value)
    try:
        return kind(value)
    except ValueError:
        raise SettingError(BOARDS_ENV, one_of(kind), part=f"{board}: {name}", got=value) from None


def _retention(value: Any, board: str) -> int:
    try:
        retention = int(value)
    except (TypeError, ValueError):
        retention = -1
    if not 0 <= retention <= 1000:
        raise SettingError(BOARDS_ENV, "0..1000", part=f"{board}: retention", got=value)
    return retention


# --- the calendar -----------------------------------------------------------------

ALLTIME_ID = "all"
_PERIOD_ID = {
    Period.DAILY: re.compile(r"^\d{4}-\d{2}-\d{2}$"),
    Period.WEEKLY: re.compile(r"^\d{4}-W\d{2}$"),
    Period.MONTHLY: re.compile(r"^\d{4}-\d{2}$"),
}


def _start_of(period: Period, moment: dt.datetime) -> dt.datetime:
    day = dt.datetime(moment.year, moment.month, moment.day, tzinfo=dt.UTC)
    if period is Period.DAILY:
        return day
    if period is Period.WEEKLY:
        return day - dt.timedelta(days=day.weekday())  # ISO weeks start on Monday
    return dt.datetime(moment.year, moment.month, 1, tzinfo=dt.UTC)


def _next_start(period: Period, start: dt.datetime) -> dt.datetime:
    if period is Period.DAILY:
        return start + dt.timedelta(days=1)
    if period is Period.WEEKLY:
        return start + dt.timedelta(weeks=1)
    year, month = (start.year + 1, 1) if start.month == 12 else (start.year, start.month + 1)
    return dt.datetime(year, month, 1, tzinfo=dt.UTC)


def _period_id(period: Period, start: dt.datetime) -> str:
    if period is Period.DAILY:
        return start.strftime("%Y-%m-%d")
    if period is Period.WEEKLY:
        year, week, _ = start.isocalendar()
        return f"{year}-W{week:02d}"
    return start.strftime("%Y-%m")


def _parse_period_id(period: Period, period_id: str) -> dt.datetime:
    if not _PERIOD_ID[period].match(period_id):
        raise ValueError(
            f"period must look like {_period_id(period, dt.datetime(2026, 1, 5, tzinfo=dt.UTC))}"
        )
    if period is Period.DAILY:
        return dt.datetime.strptime(period_id, "%Y-%m-%d").replace(tzinfo=dt.UTC)
    if period is Period.WEEKLY:
        return dt.datetime.strptime(period_id + "-1", "%G-W%V-%u").replace(tzinfo=dt.UTC)
    return dt.datetime.strptime(period_id, "%Y-%m").replace(tzinfo=dt.UTC)


@dataclass(frozen=True, slots=True)
class BoardPeriod:
    """One board in one period: what a read or write addresses."""

    board: BoardSpec
    period_id: str
    # When its keys expire (ms since the epoch); 0 for all-time boards, which never do.
    expire_at_ms: int


def current(board: BoardSpec, now_s: float) -> BoardPeriod:
    return resolve(board, None, now_s)


def resolve(board: BoardSpec, requested: str | None, now_s: float) -> BoardPeriod:
    """The period a read names: ``None``/``"current"``, ``"previous"``, or an explicit id.

    Raises ValueError for a malformed id or one in the future.
    """
    if board.period is Period.ALLTIME:
        if requested not in (None, "current", ALLTIME_ID):
            raise ValueError(f"board {board.id!r} is all-time: period must be 'current'")
        return BoardPeriod(board, ALLTIME_ID, 0)
    now = dt.datetime.fromtimestamp(now_s, dt.UTC)
    this_start = _start_of(board.period, now)
    if requested in (None, "current"):
        start = this_start
    elif requested == "previous":
        start = _start_of(board.period, this_start - dt.timedelta(seconds=1))
    else:
        try:
            start = _parse_period_id(board.period, requested)
        except ValueError as exc:
            raise ValueError(str(exc)) from None
        if (
            _start_of(board.period, start) != start
            or _period_id(board.period, start) != requested  # e.g. a week 53 that is not
            or start > this_start
        ):
            raise ValueError(f"period {requested!r} is not a {board.period} period up to now")
    end = _next_start(board.period, start)
    for _ in range(board.retention):
        end = _next_start(board.period, end)
    return BoardPeriod(board, _period_id(board.period, start), int(end.timestamp() * 1000))
