"""The business hours page on the example site: an admin adds a holiday and a split day."""

from __future__ import annotations

import datetime as dt

import pytest
from playwright.sync_api import Page
from playwright.sync_api import expect

from flask_helpdesk.services import SYSTEM
from flask_helpdesk.services import calendars

from .conftest import Login
from .support import LiveSite

pytestmark = pytest.mark.e2e


def test_admin_adds_a_holiday_and_a_second_period(page: Page, login: Login,
                                                   live_site: LiveSite) -> None:
    day = dt.date(dt.date.today().year + 1, 6, 15).isoformat()
    login(page, "admin")
    page.goto("/helpdesk/admin/calendars")
    row = page.locator("tr.hd-calendar-row", has_text="Berlin office")
    expect(row).to_contain_text("Mon–Fri 09:00–18:00")
    expect(row.locator(".hd-badge")).to_have_text("default")
    row.get_by_role("link", name="Berlin office").click()

    # The script adds the rows in place and puts the focus in the new one.
    page.get_by_role("button", name="Add a holiday").click()
    holiday = page.locator("li.hd-holiday").last
    expect(holiday.get_by_label("Date")).to_be_focused()
    holiday.get_by_label("Date").fill(day)
    holiday.get_by_label("Name").fill("Company day")
    periods = page.locator("li.hd-period")
    periods.nth(4).get_by_label("Closes at").fill("13:00")  # Friday
    page.get_by_role("button", name="Add a period").click()
    friday = periods.last
    expect(friday.get_by_label("Day")).to_have_value("fri")  # the day of the row above
    friday.get_by_label("Opens at").fill("14:00")
    friday.get_by_label("Closes at").fill("17:00")
    page.get_by_role("button", name="Save calendar").click()

    expect(page.get_by_text("Calendar saved.")).to_be_visible()
    expect(page.locator(f'li.hd-holiday input[value="{day}"]')).to_have_count(1)
    with live_site.app.app_context():
        [calendar] = calendars.list_calendars(actor=SYSTEM)
        assert {"date": day, "name": "Company day"} in calendar.holidays
        assert [p for p in calendar.periods if p["weekday"] == "fri"] == [
            {"weekday": "fri", "start": "09:00", "end": "13:00"},
            {"weekday": "fri", "start": "14:00", "end": "17:00"}]
    page.goto("/helpdesk/admin/calendars")
    expect(page.locator("tr.hd-calendar-row")).to_contain_text(
        "Mon–Thu 09:00–18:00Fri 09:00–13:00, 14:00–17:00")
