"""The documents as served and committed: one text per file, made the same way each time."""

from __future__ import annotations

import contextlib
import json
from importlib import metadata
from pathlib import Path
from typing import Any

from server.schema.asyncapi import asyncapi_document
from server.schema.typescript import declarations

ROOT = Path(__file__).resolve().parents[2]
ASYNCAPI_PATH = "docs/asyncapi.json"
OPENAPI_PATH = "docs/openapi.json"
TYPESCRIPT_PATH = "clients/js/arena-protocol.d.ts"


def version() -> str:
    """The protocol's version: Arena's own."""
    try:
        return metadata.version("arena")
    except metadata.PackageNotFoundError:
        return "0.0.0"


def asyncapi() -> dict[str, Any]:
    return asyncapi_document(version())


def openapi() -> dict[str, Any]:
    from server.schema.openapi import openapi_document  # C3's module, landing later

    document: dict[str, Any] = openapi_document(version())
    return document


def as_text(document: dict[str, Any]) -> str:
    return json.dumps(document, indent=2, ensure_ascii=False) + "\n"


def generated() -> dict[str, str]:
    """Every generated file (path relative to the repository) and its text."""
    files = {ASYNCAPI_PATH: as_text(asyncapi()), TYPESCRIPT_PATH: declarations()}
    with contextlib.suppress(ImportError):
        files[OPENAPI_PATH] = as_text(openapi())
    return files
