"""Plugin blocks in the customer sidebar: trusted HTML, isolated failures."""

from __future__ import annotations

import logging

from markupsafe import Markup

from flask_helpdesk import hookimpl
from flask_helpdesk.services import SYSTEM
from flask_helpdesk.services import agents
from flask_helpdesk.services import customers
from flask_helpdesk.testing import User


class Careful:
    """Escapes what it takes from the customer, as the hook asks."""

    @hookimpl
    def helpdesk_customer_sidebar_html(self, customer):
        return Markup('<h2>Careful</h2><p class="careful">{}</p>').format(customer.name)


class Careless:
    """Pastes the customer's name into HTML: its own bug, not the helpdesk's."""

    @hookimpl
    def helpdesk_customer_sidebar_html(self, customer):
        return f'<p class="careless">{customer.name}</p>'


class Broken:
    @hookimpl
    def helpdesk_customer_sidebar_html(self):
        raise RuntimeError("CRM is down")


class WrongType:
    @hookimpl
    def helpdesk_customer_sidebar_html(self):
        return 42


def _page(app_factory, plugins) -> str:
    app = app_factory(plugins=plugins)
    with app.app_context():
        agents.create_agent(actor=SYSTEM, name="Ann", email="ann@example.com", user_id="1")
        customer_id = customers.create_customer(actor=SYSTEM, name="<i>Eve</i>").id
    response = app.test_client(user=User("1")).get(f"/helpdesk/customers/{customer_id}")
    assert response.status_code == 200
    return response.text


def test_escaping_is_the_plugins_job(app_factory) -> None:
    page = _page(app_factory, [Careful(), Careless()])
    assert '<p class="careful">&lt;i&gt;Eve&lt;/i&gt;</p>' in page
    # A plain str is inserted as HTML: the helpdesk cannot tell markup from data.
    assert '<p class="careless"><i>Eve</i></p>' in page
    # pluggy's call order: the plugin registered last comes first
    assert page.index('class="careless"') < page.index('class="careful"')


def test_a_failing_block_is_a_note_and_the_page_still_renders(app_factory, caplog) -> None:
    with caplog.at_level(logging.ERROR, logger="flask_helpdesk.plugins"):
        page = _page(app_factory, [Broken(), Careful(), WrongType()])
    assert page.count("This block failed to load; the error was logged.") == 2
    assert page.count("hd-sidebar-block-failed") == 2
    assert '<p class="careful">' in page  # the other plugins' blocks are unaffected
    failures = [r for r in caplog.records if "failed to render the sidebar" in r.getMessage()]
    assert len(failures) == 2
    assert {str(r.exc_info[1]) for r in failures} == {
        "CRM is down", "expected str, Markup or None, got int"}
