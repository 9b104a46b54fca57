"""Fixtures of the end-to-end suite: the example site in a real browser.

Every test gets its own copy of a demo database (made once per session), the
example site serving it over HTTP on a free port (embedded worker: replies
are really delivered), and a fresh browser context of one Chromium launched
once per session through Playwright. Tests under ``tests/e2e/`` are marked
``e2e`` automatically.

A new test::

    def test_agent_sees_the_list(live_site, page, login):
        login(page, "anna")
        page.goto("/helpdesk/tickets")
        expect(page.get_by_role("table")).to_contain_text("Zoe Quill")

Fixtures: ``chromium`` (session), ``live_site``, ``context``, ``page``,
``login``, ``screenshot``. ``page.goto()`` takes paths: the context's base
URL is the live site. The browser is Debian's Chromium
(``scripts/browser.sh`` installs it): without it the tests skip, or fail when
``CI=true``.
"""

from __future__ import annotations

import os
import shutil
import typing as t
from pathlib import Path

import pytest

from .support import CHROMIUM
from .support import CHROMIUM_ARGS
from .support import DEMO_SIZES
from .support import SCREENSHOT_DIR
from .support import VIEWPORT
from .support import LiveSite
from .support import close_app
from .support import site_config

if t.TYPE_CHECKING:
    from playwright.sync_api import Browser
    from playwright.sync_api import BrowserContext
    from playwright.sync_api import Page

HERE = Path(__file__).resolve().parent

#: Milliseconds Playwright waits for an element, a navigation or an ``expect``.
TIMEOUT_MS = 10_000


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Mark every test of this directory ``e2e`` (select with ``-m e2e``)."""
    for item in items:
        if HERE in Path(str(item.path)).resolve().parents:
            item.add_marker(pytest.mark.e2e)


def _unavailable(reason: str) -> t.NoReturn:
    """Skip locally, fail under CI=true (like tests/services_check.py)."""
    message = f"{reason} (the end-to-end tests cannot run; see docs/testing.rst)"
    if os.environ.get("CI") == "true":
        pytest.fail(message, pytrace=False)
    pytest.skip(message)


@pytest.fixture(scope="session")
def chromium() -> t.Iterator[Browser]:
    """Debian's Chromium, launched once per session through Playwright."""
    if not os.access(CHROMIUM, os.X_OK):
        _unavailable(f"{CHROMIUM} is missing: install it with scripts/browser.sh")
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        _unavailable("Playwright is not installed: pip install -e '.[test]'")
    from playwright.sync_api import expect

    expect.set_options(timeout=TIMEOUT_MS)  # a loaded CI machine can be slow
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=list(CHROMIUM_ARGS))
        yield browser
        browser.close()


@pytest.fixture(scope="session")
def demo_db(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A demo database made once per session (tests serve copies of it)."""
    from example_site import create_app
    from example_site.commands import prepare
    from tests.dates import DEMO_NOW

    tmp = tmp_path_factory.mktemp("e2e-demo")
    db_file = tmp / "demo.db"
    app = create_app(site_config(tmp, db_file, broker="stub"), instance_path=str(tmp / "i"))
    try:
        assert prepare(app, demo_sizes=DEMO_SIZES, now=DEMO_NOW)
    finally:
        close_app(app)
    return db_file


@pytest.fixture
def live_site(tmp_path: Path, demo_db: Path) -> t.Iterator[LiveSite]:
    """The example site on a fresh copy of the demo data, served over HTTP.

    See :class:`~tests.e2e.support.LiveSite` for its helpers (``url``,
    ``app``, ``outbox``, ``write_in()``, ``set_language()``, ``agent_id()``...).
    Test-only pages live under ``/_e2e/``.
    """
    db_file = tmp_path / "site.db"
    shutil.copy(demo_db, db_file)
    site = LiveSite(tmp_path, db_file).start()
    yield site
    site.stop()


@pytest.fixture
def context(chromium: Browser, live_site: LiveSite) -> t.Iterator[BrowserContext]:
    """A fresh browser context (no cookies) whose base URL is the live site."""
    ctx = chromium.new_context(base_url=live_site.url, viewport=VIEWPORT, locale="en-US")
    ctx.set_default_timeout(TIMEOUT_MS)
    yield ctx
    ctx.close()


@pytest.fixture
def page(context: BrowserContext) -> Page:
    """A tab in :func:`context`; ``page.goto("/helpdesk/tickets")`` opens the site."""
    return context.new_page()


class Login(t.Protocol):
    def __call__(self, page: Page, username: str, password: str = ...) -> None: ...


@pytest.fixture
def login(live_site: LiveSite) -> Login:
    """``login(page, username)``: log in through the example site's real login form.

    The demo users are the logins of :data:`flask_helpdesk.demo.TEAM`
    (``admin``, ``manager``, ``anna``, ``boris``, ``chen``, ``daria``,
    ``eduardo``, ``fiona``) and ``boss`` (not an agent); the password is
    ``example_site.DEMO_PASSWORD``. Lands on the ticket list.
    """
    from example_site import DEMO_PASSWORD

    def do_login(page: Page, username: str, password: str = DEMO_PASSWORD) -> None:
        page.goto("/login")
        page.get_by_label("Username").fill(username)
        page.get_by_label("Password").fill(password)
        with page.expect_navigation():
            page.get_by_role("button", name="Log in").click()
        if page.url.split("?")[0].endswith("/login"):
            alert = page.get_by_role("alert")
            why = alert.inner_text() if alert.count() else "no error shown"
            raise AssertionError(f"login as {username!r} failed: {why}")

    return do_login


class Screenshot(t.Protocol):
    def __call__(self, page: Page, name: str, lang: str) -> Path: ...


@pytest.fixture
def screenshot(tmp_path: Path) -> Screenshot:
    """``screenshot(page, name, lang)``: save the viewport as ``<lang>/<name>.png``.

    The page must be in ``lang`` (checked on ``<html lang>``): set the agent's
    language with ``live_site.set_language(login, lang)`` before logging in.
    The PNG goes to ``docs/_static/screenshots/<lang>/<name>.png`` when the
    environment has ``HELPDESK_SCREENSHOTS=update``; otherwise to the test's
    temporary directory, so ordinary runs leave the checkout alone. Returns
    the path written.
    """
    update = os.environ.get("HELPDESK_SCREENSHOTS") == "update"
    root = SCREENSHOT_DIR if update else tmp_path / "screenshots"

    def take(page: Page, name: str, lang: str) -> Path:
        shown = (page.get_attribute("html", "lang") or "").replace("-", "_")
        assert shown == lang, f"the page is in {shown!r}, not {lang!r}: {page.url}"
        path = root / lang / f"{name}.png"
        path.parent.mkdir(parents=True, exist_ok=True)
        page.evaluate("document.fonts.ready.then(() => true)")
        page.screenshot(path=str(path), type="png", animations="disabled", caret="hide")
        return path

    return take
