"""The layers keep to the import rules of STYLE.md section 2.

- ``flask_helpdesk/models/`` holds data only: no Flask request, no I/O module,
  no services.
- ``flask_helpdesk/blueprints/`` are thin adapters: they import services,
  errors, i18n, the extension accessors and models (for typing), and never
  write through a session or construct a model.
- Every package under ``contrib/`` is a plugin like any third-party one: it
  imports only the public API (the names in ``flask_helpdesk.__all__`` and the
  modules in :data:`CONTRIB_ALLOWED`), never a name or module starting with
  ``_``, and never writes models.

The checks read the source's AST, so a violation is reported as
``path:line: rule`` without importing the offending module.
"""

from __future__ import annotations

import ast
import dataclasses
import typing as t
from pathlib import Path

import pytest

import flask_helpdesk

ROOT = Path(__file__).resolve().parents[1]
PACKAGE = ROOT / "flask_helpdesk"
CONTRIB = ROOT / "contrib"

#: Modules that do network, mail, process or broker I/O.
IO_MODULES = frozenset({
    "aiohttp", "aiosmtplib", "dramatiq", "flask_socketio", "ftplib", "http.client", "httpx",
    "imap_tools", "imaplib", "pika", "poplib", "redis", "requests", "smtplib", "socket",
    "socketio", "ssl", "subprocess", "telnetlib", "urllib.request", "urllib3",
})
#: What models may not reach: the request world.
WEB_MODULES = frozenset({"flask", "werkzeug"})
#: flask_helpdesk modules a blueprint may import.
BLUEPRINT_ALLOWED = frozenset({
    "flask_helpdesk.blueprints", "flask_helpdesk.channels",
    "flask_helpdesk.config", "flask_helpdesk.errors", "flask_helpdesk.events",
    "flask_helpdesk.extension", "flask_helpdesk.i18n", "flask_helpdesk.models",
    "flask_helpdesk.services", "flask_helpdesk.state",
})
#: flask_helpdesk modules a contrib plugin may import (plus the top level).
CONTRIB_ALLOWED = frozenset({
    "flask_helpdesk.channels", "flask_helpdesk.errors", "flask_helpdesk.events",
    "flask_helpdesk.i18n", "flask_helpdesk.plugins", "flask_helpdesk.services",
    "flask_helpdesk.testing",
})
#: Session methods that write.
WRITES = frozenset({"add", "add_all", "commit", "delete", "flush", "merge", "rollback"})


@dataclasses.dataclass(frozen=True)
class Violation:
    path: str
    line: int
    rule: str

    def __str__(self) -> str:
        return f"{self.path}:{self.line}: {self.rule}"


@dataclasses.dataclass(frozen=True)
class Import:
    """One imported module, or one name from a module."""

    line: int
    module: str
    name: str | None
    typing_only: bool


def module_name(path: Path, root: Path) -> str:
    parts = list(path.relative_to(root).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def _is_type_checking(test: ast.expr) -> bool:
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING"
    )


def imports(tree: ast.Module, module: str, is_package: bool) -> t.Iterator[Import]:
    """Every import in ``tree``, relative ones made absolute."""
    package = module if is_package else module.rpartition(".")[0]

    def visit(node: ast.AST, typing_only: bool) -> t.Iterator[Import]:
        for child in ast.iter_child_nodes(node):
            if isinstance(child, ast.If) and _is_type_checking(child.test):
                for stmt in child.body:
                    yield from visit_one(stmt, True)
                for stmt in child.orelse:
                    yield from visit_one(stmt, typing_only)
            else:
                yield from visit_one(child, typing_only)

    def visit_one(node: ast.AST, typing_only: bool) -> t.Iterator[Import]:
        if isinstance(node, ast.Import):
            for alias in node.names:
                yield Import(node.lineno, alias.name, None, typing_only)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                parts = package.split(".")
                parts = parts[: len(parts) - node.level + 1]
                base = ".".join([*parts, base] if base else parts)
            for alias in node.names:
                yield Import(node.lineno, base, alias.name, typing_only)
        else:
            yield from visit(node, typing_only)

    yield from visit(tree, False)


def _within(module: str, roots: t.Iterable[str]) -> bool:
    return any(module == r or module.startswith(r + ".") for r in roots)


def _private(dotted: str) -> bool:
    return any(part.startswith("_") and not part.startswith("__") for part in dotted.split("."))


def _model_names(found: t.Iterable[Import]) -> set[str]:
    """Local names bound to model classes or to the models package."""
    names = set()
    for imp in found:
        if _within(imp.module, ["flask_helpdesk.models"]) and imp.name:
            names.add(imp.name)
        elif imp.name == "models" and imp.module == "flask_helpdesk":
            names.add("models")
    return names


def _mentions_session(node: ast.expr) -> bool:
    if isinstance(node, ast.Name):
        return "session" in node.id.lower()
    if isinstance(node, ast.Attribute):
        return node.attr == "session" or _mentions_session(node.value)
    if isinstance(node, ast.Call):
        return _mentions_session(node.func)
    return False


def writes(tree: ast.Module, model_names: set[str]) -> t.Iterator[tuple[int, str]]:
    """Session writes, ``db.session`` use and model construction in ``tree``."""
    for node in ast.walk(tree):
        if isinstance(node, ast.Attribute) and node.attr == "session" and (
            isinstance(node.value, ast.Name) and node.value.id == "db"
            or isinstance(node.value, ast.Attribute) and node.value.attr == "db"
        ):
            yield node.lineno, "uses db.session; call a service instead"
        if not isinstance(node, ast.Call):
            continue
        func = node.func
        if isinstance(func, ast.Attribute) and func.attr in WRITES and (
            func.attr in ("commit", "rollback") or _mentions_session(func.value)
        ):
            yield node.lineno, f"calls .{func.attr}() on a session; call a service instead"
        if isinstance(func, ast.Name) and func.id in model_names and func.id[:1].isupper():
            yield node.lineno, f"constructs the model {func.id}; call a service instead"
        if (isinstance(func, ast.Attribute) and isinstance(func.value, ast.Name)
                and func.value.id in model_names and func.attr[:1].isupper()):
            yield node.lineno, f"constructs the model {func.attr}; call a service instead"


def _parse(path: Path) -> ast.Module:
    return ast.parse(path.read_text(encoding="utf-8"), filename=str(path))


def _rel(path: Path) -> str:
    return str(path.relative_to(ROOT)) if path.is_relative_to(ROOT) else str(path)


# -- the rules, one function per layer ------------------------------------------


def check_model(path: Path, tree: ast.Module, module: str) -> list[Violation]:
    out = []
    for imp in imports(tree, module, path.name == "__init__.py"):
        if imp.typing_only:
            continue
        where = f"{imp.module}.{imp.name}" if imp.name else imp.module
        if _within(imp.module, WEB_MODULES):
            out.append(Violation(_rel(path), imp.line,
                                 f"models hold no HTTP: no import of {where}"))
        elif _within(imp.module, IO_MODULES) or _within(where, IO_MODULES):
            out.append(Violation(_rel(path), imp.line, f"models do no I/O: no import of {where}"))
        elif _within(where, ["flask_helpdesk.services"]):
            out.append(Violation(_rel(path), imp.line,
                                 f"models may not import services ({where})"))
    return out


def check_blueprint(path: Path, tree: ast.Module, module: str) -> list[Violation]:
    out = []
    found = list(imports(tree, module, path.name == "__init__.py"))
    for imp in found:
        if not _within(imp.module, ["flask_helpdesk"]):
            continue
        where = f"{imp.module}.{imp.name}" if imp.name else imp.module
        target = where if imp.module == "flask_helpdesk" else imp.module
        public = imp.module == "flask_helpdesk" and imp.name in flask_helpdesk.__all__
        if not (public or _within(target, BLUEPRINT_ALLOWED) or imp.typing_only):
            out.append(Violation(_rel(path), imp.line,
                                 f"blueprints may not import {where} (allowed: services, errors,"
                                 " i18n, extension accessors, models for typing)"))
        elif _private(target) and not _within(target, ["flask_helpdesk.blueprints"]):
            out.append(Violation(_rel(path), imp.line,
                                 f"blueprints may not import the private {where}"))
    for line, rule in sorted(writes(tree, _model_names(found))):
        out.append(Violation(_rel(path), line, f"blueprint {rule}"))
    return out


def check_contrib(path: Path, tree: ast.Module, module: str, *, is_test: bool) -> list[Violation]:
    out = []
    public = set(flask_helpdesk.__all__)
    found = list(imports(tree, module, path.name == "__init__.py"))
    for imp in found:
        if not _within(imp.module, ["flask_helpdesk"]):
            continue
        where = f"{imp.module}.{imp.name}" if imp.name else imp.module
        if _private(where):
            out.append(Violation(_rel(path), imp.line,
                                 f"contrib may not import the private {where}"))
        elif imp.module == "flask_helpdesk" and imp.name is not None:
            if imp.name not in public and f"flask_helpdesk.{imp.name}" not in CONTRIB_ALLOWED:
                out.append(Violation(_rel(path), imp.line,
                                     f"contrib may import from flask_helpdesk only the names in"
                                     f" flask_helpdesk.__all__, not {imp.name}"))
        elif _within(imp.module, ["flask_helpdesk.models"]):
            if not (imp.typing_only or is_test):
                out.append(Violation(_rel(path), imp.line,
                                     f"contrib may import flask_helpdesk.models for typing only"
                                     f" (under TYPE_CHECKING), not {where}; use services"))
        elif imp.module != "flask_helpdesk" and not _within(imp.module, CONTRIB_ALLOWED):
            out.append(Violation(_rel(path), imp.line,
                                 f"contrib may not import {where}: use the public API"
                                 f" ({', '.join(sorted(CONTRIB_ALLOWED))})"))
    for line, rule in sorted(writes(tree, _model_names(found))):
        out.append(Violation(_rel(path), line, f"contrib {rule}"))
    return out


# -- the walks ----------------------------------------------------------------------


def _py_files(folder: Path) -> list[Path]:
    skip = {".venv", "build", "dist", "__pycache__", "node_modules"}
    return sorted(p for p in folder.rglob("*.py")
                  if not skip & set(p.relative_to(folder).parts)
                  and not any(part.endswith(".egg-info") for part in p.parts))


def contrib_packages() -> list[tuple[Path, Path]]:
    """``(distribution folder, file)`` for every Python file of each contrib plugin."""
    out = []
    if not CONTRIB.is_dir():
        return out
    for dist in sorted(p for p in CONTRIB.glob("*/*") if p.is_dir()):
        out.extend((dist, path) for path in _py_files(dist))
    return out


def _report(violations: list[Violation]) -> str:
    return "layer rules broken:\n" + "\n".join(f"  {v}" for v in violations)


def test_models_do_no_io() -> None:
    violations = []
    for path in _py_files(PACKAGE / "models"):
        violations += check_model(path, _parse(path), module_name(path, ROOT))
    assert not violations, _report(violations)


def test_blueprints_are_thin() -> None:
    violations = []
    for path in _py_files(PACKAGE / "blueprints"):
        violations += check_blueprint(path, _parse(path), module_name(path, ROOT))
    assert not violations, _report(violations)


def test_contrib_uses_only_the_public_api() -> None:
    violations = []
    for dist, path in contrib_packages():
        is_test = "tests" in path.relative_to(dist).parts or path.name.startswith("test_")
        violations += check_contrib(path, _parse(path), module_name(path, dist),
                                    is_test=is_test)
    assert not violations, _report(violations)


def test_the_walk_finds_the_layers() -> None:
    assert len(_py_files(PACKAGE / "models")) >= 5
    assert (PACKAGE / "blueprints" / "api.py") in _py_files(PACKAGE / "blueprints")
    if CONTRIB.is_dir() and list(CONTRIB.glob("*/*/*/*.py")):
        assert contrib_packages()


# -- the checker itself catches what it should --------------------------------------


def _check(checker: t.Callable[..., list[Violation]], source: str, module: str,
           **kwargs: t.Any) -> list[str]:
    path = ROOT / (module.replace(".", "/") + ".py")
    return [str(v) for v in checker(path, ast.parse(source), module, **kwargs)]


def test_checker_catches_io_and_requests_in_models() -> None:
    found = _check(check_model, (
        "import smtplib\n"
        "from flask import request\n"
        "from ..services import tickets\n"
        "import typing as t\n"
        "if t.TYPE_CHECKING:\n"
        "    from flask import Flask\n"
    ), "flask_helpdesk.models.bad")
    assert found == [
        "flask_helpdesk/models/bad.py:1: models do no I/O: no import of smtplib",
        "flask_helpdesk/models/bad.py:2: models hold no HTTP: no import of flask.request",
        "flask_helpdesk/models/bad.py:3: models may not import services"
        " (flask_helpdesk.services.tickets)",
    ]


def test_checker_catches_writes_in_blueprints() -> None:
    found = _check(check_blueprint, (
        "from ..models import Ticket\n"
        "from ..services import tickets\n"
        "from ..services._uow import session\n"
        "from ..tasks import Jobs\n"
        "def view(db):\n"
        "    ticket = Ticket(subject='x')\n"
        "    db.session.add(ticket)\n"
        "    session().commit()\n"
        "    seen = set(); seen.add(1)\n"
        "    return tickets.get_ticket(1, actor=None)\n"
    ), "flask_helpdesk.blueprints.bad")
    assert [f.split(": ", 1)[0] for f in found] == [
        "flask_helpdesk/blueprints/bad.py:3", "flask_helpdesk/blueprints/bad.py:4",
        "flask_helpdesk/blueprints/bad.py:6", "flask_helpdesk/blueprints/bad.py:7",
        "flask_helpdesk/blueprints/bad.py:7", "flask_helpdesk/blueprints/bad.py:8",
    ]
    assert "constructs the model Ticket" in found[2]
    assert "private flask_helpdesk.services._uow" in found[0]


def test_checker_catches_internals_in_contrib() -> None:
    source = (
        "from flask_helpdesk import InboundMessage, hookimpl\n"
        "from flask_helpdesk import get_state\n"
        "from flask_helpdesk.services import ingest, tickets\n"
        "from flask_helpdesk.services._uow import transaction\n"
        "from flask_helpdesk.config import DEFAULTS\n"
        "from flask_helpdesk.models import Ticket\n"
        "from flask_helpdesk import _private_thing\n"
        "import typing as t\n"
        "if t.TYPE_CHECKING:\n"
        "    from flask_helpdesk.models import Message\n"
    )
    found = _check(check_contrib, source, "flask_helpdesk_x.plugin", is_test=False)
    assert [f.split(": ", 1)[0].rsplit(":", 1)[1] for f in found] == ["4", "5", "6", "7"]
    assert "private flask_helpdesk.services._uow" in found[0]
    assert "for typing only" in found[2]
    in_tests = _check(check_contrib, source, "tests.test_x", is_test=True)
    assert [f.split(": ", 1)[0].rsplit(":", 1)[1] for f in in_tests] == ["4", "5", "7"]


@pytest.mark.parametrize("module", ["flask_helpdesk.blueprints.api", "contrib_pkg.plugin"])
def test_relative_imports_resolve(module: str) -> None:
    tree = ast.parse("from . import x\nfrom ..y import z\n")
    found = [(i.module, i.name) for i in imports(tree, module, False)]
    package = module.rpartition(".")[0]
    parent = package.rpartition(".")[0]
    assert found == [(package, "x"), (f"{parent}.y" if parent else "y", "z")]
