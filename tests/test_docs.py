"""The documentation covers every hook, config key, command and endpoint.

In the spirit of datasette's ``test_docs.py``: the code is the list of what
exists, and each test fails, naming what is missing and where it belongs,
when the docs fall behind. The last test builds the docs with warnings as
errors, so a broken reference or a bad docstring fails the suite too.
"""

from __future__ import annotations

import importlib
import inspect
import re
import subprocess
import sys
import types
import typing as t
from pathlib import Path

import click
import pytest
from flask import Flask

import flask_helpdesk
from flask_helpdesk import services
from flask_helpdesk.config import DEFAULTS
from flask_helpdesk.plugins import hookspecs
from flask_helpdesk.plugins.manager import make_plugin_manager
from flask_helpdesk.testing import make_app

ROOT = Path(__file__).resolve().parents[1]
DOCS = ROOT / "docs"
HTTP_METHODS = ("GET", "POST", "PUT", "PATCH", "DELETE")


def _read(name: str) -> str:
    return (DOCS / name).read_text(encoding="utf-8")


def _hooks() -> list[tuple[str, list[str]]]:
    return [
        (name, list(inspect.signature(fn).parameters))
        for name, fn in inspect.getmembers(hookspecs, inspect.isfunction)
        if name.startswith("helpdesk_")
    ]


def _headings(text: str) -> set[str]:
    """Section titles of a reST text (a line underlined with one repeated character)."""
    lines = text.splitlines()
    return {
        lines[i].strip()
        for i in range(len(lines) - 1)
        if lines[i].strip()
        and re.fullmatch(r"([=\-~^\"'`#*+.:_])\1+", lines[i + 1].strip())
        and len(lines[i + 1].strip()) >= len(lines[i].strip())
    }


@pytest.fixture(scope="module")
def app(tmp_path_factory: pytest.TempPathFactory) -> t.Iterator[Flask]:
    tmp = tmp_path_factory.mktemp("docs")
    app = make_app(database_uri=f"sqlite:///{tmp / 'hd.db'}",
                   config={"HELPDESK_ATTACHMENT_DIR": str(tmp / "files")})
    yield app
    app.extensions["helpdesk"].jobs.stop()


# -- plugin hooks ------------------------------------------------------------------


@pytest.mark.parametrize(("hook", "args"), _hooks(), ids=[name for name, _ in _hooks()])
def test_hook_is_documented(hook: str, args: list[str]) -> None:
    text = _read("plugin_hooks.rst")
    signature = f"{hook}({', '.join(args)})"
    assert signature in _headings(text), (
        f"docs/plugin_hooks.rst needs a section titled exactly {signature!r}"
    )
    assert f".. autofunction:: flask_helpdesk.plugins.hookspecs.{hook}\n" in text, (
        f"the {signature} section of docs/plugin_hooks.rst needs"
        f" '.. autofunction:: flask_helpdesk.plugins.hookspecs.{hook}'"
    )
    label = f".. _plugin_hook_{hook.removeprefix('helpdesk_')}:"
    assert label in text, f"docs/plugin_hooks.rst needs the label {label!r} above {signature}"


def test_every_hook_section_is_a_hook() -> None:
    hooks = {f"{name}({', '.join(args)})" for name, args in _hooks()}
    documented = {h for h in _headings(_read("plugin_hooks.rst")) if h.startswith("helpdesk_")}
    assert documented - hooks == set(), "documented hooks that do not exist (renamed?)"


# -- configuration -----------------------------------------------------------------


def _plugin_keys() -> dict[str, str]:
    """``{key: plugin name}`` of every installed and default plugin's config keys."""
    pm = make_plugin_manager(load_entry_points=True)
    keys = {}
    for impl in pm.hook.helpdesk_config_defaults.get_hookimpls():
        for key in impl.function(*[object() for _ in impl.argnames]) or {}:
            keys[key] = impl.plugin_name
    return keys


def _data_entries() -> dict[str, list[Path]]:
    """``{name: [files]}`` of every ``.. data::`` directive in the docs."""
    found: dict[str, list[Path]] = {}
    for path in sorted(DOCS.rglob("*.rst")):
        for name in re.findall(r"^\s*\.\. data:: (\S+)\s*$", path.read_text("utf-8"), re.M):
            found.setdefault(name, []).append(path)
    return found


@pytest.mark.parametrize("key", list(DEFAULTS))
def test_core_config_key_is_documented(key: str) -> None:
    text = _read("config.rst")
    match = re.search(rf"^\.\. data:: {key}\n(.*?)(?=^\.\. data::|\Z)", text, re.M | re.S)
    assert match, f"docs/config.rst needs a '.. data:: {key}' entry"
    entry = match.group(1)
    assert "Default:" in entry, f"the {key} entry of docs/config.rst needs its 'Default:'"
    assert ".. versionadded::" in entry, f"the {key} entry of docs/config.rst needs versionadded"


def test_plugin_config_keys_are_documented() -> None:
    documented = _data_entries()
    missing = {key: plugin for key, plugin in _plugin_keys().items() if key not in documented}
    assert not missing, (
        "plugin config keys without a '.. data::' entry (in docs/config.rst or the"
        f" plugin's page under docs/contrib/): {missing}"
    )


def test_documented_config_keys_exist() -> None:
    documented = set(re.findall(r"^\.\. data:: (HELPDESK_\w+)", _read("config.rst"), re.M))
    assert documented - set(DEFAULTS) - set(_plugin_keys()) == set(), (
        "docs/config.rst documents keys that no longer exist"
    )


def test_config_keys_are_documented_once() -> None:
    twice = {name: [str(p.relative_to(ROOT)) for p in paths]
             for name, paths in _data_entries().items() if len(paths) > 1}
    assert not twice, f"documented more than once: {twice}"


# -- CLI ---------------------------------------------------------------------------


def _invocations(command: click.Command, prefix: str) -> t.Iterator[str]:
    yield prefix
    if isinstance(command, click.Group):
        for name, sub in sorted(command.commands.items()):
            if not sub.hidden:
                yield from _invocations(sub, f"{prefix} {name}")


def test_cli_commands_are_documented(app: Flask) -> None:
    group = app.cli.commands["helpdesk"]
    text = " ".join(_read("cli.rst").split())
    missing = [inv for inv in _invocations(group, "flask helpdesk")
               if not re.search(re.escape(inv) + r"(?![\w-])", text)]
    assert not missing, f"docs/cli.rst does not mention: {missing}"


# -- REST API ----------------------------------------------------------------------


def _normalize(path: str) -> str:
    """``/tickets/<int:id>``, ``/tickets/{id}`` and ``/tickets/:id`` all read ``/tickets/{}``."""
    path = re.sub(r"<(?:[^:>]+:)?[^>]+>|\{[^}]+\}|:[A-Za-z_]\w*", "{}", path)
    return path.rstrip("/") or "/"


def _documented_endpoints(text: str) -> set[tuple[str, str]]:
    pattern = rf"\b({'|'.join(HTTP_METHODS)})\s+(/[^\s`'\",;)]*)"
    return {(method, _normalize(path.rstrip(".:")))
            for method, path in re.findall(pattern, text)}


def test_rest_endpoints_are_documented(app: Flask) -> None:
    prefix = app.extensions["helpdesk"].config.url_prefix
    documented = _documented_endpoints(_read("rest_api.rst"))
    rules = [r for r in app.url_map.iter_rules() if r.endpoint.startswith("helpdesk.api.")]
    assert rules, "the API blueprint registered no endpoint"
    # An endpoint with a <path:...> rule is a catch-all (a JSON 404), not an endpoint.
    fallbacks = {r.endpoint for r in rules if "<path:" in r.rule}
    rules = [r for r in rules if r.endpoint not in fallbacks]
    missing = []
    for rule in rules:
        full = _normalize(rule.rule)
        variants = {full, full.removeprefix(prefix) or "/",
                    full.removeprefix(f"{prefix}/api/v1") or "/"}
        for method in sorted(set(rule.methods or ()) & set(HTTP_METHODS)):
            if not any((method, v) in documented for v in variants):
                missing.append(f"{method} {rule.rule}")
    assert not missing, (
        "docs/rest_api.rst does not document (as 'METHOD /path', with or without the"
        f" {prefix} prefix): {missing}"
    )


def test_endpoint_notations_are_understood() -> None:
    text = """
    ``GET /tickets/{ticket_id}`` and ``PATCH /helpdesk/api/v1/tickets/<int:ticket_id>``,
    DELETE /api/v1/views/:view_id.
    """
    assert _documented_endpoints(text) == {
        ("GET", "/tickets/{}"), ("PATCH", "/helpdesk/api/v1/tickets/{}"),
        ("DELETE", "/api/v1/views/{}"),
    }


# -- public API --------------------------------------------------------------------


@pytest.mark.parametrize("name", flask_helpdesk.__all__)
def test_public_name_is_documented(name: str) -> None:
    text = _read("api.rst")
    kinds = "class|function|exception|data|attribute"
    pattern = rf"^\.\. (?:auto)?(?:{kinds}):: (?:flask_helpdesk\.)?{name}$"
    assert re.search(pattern, text, re.M), f"docs/api.rst needs an entry for flask_helpdesk.{name}"


def test_service_modules_are_documented() -> None:
    text = _read("services.rst")
    modules = [name for name in services.__all__
               if isinstance(getattr(services, name), types.ModuleType)]
    package = Path(services.__file__).parent
    modules += [p.stem for p in package.glob("*.py")
                if not p.stem.startswith("_") and p.stem not in modules]
    missing = [m for m in sorted(set(modules))
               if f".. automodule:: flask_helpdesk.services.{m}\n" not in text]
    for m in missing:
        importlib.import_module(f"flask_helpdesk.services.{m}")  # a real module
    assert not missing, f"docs/services.rst needs '.. automodule::' for: {missing}"


# -- the build ---------------------------------------------------------------------


@pytest.mark.parametrize("name", ["search", "genindex", "py-modindex"])
def test_no_page_is_shadowed_by_a_sphinx_page(name: str) -> None:
    assert not (DOCS / f"{name}.rst").exists(), (
        f"Sphinx writes its own {name}.html over docs/{name}.rst: rename the page"
    )


@pytest.mark.slow
def test_docs_build_without_warnings(tmp_path: Path) -> None:
    result = subprocess.run(
        [sys.executable, "-m", "sphinx", "-W", "--keep-going", "-q", "-b", "html",
         "-d", str(tmp_path / "doctrees"), str(DOCS), str(tmp_path / "html")],
        capture_output=True, text=True, timeout=120, cwd=ROOT,
    )
    assert result.returncode == 0, result.stderr[-6000:] or result.stdout[-6000:]
