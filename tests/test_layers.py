"""The shape of the code: imports point down the layers, through no wall, round no
cycle, and no file grows past 400 lines (tests/import_graph.py draws the picture:
``make graph``)."""

from __future__ import annotations

import ast

from tests import import_graph


def test_every_import_points_down_the_layers() -> None:
    assert import_graph.upward(import_graph.graph()) == []


def test_no_import_goes_through_a_wall() -> None:
    edges = import_graph.graph()
    assert import_graph.walls(edges, import_graph.external()) == []


def test_no_modules_import_each_other() -> None:
    assert import_graph.cycles(import_graph.graph()) == []


def test_no_file_is_over_400_lines() -> None:
    assert import_graph.long_files(400) == []


def test_the_checks_can_fail() -> None:
    """Each rule flags what it is there to flag, so an empty answer above means something."""
    edges = {
        "server.storage.x": {"server.services.y"},
        "server.services.y": {"server.storage.keys", "server.storage.x"},
        "server.storage.keys": set(),
        "server.connection": {"server.handlers.base"},
        "server.handlers.base": set(),
        "server.http_api": {"server.ws"},
        "server.ws": set(),
    }
    outside: dict[str, set[str]] = {name: set() for name in edges}
    outside["server.services.y"] = {"redis", "aiohttp"}
    assert import_graph.upward(edges) == [("server.storage.x", "server.services.y")]
    assert import_graph.cycles(edges) == [["server.services.y", "server.storage.x"]]
    assert len(import_graph.walls(edges, outside)) == 5


def test_a_name_taken_from_a_package_is_an_import_of_the_package() -> None:
    """``from server.handlers import OpContext`` in the socket layer loads every handler:
    the graph must show it as an edge to the package, and the wall must catch it."""
    source = "from server.handlers import OpContext\nfrom server.storage import keys\n"
    found = {"server.handlers", "server.storage", "server.storage.keys"}
    tree = ast.parse(source)
    assert set(import_graph._imported(tree, "server.connection", False, found)) == {
        "server.handlers",
        "server.storage.keys",
    }
    edges = {"server.connection": {"server.handlers"}, "server.handlers": set()}
    assert import_graph.walls(edges, {"server.connection": set(), "server.handlers": set()})
