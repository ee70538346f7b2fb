"""``python -m server.schema``: write the documents made from the schemas (docs/asyncapi.json,
docs/openapi.json, clients/js/arena-protocol.d.ts); ``--check``: exit 1 if one is stale."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from server.schema.published import ROOT, generated


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m server.schema", description=__doc__)
    parser.add_argument("--check", action="store_true", help="only say which files are stale")
    args = parser.parse_args(argv)
    stale = []
    for relative, text in generated().items():
        path = ROOT / relative
        if path.exists() and path.read_text(encoding="utf-8") == text:
            continue
        stale.append(relative)
        if not args.check:
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(text, encoding="utf-8")
    for relative in stale:
        print(f"{'stale' if args.check else 'wrote'}: {Path(relative)}")
    return 1 if args.check and stale else 0


if __name__ == "__main__":
    sys.exit(main())
