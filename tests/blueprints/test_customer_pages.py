"""The customer list and profile pages, used like an agent would."""

from __future__ import annotations

import re

import pytest

from flask_helpdesk.models import Ticket
from flask_helpdesk.services import SYSTEM
from flask_helpdesk.services import TicketChanges
from flask_helpdesk.services import customers
from flask_helpdesk.services import tickets

from .helpers import section
from .helpers import submit

ROW_ID = re.compile(r'<td class="hd-id">(\d+)</td>')


def _ticket(team, subject: str, *, group=None, status: str = "open", customer=None) -> Ticket:
    ticket = tickets.create_ticket(actor=SYSTEM, customer_id=(customer or team.customer).id,
                                   subject=subject, text="hello",
                                   group_id=group.id if group else None)
    if status != "open":
        tickets.update_ticket(ticket.id, actor=SYSTEM, changes=TicketChanges(status=status))
    return ticket


def _url(customer) -> str:
    return f"/helpdesk/customers/{customer.id}"


def test_profile_shows_contacts_attributes_notes_and_requests(team, login) -> None:
    customers.add_identity(team.customer.id, actor=SYSTEM, kind="phone", value="+7 916 123-45-67")
    customers.update_customer(team.customer.id, actor=SYSTEM, notes="Prefers calls after 6pm",
                              attributes={"plan": "pro", "seats": 12})
    old_open = _ticket(team, "Printer jammed", group=team.support)
    _ticket(team, "Invoice copy", group=team.support, status="resolved")  # newer, but solved
    new_open = _ticket(team, "Cannot log in")
    page = login(team.anna).get(_url(team.customer)).text
    contacts = section(page, "identities")
    assert "carla@example.org" in contacts and "+7 916 123-45-67" in contacts
    assert "<dt>plan</dt><dd>pro</dd>" in page and "<dt>seats</dt><dd>12</dd>" in page
    assert "Prefers calls after 6pm</textarea>" in page
    requests = section(page, "requests")
    ids = [int(n) for n in ROW_ID.findall(requests)]
    resolved = ids[-1]
    assert ids[:2] == [new_open.id, old_open.id]  # unsolved first, newest activity first
    assert tickets.get_ticket(resolved, actor=SYSTEM).status == "resolved"
    assert "<td>Support</td>" in requests and "<td>Web</td>" in requests
    unsolved = login(team.anna).get(_url(team.customer) + "?show=solved").text
    assert [int(n) for n in ROW_ID.findall(section(unsolved, "requests"))] == [resolved]


def test_requests_page_through_unsolved_then_solved(app, team, login) -> None:
    from flask_helpdesk.blueprints.agent import customers as pages

    made = [_ticket(team, f"T{n}", status="resolved" if n % 2 else "open") for n in range(7)]
    pages.REQUESTS_LIMIT, old = 3, pages.REQUESTS_LIMIT
    try:
        client, url, seen = login(team.anna), _url(team.customer), []
        while url:
            page = client.get(url).text
            seen += [int(n) for n in ROW_ID.findall(section(page, "requests"))]
            match = re.search(r'<a href="([^"]+)" rel="next">', page)
            url = match.group(1).replace("&amp;", "&") if match else None
    finally:
        pages.REQUESTS_LIMIT = old
    opened = [t.id for t in made if t.status == "open"]
    solved = [t.id for t in made if t.status != "open"]
    assert seen == opened[::-1] + solved[::-1]


def test_other_groups_tickets_are_counted_not_listed(app, team, login) -> None:
    _ticket(team, "Secret refund", group=team.billing)
    _ticket(team, "Visible question", group=team.support)
    page = login(team.anna).get(_url(team.customer)).text
    assert "Visible question" in page and "Secret refund" not in page
    assert "1 more ticket of this customer is in a group you cannot see." in page
    with app.app_context():  # a fresh g: the fixture's context caches the agent
        manager = login(team.manager).get(_url(team.customer)).text
    assert "Secret refund" in manager and "cannot see" not in manager


def test_add_edit_and_remove_an_identity(team, login) -> None:
    client, url = login(team.anna), _url(team.customer)
    added = submit(client, url, f"{url}/identities", {"kind": "telegram", "value": "@Carla_D"})
    assert added.status_code == 302 and added.location.endswith("#identity-new")
    identity = customers.find_by_identity("telegram", "carla_d").identities[-1]
    assert (identity.value, identity.display) == ("carla_d", "@Carla_D")
    edited = submit(client, url, f"{url}/identities/{identity.id}", {"value": "@Carla_Work"})
    assert edited.status_code == 302
    page = client.get(url).text
    assert 'value="@Carla_Work"' in section(page, "identities") and "Contact changed." in page
    assert customers.find_by_identity("telegram", "carla_work").id == team.customer.id
    removed = submit(client, url, f"{url}/identities/{identity.id}/remove", {})
    assert removed.status_code == 302
    assert "Carla_Work" not in section(client.get(url).text, "identities")
    assert customers.find_by_identity("telegram", "carla_work") is None


def test_a_bad_identity_is_refused_next_to_the_field_with_the_text_kept(team, login) -> None:
    client, url = login(team.anna), _url(team.customer)
    response = submit(client, url, f"{url}/identities", {"kind": "email", "value": "carla.at.home"})
    assert response.status_code == 422
    form = section(response.text, "identity-new")
    assert 'value="carla.at.home"' in form
    assert 'role="alert">carla.at.home is not an email address.' in form
    assert 'aria-invalid="true" aria-describedby="hd-new-error"' in form
    own = team.customer.identities[0]
    response = submit(client, url, f"{url}/identities/{own.id}", {"value": "nope"})
    item = section(response.text, f"identity-{own.id}")
    assert response.status_code == 422 and 'value="nope"' in item and "hd-error" in item


def test_a_value_of_another_customer_offers_to_merge(team, login) -> None:
    other = customers.create_customer(actor=SYSTEM, name="Carla at work",
                                      identities=[("email", "carla@work.example")])
    client, url = login(team.anna), _url(team.customer)
    response = submit(client, url, f"{url}/identities",
                      {"kind": "email", "value": "Carla@Work.example"})
    assert response.status_code == 409
    form = section(response.text, "identity-new")
    assert f"belongs to customer {other.id}; merge the two customers instead." in form
    assert f'href="{url}/merge?source={other.id}"' in form
    assert 'value="Carla@Work.example"' in form
    own = team.customer.identities[0]
    edit = submit(client, url, f"{url}/identities/{own.id}", {"value": "carla@work.example"})
    assert edit.status_code == 409 and f"merge?source={other.id}" in edit.text


def test_merge_flow_moves_everything_and_redirects(team, login) -> None:
    other = customers.create_customer(actor=SYSTEM, name="Zed Zimmer",
                                      identities=[("phone", "+1 555 0100")])
    moved = _ticket(team, "Called about delivery", customer=other, group=team.billing)
    client, url = login(team.manager), _url(team.customer)
    search = client.get(f"{url}/merge?q=zimmer").text
    assert f"?q=zimmer&amp;source={other.id}#confirm" in search
    assert f"/customers/{team.customer.id}/merge?q" not in search.split("Zed Zimmer")[0][-200:]
    confirm = client.get(f"{url}/merge?q=zimmer&source={other.id}").text
    box = section(confirm, "confirm")
    assert "+1 555 0100" in box and "1 ticket moves" in box and "Called about delivery" in box
    response = submit(client, f"{url}/merge?source={other.id}", f"{url}/merge",
                      {"source": str(other.id)})
    assert response.status_code == 302 and response.location == url
    old = client.get(_url(other))
    assert old.status_code == 302 and old.location == url
    page = client.get(url).text
    assert "was merged into this one" in page and "+1 555 0100" in section(page, "identities")
    assert f'<td class="hd-id">{moved.id}</td>' in page


def test_agents_see_the_confirmation_but_cannot_merge(team, login) -> None:
    other = customers.create_customer(actor=SYSTEM, name="Zed")
    client, url = login(team.anna), _url(team.customer)
    confirm = client.get(f"{url}/merge?source={other.id}").text
    assert "Only a manager or an administrator can merge customers" in confirm
    response = submit(client, url, f"{url}/merge", {"source": str(other.id)})
    assert response.status_code == 403
    assert customers.get_customer(other.id).merged_into_id is None


def test_merging_a_customer_into_itself_is_refused(team, login) -> None:
    client, url = login(team.manager), _url(team.customer)
    response = submit(client, url, f"{url}/merge", {"source": str(team.customer.id)})
    assert response.status_code == 422
    assert "cannot be merged into itself" in response.text


@pytest.mark.parametrize("query", ["ольга", "СМИРНОВА", "Ольга См", "916 555", "@OLGA_S",
                                   "olga.s@"])
def test_search_finds_by_name_or_any_contact_in_any_case(team, login, query) -> None:
    olga = customers.create_customer(actor=SYSTEM, name="Ольга Смирнова", identities=[
        ("email", "olga.s@example.ru"), ("phone", "+7 916 555-12-34"), ("telegram", "@olga_s")])
    customers.create_customer(actor=SYSTEM, name="Someone Else")
    _ticket(team, "Вопрос", customer=olga)
    page = login(team.anna).get("/helpdesk/customers", query_string={"q": query}).text
    rows = page.split("<tbody>")[1]
    assert [int(n) for n in ROW_ID.findall(rows)] == [olga.id]
    assert "olga.s@example.ru" in rows and '<td class="hd-open-count">1</td>' in rows


def test_customer_list_pages_by_id(team, login) -> None:
    for n in range(30):
        customers.create_customer(actor=SYSTEM, name=f"Bulk {n:02d}")
    client = login(team.anna)
    first = client.get("/helpdesk/customers?q=bulk").text
    ids = [int(n) for n in ROW_ID.findall(first)]
    assert len(ids) == 25
    next_url = re.search(r'<a href="([^"]+)" rel="next">', first).group(1).replace("&amp;", "&")
    rest = [int(n) for n in ROW_ID.findall(client.get(next_url).text)]
    assert len(rest) == 5 and min(rest) > max(ids)


@pytest.mark.parametrize("action", ["details", "identities", "identities/{iid}",
                                    "identities/{iid}/remove", "merge"])
def test_a_post_without_csrf_is_refused(team, login, action: str) -> None:
    iid = team.customer.identities[0].id
    url = f"{_url(team.customer)}/{action.format(iid=iid)}"
    response = login(team.manager).post(url, data={"name": "X", "notes": "x", "value": "a@b.c",
                                                   "kind": "email", "source": "1"})
    assert response.status_code == 400
    assert customers.get_customer(team.customer.id).name == "Carla Customer"


def test_notes_and_name_are_edited_inline(team, login) -> None:
    client, url = login(team.anna), _url(team.customer)
    response = submit(client, url, f"{url}/details", {"name": "Carla C.", "notes": "VIP"})
    assert response.status_code == 302 and response.location.endswith("#details")
    person = customers.get_customer(team.customer.id)
    assert (person.name, person.notes) == ("Carla C.", "VIP")
    too_long = submit(client, url, f"{url}/details", {"name": "N" * 201, "notes": "kept"})
    assert too_long.status_code == 422
    form = section(too_long.text, "details")
    assert "name is too long" in form and ">kept</textarea>" in form and "N" * 201 in form


def test_customer_data_is_escaped_everywhere(team, login) -> None:
    evil = customers.create_customer(actor=SYSTEM, name="<script>alert(1)</script>",
                                     identities=[("web", '"><img src=x onerror=alert(1)>')],
                                     attributes={"note": "<b>bold</b>"})
    client = login(team.manager)
    pages = [client.get(_url(evil)).text, client.get("/helpdesk/customers?q=alert").text,
             client.get(f"{_url(team.customer)}/merge?q=alert&source={evil.id}").text,
             client.get(f"{_url(evil)}/merge?source={team.customer.id}").text]
    for n, page in enumerate(pages):
        assert "<script>alert(1)" not in page and "<img src=x" not in page
        assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page
        assert "&amp;lt;" not in page  # escaped once, not twice
        if n < 3:  # the last page lists the other customer's contacts
            assert "&#34;&gt;&lt;img src=x onerror=alert(1)&gt;" in page
    assert "&lt;b&gt;bold&lt;/b&gt;" in pages[0]


def test_unknown_customer_is_404(team, login) -> None:
    assert login(team.anna).get("/helpdesk/customers/9999").status_code == 404
    other = customers.create_customer(actor=SYSTEM, name="O", identities=[("email", "o@x.io")])
    iid = other.identities[0].id
    response = submit(login(team.anna), _url(team.customer),
                      f"{_url(team.customer)}/identities/{iid}/remove", {})
    assert response.status_code == 404  # not this customer's identity
