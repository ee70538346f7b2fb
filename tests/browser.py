"""Debian's chromium for the browser tests: one path, one set of flags, one fixture.

Playwright drives the system chromium (no browser download; ``make test`` installs it).
A missing chromium fails the test, never skips it: the pages are untested without one.
Use the fixture by importing it: ``from tests.browser import browser``.
"""

from __future__ import annotations

import os
from collections.abc import AsyncIterator

import pytest
from playwright.async_api import Browser, ConsoleMessage, Page, async_playwright

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = (
    "--headless=new",  # no display on a test machine; "new" is the full browser, headless
    "--no-sandbox",  # the sandbox wants user namespaces or root's consent; test boxes lack both
    "--disable-gpu",  # no GPU here: no GPU process to start and fail; canvases draw in software
    "--disable-quic",  # no HTTP/3 over UDP: on a closed network those attempts only time out
    "--no-first-run",  # no first-run setup (welcome page, default-browser question)
    # Without these three chromium keeps calling home on a closed network (safe browsing
    # lists, field trials, component downloads, sync): a flood of failing connections.
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
)


def require_chromium() -> None:
    """Fail, never skip: a page nobody opened in a browser is untested."""
    assert os.access(CHROMIUM, os.X_OK), (
        f"{CHROMIUM} is missing: apt-get install chromium (make test installs it)"
    )


@pytest.fixture
async def browser() -> AsyncIterator[Browser]:
    """A headless chromium for one test; each person in it gets a context of their own."""
    require_chromium()
    async with async_playwright() as playwright:
        launched = await playwright.chromium.launch(
            executable_path=CHROMIUM, args=list(CHROMIUM_ARGS)
        )
        yield launched
        await launched.close()


def collect_errors(page: Page) -> list[str]:
    """Every error ``page`` logs from now on: console errors and uncaught exceptions."""
    errors: list[str] = []

    def on_console(message: ConsoleMessage) -> None:
        if message.type == "error":
            errors.append(f"console: {message.text}")

    page.on("console", on_console)
    page.on("pageerror", lambda error: errors.append(f"pageerror: {error}"))
    return errors
