"""A setting Arena cannot use is refused with one line: which variable, what it takes.

In-process through ``Settings.from_env`` for each kind of mistake, then through real
``python -m server`` (and worker, and node launcher) processes: the exit status and a
stderr of exactly one line, with a Redis password never shown.
"""

from __future__ import annotations

import dataclasses
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from server.embedded_redis import RedisProcess, free_port
from server.setting_errors import SettingError, redacted_url
from server.settings import Settings
from server.settings_checks import refuse

RUN_WITHIN_S = 60.0  # a bound on a process that must exit on its own; never reached

BAD_SETTINGS = [
    # (environment, the variable named, words the line must hold)
    ({"ARENA_PORT": "70000"}, "ARENA_PORT", ["0..65535", "70000"]),
    ({"ARENA_PORT": "eighty"}, "ARENA_PORT", ["whole number", "'eighty'"]),
    ({"ARENA_SESSION_TTL": "0"}, "ARENA_SESSION_TTL", ["above 0"]),
    ({"ARENA_MSG_RATE": "fast"}, "ARENA_MSG_RATE", ["a number", "'fast'"]),
    ({"ARENA_REDIS_POOL": "1"}, "ARENA_REDIS_POOL", ["at least 2"]),
    ({"ARENA_LOG_LEVEL": "LOUD"}, "ARENA_LOG_LEVEL", ["DEBUG, INFO, WARNING, ERROR or CRITICAL"]),
    ({"ARENA_LOG_FORMAT": "xml"}, "ARENA_LOG_FORMAT", ["text or json", "'xml'"]),
    ({"ARENA_METRICS": "2"}, "ARENA_METRICS", ["0 or 1"]),
    ({"ARENA_WORKERS": "-1"}, "ARENA_WORKERS", ["0 or more"]),
    ({"ARENA_REDIS_WAIT_S": "-1"}, "ARENA_REDIS_WAIT_S", ["0 or more"]),
    (
        {"ARENA_PRESENCE_TTL": "1", "ARENA_PRESENCE_INTERVAL": "2"},
        "ARENA_PRESENCE_TTL",
        ["ARENA_PRESENCE_INTERVAL"],
    ),
    ({"ARENA_RATE_LIMITS": "lb.submit=lots"}, "ARENA_RATE_LIMITS", ["action=burst/per_second"]),
    ({"ARENA_RATE_LIMITS": "lb.submit=0/1"}, "ARENA_RATE_LIMITS", ["above 0"]),
    ({"ARENA_CHAT_ROOMS": "Lobby Chat"}, "ARENA_CHAT_ROOMS", ["a-z", "'Lobby Chat'"]),
    ({"ARENA_BOARDS": "@missing.json"}, "ARENA_BOARDS", ["@path", "'@missing.json'"]),
    ({"ARENA_BOARDS": "{"}, "ARENA_BOARDS", ["JSON list", "not JSON"]),
    ({"ARENA_BOARDS": "[]"}, "ARENA_BOARDS", ["JSON list"]),
    ({"ARENA_BOARDS": '[{"id": "Top Ten"}]'}, "ARENA_BOARDS", ["a-z", "'Top Ten'"]),
    ({"ARENA_BOARDS": '[{"id": "a"}, {"id": "a"}]'}, "ARENA_BOARDS", ["different ids"]),
    (
        {"ARENA_BOARDS": '[{"id": "race", "order": "up"}]'},
        "ARENA_BOARDS",
        ["'race'", "order", "desc or asc", "'up'"],
    ),
    (
        {"ARENA_BOARDS": '[{"id": "race", "operator": "max"}]'},
        "ARENA_BOARDS",
        ["operator", "best, latest or incr", "'max'"],
    ),
    (
        {"ARENA_BOARDS": '[{"id": "race", "period": "hourly"}]'},
        "ARENA_BOARDS",
        ["period", "alltime, daily, weekly or monthly", "'hourly'"],
    ),
    (
        {"ARENA_BOARDS": '[{"id": "race", "retention": "lots"}]'},
        "ARENA_BOARDS",
        ["retention", "0..1000"],
    ),
    (
        {"ARENA_BOARDS": '[{"id": "race", "colour": "red"}]'},
        "ARENA_BOARDS",
        ["fields", "'colour'"],
    ),
    ({"ARENA_MODES": "{duel"}, "ARENA_MODES", ["JSON object", "not valid JSON"]),
    ({"ARENA_MODES": "[" * 100_000}, "ARENA_MODES", ["not valid JSON"]),
    ({"ARENA_BOARDS": "[" * 100_000}, "ARENA_BOARDS", ["not JSON"]),
    ({"ARENA_MODES": '["duel"]'}, "ARENA_MODES", ["JSON object of mode name", "['duel']"]),
    ({"ARENA_MODES": "@missing.json"}, "ARENA_MODES", ["@path", "'@missing.json'"]),
    ({"ARENA_MODES": '{"Duel Mode": {}}'}, "ARENA_MODES", ["mode names", "'Duel Mode'"]),
    ({"ARENA_MODES": '{"duel": 2}'}, "ARENA_MODES", ["mode 'duel'", "JSON object", "got 2"]),
    (
        {"ARENA_MODES": '{"duel": {"seats": 2}}'},
        "ARENA_MODES",
        ["mode 'duel': fields", "capacity", "'seats'"],
    ),
    (
        {"ARENA_MODES": '{"duel": {"capacity": 65}}'},
        "ARENA_MODES",
        ["mode 'duel': capacity", "2..64", "65"],
    ),
    (
        {"ARENA_MODES": '{"duel": {"start_when_full": "yes"}}'},
        "ARENA_MODES",
        ["start_when_full", "true or false", "'yes'"],
    ),
    (
        {"ARENA_MODES": '{"duel": {"results": "majority"}}'},
        "ARENA_MODES",
        ["results", "consensus, server or any", "'majority'"],
    ),
    (
        {"ARENA_MODES": '{"duel": {"result_wait_s": 0}}'},
        "ARENA_MODES",
        ["result_wait_s", "above 0, at most 3600", "got 0"],
    ),
    ({"ARENA_MODES": '{"duel": {"boards": "global"}}'}, "ARENA_MODES", ["list of board ids"]),
    (
        {"ARENA_MODES": '{"duel": {"boards": ["global", "global"]}}'},
        "ARENA_MODES",
        ["each once"],
    ),
    (
        {"ARENA_MODES": '{"duel": {"boards": ["weekly"]}}'},
        "ARENA_MODES",
        ["boards ARENA_BOARDS defines (daily, global)", "'weekly'"],
    ),
    ({"ARENA_BOARDS": '[{"id": "total"}]'}, "ARENA_MODES", ['a "*" entry', "'global'"]),
    ({"ARENA_ADMIN_KEY": "hunter2"}, "ARENA_ADMIN_KEY", ["at least 32 characters"]),
    ({"ARENA_SERVER_KEY": "hunter2"}, "ARENA_SERVER_KEY", ["at least 32 characters"]),
    (
        {"ARENA_ADMIN_KEY": "hunter2" * 5, "ARENA_SERVER_KEY": "hunter2" * 5},
        "ARENA_ADMIN_KEY",
        ["different from ARENA_SERVER_KEY"],
    ),
    ({"ARENA_METRICS_PORT": "70000"}, "ARENA_METRICS_PORT", ["0..65535", "70000"]),
    ({"ARENA_METRICS_PORT": "8080"}, "ARENA_METRICS_PORT", ["different from ARENA_PORT"]),
    ({"ARENA_METRICS_PORT": "x"}, "ARENA_METRICS_PORT", ["whole number", "'x'"]),
    ({"ARENA_MAX_SOCKETS_PER_IP": "0"}, "ARENA_MAX_SOCKETS_PER_IP", ["above 0"]),
    ({"ARENA_MAX_SOCKETS_PER_IP": "many"}, "ARENA_MAX_SOCKETS_PER_IP", ["whole number"]),
    ({"ARENA_HEADER_TIMEOUT": "0"}, "ARENA_HEADER_TIMEOUT", ["above 0"]),
    ({"ARENA_HEADER_TIMEOUT": "inf"}, "ARENA_HEADER_TIMEOUT", ["a number", "'inf'"]),
    ({"ARENA_GUEST_TTL_DAYS": "0"}, "ARENA_GUEST_TTL_DAYS", ["whole number of days"]),
    ({"ARENA_GUEST_TTL_DAYS": "1.5"}, "ARENA_GUEST_TTL_DAYS", ["whole number", "'1.5'"]),
    ({"ARENA_MATCH_ABANDON_S": "0"}, "ARENA_MATCH_ABANDON_S", ["above 0"]),
    ({"ARENA_MATCH_ABANDON_S": "nan"}, "ARENA_MATCH_ABANDON_S", ["a number", "'nan'"]),
    ({"ARENA_REDIS_WAIT_S": "nan"}, "ARENA_REDIS_WAIT_S", ["a number", "'nan'"]),
    ({"REDIS_URL": "127.0.0.1:6379"}, "REDIS_URL", ["redis://", "'127.0.0.1:6379'"]),
    ({"REDIS_URL": "http://:hunter2@db:6379/0"}, "REDIS_URL", ["rediss://", "***"]),
    ({"REDIS_URL": "redis://:hunter2@db:port/0"}, "REDIS_URL", ["***", "port"]),
]


@pytest.mark.parametrize(("env", "variable", "words"), BAD_SETTINGS)
def test_each_bad_setting_is_one_line_naming_its_variable(
    env: dict[str, str], variable: str, words: list[str]
) -> None:
    with pytest.raises(SettingError) as caught:
        Settings.from_env(env)
    message = str(caught.value)
    assert message.startswith(variable), message
    assert caught.value.env == variable
    assert "\n" not in message
    for word in words:
        assert word in message, message
    assert "hunter2" not in message


def test_a_redis_url_shows_no_password() -> None:
    assert redacted_url("redis://:s3cret@127.0.0.1:6399/0") == "redis://:***@127.0.0.1:6399/0"
    assert redacted_url("rediss://arena:s3cret@db:6380/1") == "rediss://arena:***@db:6380/1"
    assert redacted_url("redis://127.0.0.1:6379/0") == "redis://127.0.0.1:6379/0"


def _run(module: str, env: dict[str, str], tmp_path: Path, *args: str) -> tuple[int, list[str]]:
    """Run ``python -m module`` to its end; its exit status and its stderr's lines."""
    full_env = {**os.environ, "ARENA_DATA_DIR": str(tmp_path / "var"), "ARENA_PORT": "0"}
    full_env.pop("REDIS_URL", None)
    full_env.update(env)
    done = subprocess.run(
        [sys.executable, "-m", module, *args],
        env=full_env,
        capture_output=True,
        text=True,
        timeout=RUN_WITHIN_S,
        check=False,
    )
    return done.returncode, done.stderr.splitlines()


def test_a_missing_boards_file_stops_the_server_with_one_line(tmp_path: Path) -> None:
    status, lines = _run("server", {"ARENA_BOARDS": "@missing.json"}, tmp_path)
    assert status == 2
    assert len(lines) == 1, lines
    assert lines[0].startswith("python -m server: ARENA_BOARDS must be"), lines
    assert "'@missing.json'" in lines[0]


def test_a_redis_url_without_a_scheme_stops_the_server_with_one_line(tmp_path: Path) -> None:
    status, lines = _run("server", {"REDIS_URL": "127.0.0.1:6379"}, tmp_path)
    assert status == 2
    assert len(lines) == 1, lines
    assert lines[0].startswith("python -m server: REDIS_URL must be"), lines
    assert "'127.0.0.1:6379'" in lines[0]


def nowhere() -> str:
    """A Redis URL with a password, on a port nothing listens on."""
    return f"redis://:hunter2@127.0.0.1:{free_port()}/0"


@pytest.mark.parametrize(
    ("module", "args"),
    [("server", ()), ("server.worker", ()), ("server.nodes", ("--nodes", "2"))],
)
def test_a_redis_that_never_answers_stops_the_process_with_one_line(
    tmp_path: Path, module: str, args: tuple[str, ...]
) -> None:
    url = nowhere()
    env = {"REDIS_URL": url, "ARENA_REDIS_WAIT_S": "1", "ARENA_PORT": str(free_port())}
    status, lines = _run(module, env, tmp_path, *args)
    assert status == 1
    assert len(lines) == 1, lines
    assert redacted_url(url) in lines[0]
    assert "did not answer within 1 s" in lines[0]
    assert "(last error: cannot reach Redis at 127.0.0.1:" in lines[0]  # why, not just "no"
    assert "hunter2" not in lines[0]


@pytest.fixture(scope="module")
def redis_with_password(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RedisProcess]:
    extra = ["--requirepass", "right-password"]
    with RedisProcess(tmp_path_factory.mktemp("redis"), appendonly=False, extra_args=extra) as r:
        yield r


@pytest.mark.parametrize(
    ("credentials", "database", "said"),
    [
        (":hunter2@", 0, "WRONGPASS"),  # a wrong password
        ("", 0, "NOAUTH"),  # none, where one is needed
        ("arena:hunter2@", 0, "WRONGPASS"),  # a user that does not exist
        (":right-password@", 99, "DB index is out of range"),
    ],
)
@pytest.mark.parametrize("module", ["server", "server.worker"])
def test_a_redis_that_refuses_the_url_stops_the_process_at_once_saying_why(
    tmp_path: Path,
    redis_with_password: RedisProcess,
    module: str,
    credentials: str,
    database: int,
    said: str,
) -> None:
    """Waiting will not cure a wrong password or a database Redis does not have: the
    process stops at once (with a wait far past the run's bound) with Redis's reason."""
    url = f"redis://{credentials}127.0.0.1:{redis_with_password.port}/{database}"
    env = {"REDIS_URL": url, "ARENA_REDIS_WAIT_S": "600", "ARENA_PORT": str(free_port())}
    status, lines = _run(module, env, tmp_path)
    assert status == 1
    assert len(lines) == 1, lines
    assert redacted_url(url) in lines[0]
    assert said in lines[0]
    assert "check the password, user and database number in REDIS_URL" in lines[0]
    assert "hunter2" not in lines[0]
    assert "right-password" not in lines[0]


def test_a_host_that_is_not_this_machines_stops_the_server_with_a_line_saying_so(
    tmp_path: Path, redis_server: RedisProcess
) -> None:
    env = {"REDIS_URL": redis_server.url, "ARENA_HOST": "nohost.invalid"}
    status, lines = _run("server", env, tmp_path)
    assert status == 1
    assert "Traceback (most recent call last):" not in lines
    assert lines[-1].startswith("arena: cannot listen on nohost.invalid:"), lines
    assert lines[-1].endswith("check ARENA_HOST and ARENA_PORT")


def test_a_secret_setting_is_refused_without_its_value() -> None:
    """The helper other checks use: a key's value never reaches the line."""
    settings = dataclasses.replace(Settings.from_env({}), admin_key="hunter2")
    error = refuse(settings, "admin_key", "at least 32 characters", secret=True)
    assert str(error) == "ARENA_ADMIN_KEY must be at least 32 characters"
    assert str(refuse(settings, "port", "0..65535")) == "ARENA_PORT must be 0..65535, got 8080"
