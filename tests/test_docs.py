"""The documentation covers every hook, config key, command and endpoint.

In the spirit of datasette's ``test_docs.py``: the code is the list of what
exists, and each test fails, naming what is missing and where it belongs,
when the docs fall behind. The last test builds the docs with warnings as
errors, so a broken reference or a bad docstring fails the suite too.
"""

from __future__ import annotations

import ast
import builtins
import dis
import importlib
import inspect
import pickle
import re
import subprocess
import sys
import textwrap
import tomllib
import types
import typing as t
from pathlib import Path

import click
import pytest
from flask import Flask
from packaging.requirements import Requirement

import flask_helpdesk
from flask_helpdesk import services
from flask_helpdesk.config import DEFAULTS
from flask_helpdesk.plugins import hookspecs
from flask_helpdesk.plugins.manager import make_plugin_manager
from flask_helpdesk.testing import make_app
from tests.doc_links import REPO_URL
from tests.doc_links import is_relative
from tests.doc_links import is_well_formed
from tests.doc_links import links_of_markdown
from tests.doc_links import missing_relative_targets
from tests.doc_links import missing_repository_targets

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


# -- examples ----------------------------------------------------------------------

#: ``.. example: PATH NAME`` before a code-block: the block is the region between
#: ``# -- start NAME --`` and ``# -- end NAME --`` of PATH, or its function or class NAME.
EXAMPLE = re.compile(
    r"^\.\. example: (?P<path>\S+) (?P<name>\S+)\n\n\.\. code-block:: \w+\n\n"
    r"(?P<code>(?:(?: {4}.*)?\n)+)", re.M)


def _example_source(path: str, name: str) -> str:
    text = (ROOT / path).read_text("utf-8")
    region = re.search(rf"^# -- start {re.escape(name)} --\n(.*?)^# -- end {re.escape(name)} --$",
                       text, re.M | re.S)
    if region:
        return region.group(1).strip("\n")
    for node in ast.parse(text).body:
        if getattr(node, "name", None) == name:
            assert isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef)
            first = min([node.lineno] + [d.lineno for d in node.decorator_list])
            return "\n".join(text.splitlines()[first - 1:node.end_lineno])
    raise AssertionError(f"{path} has no '# -- start {name} --' region, function or class")


def _examples() -> list[t.Any]:
    return [pytest.param(page, m["path"], m["name"], textwrap.dedent(m["code"]).strip("\n"),
                         id=f"{page.name}:{m['name']}")
            for page in sorted(DOCS.rglob("*.rst"))
            for m in EXAMPLE.finditer(page.read_text("utf-8"))]


def test_no_page_includes_code_from_a_file() -> None:
    # A code host (GitHub) renders no literalinclude: the example reads as blank there.
    pages = [str(p.relative_to(ROOT)) for p in sorted(DOCS.rglob("*.rst"))
             if ".. literalinclude::" in p.read_text("utf-8")]
    assert not pages, (
        f"{pages} use literalinclude: put the code in a code-block after"
        " '.. example: PATH NAME' (tests/test_docs.py checks it against PATH)")


def test_examples_are_found() -> None:
    found = {(m[0].name, m[2]) for m in (p.values for p in _examples())}
    assert {("writing_plugins.rst", "plugin"), ("testing_plugins.rst", "make_app"),
            ("plugin_hooks.rst", "helpdesk_customer_sidebar_html")} <= found


@pytest.mark.parametrize(("page", "path", "name", "code"), _examples())
def test_example_is_the_tested_code(page: Path, path: str, name: str, code: str) -> None:
    expected = _example_source(path, name)
    assert code == expected, (
        f"the code-block of '.. example: {path} {name}' in docs/{page.relative_to(DOCS)}"
        f" differs from {path}; copy it again:\n{textwrap.indent(expected, '    ')}")


# -- pages that were wrong ---------------------------------------------------------


def _python_blocks(text: str) -> list[str]:
    return [textwrap.dedent(code) for code in re.findall(
        r"^\.\. code-block:: python\n\n((?:(?: {4}.*)?\n)+)", text, re.M)]


def _globals_read(code: types.CodeType) -> set[str]:
    names = {i.argval for i in dis.get_instructions(code)
             if i.opname in ("LOAD_GLOBAL", "LOAD_NAME")}
    for const in code.co_consts:
        if isinstance(const, types.CodeType):
            names |= _globals_read(const)
    return names


def test_quickstart_steps_use_only_what_they_or_earlier_steps_define(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Each step's code runs after the steps above it, and the result is an app."""
    blocks = _python_blocks(_read("quickstart.rst"))
    assert len(blocks) >= 3
    namespace: dict[str, t.Any] = {"__name__": "shop"}
    for number, block in enumerate(blocks, 1):
        code = compile(block, f"quickstart block {number}", "exec")
        exec(code, namespace)
        undefined = _globals_read(code) - set(namespace) - set(dir(builtins))
        assert not undefined, (
            f"python block {number} of docs/quickstart.rst uses {sorted(undefined)}, which"
            " neither it nor an earlier block defines")
    monkeypatch.setenv("FLASK_SQLALCHEMY_DATABASE_URI", f"sqlite:///{tmp_path / 'shop.db'}")
    monkeypatch.setenv("FLASK_SECRET_KEY", "quickstart")
    monkeypatch.setenv("FLASK_HELPDESK_ATTACHMENT_DIR", str(tmp_path / "files"))
    app = namespace["create_app"]()
    try:
        assert namespace["login_manager"].login_view == "auth.login"
        assert "helpdesk" in app.blueprints
    finally:
        app.extensions["helpdesk"].jobs.stop()


def test_cli_docs_show_the_head_revision() -> None:
    from flask_helpdesk import migrations

    text = _read("cli.rst")
    shown = re.findall(r"are at revision (\w+)\.", text) + re.findall(r"(\w+) \(head\)", text)
    assert shown, "docs/cli.rst shows no revision of 'db upgrade' or 'db current'"
    [head] = migrations.heads()
    assert set(shown) == {head}, f"docs/cli.rst shows revision {shown}; the head is {head}"


def test_advised_requirement_installs_against_this_version() -> None:
    with open(ROOT / "pyproject.toml", "rb") as f:
        version = tomllib.load(f)["project"]["version"]
    pattern = r"\"(flask-helpdesk\s*[<>=~!][^\"]*)\""
    advised = [Requirement(r) for page in sorted(DOCS.rglob("*.rst"))
               for r in re.findall(pattern, page.read_text("utf-8"))]
    assert advised, "docs/writing_plugins.rst advises no requirement on flask-helpdesk"
    wrong = [str(r) for r in advised if not r.specifier.contains(version)]
    assert not wrong, f"{wrong} cannot install flask-helpdesk {version} (a dev release sorts first)"


def test_contrib_plugins_translate_as_the_docs_say() -> None:
    """Contrib plugins use the core's domain, and the core's catalogs hold their strings."""
    extracted = (ROOT / "scripts" / "i18n.sh").read_text("utf-8")
    for package in sorted(ROOT.glob("contrib/*/*/flask_helpdesk_*")):
        sources = " ".join(p.read_text("utf-8") for p in package.rglob("*.py"))
        if "gettext" in sources:
            assert "from flask_helpdesk.i18n import" in sources
            assert str(package.relative_to(ROOT)) in extracted, (
                f"scripts/i18n.sh does not extract the strings of {package.relative_to(ROOT)}")
    rules = " ".join(_read("writing_plugins.rst").split())
    assert "in ``contrib/`` use the core's domain, ``flask_helpdesk.i18n``" in rules
    assert "it keeps its own domain" in rules
    assert "The plugins in ``contrib/`` (the email channel) translate through" in " ".join(
        _read("i18n.rst").split())


#: Channels often asked for; a front page names one only when it ships.
NOT_SHIPPED_CHANNELS = ["Telegram", "WhatsApp", "Facebook", "Instagram", "VK", "Twitter",
                        "social network", "SMS", "Viber"]


def test_front_pages_name_the_channels_that_ship_and_no_other() -> None:
    pm = make_plugin_manager(load_entry_points=True)
    labels = [c["label"] for group in pm.hook.helpdesk_register_channels() for c in group]
    assert {"Web", "Email"} <= set(labels)
    for page in (ROOT / "README.md", DOCS / "index.rst"):
        text = page.read_text("utf-8")
        missing = [label for label in labels if label.lower() not in text.lower()]
        assert not missing, f"{page.relative_to(ROOT)} does not name the channels {missing}"
        shipped = {label.lower() for label in labels}
        promised = [name for name in NOT_SHIPPED_CHANNELS
                    if name.lower() not in shipped and re.search(rf"\b{name}", text, re.I)]
        assert not promised, f"{page.relative_to(ROOT)} promises channels that do not exist:" \
            f" {promised}"


# -- the build and its links -------------------------------------------------------


@pytest.mark.parametrize("name", ["search", "genindex", "py-modindex"])
def test_no_page_is_shadowed_by_a_sphinx_page(name: str) -> None:
    assert not (DOCS / f"{name}.rst").exists(), (
        f"Sphinx writes its own {name}.html over docs/{name}.rst: rename the page"
    )


@pytest.fixture(scope="module")
def sphinx_build(tmp_path_factory: pytest.TempPathFactory) -> tuple[int, str, Path]:
    """Build the docs once: (exit code, warnings, doctrees folder).

    The dummy builder reads every page, runs autodoc and resolves every
    reference as the HTML builder does, with the same warnings, but writes
    no page: a third less time.
    """
    tmp = tmp_path_factory.mktemp("sphinx")
    result = subprocess.run(
        [sys.executable, "-m", "sphinx", "-W", "--keep-going", "-q", "-b", "dummy",
         "-d", str(tmp / "doctrees"), str(DOCS), str(tmp / "out")],
        capture_output=True, text=True, timeout=180, cwd=ROOT,
    )
    return result.returncode, result.stderr or result.stdout, tmp / "doctrees"


@pytest.mark.slow
def test_docs_build_without_warnings(sphinx_build: tuple[int, str, Path]) -> None:
    returncode, warnings, _ = sphinx_build
    assert returncode == 0, warnings[-6000:]


def _doctree_links(doctrees: Path) -> t.Iterator[tuple[str, str]]:
    from docutils import nodes

    for path in sorted(doctrees.rglob("*.doctree")):
        with open(path, "rb") as f:
            doctree = pickle.load(f)
        docname = path.relative_to(doctrees).with_suffix("").as_posix()
        for node in doctree.findall(nodes.reference):
            if node.get("refuri"):
                yield docname, node["refuri"]


@pytest.mark.slow
def test_links_of_the_docs_exist_or_are_well_formed(sphinx_build: tuple[int, str, Path]) -> None:
    links = list(_doctree_links(sphinx_build[2]))
    assert any(uri.startswith("https://") for _, uri in links), "no link found in the doctrees"
    bad = [f"{doc}: {uri}" for doc, uri in links
           if not is_relative(uri) and not uri.startswith("#") and not is_well_formed(uri)]
    assert not bad, f"malformed links: {bad}"
    dead = [f"{doc}: {uri}" for doc, uri in links
            if missing_relative_targets((DOCS / doc).parent, [uri])
            or missing_repository_targets([uri])]
    assert not dead, f"links to nothing in the repository: {dead}"


def _markdown_files() -> list[Path]:
    out = subprocess.run(["git", "ls-files", "--cached", "--others", "--exclude-standard",
                          "*.md"], cwd=ROOT, capture_output=True, text=True, check=True).stdout
    return [ROOT / name for name in out.split()]


def test_every_readme_is_checked() -> None:
    found = {p.relative_to(ROOT).as_posix() for p in _markdown_files()}
    assert {"README.md", "example_site/README.md", "contrib/channels/email/README.md"} <= found


@pytest.mark.parametrize("path", _markdown_files(), ids=lambda p: p.relative_to(ROOT).as_posix())
def test_links_of_markdown_exist_or_are_well_formed(path: Path) -> None:
    urls = links_of_markdown(path.read_text("utf-8"))
    assert not missing_relative_targets(path.parent, urls), "relative links to nothing"
    assert not missing_repository_targets(urls), "links to nothing in the repository"
    assert [u for u in urls if not is_relative(u) and not u.startswith("#")
            and not is_well_formed(u)] == [], "malformed links"


def test_link_helpers() -> None:
    urls = links_of_markdown("See [the docs](../../docs/x.rst), ![logo](logo.png),"
                             " <https://example.org/a> and [top](#top).")
    assert urls == ["../../docs/x.rst", "logo.png", "https://example.org/a", "#user-content-top"]
    assert missing_relative_targets(DOCS, urls) == ["../../docs/x.rst", "logo.png"]
    assert missing_relative_targets(DOCS, ["index.rst", "../README.md#x"]) == []
    assert missing_repository_targets([f"{REPO_URL}/blob/main/docs/nowhere.rst",
                                       f"{REPO_URL}/blob/main/docs/index.rst#x",
                                       f"{REPO_URL}/tree/main/contrib"]) == [
        f"{REPO_URL}/blob/main/docs/nowhere.rst"]
    assert [is_well_formed(u) for u in ["https://example.org/x", "http:/x", "https://a b",
                                        "mailto:a@example.org", "ftp://x.org"]] == [
        True, False, False, True, False]
