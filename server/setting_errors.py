"""How Arena says a setting cannot be used: one line, naming the setting and what it takes.

Every check of a setting raises ``SettingError(env, accepts, got=...)``, so a newcomer
reads, on one line, which environment variable to fix and what to put there::

    ARENA_PORT must be 0..65535, got 70000
    ARENA_BOARDS: board 'daily': order must be desc or asc, got 'up'

``python -m server`` (and the worker and node launcher) print that line alone on stderr
and exit with status 2. Secrets never reach the line: ``redacted_url`` hides a Redis URL's
password.
"""

from __future__ import annotations

import argparse
from collections.abc import Iterable
from typing import NoReturn
from urllib.parse import urlsplit, urlunsplit

EXIT_BAD_SETTING = 2
_SHOWN_MAX = 80  # characters of a bad value shown back; enough to recognise it


class _Nothing:
    """``got`` not given (None is a value a setting may have)."""


_NOTHING = _Nothing()


class SettingError(ValueError):
    """A setting's value Arena cannot use. ``str()`` is the whole message, one line."""

    def __init__(
        self,
        env: str,
        accepts: str,
        *,
        got: object = _NOTHING,
        part: str = "",
        reason: str = "",
    ) -> None:
        self.env = env
        subject = f"{env}: {part}" if part else env
        message = f"{subject} must be {accepts}"
        if not isinstance(got, _Nothing):
            message += f", got {shown(got)}"
        if reason:
            message += f" ({reason})"
        super().__init__(one_line(message))


def one_of(values: Iterable[object]) -> str:
    """``a, b or c``: the values an enumerated setting takes."""
    names = [str(v) for v in values]
    return names[0] if len(names) == 1 else f"{', '.join(names[:-1])} or {names[-1]}"


def shown(value: object) -> str:
    """A bad value as the message shows it: quoted when text, cut when long."""
    text = repr(value)
    return text if len(text) <= _SHOWN_MAX else text[: _SHOWN_MAX - 3] + "..."


def one_line(text: str) -> str:
    return " ".join(text.split())


def redacted_url(url: str) -> str:
    """``url`` with its password (if any) replaced by ``***``: safe for logs and errors."""
    try:
        parts = urlsplit(url)
    except ValueError:
        return "(a URL that cannot be read)"
    if parts.password is None:
        return url
    user = parts.username or ""
    host = parts.netloc.rpartition("@")[2]
    return urlunsplit(parts._replace(netloc=f"{user}:***@{host}"))


def secret_in(text: str, url: str) -> bool:
    """Whether ``text`` quotes ``url``'s password (or cannot be told not to)."""
    try:
        password = urlsplit(url).password
    except ValueError:
        return True
    return password is not None and password != "" and (password in text or url in text)


class OneLineParser(argparse.ArgumentParser):
    """Flag errors as one line on stderr (``prog: message``), exit status 2: the usage
    block would push the one line that matters out of sight; ``--help`` shows it."""

    def error(self, message: str) -> NoReturn:
        self.exit(EXIT_BAD_SETTING, f"{self.prog}: {message}\n")
