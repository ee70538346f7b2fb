"""The JavaScript client (clients/js) against a real Arena: its ``node --test`` suites,
its typed example checked by ``tsc``, the protocol numbers it hard-codes, and the path
every Arena serves it at.

Node and the test-only packages (ws, @msgpack/msgpack, typescript) come from
``make node-tools`` (into .venv/node); without them these tests fail, saying so.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
from pathlib import Path

import aiohttp

from server.protocol import FEED_PAGE_MAX, FINAL_CLOSE_CODES
from tests.conftest import SpawnNode

ROOT = Path(__file__).resolve().parent.parent
CLIENT = ROOT / "clients" / "js"
NODE_MODULES = ROOT / ".venv" / "node" / "node_modules"
TSC = NODE_MODULES / ".bin" / "tsc"
# A relayed mode of two for the reconnect-mid-match test; lb.submit's limit low enough to hit.
MODES = json.dumps({"duel": {"capacity": 2}, "*": {"capacity": 4}})
RATE_LIMITS = "lb.submit=1/1"
SUITES_AT_LEAST = 27  # the tests in clients/js/test: a suite that ran none must not pass


def node() -> str:
    path = shutil.which("node")
    assert path is not None, "node is missing: `make node-tools` installs Debian's nodejs"
    assert (NODE_MODULES / "ws").is_dir(), "the Node test tools are missing: run `make node-tools`"
    return path


def run_node(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [node(), *args],
        cwd=ROOT,
        env={**os.environ, "NODE_PATH": str(NODE_MODULES), **(env or {})},
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def test_the_client_passes_its_node_suites_against_a_real_arena(spawn_node: SpawnNode) -> None:
    arena = spawn_node(ARENA_MODES=MODES, ARENA_RATE_LIMITS=RATE_LIMITS)
    suites = sorted(str(path) for path in (CLIENT / "test").glob("*.test.mjs"))
    assert len(suites) >= 4
    result = run_node("--test", *suites, env={"ARENA_URL": arena.url})
    said = result.stdout + result.stderr
    assert result.returncode == 0, said
    passed = re.search(r"^# pass (\d+)$", result.stdout, re.MULTILINE)
    assert passed is not None, said
    assert int(passed.group(1)) >= SUITES_AT_LEAST, said
    assert re.search(r"^# fail 0$", result.stdout, re.MULTILINE), said


def tsc(*args: str) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [str(TSC), *args], cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True
    )


def test_the_typed_example_type_checks_and_a_wrong_request_does_not(tmp_path: Path) -> None:
    """The example passes ``tsc --noEmit``; and since declarations that type nothing
    (``any``) would pass too, a request with a wrong field type must fail the same check."""
    node()
    wrong = tmp_path / "wrong.ts"
    wrong.write_text(
        f'import {{ Arena }} from "{(CLIENT / "arena.js").as_posix()}";\n'
        "declare const arena: Arena;\n"
        'export const top = arena.request("lb.top", { board: 7 });\n'
        'export const t: string = (await arena.request("ping")).server_time_ms;\n'
    )
    options = json.loads((CLIENT / "tsconfig.json").read_text())["compilerOptions"]
    config = tmp_path / "tsconfig.json"
    config.write_text(json.dumps({"compilerOptions": options, "files": [str(wrong)]}))
    # Both at once: each takes seconds, mostly reading the standard library's declarations.
    good, bad = tsc("--noEmit", "-p", str(CLIENT)), tsc("--noEmit", "-p", str(config))
    good_said, _ = good.communicate(timeout=60)
    bad_said, _ = bad.communicate(timeout=60)
    assert good.returncode == 0, good_said
    assert bad.returncode != 0, bad_said
    assert "wrong.ts(3," in bad_said, bad_said  # board: a number where a string is due
    assert "wrong.ts(4," in bad_said, bad_said  # server_time_ms is a number


def test_the_protocol_numbers_the_client_hard_codes_are_the_servers() -> None:
    script = (
        "const m = await import(process.argv[1]);"
        "console.log(JSON.stringify({final: Object.keys(m.FINAL_CLOSE_CODES).map(Number),"
        " page: m.FEED_PAGE_MAX, version: m.VERSION}));"
    )
    result = run_node("--input-type=module", "-e", script, (CLIENT / "arena.js").as_uri())
    assert result.returncode == 0, result.stderr
    told = json.loads(result.stdout)
    assert sorted(told["final"]) == sorted(int(code) for code in FINAL_CLOSE_CODES)
    assert told["page"] == FEED_PAGE_MAX
    assert told["version"] == json.loads((CLIENT / "package.json").read_text())["version"]


IMPORT_BESIDE = r'^(?:import|export) [^;]*? from "\./([a-z-]+\.js)";'


def imported_modules(name: str, seen: set[str]) -> set[str]:
    """``name`` and the modules beside it that it imports, transitively."""
    if name not in seen:
        seen.add(name)
        source = (CLIENT / name).read_text()
        for other in re.findall(IMPORT_BESIDE, source, re.MULTILINE):
            imported_modules(other, seen)
    return seen


async def test_every_arena_serves_the_client_at_a_stable_path(arena: str) -> None:
    modules = imported_modules("arena.js", set())
    assert {"arena.js", "feed.js", "memory.js"} <= modules
    files = {name: "text/javascript" for name in modules}
    files |= dict.fromkeys(("arena.d.ts", "arena-protocol.d.ts"), "application/typescript")
    async with aiohttp.ClientSession() as http:
        for name, kind in files.items():
            async with http.get(f"{arena}/client/{name}") as resp:
                assert resp.status == 200, name
                assert resp.content_type == kind
                assert resp.headers["Cache-Control"] == "no-cache"
                assert await resp.read() == (CLIENT / name).read_bytes()
        for name in ("nope.js", "..%2Fapp.py", "package.json", "test"):
            async with http.get(f"{arena}/client/{name}") as resp:
                assert resp.status == 404, name
