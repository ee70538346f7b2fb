"""Small constructors for JSON Schema, so that the protocol's shapes read as Python.

Every schema here is plain JSON Schema (draft 2020-12 compatible, and within what AsyncAPI 3
and OpenAPI 3.1 accept). Objects are open by default in the published documents (a server
may add fields; clients ignore what they do not know); the contract test closes them
(``closed``) so that a field the server sends and no schema names fails a test.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from enum import Enum
from typing import Any

JsonSchema = dict[str, Any]

SHAPES_PATH = "#/components/schemas/"


def string(
    min_len: int = 0,
    max_len: int | None = None,
    *,
    enum: Iterable[str] | None = None,
    pattern: str | None = None,
    description: str | None = None,
) -> JsonSchema:
    schema: JsonSchema = {"type": "string"}
    if enum is not None:
        schema["enum"] = [str(e.value if isinstance(e, Enum) else e) for e in enum]
    if min_len:
        schema["minLength"] = min_len
    if max_len is not None:
        schema["maxLength"] = max_len
    if pattern is not None:
        schema["pattern"] = pattern
    return _described(schema, description)


def const(value: str | int | bool, description: str | None = None) -> JsonSchema:
    return _described({"const": value}, description)


def integer(
    minimum: int | None = None, maximum: int | None = None, *, description: str | None = None
) -> JsonSchema:
    # int64: code generators pick a 64-bit integer (times in ms, scores and ids overflow 32).
    schema: JsonSchema = {"type": "integer", "format": "int64"}
    if minimum is not None:
        schema["minimum"] = minimum
    if maximum is not None:
        schema["maximum"] = maximum
    return _described(schema, description)


def number(description: str | None = None) -> JsonSchema:
    return _described({"type": "number"}, description)


def boolean(description: str | None = None) -> JsonSchema:
    return _described({"type": "boolean"}, description)


def anything(description: str) -> JsonSchema:
    """Any JSON value (a game's own data): the description says who checks it."""
    return {"description": description}


def array(
    items: JsonSchema,
    *,
    max_items: int | None = None,
    min_items: int = 0,
    description: str | None = None,
) -> JsonSchema:
    schema: JsonSchema = {"type": "array", "items": items}
    if min_items:
        schema["minItems"] = min_items
    if max_items is not None:
        schema["maxItems"] = max_items
    return _described(schema, description)


def obj(
    required: Mapping[str, JsonSchema] | None = None,
    optional: Mapping[str, JsonSchema] | None = None,
    *,
    description: str | None = None,
) -> JsonSchema:
    """An object with named fields; ``required`` ones are always present."""
    required = dict(required or {})
    optional = dict(optional or {})
    overlap = set(required) & set(optional)
    assert not overlap, f"both required and optional: {overlap}"
    schema: JsonSchema = {"type": "object", "properties": {**required, **optional}}
    if required:
        schema["required"] = sorted(required)
    return _described(schema, description)


def mapping(values: JsonSchema, *, description: str | None = None) -> JsonSchema:
    """An object used as a dictionary: any keys, every value of one shape."""
    return _described({"type": "object", "additionalProperties": values}, description)


def nullable(schema: JsonSchema) -> JsonSchema:
    return {"anyOf": [schema, {"type": "null"}]}


def one_of(*schemas: JsonSchema, description: str | None = None) -> JsonSchema:
    return _described({"anyOf": list(schemas)}, description)


def ref(shape: str) -> JsonSchema:
    """A named shape of ``SHAPES`` (``components.schemas`` in the documents)."""
    return {"$ref": SHAPES_PATH + shape}


def closed(schema: Any) -> Any:
    """The same schema with every object that names its fields closed to others: what the
    contract test checks frames against, so an undeclared field fails."""
    if isinstance(schema, list):
        return [closed(item) for item in schema]
    if not isinstance(schema, dict):
        return schema
    out = {key: closed(value) for key, value in schema.items()}
    if out.get("type") == "object" and "properties" in out and "additionalProperties" not in out:
        out["additionalProperties"] = False
    return out


def refs_in(schema: Any) -> set[str]:
    """The shapes a schema names, directly."""
    if isinstance(schema, list):
        return set().union(*(refs_in(item) for item in schema)) if schema else set()
    if not isinstance(schema, dict):
        return set()
    found = set()
    target = schema.get("$ref")
    if isinstance(target, str) and target.startswith(SHAPES_PATH):
        found.add(target.removeprefix(SHAPES_PATH))
    for value in schema.values():
        found |= refs_in(value)
    return found


def _described(schema: JsonSchema, description: str | None) -> JsonSchema:
    if description:
        schema["description"] = description
    return schema
