"""The OpenAPI document describes exactly the routes the API serves."""

from __future__ import annotations

import json
import re
import typing as t

import pytest

from flask_helpdesk.blueprints import api_input
from flask_helpdesk.openapi import document_json

from .conftest import PREFIX

pytestmark = pytest.mark.parametrize("database_uri", ["sqlite"], indirect=True)

#: Keywords that only annotate (the request checks may ignore them).
ANNOTATIONS = frozenset({"description", "contentEncoding", "title", "examples", "default"})


def _routes(app: t.Any) -> set[tuple[str, str]]:
    found = set()
    for rule in app.url_map.iter_rules():
        if not rule.rule.startswith(PREFIX) or rule.endpoint == "helpdesk.api.unknown":
            continue
        path = re.sub(r"<(?:[^:>]+:)?([^>]+)>", r"{\1}", rule.rule[len(PREFIX):])
        for method in rule.methods - {"HEAD", "OPTIONS"}:
            found.add((method.lower(), path))
    return found


def test_every_route_is_documented_and_every_operation_served(app) -> None:
    document = json.loads(document_json(app))
    documented = {(method, path) for path, item in document["paths"].items()
                  for method in item}
    assert _routes(app) == documented


def test_the_request_checks_understand_every_keyword_the_document_uses(app) -> None:
    document = json.loads(document_json(app))
    used: set[str] = set()

    def walk(schema: t.Any) -> None:
        if isinstance(schema, dict):
            used.update(schema)
            for key, value in schema.items():
                if key == "properties":
                    for sub in value.values():
                        walk(sub)
                elif key in ("items", "additionalProperties", "propertyNames"):
                    walk(value)
                elif key == "anyOf":
                    for sub in value:
                        walk(sub)

    for schema in document["components"]["schemas"].values():
        walk(schema)
    for item in document["paths"].values():
        for operation in item.values():
            for param in operation.get("parameters", ()):
                walk(param["schema"])
    assert used - api_input.KEYWORDS - ANNOTATIONS == set()


def test_every_reference_resolves_and_every_operation_has_an_id(app) -> None:
    text = document_json(app)
    document = json.loads(text)
    for ref in set(re.findall(r'"\$ref": "#/([^"]+)"', text)):
        node = document
        for part in ref.split("/"):
            node = node[part]
    ids = [op["operationId"] for item in document["paths"].values() for op in item.values()]
    assert len(ids) == len(set(ids))
    for item in document["paths"].values():
        for operation in item.values():
            assert "400" in operation["responses"]
