"""Logging: one line per event, as text or JSON lines, with the connection and request ids.

``ARENA_LOG_FORMAT=json`` writes each record as one JSON object on one line
(tracebacks included, escaped), for a log shipper; ``text`` (the default) is for
a terminal. Either way each line carries the ids of the socket (``conn``) and
the request (``req``) it happened in, when there is one: they travel in context
variables, set by the transport where a socket opens or a request starts, and
every task started from there inherits them.

What is never logged: tokens, device ids, keys and passwords. The transport logs
paths without query strings (a browser's socket URL carries its token), Redis
URLs are logged without their password, and secrets are hashed before they reach
storage (see sessions). A test plays a whole session and greps the log for them.
"""

from __future__ import annotations

import contextvars
import json
import logging
import re
import sys
import time
from typing import Any, Literal

from aiohttp.http_exceptions import HttpProcessingError

LogFormat = Literal["text", "json"]

conn_id: contextvars.ContextVar[str] = contextvars.ContextVar("conn_id", default="")
request_id: contextvars.ContextVar[str] = contextvars.ContextVar("request_id", default="")

# Fields every record has; anything else passed with ``extra=`` goes into the JSON line.
_STANDARD = set(vars(logging.LogRecord("", 0, "", 0, "", None, None))) | {"message", "asctime"}


class ContextIds(logging.Filter):
    """Puts the current connection and request ids on every record."""

    def filter(self, record: logging.LogRecord) -> bool:
        record.conn = conn_id.get()
        record.req = request_id.get()
        return True


# What could break a text log line or fake one: C0 and C1 controls (a newline, a
# terminal escape), DEL, Unicode's line and paragraph separators, and bidi overrides.
_UNSAFE = re.compile("[\x00-\x1f\x7f-\x9f\u2028\u2029\u202a-\u202e\u2066-\u2069]")


def _escaped(match: re.Match[str]) -> str:
    return match.group().encode("unicode_escape").decode("ascii")


def escape_controls(text: str) -> str:
    """``text`` with every control character written as its Python escape (``\\n``,
    ``\\x1b``, ``\\u2028``): one line whatever a client put in a path, a name or a reason."""
    return _UNSAFE.sub(_escaped, text)


class TextFormatter(logging.Formatter):
    """One line per record: the message, with its arguments filled in, is escaped as a
    whole, so nothing a client sent (a decoded path, an op name, a reason) can end the
    line or forge another. A traceback is the one thing that spans lines."""

    def __init__(self) -> None:
        super().__init__("%(asctime)s %(levelname)s %(name)s: %(message)s%(ids)s")

    def formatMessage(self, record: logging.LogRecord) -> str:
        record.message = escape_controls(record.message)
        return super().formatMessage(record)

    def format(self, record: logging.LogRecord) -> str:
        ids = [
            f"{name}={value}" for name in ("conn", "req") if (value := getattr(record, name, ""))
        ]
        record.ids = f" [{' '.join(ids)}]" if ids else ""
        return super().format(record)


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        line: dict[str, Any] = {
            "ts": time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(record.created))
            + f".{int(record.msecs):03d}Z",
            "level": record.levelname,
            "logger": record.name,
            "msg": record.getMessage(),
        }
        for name in ("conn", "req"):
            if value := getattr(record, name, ""):
                line[name] = value
        for key, value in vars(record).items():
            if key not in _STANDARD and key not in ("conn", "req", "ids"):
                line[key] = value
        if record.exc_info:
            line["exc"] = self.formatException(record.exc_info)
        return json.dumps(line, default=str, ensure_ascii=False)


def configure(level: str, fmt: LogFormat) -> None:
    """The process's one log handler, on stderr: text or JSON lines, ids on each."""
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(JsonFormatter() if fmt == "json" else TextFormatter())
    handler.addFilter(ContextIds())
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level.upper())


class ClientHttpErrors(logging.Filter):
    """aiohttp logs a request it cannot parse (a request line past 8,190 bytes, a broken
    header) at ERROR with a traceback. That is the client's fault, and any client can
    repeat it at will to flood the log: one INFO line each instead, naming the error's
    kind and status but not the bytes the client sent."""

    def filter(self, record: logging.LogRecord) -> bool:
        exc = record.exc_info[1] if record.exc_info else None
        if isinstance(exc, HttpProcessingError):
            record.msg = f"{record.getMessage()}: {type(exc).__name__} {exc.code}"
            record.args = None
            record.exc_info = record.exc_text = None
            record.levelno, record.levelname = logging.INFO, "INFO"
        return True


def quiet_client_http_errors() -> None:
    """Install ``ClientHttpErrors`` on aiohttp's server logger (once per process)."""
    logger = logging.getLogger("aiohttp.server")
    if not any(isinstance(f, ClientHttpErrors) for f in logger.filters):
        logger.addFilter(ClientHttpErrors())
