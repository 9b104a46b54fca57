"""The translation catalogs are complete, consistent and compiled.

Every user-facing string goes through the helpdesk's gettext domain and must
be translated into Russian and Brazilian Portuguese. When a test here fails
after you added a string, run ``scripts/i18n.sh``, translate the new entries
of the ru and pt_BR catalogs, run ``scripts/i18n.sh compile`` and commit.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import typing as t
from pathlib import Path

import pytest
from babel.messages.catalog import Catalog
from babel.messages.mofile import read_mo
from babel.messages.pofile import read_po

ROOT = Path(__file__).resolve().parents[2]
TRANSLATIONS = ROOT / "flask_helpdesk" / "translations"
LANGUAGES = ("en", "ru", "pt_BR")
TRANSLATED = ("ru", "pt_BR")
PLACEHOLDER = re.compile(r"%\((\w+)\)[sdif]|%[sdif]")
FIX = "run scripts/i18n.sh, translate the new entries, then scripts/i18n.sh compile"


def _po(lang: str) -> Catalog:
    with open(TRANSLATIONS / lang / "LC_MESSAGES" / "flask_helpdesk.po", "rb") as f:
        return read_po(f, locale=lang)


def _key(message_id: str | tuple[str, ...]) -> str:
    return message_id[0] if isinstance(message_id, tuple) else message_id


def _messages(catalog: Catalog) -> list[t.Any]:
    return [m for m in catalog if m.id]


def _placeholders(text: str) -> list[str]:
    return sorted(match.group(0) for match in PLACEHOLDER.finditer(text))


@pytest.fixture(scope="module")
def extracted(tmp_path_factory: pytest.TempPathFactory) -> Catalog:
    """The message template extracted from the code as it is now."""
    pot = tmp_path_factory.mktemp("i18n") / "flask_helpdesk.pot"
    pybabel = Path(sys.executable).with_name("pybabel")
    if not pybabel.exists():
        pybabel = Path(shutil.which("pybabel") or "pybabel")
    subprocess.run(
        ["bash", str(ROOT / "scripts" / "i18n.sh"), "pot", str(pot)],
        check=True, capture_output=True, env={**os.environ, "PYBABEL": str(pybabel)},
    )
    with open(pot, "rb") as f:
        return read_po(f)


@pytest.mark.parametrize("lang", LANGUAGES)
def test_catalog_matches_the_code(extracted: Catalog, lang: str) -> None:
    in_code = {_key(m.id) for m in _messages(extracted)}
    in_catalog = {_key(m.id) for m in _messages(_po(lang))}
    new = sorted(in_code - in_catalog)
    gone = sorted(in_catalog - in_code)
    assert not new, f"{len(new)} strings are not in the {lang} catalog ({FIX}): {new}"
    assert not gone, f"{len(gone)} strings of the {lang} catalog are gone from the code: {gone}"


@pytest.mark.parametrize("lang", TRANSLATED)
def test_every_message_is_translated(lang: str) -> None:
    catalog = _po(lang)
    nplurals = catalog.num_plurals
    bad = []
    for m in _messages(catalog):
        strings = m.string if isinstance(m.string, tuple) else (m.string,)
        if m.fuzzy or not all(s.strip() for s in strings):
            bad.append(_key(m.id))
        elif isinstance(m.id, tuple) and len(strings) != nplurals:
            bad.append(_key(m.id))
    assert not bad, f"untranslated or fuzzy in {lang} ({FIX}): {bad}"


@pytest.mark.parametrize("lang", TRANSLATED)
def test_placeholders_are_kept(lang: str) -> None:
    bad = []
    for m in _messages(_po(lang)):
        ids = m.id if isinstance(m.id, tuple) else (m.id,)
        strings = m.string if isinstance(m.string, tuple) else (m.string,)
        # Plural forms may drop the count only where the msgid's plural keeps it.
        wanted = _placeholders(ids[-1])
        for s in strings:
            if s and _placeholders(s) != wanted:
                bad.append((_key(m.id), s))
    assert not bad, f"placeholders differ in {lang}: {bad}"


def _hashable(value: t.Any) -> t.Any:
    """Plural entries come as lists from .mo files and tuples from .po files."""
    return tuple(value) if isinstance(value, list | tuple) else value


def _echo(m: t.Any) -> bool:
    """A plural whose strings are its msgids: untranslated ones compile that way."""
    return isinstance(m.id, list | tuple) and _hashable(m.string) == _hashable(m.id)


@pytest.mark.parametrize("lang", LANGUAGES)
def test_compiled_catalogs_are_up_to_date(lang: str) -> None:
    path = TRANSLATIONS / lang / "LC_MESSAGES" / "flask_helpdesk.mo"
    assert path.exists(), f"{path} is missing: run scripts/i18n.sh compile"
    with open(path, "rb") as f:
        compiled = {_hashable(m.id): _hashable(m.string) for m in read_mo(f)
                    if m.id and not _echo(m)}
    source = {_hashable(m.id): _hashable(m.string) for m in _messages(_po(lang))
              if not m.fuzzy and not _echo(m)
              and (all(m.string) if isinstance(m.string, tuple) else m.string)}
    assert compiled == source, f"{path} is stale: run scripts/i18n.sh compile"
