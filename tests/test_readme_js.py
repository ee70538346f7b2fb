"""The README's JavaScript example does what it says, run as written by two players at once
against a real Arena: each gets ``match.started`` and prints both players' ``hello`` events."""

from __future__ import annotations

import asyncio
import re
from pathlib import Path

from tests.conftest import SpawnNode
from tests.test_js_client import NODE_MODULES, ROOT, node

EXAMPLE = re.compile(r"^From JavaScript.*?```js\n(.*?)```", re.DOTALL | re.MULTILINE)


def readme_example(base_url: str) -> str:
    """The README's block as it stands, pointed at this Arena; on a Node without a
    WebSocket of its own (before 22), the ``ws`` package's, as the README says."""
    found = EXAMPLE.search((ROOT / "README.md").read_text())
    assert found is not None, "the README lost its JavaScript example"
    code = found.group(1)
    assert len(code.strip().splitlines()) <= 10, "the README promises ten lines"
    code = code.replace('"./clients/js/arena.js"', f'"{(ROOT / "clients/js/arena.js").as_uri()}"')
    code = code.replace('"http://127.0.0.1:8080"', f'"{base_url}"')
    ws = (NODE_MODULES / "ws" / "wrapper.mjs").as_uri()
    return f'import WebSocket from "{ws}";\nglobalThis.WebSocket ??= WebSocket;\n{code}'


async def hellos_seen(script: Path) -> set[str]:
    """Who the script printed a hello from: its own (the relay echoes the sender's) and
    the other player's."""
    process = await asyncio.create_subprocess_exec(
        node(), str(script), stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT
    )
    assert process.stdout is not None
    said, senders = [], set()
    try:
        async with asyncio.timeout(30):
            while line := (await process.stdout.readline()).decode():
                said.append(line)
                sender, *rest = line.split()
                if rest == ["hello", "1"]:
                    senders.add(sender)
                if len(senders) == 2:
                    return senders
    finally:
        process.kill()
        await process.wait()
    raise AssertionError("no hello: " + "".join(said))


async def test_the_readme_javascript_example_plays_a_match(
    spawn_node: SpawnNode, tmp_path: Path
) -> None:
    arena = spawn_node(ARENA_MODES="")
    script = tmp_path / "hello.mjs"
    script.write_text(readme_example(arena.url))
    first, second = await asyncio.gather(hellos_seen(script), hellos_seen(script))
    assert first == second  # both players' hellos reached both
