"""The business hours admin pages and the group form's calendar, driven through their forms."""

from __future__ import annotations

import re
import typing as t

import pytest

from flask_helpdesk.services import SYSTEM
from flask_helpdesk.services import agents
from flask_helpdesk.services import calendars
from flask_helpdesk.services import rules

from .conftest import submit

CALENDARS = "/helpdesk/admin/calendars"
NEW = f"{CALENDARS}/new"
GROUPS = "/helpdesk/admin/groups"


def _form(name: str = "Berlin", timezone: str = "Europe/Berlin",
          periods: t.Sequence[tuple[str, str, str]] = (),
          holidays: t.Sequence[tuple[str, str]] = (), **extra: str) -> dict[str, str]:
    """The calendar form as a browser posts it: rows ``p<i>_*`` and ``h<i>_*``."""
    data = {"name": name, "timezone": timezone, "op": "save", **extra}
    for i, (day, start, end) in enumerate(periods):
        data.update({f"p{i}_weekday": day, f"p{i}_start": start, f"p{i}_end": end})
    for i, (date, label) in enumerate(holidays):
        data.update({f"h{i}_date": date, f"h{i}_name": label})
    return data


def _row(html: str, name: str) -> str:
    match = re.search(rf'<tr class="hd-calendar-row"[^>]*>\s*<td>(?:<a [^>]*>)?'
                      rf"{re.escape(name)}.*?</tr>", html, re.S)
    assert match, f"no row for {name}"
    return match.group(0)


def _period_row(html: str, i: int) -> str:
    """The ``<li>`` of period row ``i`` of the form."""
    match = re.search(rf'<li class="hd-rule-row hd-period"[^>]*>(?:(?!</li>).)*name="p{i}_start"'
                      r".*?</li>", html, re.S)
    assert match, f"no period row {i}"
    return match.group(0)


@pytest.fixture
def berlin() -> t.Any:
    return calendars.create_calendar(actor=SYSTEM, name="Berlin", timezone="Europe/Berlin",
                                     periods=[{"weekday": "mon", "start": "09:00",
                                               "end": "17:00"}])


def test_a_new_calendar_starts_with_weekdays_and_is_listed_once_saved(team, login) -> None:
    client = login(team.admin)
    blank = client.get(NEW).text
    assert blank.count('value="09:00"') == 5 and 'value="UTC"' in blank
    assert 'list="hd-zones"' in blank and '<option value="Europe/Berlin">' in blank
    response = submit(client, NEW, NEW, _form(
        periods=[("mon", "09:00", "13:00"), ("mon", "14:00", "18:00"), ("tue", "09:00", "18:00"),
                 ("wed", "09:00", "18:00"), ("sat", "", "")],  # an empty row is ignored
        holidays=[("2026-12-25", "Christmas")], is_default="1"))
    assert response.status_code == 302
    made = calendars.default_calendar()
    assert made.name == "Berlin" and len(made.periods) == 4
    assert made.holidays == [{"date": "2026-12-25", "name": "Christmas"}]
    listing = client.get(CALENDARS).text
    row = _row(listing, "Berlin")
    assert "Calendar created." in listing and "Europe/Berlin" in row and "default" in row
    assert "Mon 09:00–13:00, 14:00–18:00<br>Tue–Wed 09:00–18:00" in row
    assert "1 holiday" in row and "groups without a calendar of their own" in row


def test_edit_with_two_periods_on_one_day_and_a_holiday(team, login, berlin) -> None:
    client = login(team.admin)
    page = f"{CALENDARS}/{berlin.id}"
    response = submit(client, page, page, _form(
        name="Berlin office", periods=[("fri", "14:00", "18:00"), ("fri", "09:00", "13:00")],
        holidays=[("2026-12-24", "Christmas Eve"), ("", "")]))
    assert response.status_code == 302
    saved = calendars.get_calendar(berlin.id, actor=SYSTEM)
    assert saved.name == "Berlin office"
    assert saved.periods == [{"weekday": "fri", "start": "09:00", "end": "13:00"},
                             {"weekday": "fri", "start": "14:00", "end": "18:00"}]
    assert saved.holidays == [{"date": "2026-12-24", "name": "Christmas Eve"}]
    again = client.get(page).text
    assert 'value="2026-12-24"' in again and 'value="Christmas Eve"' in again
    assert '<option value="fri" selected>Friday</option>' in _period_row(again, 1)


def test_a_bad_time_zone_is_shown_next_to_the_field_and_keeps_what_was_typed(
        team, login, berlin) -> None:
    client = login(team.admin)
    page = f"{CALENDARS}/{berlin.id}"
    response = submit(client, page, page, _form(
        name="Typed", timezone="Mars/Olympus", periods=[("thu", "08:30", "12:00")],
        holidays=[("2026-05-01", "Labour Day")]))
    assert response.status_code == 422
    zone = response.text.split('id="calendar-timezone"')[1].split("<datalist")[0]
    assert 'value="Mars/Olympus"' in zone and 'aria-invalid="true"' in zone
    assert "Mars/Olympus is not a known time zone" in zone
    assert 'value="Typed"' in response.text and 'value="08:30"' in response.text
    assert '<option value="thu" selected>' in response.text
    assert 'value="Labour Day"' in response.text
    assert calendars.get_calendar(berlin.id, actor=SYSTEM).timezone == "Europe/Berlin"


def test_an_overlap_is_shown_on_the_period_at_fault(team, login) -> None:
    client = login(team.admin)
    response = submit(client, NEW, NEW, _form(periods=[
        ("mon", "09:00", "12:00"), ("tue", "", ""), ("mon", "11:00", "13:00")]))
    assert response.status_code == 422
    bad = _period_row(response.text, 2)
    assert "Two periods overlap on mon." in bad and 'aria-invalid="true"' in bad
    assert "overlap" not in _period_row(response.text, 0)
    night = submit(client, NEW, NEW, _form(periods=[("mon", "22:00", "06:00")]))
    assert "split an overnight period" in _period_row(night.text, 0)


def test_rows_are_added_and_removed_without_script(team, login) -> None:
    client = login(team.admin)
    data = _form(name="Kept", periods=[("wed", "09:00", "12:00")], op="add_period")
    added = submit(client, NEW, NEW, data)
    assert added.status_code == 200 and 'value="Kept"' in added.text
    assert '<option value="wed" selected>' in _period_row(added.text, 1)  # the same day
    holiday = submit(client, NEW, NEW, {**data, "op": "add_holiday"})
    assert 'name="h0_date"' in holiday.text
    removed = submit(client, NEW, NEW, {**data, "op": "remove_period:0"})
    assert 'name="p0_start"' not in removed.text and 'value="Kept"' in removed.text
    assert calendars.list_calendars(actor=SYSTEM) == []


def test_managers_read_the_list_and_agents_get_403(team, login, berlin) -> None:
    manager = login(team.manager)
    listing = manager.get(CALENDARS)
    assert listing.status_code == 200 and "Berlin" in listing.text
    main = listing.text.split('<main class="hd-main"')[1]
    assert f"{CALENDARS}/{berlin.id}" not in main and NEW not in main
    anna = login(team.anna)
    for who in (manager, anna):
        assert who.get(NEW).status_code == 403
        assert who.get(f"{CALENDARS}/{berlin.id}").status_code == 403
    assert anna.get(CALENDARS).status_code == 403
    token = re.search(r'name="csrf_token" value="([^"]+)"',
                      anna.get("/helpdesk/tickets").text).group(1)
    for action in (NEW, f"{CALENDARS}/{berlin.id}", f"{CALENDARS}/{berlin.id}/delete"):
        posted = anna.post(action, data={**_form(name="Hacked"), "csrf_token": token})
        assert posted.status_code == 403, action
    assert [c.name for c in calendars.list_calendars(actor=SYSTEM)] == ["Berlin"]


def test_delete_is_refused_while_a_rule_names_the_calendar(team, login, berlin) -> None:
    rule = rules.create_rule(actor=SYSTEM, name="After hours", when={"type": "manual"},
                             conditions={"all": [{"field": "business_hours", "op": "outside",
                                                  "value": berlin.id}]},
                             actions=[{"type": "add_tags", "tags": ["late"]}])
    agents.update_group(team.support.id, actor=SYSTEM, calendar_id=berlin.id)
    client = login(team.admin)
    page = f"{CALENDARS}/{berlin.id}"
    assert f'href="/helpdesk/rules/{rule.id}">After hours</a>' in client.get(page).text
    refused = submit(client, page, f"{page}/delete")
    assert refused.status_code == 409
    delete_form = refused.text.split('id="delete"')[1]
    assert "Calendar Berlin is used by the rule After hours; change the rule first." in (
        delete_form)
    rules.delete_rule(rule.id, actor=SYSTEM)
    assert submit(client, page, f"{page}/delete").status_code == 302
    assert calendars.list_calendars(actor=SYSTEM) == []
    assert agents.get_group(team.support.id).calendar_id is None


def test_a_group_picks_its_calendar(team, login, berlin) -> None:
    client = login(team.admin)
    page = f"{GROUPS}/{team.billing.id}"
    form = client.get(page).text.split('id="edit-calendar_id"')[1].split("</select>")[0]
    assert "the default calendar (none: always open)" in form and ">Berlin</option>" in form
    saved = submit(client, page, page, {"name": "Billing", "description": "",
                                        "calendar_id": str(berlin.id)})
    assert saved.status_code == 302
    assert calendars.calendar_for_group(team.billing.id).id == berlin.id
    assert f'<option value="{berlin.id}" selected>Berlin</option>' in client.get(page).text
    row = re.search(r'<tr class="hd-group-row">\s*<td><a [^>]*>Billing</a>.*?</tr>',
                    client.get(GROUPS).text, re.S).group(0)
    assert '<td class="hd-calendar">Berlin</td>' in row
    bad = submit(client, page, page, {"name": "Billing", "calendar_id": "999"})
    assert bad.status_code == 422
    assert "Calendar 999 does not exist." in bad.text.split('id="edit-calendar_id"')[1]
    assert submit(client, page, page, {"name": "Billing", "calendar_id": ""}
                  ).status_code == 302
    assert calendars.calendar_for_group(team.billing.id) is None  # no default: always open


def test_a_new_group_gets_a_calendar(team, login, berlin) -> None:
    client = login(team.admin)
    assert submit(client, GROUPS, GROUPS, {"name": "Night", "calendar_id": str(berlin.id)}
                  ).status_code == 302
    night = agents.get_group_by_name("Night")
    assert calendars.calendar_for_group(night.id).name == "Berlin"


def test_the_rule_editor_links_to_the_calendars(team, login) -> None:
    html = login(team.manager).get("/helpdesk/rules/new").text
    assert html.count(f'href="{CALENDARS}"') >= 3  # the "when", a condition, an action


def test_a_taken_name_is_shown_next_to_the_name(team, login, berlin) -> None:
    response = submit(login(team.admin), NEW, NEW, _form(name="Berlin", timezone="UTC"))
    assert response.status_code == 409
    name = response.text.split('id="calendar-name"')[1].split("<label")[0]
    assert "A calendar called Berlin already exists." in name and 'aria-invalid="true"' in name
    assert 'value="UTC"' in response.text


def test_the_hours_are_written_in_the_agents_language(team, login, berlin) -> None:
    calendars.update_calendar(berlin.id, actor=SYSTEM, changes=calendars.CalendarChanges(
        periods=[{"weekday": day, "start": "09:00", "end": "18:00"}
                 for day in ("mon", "tue", "wed", "thu", "fri")],
        holidays=[{"date": f"2026-01-0{d}"} for d in (1, 2)], is_default=True))
    agents.update_agent(team.admin.id, actor=SYSTEM, language="ru")
    row = _row(login(team.admin).get(CALENDARS).text, "Berlin")
    assert "пн–пт 09:00–18:00" in row and "2 праздничных дня" in row
    assert "по умолчанию" in row
