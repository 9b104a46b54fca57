"""Links of the READMEs and docs: found as the package index and Sphinx see them.

Used by ``tests/test_docs.py`` and ``tests/test_packaging.py``. No link is
fetched (the suite runs offline): a link into this repository is checked
against the work tree, any other must be a well-formed absolute address.
"""

from __future__ import annotations

import html.parser
import tomllib
import typing as t
from pathlib import Path
from pathlib import PurePosixPath
from urllib.parse import unquote
from urllib.parse import urlsplit

import readme_renderer.markdown

ROOT = Path(__file__).resolve().parents[1]


def _repo_url() -> str:
    with open(ROOT / "pyproject.toml", "rb") as f:
        urls = tomllib.load(f)["project"].get("urls", {})
    return str(urls.get("Source", "https://repository.invalid")).rstrip("/")


#: The repository's address (the core's ``Source`` project URL).
REPO_URL = _repo_url()


class _Links(html.parser.HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.urls: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.urls += [value for name, value in attrs if name in ("href", "src") and value]


def links_of_markdown(text: str) -> list[str]:
    """Every link and image address of a Markdown text, as the package index renders it."""
    rendered = readme_renderer.markdown.render(text, variant="GFM")
    assert rendered is not None, "the Markdown renderer is missing (readme-renderer[md])"
    parser = _Links()
    parser.feed(rendered)
    return parser.urls


def is_relative(url: str) -> bool:
    """A link to a path (not an absolute address, not an anchor of the same page)."""
    return not urlsplit(url).scheme and not url.startswith(("#", "//"))


def is_well_formed(url: str) -> bool:
    """An absolute http(s) address with a host, or a mailto: with an address."""
    parts = urlsplit(url)
    if parts.scheme == "mailto":
        return "@" in parts.path
    return parts.scheme in ("http", "https") and bool(parts.hostname) and " " not in url


def missing_repository_targets(urls: t.Iterable[str]) -> list[str]:
    """The links into this repository's main branch whose file or folder does not exist."""
    missing = []
    for url in urls:
        for kind in ("blob", "tree"):
            prefix = f"{REPO_URL}/{kind}/main/"
            if url.split("#")[0].startswith(prefix):
                path = unquote(urlsplit(url).path).removeprefix(urlsplit(prefix).path)
                if not (ROOT / PurePosixPath(path)).exists():
                    missing.append(url)
    return missing


def missing_relative_targets(base: Path, urls: t.Iterable[str]) -> list[str]:
    """The relative links, from a file in folder ``base``, to nothing in the work tree."""
    return [url for url in urls if is_relative(url)
            and not (base / unquote(urlsplit(url).path)).exists()]
