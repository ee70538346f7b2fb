"""The request schemas are the handlers' own rules: for every op and every field the published
document constrains, a request that breaks only that constraint (a wrong type, one character or
one unit past a bound, a value outside an enum, a required field left out) gets BAD_REQUEST
from a real server. With the contract test (success replies must fit the request schema), a
schema can be neither looser nor stricter than the server at its bounds."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import aiohttp

from server.rate_limits import DEFAULT_RATE_LIMITS
from server.schema import op_specs, shapes
from server.schema.build import SHAPES_PATH
from tests.conftest import StartArena
from tests.helpers import login

# Fields whose bound a handler does not check up front, with the reason: kept short.
CHECKED_LATER = {
    "match.result.scores": "the match's rules check it, after membership: NOT_IN_MATCH first",
    "match.create.params": "checked against the mode's create_params once the mode allows it",
    "match.join.meta": "the game's join_attempt reads it, once the match is found",
}

Variant = tuple[str, dict[str, Any]]


def _resolved(schema: Any) -> Any:
    while isinstance(schema, dict) and "$ref" in schema:
        schema = shapes()[str(schema["$ref"]).removeprefix(SHAPES_PATH)]
    return schema


def _plain(schema: Any) -> tuple[Any, bool]:
    """The schema without a ``null`` option, and whether null was one."""
    schema = _resolved(schema)
    options = schema.get("anyOf") if isinstance(schema, dict) else None
    if options:
        rest = [o for o in options if o != {"type": "null"}]
        if len(rest) == 1:
            return _resolved(rest[0]), len(rest) < len(options)
    return schema, False


def valid(schema: Any) -> Any:
    """The smallest value the schema takes."""
    schema, _ = _plain(schema)
    if not isinstance(schema, dict):
        return None
    if "const" in schema:
        return schema["const"]
    if "enum" in schema:
        return schema["enum"][0]
    if "anyOf" in schema:
        return valid(schema["anyOf"][0])
    kind = schema.get("type")
    if kind == "string":
        return "a" * max(1, schema.get("minLength", 0))
    if kind in ("integer", "number"):
        return max(schema.get("minimum", 0), 0) if "maximum" not in schema else schema["maximum"]
    if kind == "boolean":
        return False
    if kind == "array":
        return [valid(schema["items"])] * schema.get("minItems", 0)
    if kind == "object":
        return {name: valid(schema["properties"][name]) for name in schema.get("required", [])}
    return 1


def broken(schema: Any) -> Iterator[tuple[str, Any]]:
    """Values the schema refuses, each breaking one of its rules, with what it breaks."""
    schema, can_be_null = _plain(schema)
    if not isinstance(schema, dict) or "anyOf" in schema or "type" not in schema:
        return  # a game's own value, or a choice: the service checks it
    kind = schema["type"]
    if not can_be_null:
        yield "null", None
    yield "wrong type", {"string": 5, "array": "x", "object": "x"}.get(kind, "x")
    if "enum" in schema:
        yield "outside the enum", "no-such-value"
    if kind == "string" and "enum" not in schema:
        if schema.get("minLength", 0) > 0:
            yield "too short", "a" * (schema["minLength"] - 1)
        if "maxLength" in schema:
            yield "too long", "a" * (schema["maxLength"] + 1)
    if kind == "integer":
        if "minimum" in schema:
            yield "below the minimum", schema["minimum"] - 1
        if "maximum" in schema:
            yield "above the maximum", schema["maximum"] + 1
    if kind == "array" and "maxItems" in schema:
        yield "too many items", [valid(schema["items"])] * (schema["maxItems"] + 1)


def variants() -> Iterator[tuple[str, str, dict[str, Any]]]:
    for op, spec in op_specs().items():
        request = _resolved(spec.request)
        base = valid(request)
        required = set(request.get("required", []))
        for field, schema in request.get("properties", {}).items():
            if f"{op}.{field}" in CHECKED_LATER:
                continue
            if field in required:
                yield op, f"{field} left out", {k: v for k, v in base.items() if k != field}
            for what, value in broken(schema):
                yield op, f"{field} {what}", {**base, field: value}


def no_rate_limits() -> str:
    return ",".join(f"{action}=100000/100000" for action in DEFAULT_RATE_LIMITS)


async def test_a_request_the_schema_refuses_gets_bad_request(start_arena: StartArena) -> None:
    base_url = await start_arena(rate_limits=no_rate_limits(), msg_rate_burst=100_000)
    player = await login(base_url, "bounds")
    cases = list(variants())
    assert len(cases) > 100  # every op with fields is exercised, not a handful
    wrong: list[str] = []
    async with aiohttp.ClientSession() as http:
        async with http.post(
            f"{base_url}/v1/ws/ticket", headers={"Authorization": f"Bearer {player.token}"}
        ) as response:
            ticket = (await response.json())["ticket"]
        async with http.ws_connect(f"{base_url}/v1/ws?ticket={ticket}&format=json") as ws:
            for rid, (op, what, fields) in enumerate(cases, start=1):
                await ws.send_str(json.dumps({**fields, "op": op, "rid": rid}))
                while True:
                    reply = json.loads(await ws.receive_str(timeout=10))
                    if reply.get("rid") == rid:
                        break
                code = reply.get("error", {}).get("code") if not reply.get("ok") else "ok"
                if code != "BAD_REQUEST":
                    wrong.append(f"{op} with {what} {fields!r:.120}: {code}")
    assert wrong == [], "\n".join(wrong)
