"""The ticket list's filter form as a browser submits it: every field, most empty."""

from __future__ import annotations

import re

from .conftest import Browser

STATUS = re.compile(r'class="hd-status hd-status-(\w+)"')


def test_empty_fields_of_the_filter_form_do_not_filter(browser: Browser) -> None:
    browser.login("admin")
    response = browser.get("/helpdesk/tickets?q=&status=resolved&priority=&assignee="
                           "&group=&channel=&tags=&sort=")
    assert response.status_code == 200
    assert '<option value="resolved" selected>' in response.text
    rows = response.text.split('<tbody class="hd-rows"')[1]
    assert set(STATUS.findall(rows)) == {"resolved"}
