"""The AsyncAPI 3.0 document of the socket (``GET /v1/asyncapi.json``, docs/asyncapi.json).

One channel, the socket at ``/v1/ws``. Each op is a ``send`` operation whose reply is its
success message or the failure message; each push a ``receive`` operation. Error codes and
close codes ride as ``x-error-codes`` and ``x-close-codes`` beside the ``ErrorCode`` enum.
"""

from __future__ import annotations

from typing import Any

from server.protocol import FEED_PAGE_MAX
from server.schema import op_specs, push_specs, shapes
from server.schema.build import JsonSchema, const, integer, obj, ref, refs_in
from server.schema.codes import ANY_OP_ERRORS, close_codes, error_codes, error_shapes
from server.schema.spec import OpSpec, PushSpec

CHANNEL = "socket"
FAILURE = "failure"
CONTENT_TYPES = "application/json (text frames) or application/msgpack (binary frames)"

DESCRIPTION = """\
Arena's game socket. Log in over HTTP (openapi.json), get a one-use ticket from
POST /v1/ws/ticket, then open /v1/ws?ticket=... . Every frame is one object: JSON in a text
frame or the same map in msgpack in a binary frame; a reply uses the frame type of its
request. A request is {op, rid?, ...fields}; its success reply {rid, ok: true, ...result},
its failure {rid?, ok: false, error: {code, message, retry_after_ms?}} (a request without
rid gets no success reply, only a failure). A push is {ev, ...fields}. Clients ignore
fields they do not know: new ones may be added. Human contract: docs/protocol.md."""


def request_name(op: str) -> str:
    return f"{op}.request"


def result_name(op: str) -> str:
    return f"{op}.result"


def request_payload(spec: OpSpec) -> JsonSchema:
    """The whole request frame: the envelope's ``op`` and ``rid`` and the op's fields."""
    return _merged(
        obj(
            {"op": const(str(spec.op))},
            {"rid": integer(description="Echoed in the reply; without it, no success reply.")},
        ),
        spec.request,
    )


def result_payload(spec: OpSpec) -> JsonSchema:
    return _merged(obj({"rid": integer(), "ok": const(True)}), spec.result)


def push_payload(spec: PushSpec) -> JsonSchema:
    return _merged(obj({"ev": const(str(spec.push))}), spec.fields)


def failure_payload() -> JsonSchema:
    return obj(
        {"ok": const(False), "error": ref("ErrorBody")},
        {"rid": {"description": "The request's rid as it was sent; absent for fire-and-forget."}},
    )


def asyncapi_document(version: str) -> dict[str, Any]:
    ops, pushes = op_specs(), push_specs()
    messages: dict[str, Any] = {FAILURE: _message(FAILURE, "A failed request.", failure_payload())}
    operations: dict[str, Any] = {}
    for name, spec in ops.items():
        messages[request_name(name)] = _message(
            request_name(name), spec.summary, request_payload(spec), spec.description
        )
        messages[result_name(name)] = _message(
            result_name(name), f"Success reply to {name}.", result_payload(spec)
        )
        operations[name] = {
            "action": "send",
            "channel": {"$ref": f"#/channels/{CHANNEL}"},
            "summary": spec.summary,
            "messages": [_message_ref(request_name(name))],
            "reply": {
                "channel": {"$ref": f"#/channels/{CHANNEL}"},
                "messages": [_message_ref(result_name(name)), _message_ref(FAILURE)],
            },
            "x-error-codes": [str(code) for code in spec.errors],
        }
    for name, push in pushes.items():
        messages[name] = _message(name, push.summary, push_payload(push), push.description)
        operations[f"push:{name}"] = {
            "action": "receive",
            "channel": {"$ref": f"#/channels/{CHANNEL}"},
            "summary": push.summary,
            "messages": [_message_ref(name)],
        }
    schemas = {
        name: {"title": name, **schema} for name, schema in {**error_shapes(), **shapes()}.items()
    }
    return {
        "asyncapi": "3.0.0",
        "info": {"title": "Arena socket protocol", "version": version, "description": DESCRIPTION},
        "defaultContentType": "application/json",
        "servers": {
            "local": {
                "host": "127.0.0.1:8080",
                "protocol": "ws",
                "pathname": "/v1/ws",
                "description": "make run's default address",
            }
        },
        "channels": {
            CHANNEL: {
                "address": "/v1/ws",
                "title": "The game socket",
                "messages": {name: {"$ref": f"#/components/messages/{name}"} for name in messages},
                "bindings": {
                    "ws": {
                        "method": "GET",
                        "query": obj(
                            {"ticket": {"type": "string"}},
                            {"format": {"type": "string", "enum": ["json", "msgpack"]}},
                        ),
                    }
                },
            }
        },
        "operations": operations,
        "components": {"schemas": schemas, "messages": messages},
        "x-error-codes": error_codes(),
        "x-any-op-error-codes": [str(code) for code in ANY_OP_ERRORS],
        "x-close-codes": close_codes(),
        "x-limits": {"feed_page_max": FEED_PAGE_MAX},
    }


def unknown_shapes(document: dict[str, Any]) -> set[str]:
    """Shapes a message names that ``components.schemas`` lacks (a test keeps it empty)."""
    named = refs_in(document["components"]["messages"]) | refs_in(document["components"]["schemas"])
    return named - set(document["components"]["schemas"])


def _message(name: str, summary: str, payload: JsonSchema, description: str = "") -> JsonSchema:
    # The payload's title is what code generators name its type after (LobbyQuickjoinResult).
    payload = {"title": type_name(name), **payload}
    message: JsonSchema = {"name": name, "title": name, "summary": summary, "payload": payload}
    if description:
        message["description"] = description
    return message


def type_name(message: str) -> str:
    """``lobby.quickjoin.result`` -> ``LobbyQuickjoinResult``; a push ``match.event`` ->
    ``MatchEventPush``."""
    words = message.split(".")
    if words[-1] not in ("request", "result") and message != FAILURE:
        words.append("push")
    return "".join(word[:1].upper() + word[1:] for word in words)


def _message_ref(name: str) -> dict[str, str]:
    return {"$ref": f"#/channels/{CHANNEL}/messages/{name}"}


def _merged(envelope: JsonSchema, fields: JsonSchema) -> JsonSchema:
    """The envelope's fields and the op's, as one object (``fields`` is an ``obj``)."""
    assert fields.get("type") == "object", "an op's fields are an object"
    clash = set(envelope["properties"]) & set(fields.get("properties", {}))
    assert not clash, f"fields named like the envelope's: {clash}"
    merged = dict(fields)
    merged["properties"] = {**envelope["properties"], **fields.get("properties", {})}
    merged["required"] = sorted({*envelope.get("required", []), *fields.get("required", [])})
    return merged
