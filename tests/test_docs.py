"""The documents that promise things stay true to the code."""

from __future__ import annotations

import re
from pathlib import Path

from server.protocol import CloseCode, ErrorCode, Op, Push
from server.settings_table import settings_table

ROOT = Path(__file__).resolve().parent.parent


def test_readme_settings_table_is_the_one_the_code_defines() -> None:
    assert settings_table() in (ROOT / "README.md").read_text()


def test_protocol_doc_names_every_op_push_error_and_close_code() -> None:
    doc = (ROOT / "docs" / "protocol.md").read_text()
    for name in [*Op, *Push, *ErrorCode]:
        assert f"`{name}`" in doc, name
    for code in CloseCode:
        assert f"`{int(code)}`" in doc, code


def test_the_readme_links_the_trust_model_and_every_relative_link_resolves() -> None:
    readme = (ROOT / "README.md").read_text()
    assert "](docs/trust.md)" in readme  # the issue: "The README links it"
    for page in [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]:
        for target in re.findall(r"\]\(([^)#\s]+)(?:#[^)]*)?\)", page.read_text()):
            if "://" in target or target.startswith("mailto:"):
                continue
            assert (page.parent / target).exists(), f"{page.name}: {target}"
