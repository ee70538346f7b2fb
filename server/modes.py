"""Game modes: what a mode's lobbies look like and who decides its results. Pure values,
no I/O beyond reading the ``@file`` a setting names.

A mode is named by the lobbies that play it (``lobby.create {mode}``,
``lobby.quickjoin {mode}``). Its definition says:

- ``capacity`` (2..64): the seats of the lobbies quick-join makes, and the most
  ``lobby.create`` may ask for;
- ``start_when_full``: the match starts the moment the last seat fills (no ready);
- ``results``: who may end a match with a result (``consensus`` of the players,
  only the ``server``, or ``any`` player's first report);
- ``result_wait_s``: under ``consensus``, how long after the first report a strict
  majority of the roster may decide without everyone;
- ``boards``: the leaderboards its results feed (the first one is where personal
  bests are announced);
- ``matchmaker``: who the matchmaker puts together (server/mm_rules.py); without it, 2
  to ``capacity`` players by count alone;
- ``push_window_ms`` (0..50, default 0): how long a match's events may wait on a
  socket so that several leave in one write: fewer system calls per event, for up to
  that much latency (0: written at the end of the event loop's turn, as replies are);
- ``game`` (``"package.module:Class"``): the game the server runs for its matches, at
  ``tick_rate`` (1..60, default 20) ticks a second, its ``init`` given ``params`` (a JSON
  object); such a mode's results come from the game only (``results`` is ``server``);
  ``create: true`` lets a player start one with ``match.create``, setting only the
  params keys ``create_params`` lists.

Definitions come from ``ARENA_MODES``: a JSON object of mode name -> definition, or
``@path`` to a file holding one::

    {"duel": {"capacity": 2, "start_when_full": true, "results": "consensus"},
     "*": {"capacity": 4}}

Modes not listed take the ``"*"`` entry, or the defaults below when there is none. An
empty ``ARENA_MODES`` means ``DEFAULT_MODES``: the two example games and the defaults.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Collection, Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from pathlib import Path
from typing import Any

from server.mm_rules import MatchRules, by_count, parse_rules
from server.setting_errors import SettingError, one_of

PUSH_WINDOW_MAX_MS = 50  # a 20 Hz game's whole tick
TICK_RATE_MIN, TICK_RATE_MAX = 1, 60  # as server.games.api (modes stay free of game code)
DEFAULT_TICK_RATE = 20

MODE_NAME = re.compile(r"^[a-z0-9][a-z0-9_-]{0,31}$")
DEFAULT_ENTRY = "*"
CAPACITY_MIN, CAPACITY_MAX = 2, 64
RESULT_WAIT_MAX_S = 3600.0
SETTING = "ARENA_MODES"
PARAMS_MAX_BYTES = 4096  # a mode's params, as JSON
# What an empty ARENA_MODES means: the two server-run example games (docs/games.md).
DEFAULT_MODES = {
    "tictactoe": {
        "game": "server.games.tictactoe:TicTacToe",
        "tick_rate": 10,
        "capacity": 2,
        "start_when_full": True,
        "create": True,
    },
    # /play's race: 8 seats, started when every player in the lobby is ready.
    "dots": {"game": "server.games.dots:Dots", "tick_rate": 20, "capacity": 8, "create": True},
}
MODES_FORM = "a JSON object of mode name -> definition, or @path to a file holding one"


class Results(StrEnum):
    """Who may end a match with a result."""

    CONSENSUS = "consensus"  # the players agree (all still in it, or a majority in time)
    SERVER = "server"  # only the server-key route or server-side code
    ANY = "any"  # any player's first report: trusts every client


@dataclass(frozen=True, slots=True)
class ModeSpec:
    capacity: int = 8
    start_when_full: bool = False
    results: Results = Results.CONSENSUS
    result_wait_s: float = 15.0
    boards: tuple[str, ...] = ("global", "daily")
    game: str | None = None  # "package.module:Class": the server runs its matches
    tick_rate: int = DEFAULT_TICK_RATE
    params: Mapping[str, Any] = field(default_factory=dict)
    create: bool = False  # players may start one with match.create
    create_params: tuple[str, ...] = ()  # the params keys a creator may set
    matchmaker: MatchRules | None = None  # None: matched by player count (mm_rules.py)
    push_window_ms: int = 0  # match events may wait this long to share a socket write

    @property
    def match_rules(self) -> MatchRules:
        return self.matchmaker if self.matchmaker is not None else by_count(self.capacity)

    @property
    def authoritative(self) -> bool:
        return self.game is not None


@dataclass(frozen=True, slots=True)
class ModeBook:
    """Every mode's definition; ``spec_for`` answers for any mode name."""

    modes: Mapping[str, ModeSpec] = field(default_factory=dict)
    default: ModeSpec = ModeSpec()

    def spec_for(self, mode: str) -> ModeSpec:
        return self.modes.get(mode, self.default)


def parse_modes(
    raw: str, board_ids: Collection[str], server_boards: Collection[str] = ()
) -> ModeBook:
    """The mode book from ``ARENA_MODES`` (JSON object, or ``@file``); empty: defaults.
    ``server_boards``: the boards only the server writes (``"writers": "server"``).

    Raises SettingError: one line naming ARENA_MODES, the mode, the field and what it
    accepts.
    """
    if not raw.strip():
        # The example games feed the default boards: say first when those are missing.
        _check_default_boards(ModeSpec(), board_ids)
        raw = json.dumps(DEFAULT_MODES)
    text = raw
    if raw.startswith("@"):
        try:
            text = Path(raw[1:]).read_text("utf-8")
        except (OSError, UnicodeDecodeError) as exc:
            reason = exc.strerror if isinstance(exc, OSError) and exc.strerror else str(exc)
            raise SettingError(
                SETTING, "@path to a readable JSON file", got=raw, reason=reason
            ) from None
    try:
        items = json.loads(text)
    except (ValueError, RecursionError) as exc:  # nested past Python's limit
        raise SettingError(SETTING, MODES_FORM, reason=f"not valid JSON: {exc}") from None
    if not isinstance(items, dict):
        raise SettingError(SETTING, MODES_FORM, got=items)
    modes = {}
    for name, definition in items.items():
        if name != DEFAULT_ENTRY and not MODE_NAME.match(name):
            raise SettingError(
                SETTING,
                "1 to 32 of a-z, 0-9, _ and -, starting with a letter or digit (or * for the "
                "default)",
                part="mode names",
                got=name,
            )
        modes[name] = _mode(name, definition, board_ids)
        _check_server_boards(name, modes[name], server_boards)
    default = modes.pop(DEFAULT_ENTRY, None)
    if default is None:
        default = ModeSpec()
        _check_default_boards(default, board_ids)
    return ModeBook(modes, default)


def _mode(name: str, item: object, board_ids: Collection[str]) -> ModeSpec:
    where = f"mode {name!r}"
    if not isinstance(item, dict):
        raise SettingError(SETTING, "a JSON object", part=where, got=item)
    known = {"capacity", "start_when_full", "results", "result_wait_s", "boards"}
    known |= {"game", "tick_rate", "params", "create", "create_params", "matchmaker"}
    known.add("push_window_ms")
    unknown = sorted(set(item) - known)
    if unknown:
        raise SettingError(SETTING, one_of(sorted(known)), part=f"{where}: fields", got=unknown[0])
    spec = ModeSpec()
    capacity = item.get("capacity", spec.capacity)
    if not _is_int(capacity) or not CAPACITY_MIN <= capacity <= CAPACITY_MAX:
        raise SettingError(
            SETTING,
            f"an integer {CAPACITY_MIN}..{CAPACITY_MAX}",
            part=f"{where}: capacity",
            got=capacity,
        )
    start_when_full = item.get("start_when_full", spec.start_when_full)
    if not isinstance(start_when_full, bool):
        raise SettingError(
            SETTING, "true or false", part=f"{where}: start_when_full", got=start_when_full
        )
    game_part = _game_part(where, item)
    results = item.get("results", str(Results.SERVER if game_part.get("game") else spec.results))
    if not isinstance(results, str) or results not in {r.value for r in Results}:
        raise SettingError(SETTING, one_of(Results), part=f"{where}: results", got=results)
    wait = item.get("result_wait_s", spec.result_wait_s)
    if (
        not isinstance(wait, int | float)
        or isinstance(wait, bool)
        or not math.isfinite(wait)
        or not 0 < wait <= RESULT_WAIT_MAX_S
    ):
        raise SettingError(
            SETTING,
            f"a number of seconds above 0, at most {RESULT_WAIT_MAX_S:g}",
            part=f"{where}: result_wait_s",
            got=wait,
        )
    boards = item.get("boards", list(spec.boards))
    if not isinstance(boards, list) or not all(isinstance(b, str) for b in boards):
        raise SettingError(SETTING, "a list of board ids", part=f"{where}: boards", got=boards)
    if len(set(boards)) != len(boards):
        raise SettingError(
            SETTING, "a list of board ids, each once", part=f"{where}: boards", got=boards
        )
    _check_boards(name, tuple(boards), board_ids)
    window = item.get("push_window_ms", spec.push_window_ms)
    if not _is_int(window) or not 0 <= window <= PUSH_WINDOW_MAX_MS:
        raise SettingError(
            SETTING,
            f"an integer 0..{PUSH_WINDOW_MAX_MS} (ms)",
            part=f"{where}: push_window_ms",
            got=window,
        )
    return ModeSpec(
        capacity=capacity,
        start_when_full=start_when_full,
        results=Results(results),
        result_wait_s=float(wait),
        boards=tuple(boards),
        push_window_ms=window,
        matchmaker=parse_rules(where, item["matchmaker"], capacity)
        if "matchmaker" in item
        else None,
        **game_part,
    )


def _game_part(where: str, item: dict[str, Any]) -> dict[str, Any]:
    """A mode's server-run game: its class path (loaded at start-up, not here), tick rate,
    params and whether players may create its matches."""
    game = item.get("game")
    if "game" in item and (not isinstance(game, str) or not game):
        raise SettingError(SETTING, "package.module:Class", part=f"{where}: game", got=game)
    if game is None:
        for only in ("tick_rate", "params", "create", "create_params"):
            if only in item:
                raise SettingError(
                    SETTING,
                    "left out (it is for a mode with a game)",
                    part=f"{where}: {only}",
                    got=item[only],
                )
        return {}
    results = item.get("results", Results.SERVER.value)
    if results != Results.SERVER.value:
        raise SettingError(
            SETTING,
            "server (a server-run game decides its results)",
            part=f"{where}: results",
            got=results,
        )
    tick_rate = item.get("tick_rate", DEFAULT_TICK_RATE)
    if not _is_int(tick_rate) or not TICK_RATE_MIN <= tick_rate <= TICK_RATE_MAX:
        raise SettingError(
            SETTING,
            f"an integer {TICK_RATE_MIN}..{TICK_RATE_MAX}",
            part=f"{where}: tick_rate",
            got=tick_rate,
        )
    params = item.get("params", {})
    if not isinstance(params, dict) or len(json.dumps(params)) > PARAMS_MAX_BYTES:
        raise SettingError(
            SETTING,
            f"a JSON object of at most {PARAMS_MAX_BYTES} bytes",
            part=f"{where}: params",
            got=params if isinstance(params, dict | list) else str(params),
        )
    create = item.get("create", False)
    if not isinstance(create, bool):
        raise SettingError(SETTING, "true or false", part=f"{where}: create", got=create)
    settable = item.get("create_params", [])
    if not isinstance(settable, list) or not all(isinstance(k, str) for k in settable):
        raise SettingError(
            SETTING, "a list of params keys", part=f"{where}: create_params", got=settable
        )
    return {
        "game": game,
        "tick_rate": tick_rate,
        "params": params,
        "create": create,
        "create_params": tuple(settable),
    }


def _check_boards(name: str, boards: tuple[str, ...], board_ids: Collection[str]) -> None:
    for board in boards:
        if board not in board_ids:
            raise SettingError(
                SETTING,
                f"ids of boards ARENA_BOARDS defines ({', '.join(sorted(board_ids))})",
                part=f"mode {name!r}: boards",
                got=board,
            )


def _check_server_boards(name: str, spec: ModeSpec, server_boards: Collection[str]) -> None:
    """``any`` lets every player of a match write its result, so a mode with it feeding a
    server board would hand that board to the players."""
    guarded = [board for board in spec.boards if board in server_boards]
    if spec.results is Results.ANY and guarded:
        raise SettingError(
            SETTING,
            f"consensus or server while it feeds {guarded[0]!r}, a board whose writers is "
            "server (any would let every player write it)",
            got="any",
            part=f"mode {name!r}: results",
        )


def _check_default_boards(default: ModeSpec, board_ids: Collection[str]) -> None:
    """Unlisted modes feed global and daily unless a "*" entry says otherwise."""
    missing = [board for board in default.boards if board not in board_ids]
    if missing:
        example = json.dumps({DEFAULT_ENTRY: {"boards": sorted(board_ids)[:1]}})
        raise SettingError(
            SETTING,
            f'a JSON object with a "*" entry naming the boards modes not listed feed, '
            f"e.g. {example}",
            reason=f"by default they feed {', '.join(default.boards)}, and ARENA_BOARDS "
            f"does not define {missing[0]!r}",
        )


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)
