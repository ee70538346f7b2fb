"""server/static/sync-replica.js, the page's decoder of synced state, against
server/games/sync/replica.py in Debian's chromium: the same keyframe and random patches
(every kind of write) give the same state after every tick, and a patch on the wrong
base or on an unknown container throws NeedKeyframe and changes nothing."""

from __future__ import annotations

import json
import random
from typing import Any

from playwright.async_api import Browser

from server.games.sync.codec import Synced
from server.games.sync.replica import Replica
from server.games.sync.snapshot import plain
from server.games.sync.state import Schema, SyncList, SyncMap
from tests.browser import browser as browser  # a fixture: imported so the tests ask for it
from tests.browser import collect_errors
from tests.conftest import StartArena


class Piece(Schema):
    x: int
    y: int
    tag: str


class Shelf(Schema):
    pieces: SyncMap[Piece]
    slots: SyncMap[str]  # int keys
    order: SyncList[int]
    stack: SyncList[Piece]
    best: Piece | None
    note: str | float | bool | None


def write_randomly(shelf: Shelf, rng: random.Random) -> None:
    """A few writes of every kind: fields, map sets and deletes, list sets, appends and
    pops, containers attached and replaced."""
    for _ in range(rng.randint(0, 6)):
        kind = rng.randrange(8)
        name = f"p{rng.randrange(6)}"
        if kind == 0 and name in shelf.pieces:  # some of x, y, tag: pairs, runs, both
            piece = shelf.pieces[name]
            if rng.random() < 0.7:
                piece.x = rng.randrange(-300, 70000)
            if rng.random() < 0.5:
                piece.y = rng.randrange(-300, 300)
            if rng.random() < 0.4:
                piece.tag = rng.choice(["t", "u", "é"])
        elif kind == 1:
            shelf.pieces[name] = Piece(x=rng.randrange(100), y=0, tag=name)
        elif kind == 2 and name in shelf.pieces:
            del shelf.pieces[name]
        elif kind == 3:
            shelf.slots[rng.randrange(5)] = rng.choice(["a", "é", "__proto__", ""])
        elif kind == 4 and (rng.random() < 0.6 or not len(shelf.order)):
            shelf.order.append(rng.randrange(10))
        elif kind == 4:
            shelf.order.pop()
        elif kind == 5 and len(shelf.order):
            shelf.order[rng.randrange(len(shelf.order))] = rng.randrange(10)
        elif kind == 6 and len(shelf.stack) < 3:
            shelf.stack.append(Piece(x=1, y=2, tag="s"))
        elif kind == 6:
            shelf.stack.pop()
        else:
            shelf.best = rng.choice([None, Piece(x=0, y=rng.randrange(9), tag="best")])
            shelf.note = rng.choice([None, "n", 1.5, True])


async def test_the_pages_decoder_keeps_the_same_state_as_the_python_one(
    start_arena: StartArena, browser: Browser
) -> None:
    base_url = await start_arena()
    page = await (await browser.new_context()).new_page()
    errors = collect_errors(page)
    await page.goto(f"{base_url}/static/play.html")
    rng = random.Random(16)
    shelf = Shelf(pieces=SyncMap(), slots=SyncMap(), order=SyncList(), stack=SyncList())
    synced = Synced(shelf)
    full, schema = synced.full()
    synced.settle()
    frames: list[dict[str, Any]] = []
    expected = []
    replica = Replica()
    replica.keyframe(0, full, schema)
    base = 0
    for tick in range(1, 120):
        write_randomly(shelf, rng)
        patch = synced.patch()
        if patch:
            frames.append({"tick": tick, "base": base, "patch": patch})
            replica.apply(tick, base, patch)
            expected.append(json.loads(json.dumps(plain(shelf))))
            assert replica.state == plain(shelf)
            base = tick
    seen = await page.evaluate(
        """async ([full, schema, frames]) => {
          const { Replica, NeedKeyframe } = await import("/static/sync-replica.js");
          const replica = new Replica();
          const changes = [];
          replica.onChange((change) => changes.push(change.keyframe));
          replica.keyframe(0, full, schema);
          const states = [];
          for (const f of frames) {
            replica.apply(f.tick, f.base, f.patch);
            states.push(JSON.parse(JSON.stringify(replica.state)));
          }
          const before = JSON.stringify(replica.state);
          const refused = [];
          for (const [base, patch] of [[replica.tick - 1, []], [replica.tick, [[9999, 0, 1]]]]) {
            try {
              replica.apply(replica.tick + 1, base, patch);
            } catch (err) {
              refused.push(err instanceof NeedKeyframe);
            }
          }
          return { states, changes, refused, same: JSON.stringify(replica.state) === before };
        }""",
        [full, schema, frames],
    )
    assert len(frames) > 50
    assert seen["states"] == expected
    assert seen["changes"] == [True] + [False] * len(frames)
    assert seen["refused"] == [True, True]
    assert seen["same"] is True
    assert errors == []
