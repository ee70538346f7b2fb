"""The contract test: every reply and push a test's socket receives is checked against the
published AsyncAPI document, so the document cannot drift from what the server sends.

``install`` taps aiohttp's client WebSocket (every socket the suite opens, through the
Python client or raw): what a test sends is read for its ``op`` and ``rid``; what it
receives is decoded and validated, with every object closed to fields the document does not
name (``closed``). A success reply is checked against its op's result, a failure against the
failure envelope, a push against its event; a request that succeeded is checked against its
op's request schema too (the schema must not refuse what the server takes). Violations are
kept until ``take_violations``: tests/conftest.py fails the test that received them.

HTTP replies that a test reads with ``response.json()`` are checked likewise against the
OpenAPI document (tests/contract_http.py).

``ARENA_CONTRACT=off`` turns the tap off (to see a failure without it);
``ARENA_CONTRACT_ONLY=lobby.,match.`` checks only names with those prefixes.
"""

from __future__ import annotations

import json
import os
import weakref
from collections import deque
from collections.abc import Callable
from typing import Any

import aiohttp
import fastjsonschema
import msgpack

from server.schema.asyncapi import FAILURE, asyncapi_document, request_name, result_name
from server.schema.build import closed
from tests.contract_http import check_http

Validator = Callable[[Any], Any]


class SocketContract:
    """Validators for every message of the document, compiled when first needed."""

    def __init__(self, document: dict[str, Any], only: tuple[str, ...] = ()) -> None:
        self._messages = document["components"]["messages"]
        self._closed_shapes = closed(document["components"]["schemas"])
        self._open_shapes = document["components"]["schemas"]
        self._validators: dict[tuple[str, bool], Validator] = {}
        # Per socket, per rid, the requests not yet answered, oldest first: a client may
        # reuse a rid, and replies come back in request order.
        self._asked: weakref.WeakKeyDictionary[Any, dict[Any, deque[dict[str, Any]]]] = (
            weakref.WeakKeyDictionary()
        )
        self._only = only
        # The codes each op may fail with: its own and those any op may.
        self._any_op = set(document["x-any-op-error-codes"])
        self._codes = {
            name: self._any_op | set(operation["x-error-codes"])
            for name, operation in document["operations"].items()
            if operation["action"] == "send"
        }
        self.violations: list[str] = []
        self.checked = 0

    def sent(self, socket: Any, data: str | bytes) -> None:
        message = _decoded(data)
        if isinstance(message, dict) and isinstance(message.get("op"), str) and "rid" in message:
            rid = message["rid"]
            if isinstance(rid, int | str) and not isinstance(rid, bool):
                self._asked.setdefault(socket, {}).setdefault(rid, deque()).append(message)

    def received(self, socket: Any, data: str | bytes) -> None:
        message = _decoded(data)
        if not isinstance(message, dict):
            self._violation("frame", f"not a map: {message!r:.200}")
            return
        if "ev" in message:
            self._check(str(message["ev"]), str(message["ev"]), message, strict=True)
            return
        asked = self._asked.get(socket, {})
        rid = message.get("rid")
        waiting = asked.get(rid) if isinstance(rid, int | str) else None
        request = waiting.popleft() if waiting else None
        if waiting is not None and not waiting:
            del asked[rid]
        name = str(request["op"]) if request is not None else "?"
        if message.get("ok") is False:
            if self._check(name, FAILURE, message, strict=True) and request is not None:
                self._check_code(name, message["error"]["code"])
        elif message.get("ok") is True and request is not None:
            if self._check(name, result_name(name), message, strict=True):
                self._check(name, request_name(name), request, strict=False)
        elif not self._only:
            self._violation(name, f"neither a push nor a reply to a request: {message!r:.300}")

    def _check(
        self, name: str, message_name: str, message: dict[str, Any], *, strict: bool
    ) -> bool:
        if self._only and not name.startswith(self._only):
            return True
        validator = self._validator(message_name, strict)
        if validator is None:
            self._violation(name, f"the document has no message {message_name!r}")
            return False
        self.checked += 1
        try:
            validator(message)
        except fastjsonschema.JsonSchemaException as exc:
            self._violation(name, f"{message_name}: {exc}: {message!r:.400}")
            return False
        return True

    def _check_code(self, name: str, code: str) -> None:
        if self._only and not name.startswith(self._only):
            return
        # An op the document does not name may only be refused as one.
        if code not in self._codes.get(name, self._any_op | {"UNKNOWN_OP"}):
            self._violation(name, f"answered {code}, which its x-error-codes do not list")

    def _validator(self, message_name: str, strict: bool) -> Validator | None:
        key = (message_name, strict)
        if key not in self._validators:
            described = self._messages.get(message_name)
            if described is None:
                return None
            payload = described["payload"]
            shapes = self._closed_shapes if strict else self._open_shapes
            root = {**(closed(payload) if strict else payload), "components": {"schemas": shapes}}
            self._validators[key] = fastjsonschema.compile(root)
        return self._validators[key]

    def _violation(self, name: str, what: str) -> None:
        self.violations.append(f"{name}: {what}")

    def http(self, method: str, url: str, status: int, body: Any) -> None:
        """An HTTP reply's JSON body, checked against the OpenAPI document."""
        if self._only and not url.startswith(self._only):
            return
        self.checked += 1
        self.violations.extend(check_http(method, url, status, body))

    def take_violations(self) -> list[str]:
        found, self.violations = self.violations, []
        return found


def _decoded(data: str | bytes) -> Any:
    try:
        if isinstance(data, str):
            return json.loads(data)
        return msgpack.unpackb(data, raw=False, strict_map_key=False)
    except (ValueError, RecursionError):  # a test's hostile frame: not this check's business
        return None


def install() -> SocketContract | None:
    """Tap every aiohttp client WebSocket of this process; None when ARENA_CONTRACT=off."""
    if os.environ.get("ARENA_CONTRACT", "enforce") == "off":
        return None
    only = tuple(p for p in os.environ.get("ARENA_CONTRACT_ONLY", "").split(",") if p)
    contract = SocketContract(asyncapi_document("contract"), only)
    socket_class = aiohttp.ClientWebSocketResponse
    send_str, send_bytes, receive = (
        socket_class.send_str,
        socket_class.send_bytes,
        socket_class.receive,
    )

    async def tapped_send_str(self: Any, data: str, compress: int | None = None) -> None:
        contract.sent(self, data)
        await send_str(self, data, compress)

    async def tapped_send_bytes(self: Any, data: bytes, compress: int | None = None) -> None:
        contract.sent(self, data)
        await send_bytes(self, data, compress)

    async def tapped_receive(self: Any, timeout: float | None = None) -> Any:
        msg = await receive(self, timeout)
        if msg.type in (aiohttp.WSMsgType.TEXT, aiohttp.WSMsgType.BINARY):
            contract.received(self, msg.data)
        return msg

    response_class = aiohttp.ClientResponse
    read_json = response_class.json

    async def tapped_json(self: aiohttp.ClientResponse, *args: Any, **kwargs: Any) -> Any:
        body = await read_json(self, *args, **kwargs)
        contract.http(self.method, self.url.path, self.status, body)
        return body

    response_class.json = tapped_json  # type: ignore[method-assign]
    socket_class.send_str = tapped_send_str  # type: ignore[method-assign]
    socket_class.send_bytes = tapped_send_bytes  # type: ignore[method-assign]
    socket_class.receive = tapped_receive  # type: ignore[method-assign]
    return contract
