"""The HTTP side of the contract test: a reply's body checked against the published OpenAPI
document, so the document cannot drift from what the server answers.

``check_http(method, url, status, body)`` finds the route (a concrete URL is matched
against the document's path templates; a template is taken as is), then the response the
document gives for that status (else ``default``), and validates the body with every object
closed to fields the document does not name (``closed``), as the socket's contract does.
It returns the violations (empty when the body fits). A failure on a path or method the
document does not know is still held to the one error body (``HttpError``); a success
there is a violation: the route is missing from the document.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Callable
from typing import Any
from urllib.parse import urlsplit

import fastjsonschema

from server.schema.build import closed, ref
from server.schema.openapi import openapi_document

Validator = Callable[[Any], Any]
JSON = "application/json"
ERROR_BODY = ref("HttpError")


class HttpContract:
    """Validators for every response of the document, compiled when first needed."""

    def __init__(self, document: dict[str, Any]) -> None:
        self._paths: dict[str, dict[str, Any]] = document["paths"]
        self._shapes = closed(document["components"]["schemas"])
        self._validators: dict[str, Validator] = {}
        # Templates without parameters first: a literal path wins over a pattern.
        self._patterns: list[tuple[str, re.Pattern[str]]] = sorted(
            ((template, _pattern(template)) for template in self._paths),
            key=lambda item: ("{" in item[0], item[0]),
        )

    def template(self, path_or_url: str) -> str | None:
        """The document's path template that a URL (or a template) names, if any."""
        path = urlsplit(path_or_url).path if "://" in path_or_url else path_or_url
        path = path.split("?", 1)[0]
        if path in self._paths:
            return path
        for template, pattern in self._patterns:
            if pattern.fullmatch(path):
                return template
        return None

    def statuses(self, method: str, template: str) -> set[int]:
        """The statuses the document lists for a route (``default`` aside)."""
        responses = self._paths.get(template, {}).get(method.lower(), {}).get("responses", {})
        return {int(status) for status in responses if status.isdigit()}

    def check(self, method: str, path_or_url: str, status: int, body: Any) -> list[str]:
        method = method.upper()
        if method == "HEAD":
            return []  # a GET's answer without its body
        template = self.template(path_or_url)
        where = f"{method} {template or path_or_url} {status}"
        operation = self._paths.get(template or "", {}).get(method.lower())
        if operation is None:
            if status >= 400:
                return self._validate(where, "HttpError", ERROR_BODY, body)
            return [f"{where}: the document has no {method} {template or path_or_url}"]
        responses = operation["responses"]
        response = responses.get(str(status))
        if response is None:
            if status >= 400:
                return self._validate(where, "HttpError", ERROR_BODY, body)  # ``default``
            return [f"{where}: status {status} is not in the document"]
        content = response.get("content")
        if content is None:
            if body is not None:
                return [f"{where}: a body where the document says none: {body!r:.200}"]
            return []
        if JSON not in content:
            return []  # text (metrics, scripts): nothing to validate as JSON
        key = f"{method} {template} {status}"
        return self._validate(where, key, content[JSON]["schema"], body)

    def _validate(self, where: str, key: str, schema: Any, body: Any) -> list[str]:
        validator = self._validators.get(key)
        if validator is None:
            root = {**closed(schema), "components": {"schemas": self._shapes}}
            validator = self._validators[key] = fastjsonschema.compile(root)
        try:
            validator(body)
        except fastjsonschema.JsonSchemaException as exc:
            return [f"{where}: {exc}: {body!r:.300}"]
        return []


def _pattern(template: str) -> re.Pattern[str]:
    """aiohttp's ``{name}`` matches one path segment: ``[^{}/]+``."""
    parts = re.split(r"(\{[^{}]+\})", template)
    return re.compile(
        "".join("[^{}/]+" if part.startswith("{") else re.escape(part) for part in parts)
    )


@functools.cache
def contract() -> HttpContract:
    return HttpContract(openapi_document("contract"))


def check_http(method: str, path_template_or_url: str, status: int, body: Any) -> list[str]:
    """The violations of one HTTP reply: ``body`` is its parsed JSON (None without one)."""
    return contract().check(method, path_template_or_url, status, body)
