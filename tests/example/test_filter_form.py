"""The ticket list's filter form as a browser submits it: every field, most empty."""

from __future__ import annotations

import re

from .conftest import Browser

STATUS = re.compile(r'class="hd-status hd-status-(\w+)"')


def test_empty_fields_of_the_filter_form_do_not_filter(browser: Browser) -> None:
    browser.login("admin")
    response = browser.get("/helpdesk/tickets?q=&status=resolved&priority=&assignee="
                           "&group=&tags=")
    assert response.status_code == 200
    assert '<option value="resolved" selected>' in response.text
    assert set(STATUS.findall(response.text.split("<tbody>")[1])) == {"resolved"}
