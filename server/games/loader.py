"""Finds the game a mode names: ``"package.module:Class"`` -> an instance of the class.

Run at start-up for every mode with a ``game``, so a typo stops the server with one
line (``SettingError``, the way ``server/modes.py`` reports a bad mode) instead of
failing the first match::

    ARENA_MODES: mode 'ttt': game must be package.module:Class naming a game class,
    got 'server.games.tictactoe:TicTacToo' (module server.games.tictactoe has no
    TicTacToo)
"""

from __future__ import annotations

import importlib
import re
import traceback
from typing import Any

from server.games.api import CALLBACKS, Game
from server.modes import ModeBook
from server.setting_errors import SettingError

GAME_FORM = "package.module:Class naming a game class"
_SPEC = re.compile(r"^[A-Za-z_]\w*(\.[A-Za-z_]\w*)*:[A-Za-z_]\w*$")


def load_game(spec: object, *, setting: str = "ARENA_MODES", part: str = "game") -> Game[Any]:
    """An instance of the game class ``spec`` names (constructed with no arguments).

    Raises SettingError naming ``setting`` and ``part`` (e.g. ``mode 'ttt': game``)
    when the text is not of that form, the module cannot be imported, it has no such
    class, the class lacks a callback, or constructing it raises.
    """

    def refuse(reason: str = "") -> SettingError:
        return SettingError(setting, GAME_FORM, part=part, got=spec, reason=reason)

    if not isinstance(spec, str) or not _SPEC.match(spec):
        raise refuse()
    module_name, _, class_name = spec.partition(":")
    try:
        module = importlib.import_module(module_name)
    except ImportError as exc:
        raise refuse(f"cannot import {module_name}: {exc}") from None
    except Exception as exc:  # the module itself raised while loading
        raise refuse(f"importing {module_name} raised {_last_line(exc)}") from None
    cls = getattr(module, class_name, None)
    if cls is None:
        raise refuse(f"module {module_name} has no {class_name}")
    if not isinstance(cls, type):
        raise refuse(f"{class_name} is not a class")
    missing = [name for name in CALLBACKS if not callable(getattr(cls, name, None))]
    if missing:
        raise refuse(f"{class_name} has no {', '.join(missing)}")
    try:
        game: Game[Any] = cls()
    except Exception as exc:
        raise refuse(f"{class_name}() raised {_last_line(exc)}") from None
    return game


def _last_line(exc: BaseException) -> str:
    return traceback.format_exception_only(exc)[-1].strip()


def load_games(modes: ModeBook) -> dict[str, Game[Any]]:
    """Every game the modes name, by class path, loaded once each; SettingError (one line
    naming the mode) for the first that cannot be."""
    games: dict[str, Game[Any]] = {}
    for name, spec in sorted(modes.modes.items()):
        if spec.game is not None and spec.game not in games:
            games[spec.game] = load_game(spec.game, part=f"mode {name!r}: game")
    if modes.default.game is not None and modes.default.game not in games:
        games[modes.default.game] = load_game(modes.default.game, part="mode '*': game")
    return games
