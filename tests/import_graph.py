"""Who imports whom in ``server/``, by layer: ``python -m tests.import_graph`` (or
``make graph``) prints it, and tests/test_layers.py holds the code to it.

The layers, top to bottom (a module may import its own layer and those below):

    entry       processes and the composition root: __main__, nodes, app, compose, worker
    transport   sockets and HTTP: ws, connection, hub, http_*, upkeep, redelivery,
                socket_releases
    handlers    one small function per op; and schema, the protocol as data
    services    the game's rules
    storage     the only code that speaks Redis
    games       server-run games and what drives them: pure, no I/O; below storage so
                a game can never reach Redis (the match runner in services commits
                what a game emits)
    base        protocol, errors, settings and other small pure modules, below all

Beside the layers, walls (``walls``): only the socket endpoint (``ws``) dispatches
to handlers, only entry modules import ``ws``, only storage names keys and channels
(``storage.keys``) or imports a Redis client
library, and handlers and services know nothing of aiohttp.

Imports are read from the source (``ast``), those under ``if TYPE_CHECKING:``
included: a cycle there is still a knot in the design. ``--dot`` prints the
graph for Graphviz instead (``python -m tests.import_graph --dot | dot -Tsvg``).
"""

from __future__ import annotations

import argparse
import ast
import collections
from collections.abc import Collection, Iterator
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
LAYERS = ("base", "games", "storage", "services", "handlers", "transport", "entry")

ENTRY = {"__main__", "nodes", "app", "compose", "worker", "transport", "banner", "embedded_redis"}
TRANSPORT = {
    "ws",
    "connection",
    "hub",
    "hub_out",
    "hub_sockets",
    "room_exits",
    "socket_releases",
    "upkeep",
    "redelivery",
    "app_metrics",
}
TRANSPORT_PREFIXES = ("http_", "appkeys")


def layer_of(module: str) -> str:
    """The layer of a module named ``server.x.y``."""
    parts = module.split(".")[1:]
    if not parts:
        return "base"
    top = parts[0]
    if top in ("games", "storage", "services", "handlers"):
        return top
    if top == "schema":  # the protocol as data: it reads the limits the handlers check
        return "handlers"
    if top in ENTRY:
        return "entry"
    if top in TRANSPORT or top.startswith(TRANSPORT_PREFIXES):
        return "transport"
    return "base"


def modules(package: str = "server") -> dict[str, Path]:
    found = {}
    for path in sorted((ROOT / package).rglob("*.py")):
        name = ".".join(path.relative_to(ROOT).with_suffix("").parts)
        found[name.removesuffix(".__init__")] = path
    return found


def _imported(
    tree: ast.Module, name: str, is_package: bool, found: Collection[str]
) -> Iterator[str]:
    """What a module imports: ``from pkg import x`` is the module ``pkg.x`` when there is
    one, else a name taken from ``pkg`` itself (its ``__init__``)."""
    here = name if is_package else name.rpartition(".")[0]
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            yield from (alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = here.split(".")[: len(here.split(".")) - node.level + 1]
                source = ".".join([*base, *([node.module] if node.module else [])])
            else:
                source = node.module or ""
            for alias in node.names:
                submodule = f"{source}.{alias.name}"
                yield submodule if submodule in found else source


def external(package: str = "server") -> dict[str, set[str]]:
    """Module -> the top-level names of what it imports from outside the project."""
    found = modules(package)
    outside: dict[str, set[str]] = {}
    for name, path in found.items():
        tree = ast.parse(path.read_text(), str(path))
        tops = set()
        for node in ast.walk(tree):
            if isinstance(node, ast.Import):
                tops |= {alias.name.partition(".")[0] for alias in node.names}
            elif isinstance(node, ast.ImportFrom) and not node.level and node.module:
                tops.add(node.module.partition(".")[0])
        outside[name] = {t for t in tops if t != package}
    return outside


def walls(edges: dict[str, set[str]], outside: dict[str, set[str]]) -> list[str]:
    """Imports that cross a wall (see the module's docstring)."""
    breaches = []
    for a in sorted(edges):
        for b in sorted(edges[a]):
            if layer_of(b) == "handlers" and layer_of(a) == "transport" and a != "server.ws":
                breaches.append(f"{a} -> {b}: only ws dispatches to handlers")
            if b == "server.storage.keys" and layer_of(a) != "storage":
                breaches.append(f"{a} -> {b}: key and channel names are storage's")
            if b == "server.ws" and layer_of(a) != "entry":
                breaches.append(f"{a} -> {b}: only entry modules import the socket endpoint")
        for lib in sorted(outside[a]):
            if lib in ("redis", "hiredis") and layer_of(a) != "storage":
                breaches.append(f"{a} -> {lib}: only storage speaks Redis")
            if lib == "aiohttp" and layer_of(a) in ("handlers", "services", "storage", "games"):
                breaches.append(f"{a} -> {lib}: the game's rules know no HTTP")
    return breaches


def graph(package: str = "server") -> dict[str, set[str]]:
    """Module -> the project modules it imports (a package's ``__init__`` when a name
    is taken from it, not when it is just the path to a submodule)."""
    found = modules(package)
    edges: dict[str, set[str]] = {}
    for name, path in found.items():
        tree = ast.parse(path.read_text(), str(path))
        targets = set(_imported(tree, name, path.name == "__init__.py", found))
        edges[name] = {t for t in targets if t in found and t != name}
    return edges


def upward(edges: dict[str, set[str]]) -> list[tuple[str, str]]:
    """Imports that point up a layer."""
    rank = {layer: i for i, layer in enumerate(LAYERS)}
    return sorted(
        (a, b) for a, bs in edges.items() for b in bs if rank[layer_of(b)] > rank[layer_of(a)]
    )


def cycles(edges: dict[str, set[str]]) -> list[list[str]]:
    """Groups of modules that import each other, directly or round about (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []

    def visit(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        on_stack.add(v)
        for w in sorted(edges.get(v, ())):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            group = []
            while True:
                w = stack.pop()
                on_stack.discard(w)
                group.append(w)
                if w == v:
                    break
            if len(group) > 1:
                found.append(sorted(group))

    for v in sorted(edges):
        if v not in index:
            visit(v)
    return found


def long_files(limit: int = 400) -> list[tuple[str, int]]:
    """Python files of the project longer than ``limit`` lines."""
    long = []
    for folder in ("server", "client_sim", "loadtest", "tests"):
        for path in sorted((ROOT / folder).rglob("*.py")):
            lines = len(path.read_text().splitlines())
            if lines > limit:
                long.append((str(path.relative_to(ROOT)), lines))
    return long


def report(edges: dict[str, set[str]]) -> str:
    by_layer: dict[str, list[str]] = collections.defaultdict(list)
    for name in sorted(edges):
        by_layer[layer_of(name)].append(name)
    lines = []
    for layer in reversed(LAYERS):
        lines.append(f"## {layer} ({len(by_layer[layer])} modules)")
        for name in by_layer[layer]:
            short = [t.removeprefix("server.") for t in sorted(edges[name])]
            lines.append(f"  {name.removeprefix('server.')} -> {', '.join(short) or '-'}")
    ups = upward(edges)
    lines.append(f"## imports pointing up a layer: {len(ups)}")
    lines += [f"  {a} ({layer_of(a)}) -> {b} ({layer_of(b)})" for a, b in ups]
    breaches = walls(edges, external())
    lines.append(f"## imports through a wall: {len(breaches)}")
    lines += [f"  {b}" for b in breaches]
    knots = cycles(edges)
    lines.append(f"## cycles: {len(knots)}")
    lines += ["  " + " <-> ".join(group) for group in knots]
    long = long_files()
    lines.append(f"## files over 400 lines: {len(long)}")
    lines += [f"  {path}: {count}" for path, count in long]
    return "\n".join(lines)


def dot(edges: dict[str, set[str]]) -> str:
    out = ["digraph arena {", "  rankdir=TB; node [shape=box, fontsize=10];"]
    for layer in reversed(LAYERS):
        names = [n for n in sorted(edges) if layer_of(n) == layer]
        out.append(f"  subgraph cluster_{layer} {{ label={layer!r};")
        out += [f'    "{n.removeprefix("server.")}";' for n in names]
        out.append("  }")
    for a in sorted(edges):
        for b in sorted(edges[a]):
            out.append(f'  "{a.removeprefix("server.")}" -> "{b.removeprefix("server.")}";')
    out.append("}")
    return "\n".join(out)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dot", action="store_true", help="print Graphviz DOT instead")
    args = parser.parse_args()
    edges = graph()
    print(dot(edges) if args.dot else report(edges))


if __name__ == "__main__":
    main()
