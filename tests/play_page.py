"""A person's tab at /play, driven through Debian's chromium (tests/test_play.py)."""

from __future__ import annotations

import json
from typing import Any

from playwright.async_api import Browser, Error, Page

from tests.browser import collect_errors

WAIT_MS = 5_000
# Every WebSocket frame the page sends, with when (the page's clock, in ms), the socket
# that sent last, and how many pointer moves it saw.
RECORD_SENDS = """
window.__sent = [];
window.__moves = 0;
window.addEventListener("pointermove", () => { window.__moves += 1; }, true);
const send = WebSocket.prototype.send;
WebSocket.prototype.send = function (data) {
  window.__sent.push([performance.now(), String(data)]);
  window.__socket = this;
  return send.call(this, data);
};
"""


class Player:
    """One person: a browser context of their own, its tab, and what the tab logged."""

    def __init__(self, page: Page) -> None:
        self.page = page
        self.errors = collect_errors(page)
        self.player_id = ""
        # Every text frame the tab's sockets received, in order (a reload's sockets too).
        self.received: list[dict[str, Any]] = []
        page.on("websocket", lambda ws: ws.on("framereceived", self._received))

    def _received(self, frame: str | bytes) -> None:
        if isinstance(frame, str):
            self.received.append(json.loads(frame))

    def first_state(self) -> str:
        """How the first synced state the tab could apply reached it since ``received``
        was cleared: a live keyframe push, or the feed's first ``match.state`` (a keyframe
        or a patch). Live patches before the feed is read are held, not applied."""
        for frame in self.received:
            if frame.get("ev") == "match.state" and "full" in frame:
                return "live keyframe"
            states = [e for e in frame.get("events", []) if e.get("ev") == "match.state"]
            if states:
                return "feed keyframe" if "full" in states[0] else "feed patch"
        return "none"

    @classmethod
    async def log_in(cls, browser: Browser, base_url: str, name: str) -> Player:
        context = await browser.new_context()
        await context.add_init_script(RECORD_SENDS)
        player = cls(await context.new_page())
        await player.page.goto(f"{base_url}/play")
        await player.page.fill("#name", name)
        await player.page.click("#login")
        await player.until("p.phase === 'home'")
        player.player_id = await player.read("player_id")
        return player

    async def read(self, field: str) -> Any:
        return await self.page.evaluate(f"window.arenaPlay.{field}")

    async def until(self, condition: str, arg: Any = None, within_ms: int = WAIT_MS) -> None:
        """Wait until ``condition`` (JavaScript over ``p``, the page's arenaPlay, and ``arg``)."""
        script = f"(arg) => {{ const p = window.arenaPlay; return Boolean({condition}); }}"
        try:
            await self.page.wait_for_function(script, arg=arg, timeout=within_ms)
        except Error as exc:
            shown = await self.page.evaluate(
                "() => JSON.stringify({phase: arenaPlay.phase, scores: arenaPlay.scores,"
                " me: arenaPlay.me, steer: arenaPlay.steer, target: arenaPlay.target,"
                " catchup: arenaPlay.catchup, error: arenaPlay.error})"
            )
            raise AssertionError(f"not met within {within_ms} ms: {condition} ({shown})") from exc

    async def page_point(self, x: float, y: float) -> tuple[float, float]:
        """Where field point (x, y) is on the page."""
        box = await self.page.locator("#field").bounding_box()
        assert box is not None
        field = await self.read("field")
        border = 1  # play.css: the field is the canvas inside its 1px border
        page_x = box["x"] + border + x * (box["width"] - 2 * border) / field["w"]
        page_y = box["y"] + border + y * (box["height"] - 2 * border) / field["h"]
        return page_x, page_y

    async def point_at(self, x: float, y: float, *, click: bool) -> None:
        """Put the pointer on field point (x, y): hovering steers the dot there, a click too."""
        page_x, page_y = await self.page_point(x, y)
        if click:
            await self.page.mouse.click(page_x, page_y)
        else:
            await self.page.mouse.move(page_x, page_y)

    async def sweep(self, points: list[tuple[int, int]], steps: int) -> None:
        """Drag the pointer through field ``points``, ``steps`` pointer moves to each."""
        for x, y in points:
            await self.page.mouse.move(*await self.page_point(x, y), steps=steps)

    async def move_to(self, x: int, y: int) -> dict[str, int]:
        """Hover at field point (x, y) and wait for the server to run the dot there;
        returns where the server put it (within a pixel of the pointer)."""
        await self.point_at(x, y, click=False)
        await self.until(
            "p.me && Math.abs(p.me.x - arg[0]) <= 1 && Math.abs(p.me.y - arg[1]) <= 1", [x, y]
        )
        at: dict[str, int] = await self.read("me")
        return at

    async def score(self) -> None:
        """Click the ring and wait for the server to count the point."""
        before = (await self.read("scores"))[self.player_id]
        target = await self.read("target")
        await self.point_at(target["x"], target["y"], click=True)
        await self.until("p.scores[p.player_id] === arg", before + 1)

    async def inputs_sent(self, op: str = "match.input") -> list[tuple[float, dict[str, Any]]]:
        """The ``op`` requests this tab sent since it loaded, with when."""
        sent = await self.page.evaluate("window.__sent")
        frames = [(at, json.loads(text)) for at, text in sent]
        return [(at, frame) for at, frame in frames if frame.get("op") == op]
