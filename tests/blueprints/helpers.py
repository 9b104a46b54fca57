"""Driving the agent pages like a browser: real pages, real CSRF tokens."""

from __future__ import annotations

import re
import typing as t


def csrf_from(html: str) -> str:
    match = re.search(r'name="csrf_token" value="([^"]+)"', html)
    assert match, "the page has no CSRF token"
    return match.group(1)


def submit(client: t.Any, page_url: str, action: str, data: dict[str, t.Any]) -> t.Any:
    """Open ``page_url``, take its CSRF token and post ``data`` to ``action``."""
    token = csrf_from(client.get(page_url).text)
    return client.post(action, data={**data, "csrf_token": token})


def section(html: str, element_id: str) -> str:
    """The text from the element with ``id`` to the end of its closing tag's kind."""
    start = html.index(f'id="{element_id}"')
    tag = html.rfind("<", 0, start)
    name = re.match(r"<(\w+)", html[tag:]).group(1)
    end = html.index(f"</{name}>", start)
    return html[tag:end]
