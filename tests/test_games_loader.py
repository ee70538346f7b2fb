"""A mode names its game as ``package.module:Class``; a name Arena cannot load stops
start-up with one line saying which setting, which mode, and why."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

from server.games.loader import load_game
from server.games.tictactoe import TicTacToe
from server.setting_errors import SettingError

BROKEN = """
class NoTick:
    def init(self, ctx, params): return {}

class Grumpy:
    def __init__(self): raise RuntimeError("no\\nthanks")
    def init(self, ctx, params): return {}
    def tick(self, ctx, state, inputs): return state
    def join_attempt(self, ctx, state, player, meta): return None
    def join(self, ctx, state, players): pass
    def leave(self, ctx, state, players, reason): pass
    def terminate(self, ctx, state): pass
    def snapshot(self, state): return b""
    def restore(self, blob): return {}

not_a_class = 3
"""


def test_a_named_game_loads_as_an_instance() -> None:
    assert isinstance(load_game("server.games.tictactoe:TicTacToe"), TicTacToe)


@pytest.mark.parametrize(
    ("spec", "words"),
    [
        ("server.games.tictactoe", ["package.module:Class", "'server.games.tictactoe'"]),
        (42, ["got 42"]),
        ("no_such_pkg.mod:Game", ["cannot import no_such_pkg.mod"]),
        ("server.games.tictactoe:TicTacToo", ["has no TicTacToo"]),
        ("arena_test_games:not_a_class", ["not_a_class is not a class"]),
        ("arena_test_games:NoTick", ["NoTick has no", "tick", "restore"]),
        ("arena_test_games:Grumpy", ["Grumpy() raised RuntimeError: no thanks"]),
        ("arena_test_games_raising:Game", ["importing arena_test_games_raising raised"]),
    ],
)
def test_a_game_that_cannot_be_loaded_is_refused_in_one_line(
    spec: object, words: list[str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / "arena_test_games.py").write_text(BROKEN)
    (tmp_path / "arena_test_games_raising.py").write_text("1 / 0\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    for name in ("arena_test_games", "arena_test_games_raising"):
        monkeypatch.delitem(sys.modules, name, raising=False)
    with pytest.raises(SettingError) as caught:
        load_game(spec, part="mode 'ttt': game")
    line = str(caught.value)
    assert "\n" not in line
    assert line.startswith("ARENA_MODES: mode 'ttt': game must be package.module:Class")
    for word in words:
        assert word in line
