"""The protocol as data (server/schema) is in step with the code: every op and push is
described, the committed and served documents are what the code makes, the AsyncAPI document
passes the AsyncAPI parser, and the contract check (tests/contract.py) catches a frame the
documents do not allow."""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

import aiohttp
import pytest

from server.protocol import Op, Push
from server.schema import op_specs, push_specs
from server.schema.asyncapi import asyncapi_document, unknown_shapes
from server.schema.published import ROOT, generated
from tests.conftest import SOCKET_CONTRACT
from tests.contract import SocketContract
from tests.helpers import connect

NODE_TOOLS = ROOT / ".venv" / "node" / "node_modules"


def test_every_op_and_push_is_described() -> None:
    assert set(op_specs()) == {str(op) for op in Op}
    assert set(push_specs()) == {str(push) for push in Push}


def test_every_shape_a_message_names_is_defined() -> None:
    assert unknown_shapes(asyncapi_document("test")) == set()


def test_the_committed_documents_are_what_the_code_makes() -> None:
    stale = [
        path
        for path, text in generated().items()
        if not (ROOT / path).exists() or (ROOT / path).read_text(encoding="utf-8") != text
    ]
    assert stale == [], "run `python -m server.schema` and commit what it writes"


async def test_every_arena_serves_the_committed_documents(arena: str) -> None:
    async with aiohttp.ClientSession() as http:
        for name in ("asyncapi", "openapi"):
            async with http.get(f"{arena}/v1/{name}.json") as response:
                assert response.status == 200
                assert response.content_type == "application/json"
                served = await response.json()
            assert served == json.loads((ROOT / "docs" / f"{name}.json").read_text())


def test_the_asyncapi_document_passes_the_asyncapi_parser() -> None:
    result = subprocess.run(
        ["node", str(ROOT / "tests" / "js" / "asyncapi_validate.cjs"), "docs/asyncapi.json"],
        cwd=ROOT,
        env={**os.environ, "NODE_PATH": str(NODE_TOOLS)},
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0, result.stdout + result.stderr


def test_the_asyncapi_parser_refuses_a_broken_document(tmp_path: Path) -> None:
    """The check above can fail: a message naming a shape nobody defined is an error."""
    document = asyncapi_document("test")
    document["components"]["messages"]["ping.result"]["payload"]["properties"]["x"] = {
        "$ref": "#/components/schemas/Nowhere"
    }
    broken = tmp_path / "broken.json"
    broken.write_text(json.dumps(document))
    result = subprocess.run(
        ["node", str(ROOT / "tests" / "js" / "asyncapi_validate.cjs"), str(broken)],
        env={**os.environ, "NODE_PATH": str(NODE_TOOLS)},
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 1
    assert "Nowhere" in result.stdout


def test_the_contract_check_catches_frames_the_documents_do_not_allow() -> None:
    contract = SocketContract(asyncapi_document("test"))

    class Socket:
        pass

    socket = Socket()
    contract.sent(socket, json.dumps({"op": "ping", "rid": 1}))
    contract.received(socket, json.dumps({"rid": 1, "ok": True, "server_time_ms": 5}))
    assert contract.take_violations() == []
    contract.sent(socket, json.dumps({"op": "ping", "rid": 2}))
    contract.received(socket, json.dumps({"rid": 2, "ok": True, "server_time_ms": "5"}))
    contract.sent(socket, json.dumps({"op": "ping", "rid": 3}))
    contract.received(socket, json.dumps({"rid": 3, "ok": True, "server_time_ms": 5, "x": 1}))
    contract.received(socket, json.dumps({"ev": "no.such.push"}))
    contract.received(socket, json.dumps({"ok": False, "error": {"code": "NOPE", "message": ""}}))
    contract.received(socket, json.dumps({"rid": 99, "ok": True}))
    contract.sent(socket, json.dumps({"op": "ping", "rid": 4}))
    contract.received(
        socket, json.dumps({"rid": 4, "ok": False, "error": {"code": "LOBBY_FULL", "message": ""}})
    )
    violations = contract.take_violations()
    assert len(violations) == 6, violations
    assert "LOBBY_FULL" in violations[-1]  # ping cannot fail that way


async def test_the_suite_checks_what_its_sockets_receive(
    arena: str, request: pytest.FixtureRequest
) -> None:
    """The tap is on for the whole suite (unless ARENA_CONTRACT=off), and a real reply
    goes through it."""
    checker = request.config.stash[SOCKET_CONTRACT]
    if os.environ.get("ARENA_CONTRACT", "enforce") == "off":
        assert checker is None
        return
    assert checker is not None
    before = checker.checked
    _, client = await connect(arena)
    await client.request("ping")
    await client.close()
    assert checker.checked > before
