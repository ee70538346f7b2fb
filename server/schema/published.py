"""The documents as served and committed: one text per file, made the same way each time."""

from __future__ import annotations

import json
from importlib import metadata
from pathlib import Path
from typing import Any

from server.schema.asyncapi import asyncapi_document
from server.schema.openapi import openapi_document
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
    return openapi_document(version())


def as_text(document: dict[str, Any]) -> str:
    return json.dumps(document, indent=2, ensure_ascii=False) + "\n"


def generated() -> dict[str, str]:
    """Every generated file (path relative to the repository) and its text."""
    return {
        ASYNCAPI_PATH: as_text(asyncapi()),
        OPENAPI_PATH: as_text(openapi()),
        TYPESCRIPT_PATH: declarations(),
    }
