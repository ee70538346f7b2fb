"""The README's settings table, derived from ``Settings`` (``make readme`` rewrites it)."""

from __future__ import annotations

import dataclasses

from server.settings import Settings


def settings_table() -> str:
    """The README's settings table, as Markdown."""
    rows = ["| Environment | Flag | Default | Meaning |", "|---|---|---|---|"]
    for f in dataclasses.fields(Settings):
        flag = "--" + f.name.replace("_", "-")
        default = f"`{f.default}`" if f.default != "" else "(empty)"
        rows.append(f"| `{f.metadata['env']}` | `{flag}` | {default} | {f.metadata['help']} |")
    return "\n".join(rows)


def rewrite_readme_table(readme: str) -> str:
    """The README with its settings table replaced by the current one."""
    start, end = "<!-- settings:start", "<!-- settings:end -->"
    head, _, rest = readme.partition(start)
    marker_line, _, rest = rest.partition("\n")
    _, _, tail = rest.partition(end)
    return f"{head}{start}{marker_line}\n{settings_table()}\n{end}{tail}"
