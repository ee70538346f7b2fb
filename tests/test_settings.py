"""Settings come from the environment, flags override them, and bad values are refused."""

from __future__ import annotations

import pytest

from server.settings import Settings
from server.settings_table import settings_table


def test_defaults_match_the_documented_ones() -> None:
    settings = Settings.from_env({})
    assert (settings.host, settings.port) == ("127.0.0.1", 8080)
    assert settings.session_ttl_s == 3600
    assert settings.max_frame_bytes == 64 * 1024
    assert (settings.msg_rate_burst, settings.msg_rate_per_s) == (200, 100.0)
    assert settings.redis_url == ""


def test_environment_then_flags() -> None:
    env = {"ARENA_PORT": "9000", "REDIS_URL": "redis://example:1/0", "ARENA_SESSION_TTL": "60"}
    assert Settings.from_env(env).port == 9000
    settings = Settings.from_args(["--port", "9100", "--msg-rate-per-s", "5.5"], env)
    assert settings.port == 9100
    assert settings.msg_rate_per_s == 5.5
    assert settings.redis_url == "redis://example:1/0"
    assert settings.session_ttl_s == 60


def test_a_removed_setting_left_in_the_environment_is_ignored() -> None:
    # docs/operations.md's upgrade notes promise this for each setting taken out.
    removed = {"ARENA_LOBBY_LOCKS": "0", "ARENA_LOBBY_CAPACITY": "4", "ARENA_RESULT_BOARDS": "*"}
    assert Settings.from_env(removed) == Settings.from_env({})


def test_bad_values_are_refused_with_the_variable_named() -> None:
    with pytest.raises(ValueError, match="ARENA_PORT"):
        Settings.from_env({"ARENA_PORT": "eighty"})
    with pytest.raises(ValueError, match="ARENA_SESSION_TTL"):
        Settings.from_env({"ARENA_SESSION_TTL": "0"})
    with pytest.raises(ValueError, match="ARENA_REDIS_POOL"):
        Settings.from_env({"ARENA_REDIS_POOL": "1"})
    with pytest.raises(ValueError, match="ARENA_LOG_LEVEL"):
        Settings.from_env({"ARENA_LOG_LEVEL": "LOUD"})
    with pytest.raises(ValueError, match="ARENA_RATE_LIMITS"):
        Settings.from_env({"ARENA_RATE_LIMITS": "lb.submit=lots"})
    with pytest.raises(ValueError, match="ARENA_PRESENCE_TTL"):
        Settings.from_env({"ARENA_PRESENCE_TTL": "1", "ARENA_PRESENCE_INTERVAL": "2"})


def test_bad_flags_exit_with_a_usage_error(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as stopped:
        Settings.from_args(["--port", "-5"], {})
    assert stopped.value.code == 2
    assert capsys.readouterr().err == "python -m server: ARENA_PORT must be 0..65535, got -5\n"


def test_help_explains_every_setting(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit):
        Settings.from_args(["--help"], {})
    out = capsys.readouterr().out
    for env in ("REDIS_URL", "ARENA_PORT", "ARENA_SESSION_TTL", "ARENA_MAX_FRAME_BYTES"):
        assert env in out
    assert "ARENA_PORT" in settings_table()


def test_match_and_chat_settings() -> None:
    settings = Settings.from_env({})
    assert settings.mode_book().spec_for("anything").boards == ("global", "daily")
    assert settings.public_rooms() == frozenset({"general"})
    custom = Settings.from_env(
        {
            "ARENA_MODES": '{"*": {"boards": ["global"]}, "duel": {"boards": ["daily"]}}',
            "ARENA_CHAT_ROOMS": "general, trade",
        }
    )
    assert custom.mode_book().spec_for("ffa").boards == ("global",)
    assert custom.mode_book().spec_for("duel").boards == ("daily",)
    assert custom.public_rooms() == frozenset({"general", "trade"})
    with pytest.raises(ValueError, match=r"ARENA_MODES.*'weekly'"):
        Settings.from_env({"ARENA_MODES": '{"*": {"boards": ["weekly"]}}'})
    with pytest.raises(ValueError, match="ARENA_CHAT_ROOMS"):
        Settings.from_env({"ARENA_CHAT_ROOMS": "Lobby Chat"})
    with pytest.raises(ValueError, match="ARENA_JOB_TRIES"):
        Settings.from_env({"ARENA_JOB_TRIES": "0"})
    with pytest.raises(ValueError, match="ARENA_WORKERS"):
        Settings.from_env({"ARENA_WORKERS": "-1"})
