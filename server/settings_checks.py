"""The checks a Settings passes at start, each refusing a value with one SettingError line.

Kept apart from the field list (settings.py) so that reading what Arena can be set to
is not interleaved with how each value is checked; the Redis URL is checked with the
same parser the storage clients connect with (redis_urls.py).
"""

from __future__ import annotations

import dataclasses
from typing import Any, ClassVar, Protocol

from server.redis_urls import SCHEMES, Endpoint, cluster_seeds, is_cluster
from server.setting_errors import SettingError, one_of, redacted_url, secret_in


class Checked(Protocol):
    """What the checks read of a ``Settings`` (settings.py, which imports this module:
    naming the fields here keeps the import one-way)."""

    __dataclass_fields__: ClassVar[dict[str, Any]]

    @property
    def guest_ttl_days(self) -> int: ...

    @property
    def presence_ttl_s(self) -> float: ...

    @property
    def presence_interval_s(self) -> float: ...

    @property
    def lobby_grace_s(self) -> float: ...

    @property
    def party_grace_s(self) -> float: ...

    @property
    def redis_wait_s(self) -> float: ...

    @property
    def log_format(self) -> str: ...

    @property
    def log_level(self) -> str: ...

    @property
    def metrics(self) -> int: ...

    @property
    def redis_pool_size(self) -> int: ...

    @property
    def workers(self) -> int: ...

    @property
    def port(self) -> int: ...

    @property
    def metrics_port(self) -> int: ...

    @property
    def redis_url(self) -> str: ...

    @property
    def admin_key(self) -> str: ...

    @property
    def server_key(self) -> str: ...

    def rate_limit_table(self) -> object: ...

    def mode_book(self) -> object: ...

    def public_rooms(self) -> object: ...


LOG_LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL")
KEY_MIN_LENGTH = 32  # admin and server keys: long enough that guessing is hopeless
POSITIVE = (
    "session_ttl_s",
    "session_touch_interval_s",
    "presence_interval_s",
    "presence_ttl_s",
    "max_frame_bytes",
    "outbox_bytes",
    "msg_rate_burst",
    "msg_rate_per_s",
    "redis_pool_size",
    "redis_timeout_s",
    "lb_cache_ttl_s",
    "profile_cache_ttl_s",
    "heartbeat_s",
    "shutdown_grace_s",
    "match_feed_max",
    "match_abandon_s",
    "job_timeout_s",
    "job_tries",
    "max_sockets_per_ip",
    "header_timeout_s",
    "host_lease_s",
    "host_sweep_s",
    "host_snapshot_s",
    "mm_pass_s",
    "gc_full_every",
)


def validate(settings: Checked) -> None:
    """Every check, in order; the first value that cannot be used raises SettingError."""
    for name in POSITIVE:
        if getattr(settings, name) <= 0:
            raise refuse(settings, name, "above 0")
    if settings.guest_ttl_days < 1:
        raise refuse(settings, "guest_ttl_days", "a whole number of days, 1 or more")
    if settings.presence_ttl_s <= settings.presence_interval_s:
        raise refuse(
            settings,
            "presence_ttl_s",
            f"longer than ARENA_PRESENCE_INTERVAL ({settings.presence_interval_s})",
        )
    if settings.lobby_grace_s <= 0:
        raise refuse(settings, "lobby_grace_s", "above 0")
    if settings.party_grace_s <= 0:
        raise refuse(settings, "party_grace_s", "above 0")
    if settings.redis_wait_s < 0:
        raise refuse(settings, "redis_wait_s", "0 or more")
    if settings.log_format not in ("text", "json"):
        raise refuse(settings, "log_format", "text or json")
    if settings.metrics not in (0, 1):
        raise refuse(settings, "metrics", "0 or 1")
    if settings.redis_pool_size < max(2, settings.workers):
        raise refuse(
            settings,
            "redis_pool_size",
            "at least 2 and ARENA_WORKERS (each worker holds one connection)",
        )
    if settings.log_level.upper() not in LOG_LEVELS:
        raise refuse(settings, "log_level", one_of(LOG_LEVELS))
    if not 0 <= settings.port <= 65535:
        raise refuse(settings, "port", "0..65535")
    if settings.workers < 0:
        raise refuse(settings, "workers", "0 or more")
    if not 0 <= settings.metrics_port <= 65535:
        raise refuse(settings, "metrics_port", "0..65535")
    if settings.metrics_port and settings.metrics_port == settings.port:
        raise refuse(settings, "metrics_port", "different from ARENA_PORT (or 0)")
    check_redis_url(settings.redis_url)
    check_keys(settings.admin_key, settings.server_key)
    settings.rate_limit_table()
    settings.mode_book()
    settings.public_rooms()


def refuse(settings: Checked, name: str, accepts: str, *, secret: bool = False) -> SettingError:
    """The error for field ``name``'s current value: its env var, what it accepts, and
    the value (not for a ``secret``: a key must not reach a log)."""
    if secret:
        return SettingError(env_of(settings, name), accepts)
    return SettingError(env_of(settings, name), accepts, got=getattr(settings, name))


def env_of(settings: Checked, name: str) -> str:
    """The environment variable of the setting ``name`` (a Settings field)."""
    for f in dataclasses.fields(settings):
        if f.name == name:
            env: str = f.metadata["env"]
            return env
    raise KeyError(name)


def check_redis_url(redis_url: str) -> None:
    """A URL Arena can open (a scheme it speaks, a port that is a number), or one line
    saying what it takes; the password never reaches the message."""
    if not redis_url:
        return
    accepts = (
        "empty (a private Redis) or a URL like redis://[:password@]host:port[/db], "
        f"with scheme {one_of(s + '://' for s in SCHEMES)}"
    )
    shown = redacted_url(redis_url)
    scheme, sep, _ = redis_url.partition("://")
    if not sep or scheme not in SCHEMES:
        raise SettingError("REDIS_URL", accepts, got=shown)
    try:
        if is_cluster(redis_url):
            cluster_seeds(redis_url)
        else:
            Endpoint.from_url(redis_url)
    except ValueError as exc:
        # The parser's own words, unless they quote the password.
        reason = "" if secret_in(str(exc), redis_url) else str(exc)
        raise SettingError("REDIS_URL", accepts, got=shown, reason=reason) from None


def check_keys(admin_key: str, server_key: str) -> None:
    """Keys are checked at start: a short one could be guessed, and one key serving
    both routes would make every game server an operator."""
    for env, key in (
        ("ARENA_ADMIN_KEY", admin_key),
        ("ARENA_SERVER_KEY", server_key),
    ):
        if key and len(key) < KEY_MIN_LENGTH:
            raise SettingError(
                env,
                f"at least {KEY_MIN_LENGTH} characters; make one with "
                "python -c 'import secrets; print(secrets.token_urlsafe(32))'",
            )
    if admin_key and admin_key == server_key:
        raise SettingError("ARENA_ADMIN_KEY", "different from ARENA_SERVER_KEY")
