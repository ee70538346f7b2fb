"""docs/clients.md's transcripts say what went on the wire: every msgpack frame's hex
decodes to exactly the JSON shown beside it, every text frame is a JSON object, each
reply answers a request of its player, and each session runs login, ticket, socket,
quick-join, ready, match.started, an event, a result and match.ended in that order.

No server: the transcripts were recorded by ``python -m client_sim.transcript``; these
checks read the document as a client developer would. Each check is shown able to fail
on a transcript spoilt on purpose.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import msgpack

from client_sim.transcript import Record, Recorder, render, rewrite
from server.protocol import Format
from server.schema.asyncapi import asyncapi_document
from tests.contract import SocketContract

DOC = Path(__file__).resolve().parent.parent / "docs" / "clients.md"
HEAD = re.compile(r"^(\w+) (→|←) (.*)$")
BLOCK = re.compile(r"^```text\n(.*?)^```", re.DOTALL | re.MULTILINE)


@dataclass(slots=True)
class Line:
    """One record of a transcript: a frame (``message``), or an HTTP or socket step."""

    who: str
    arrow: str
    head: str
    message: dict[str, Any] | None = None


def section(doc: str, fmt: str) -> str:
    start, end = f"<!-- transcript:{fmt} -->", f"<!-- /transcript:{fmt} -->"
    assert doc.count(start) == 1, f"one {start} marker"
    assert doc.count(end) == 1, f"one {end} marker"
    return doc.split(start, 1)[1].split(end, 1)[0]


def same(a: Any, b: Any) -> bool:
    """Equal, and of the same JSON types all the way down (1, 1.0 and True differ)."""
    if isinstance(a, dict) and isinstance(b, dict):
        return a.keys() == b.keys() and all(same(a[k], b[k]) for k in a)
    if isinstance(a, list) and isinstance(b, list):
        return len(a) == len(b) and all(same(x, y) for x, y in zip(a, b, strict=True))
    return type(a) is type(b) and a == b


def binary_problems(head: str, rest: list[str]) -> tuple[list[str], dict[str, Any] | None]:
    """A binary record: ``binary N bytes``, hex lines, ``= JSON``; what is wrong with it."""
    size = re.fullmatch(r"binary (\d+) bytes", head)
    if size is None or not rest or not rest[-1].startswith("= "):
        return [f"malformed binary record: {head!r}"], None
    try:
        data = bytes.fromhex(" ".join(rest[:-1]))
        reading = json.loads(rest[-1][2:])
    except ValueError as exc:
        return [f"unreadable binary record {head!r}: {exc}"], None
    if len(data) != int(size.group(1)):
        return [f"{head!r} holds {len(data)} bytes"], None
    try:
        decoded = msgpack.unpackb(data, raw=False, strict_map_key=True)
    except Exception as exc:  # msgpack raises many kinds
        return [f"{head!r}: not msgpack ({type(exc).__name__})"], None
    if not same(decoded, reading):
        return [f"{head!r} decodes to {decoded!r}, shown as {reading!r}"], None
    if not isinstance(decoded, dict):
        return [f"{head!r}: not a map"], None
    return [], decoded


def parse(text: str) -> tuple[list[Line], list[str]]:
    """The records of one transcript section, and what is wrong in them."""
    groups: list[tuple[re.Match[str], list[str]]] = []
    for block in BLOCK.findall(text):
        for raw in block.splitlines():
            head = HEAD.match(raw)
            if head:
                groups.append((head, []))
            elif raw.strip():
                assert groups, f"a continuation line before any record: {raw!r}"
                groups[-1][1].append(raw.strip())
    lines: list[Line] = []
    problems: list[str] = []
    for head, rest in groups:
        who, arrow, what = head.groups()
        line = Line(who, arrow, what)
        if what.startswith("binary"):
            found, line.message = binary_problems(what, rest)
            problems += found
        elif what.startswith("text "):
            try:
                line.message = json.loads(what[len("text ") :])
            except ValueError:
                problems.append(f"text frame not JSON: {what[:60]!r}")
            if not isinstance(line.message, dict):
                problems.append(f"text frame not an object: {what[:60]!r}")
                line.message = None
        lines.append(line)
    return lines, problems


MILESTONES: tuple[tuple[str, Callable[[Line], bool]], ...] = (
    ("login", lambda ln: ln.arrow == "→" and ln.head == "POST /v1/auth/guest"),
    ("ticket", lambda ln: ln.arrow == "→" and ln.head == "POST /v1/ws/ticket"),
    ("socket", lambda ln: ln.arrow == "←" and ln.head == "101 Switching Protocols"),
    ("quickjoin", lambda ln: ln.arrow == "→" and sent(ln) == "lobby.quickjoin"),
    ("ready", lambda ln: ln.arrow == "→" and sent(ln) == "lobby.ready"),
    ("match.started", lambda ln: pushed(ln) == "match.started"),
    ("match.event", lambda ln: pushed(ln) == "match.event"),
    ("match.result", lambda ln: ln.arrow == "→" and sent(ln) == "match.result"),
    ("match.ended", lambda ln: pushed(ln) == "match.ended"),
)


def sent(line: Line) -> Any:
    return line.message.get("op") if line.message else None


def pushed(line: Line) -> Any:
    return line.message.get("ev") if line.message and line.arrow == "←" else None


def order_problems(lines: list[Line]) -> list[str]:
    """Each milestone present, the first of each after the first of the one before."""
    problems, last, last_name = [], -1, "the start"
    for name, hit in MILESTONES:
        where = next((i for i, line in enumerate(lines) if hit(line)), None)
        if where is None:
            problems.append(f"no {name}")
        elif where <= last:
            problems.append(f"{name} comes before {last_name}")
        else:
            last, last_name = where, name
    return problems


def reply_problems(lines: list[Line]) -> list[str]:
    """Every reply answers an earlier request of the same player with its rid, once."""
    asked: dict[str, list[int]] = {}
    answered: dict[str, set[int]] = {}
    problems = []
    for line in lines:
        message = line.message
        if message is None:
            continue
        if line.arrow == "→" and "rid" in message:
            asked.setdefault(line.who, []).append(message["rid"])
        elif line.arrow == "←" and "ok" in message and "rid" in message:
            rid, got = message["rid"], answered.setdefault(line.who, set())
            if rid not in asked.get(line.who, []):
                problems.append(f"{line.who} got a reply to rid {rid}, never asked")
            elif rid in got:
                problems.append(f"{line.who} got rid {rid} answered twice")
            got.add(rid)
    for who, rids in asked.items():
        got = answered.get(who, set())
        problems += [f"{who}: rid {rid} unanswered" for rid in rids if rid not in got]
    return problems


def frame_kind_problems(lines: list[Line], fmt: str) -> list[str]:
    """The JSON session used only text frames, the msgpack one only binary ones."""
    wrong = "binary" if fmt == "json" else "text "
    return [
        f"a {wrong.strip()} frame in the {fmt} session" for ln in lines if ln.head.startswith(wrong)
    ]


def problems_of(doc: str, fmt: str) -> list[str]:
    lines, problems = parse(section(doc, fmt))
    return (
        problems + order_problems(lines) + reply_problems(lines) + frame_kind_problems(lines, fmt)
    )


def test_json_transcript_is_consistent() -> None:
    doc = DOC.read_text("utf-8")
    assert problems_of(doc, "json") == []
    assert "text {" in section(doc, "json")


def test_msgpack_transcript_is_consistent() -> None:
    doc = DOC.read_text("utf-8")
    assert problems_of(doc, "msgpack") == []
    assert sum(ln.message is not None for ln in parse(section(doc, "msgpack"))[0]) > 20


def test_a_spoilt_byte_is_caught() -> None:
    doc = DOC.read_text("utf-8")
    part = section(doc, "msgpack")
    # `a2 6f 70` is the key "op": make it "oq" in one frame.
    spoilt = part.replace("a2 6f 70", "a2 6f 71", 1)
    assert spoilt != part
    assert any("decodes to" in p for p in problems_of(doc.replace(part, spoilt), "msgpack"))
    # A byte dropped: the count says so.
    spoilt = re.sub(r"(binary \d+ bytes\n\s+)([0-9a-f]{2}) ", r"\1", part, count=1)
    assert any("holds" in p for p in problems_of(doc.replace(part, spoilt), "msgpack"))


def test_a_missing_or_misplaced_step_is_caught() -> None:
    doc = DOC.read_text("utf-8")
    part = section(doc, "json")
    no_end = "\n".join(ln for ln in part.splitlines() if '"ev":"match.ended"' not in ln)
    assert "no match.ended" in problems_of(doc.replace(part, no_end), "json")
    lines, _ = parse(part)
    backwards = list(reversed(lines))
    assert order_problems(backwards) != []
    orphan = [Line("bob", "←", "text", {"rid": 99, "ok": True})]
    assert reply_problems(lines + orphan) == ["bob got a reply to rid 99, never asked"]


def test_what_the_recorder_renders_the_checks_read() -> None:
    """The generator and these checks agree on the format: a session rendered from
    records passes, and its binary frames read back as what was sent."""
    tape = Recorder()
    tape.step("frames")
    frames: list[dict[str, Any]] = [
        {"op": "lobby.quickjoin", "rid": 1, "mode": "duel"},
        {"rid": 1, "ok": True, "lobby": {"rev": 1796263596762294, "private": False}},
        {"ev": "match.event", "data": {"x": -7, "speed": 1.5, "big": 2**40, "none": None}},
    ]
    for n, frame in enumerate(frames):
        tape.add(Record("alice", "←" if n else "→", "binary", msgpack.packb(frame)))
    lines, problems = parse(render(tape, Format.MSGPACK))
    assert problems == []
    assert [line.message for line in lines] == frames
    assert reply_problems(lines) == []


def test_rewrite_keeps_the_prose() -> None:
    doc = "intro\n<!-- transcript:json -->\nold\n<!-- /transcript:json -->\noutro\n"
    new = rewrite(doc, Format.JSON, "new")
    assert new == "intro\n<!-- transcript:json -->\nnew\n<!-- /transcript:json -->\noutro\n"


def test_the_bytes_the_prose_points_at_are_in_the_msgpack_transcript() -> None:
    """ "Things to notice in the bytes" names bytes the recorded session holds."""
    doc = DOC.read_text("utf-8")
    flowing = re.sub(r"\s+", " ", section(doc, "msgpack"))
    for bytes_named in (
        "a2 6f 70",
        "cc ce",
        "d0 92",
        "cf 00 00 01 a2",
        "cb 3f f8 00 00 00 00 00 00",
    ):
        assert f"`{bytes_named}" in doc
        assert bytes_named in flowing


class _Socket:
    """One player's socket, as the contract keys what it asked (weakly referenced)."""


def contract_violations(doc: str) -> tuple[list[str], int]:
    """Every frame of both sessions checked as the suite's contract tap checks live ones:
    requests by op, replies by the op their rid asked, pushes by event, objects closed."""
    contract = SocketContract(asyncapi_document("clients-doc"))
    for fmt in ("json", "msgpack"):
        sockets: dict[str, _Socket] = {}
        for line in parse(section(doc, fmt))[0]:
            if line.message is None:
                continue
            socket, frame = sockets.setdefault(line.who, _Socket()), json.dumps(line.message)
            if line.arrow == "→":
                contract.sent(socket, frame)
            else:
                contract.received(socket, frame)
    return contract.take_violations(), contract.checked


def test_every_frame_keeps_the_published_schemas() -> None:
    violations, checked = contract_violations(DOC.read_text("utf-8"))
    assert violations == []
    assert checked > 40  # requests, replies and pushes of both sessions


def test_a_frame_off_the_schema_is_caught() -> None:
    doc = DOC.read_text("utf-8")
    spoilt = doc.replace('"authoritative":false', '"authoritative":"no"', 1)
    assert spoilt != doc
    violations, _ = contract_violations(spoilt)
    assert violations
    assert all(v.startswith("match.started") for v in violations)
