"""Every distribution of the repository builds into files fit for the package index.

The distributions (flask-helpdesk, each contrib plugin, the example site) are
built from a copy of the files git knows, as from a fresh clone, with
``python -m build`` (sdist, then the wheel from the sdist), and the files are
read as an installer and the package index read them: the license is inside,
the metadata has project URLs, classifiers and ``Requires-Python``, a plugin's
requirement on the core installs against the core's version, the long
description has no link that only works in the repository, and the sdist
carries a tests folder whole or not at all. ``twine check`` has the last word
on the description.
"""

from __future__ import annotations

import dataclasses
import email.parser
import shutil
import subprocess
import sys
import tarfile
import tomllib
import typing as t
import zipfile
from pathlib import Path

import pytest
import trove_classifiers
from packaging.requirements import Requirement
from packaging.specifiers import SpecifierSet
from packaging.utils import canonicalize_name

from tests.doc_links import is_relative
from tests.doc_links import is_well_formed
from tests.doc_links import links_of_markdown
from tests.doc_links import missing_repository_targets

ROOT = Path(__file__).resolve().parents[1]

#: Directories holding a distribution's pyproject.toml: the core, then the others.
DISTRIBUTIONS = [ROOT] + [p.parent for p in sorted(ROOT.glob("*/pyproject.toml"))] + [
    p.parent for p in sorted(ROOT.glob("contrib/*/*/pyproject.toml"))]
IDS = [d.relative_to(ROOT).as_posix() if d != ROOT else "flask-helpdesk" for d in DISTRIBUTIONS]


def _project(directory: Path) -> dict[str, t.Any]:
    with open(directory / "pyproject.toml", "rb") as f:
        return t.cast(dict[str, t.Any], tomllib.load(f)["project"])


#: ``{canonical name: version}`` of every distribution built here.
VERSIONS = {canonicalize_name(_project(d)["name"]): _project(d)["version"] for d in DISTRIBUTIONS}


@dataclasses.dataclass
class Built:
    directory: Path
    sdist: Path
    wheel: Path

    def sdist_names(self) -> list[str]:
        """Member paths of the sdist, without its top folder (``name-version/``)."""
        with tarfile.open(self.sdist) as tar:
            return [n.split("/", 1)[1] for n in tar.getnames() if "/" in n]

    def sdist_text(self, name: str) -> str:
        with tarfile.open(self.sdist) as tar:
            member = next(m for m in tar.getmembers() if m.name.split("/", 1)[-1] == name)
            f = tar.extractfile(member)
            assert f is not None
            return f.read().decode("utf-8")

    def wheel_text(self, suffix: str) -> str:
        with zipfile.ZipFile(self.wheel) as whl:
            [name] = [n for n in whl.namelist() if n.endswith(suffix)]
            return whl.read(name).decode("utf-8")

    def metadata(self) -> email.message.Message:
        return email.parser.Parser().parsestr(self.wheel_text(".dist-info/METADATA"))


def _tracked_files() -> list[str]:
    """The files of a fresh clone plus new ones not yet committed (not ignored ones)."""
    out = subprocess.run(["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"],
                         cwd=ROOT, capture_output=True, check=True).stdout
    return [name for name in out.decode("utf-8").split("\0") if name and (ROOT / name).is_file()]


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> dict[Path, Built]:
    # A copy: a build in the work tree would read the editable install's
    # *.egg-info/SOURCES.txt and ship whatever it lists.
    source = tmp_path_factory.mktemp("clone")
    for name in _tracked_files():
        (source / name).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(ROOT / name, source / name)
    result = {}
    for directory in DISTRIBUTIONS:
        out = tmp_path_factory.mktemp("dist")
        proc = subprocess.run(
            [sys.executable, "-m", "build", "--no-isolation", "--outdir", str(out),
             str(source / directory.relative_to(ROOT))],
            capture_output=True, text=True, timeout=300)
        assert proc.returncode == 0, f"{directory} does not build:\n{proc.stdout[-4000:]}" \
            f"\n{proc.stderr[-4000:]}"
        [sdist] = out.glob("*.tar.gz")
        [wheel] = out.glob("*.whl")
        result[directory] = Built(directory, sdist, wheel)
    return result


# -- license -----------------------------------------------------------------------


@pytest.mark.slow
@pytest.mark.parametrize("directory", DISTRIBUTIONS, ids=IDS)
def test_license_is_in_the_wheel_and_the_sdist(
        built: dict[Path, Built], directory: Path) -> None:
    text = (ROOT / "LICENSE").read_text("utf-8")
    assert _project(directory)["license"] == "BSD-3-Clause" and "BSD 3-Clause" in text
    dist = built[directory]
    assert "LICENSE" in dist.sdist_names(), f"{dist.sdist.name} has no LICENSE"
    assert dist.sdist_text("LICENSE") == text
    assert dist.wheel_text(".dist-info/licenses/LICENSE") == text
    assert dist.metadata()["License-Expression"] == "BSD-3-Clause"


# -- metadata ----------------------------------------------------------------------


@pytest.mark.slow
@pytest.mark.parametrize("directory", DISTRIBUTIONS, ids=IDS)
def test_metadata_has_urls_classifiers_and_python_versions(
        built: dict[Path, Built], directory: Path) -> None:
    meta = built[directory].metadata()
    urls = dict(u.split(", ", 1) for u in meta.get_all("Project-URL") or [])
    assert {"Homepage", "Documentation", "Source", "Issues", "Changelog"} <= set(urls), urls
    assert all(is_well_formed(u) for u in urls.values()), urls
    assert missing_repository_targets(urls.values()) == []

    classifiers = meta.get_all("Classifier") or []
    unknown = [c for c in classifiers
               if c not in trove_classifiers.classifiers and not c.startswith("Private ::")]
    assert unknown == [], "not trove classifiers (pypi.org refuses them)"

    requires_python = SpecifierSet(meta["Requires-Python"])
    versions = [c.rsplit(" :: ", 1)[1] for c in classifiers
                if c.startswith("Programming Language :: Python :: 3.")]
    assert versions, "no 'Programming Language :: Python :: 3.X' classifier"
    assert [v for v in versions if v not in requires_python] == [], (
        f"classifiers name Python versions that Requires-Python {requires_python} excludes")
    oldest = next(f"3.{minor}" for minor in range(30) if f"3.{minor}" in requires_python)
    assert oldest in versions, f"the oldest Python allowed ({oldest}) has no classifier"


@pytest.mark.slow
@pytest.mark.parametrize("directory", DISTRIBUTIONS, ids=IDS)
def test_requirements_on_our_distributions_install_against_their_version(
        built: dict[Path, Built], directory: Path) -> None:
    for line in built[directory].metadata().get_all("Requires-Dist") or []:
        req = Requirement(line)
        version = VERSIONS.get(canonicalize_name(req.name))
        if version is None:
            continue
        assert any(s.operator in (">=", "~=", "==", ">") for s in req.specifier), (
            f"{line!r} has no lower bound")
        assert req.specifier.contains(version), (
            f"{line!r} does not install {req.name} {version}: a dev release sorts before"
            f" its final release, so write >={version}")


# -- long description --------------------------------------------------------------


@pytest.mark.slow
@pytest.mark.parametrize("directory", DISTRIBUTIONS, ids=IDS)
def test_long_description_has_no_relative_link(
        built: dict[Path, Built], directory: Path) -> None:
    meta = built[directory].metadata()
    assert (meta["Description-Content-Type"] or "").startswith("text/markdown"), (
        "no Markdown long description: set readme = \"README.md\" in pyproject.toml")
    description = meta.get_payload()
    assert isinstance(description, str) and description.strip(), "no long description"
    urls = links_of_markdown(description)
    relative = [u for u in urls if is_relative(u)]
    assert relative == [], "relative links are dead on the package index: link absolutely"
    assert [u for u in urls if not u.startswith("#") and not is_well_formed(u)] == []
    assert missing_repository_targets(urls) == []


# -- sdist -------------------------------------------------------------------------


@pytest.mark.slow
@pytest.mark.parametrize("directory", DISTRIBUTIONS, ids=IDS)
def test_sdist_carries_a_tests_folder_whole_or_not_at_all(
        built: dict[Path, Built], directory: Path) -> None:
    names = built[directory].sdist_names()
    folders = {n.split("/tests/")[0] + "/tests" if "/tests/" in n else "tests"
               for n in names if n.startswith("tests/") or "/tests/" in n}
    tracked = _tracked_files()
    for folder in folders:
        base = (directory / folder).relative_to(ROOT).as_posix() + "/"
        shipped = {n for n in names if n.startswith(folder + "/") and not n.endswith("/")}
        whole = {f"{folder}/{n.removeprefix(base)}" for n in tracked if n.startswith(base)}
        assert shipped == whole, (
            f"{built[directory].sdist.name} carries part of {folder}/ (missing:"
            f" {sorted(whole - shipped)[:5]}): ship it whole or prune it in MANIFEST.in")


@pytest.mark.slow
def test_twine_check_passes(built: dict[Path, Built]) -> None:
    files = [str(p) for b in built.values() for p in (b.sdist, b.wheel)]
    proc = subprocess.run([sys.executable, "-m", "twine", "check", "--strict", *files],
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stdout + proc.stderr
