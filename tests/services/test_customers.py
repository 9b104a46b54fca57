from __future__ import annotations

import pytest

from flask_helpdesk import Conflict
from flask_helpdesk import NotFound
from flask_helpdesk import PermissionDenied
from flask_helpdesk import ValidationError
from flask_helpdesk.services import SYSTEM
from flask_helpdesk.services import customers
from flask_helpdesk.services import tickets


@pytest.mark.parametrize(("kind", "value", "expected"), [
    ("email", " Carla@Example.ORG ", "carla@example.org"),
    ("phone", "+7 (912) 345-67-89", "+79123456789"),
    ("telegram", "@Carla_D", "carla_d"),
    ("crm-id", "A-17", "A-17"),
])
def test_identities_are_normalized(kind: str, value: str, expected: str) -> None:
    assert customers.normalize_identity(kind, value) == expected


@pytest.mark.parametrize(("kind", "value"), [
    ("email", "no-at-sign"), ("phone", "12"), ("Bad Kind", "x"), ("email", ""),
])
def test_malformed_identities_are_refused(kind: str, value: str) -> None:
    with pytest.raises(ValidationError):
        customers.normalize_identity(kind, value)


def test_duplicate_identity_names_the_owner(team) -> None:
    other = customers.create_customer(actor=team.anna, name="Other")
    with pytest.raises(Conflict, match="merge") as info:
        customers.add_identity(other.id, actor=team.anna, kind="email",
                               value="CARLA@example.org")
    assert info.value.details == {"customer_id": team.customer.id}
    with pytest.raises(Conflict):
        customers.add_identity(team.customer.id, actor=team.anna, kind="email",
                               value="carla@example.org")
    assert [i.value for i in customers.get_customer(other.id).identities] == []


def test_find_by_identity(team) -> None:
    customers.add_identity(team.customer.id, actor=team.anna, kind="phone",
                           value="+55 11 91234-5678")
    found = customers.find_by_identity("phone", "+5511912345678")
    assert found is not None and found.id == team.customer.id
    assert customers.find_by_identity("email", "nobody@example.org") is None


def test_merge_moves_identities_and_tickets_with_history(team, recorder) -> None:
    phone = customers.create_customer(actor=team.anna, name="",
                                      identities=[("phone", "+79123456789")])
    ticket = tickets.create_ticket(actor=team.anna, customer_id=phone.id, subject="Call",
                                   text="called", group_id=team.support.id)
    with pytest.raises(PermissionDenied):
        customers.merge_customers(phone.id, team.customer.id, actor=team.anna)
    recorder.clear()
    into = customers.merge_customers(phone.id, team.customer.id, actor=team.manager)
    assert sorted(i.kind for i in into.identities) == ["email", "phone"]
    assert tickets.get_ticket(ticket.id, actor=team.anna).customer_id == team.customer.id
    assert recorder.types == ["customer.merged"]
    assert customers.get_customer(phone.id).merged_into_id == team.customer.id
    assert customers.find_by_identity("phone", "+79123456789").id == team.customer.id
    with pytest.raises(Conflict):
        customers.merge_customers(phone.id, team.customer.id, actor=team.manager)


def test_new_ticket_for_merged_customer_goes_to_survivor(team) -> None:
    old = customers.create_customer(actor=SYSTEM, name="Old")
    customers.merge_customers(old.id, team.customer.id, actor=SYSTEM)
    ticket = tickets.create_ticket(actor=SYSTEM, customer_id=old.id, subject="x", text="y")
    assert ticket.customer_id == team.customer.id


def test_list_customers_keyset_and_query(team) -> None:
    for n in range(5):
        customers.create_customer(actor=SYSTEM, name=f"Пётр {n}",
                                  identities=[("email", f"p{n}@example.ru")])
    first = customers.list_customers(limit=3)
    rest = customers.list_customers(after=first[-1].id, limit=10)
    assert len(first) == 3 and len(rest) == 3
    assert [c.name for c in customers.list_customers(query="p3@")] == ["Пётр 3"]


def test_update_identity_normalizes_and_keeps_what_was_typed(team) -> None:
    identity = customers.add_identity(team.customer.id, actor=SYSTEM, kind="phone",
                                      value="+7 916 000-00-00")
    changed = customers.update_identity(identity.id, actor=team.anna, value="+7 (916) 123-45-67")
    assert (changed.value, changed.display) == ("+79161234567", "+7 (916) 123-45-67")
    assert customers.find_by_identity("phone", "+79161234567").id == team.customer.id
    assert customers.find_by_identity("phone", "+79160000000") is None
    shown = customers.update_identity(identity.id, actor=team.anna, display="Mobile")
    assert (shown.value, shown.display) == ("+79161234567", "Mobile")
    same = customers.update_identity(identity.id, actor=team.anna, value="+79161234567")
    assert same.value == "+79161234567"  # its own value is no conflict
    with pytest.raises(ValidationError):
        customers.update_identity(identity.id, actor=team.anna, value="12")


def test_update_identity_refuses_another_customers_value(team) -> None:
    other = customers.create_customer(actor=SYSTEM, name="Other",
                                      identities=[("email", "other@example.org")])
    own = team.customer.identities[0]
    with pytest.raises(Conflict, match="merge the two customers") as info:
        customers.update_identity(own.id, actor=team.anna, value="OTHER@example.org")
    assert info.value.details == {"customer_id": other.id}
    assert customers.get_identity(own.id).value == "carla@example.org"


def test_update_identity_of_nobody_is_not_found(team) -> None:
    with pytest.raises(NotFound):
        customers.update_identity(999, actor=team.anna, value="x@example.org")


def test_search_folds_case_in_every_script(team) -> None:
    olga = customers.create_customer(actor=SYSTEM, name="Ольга Ёлкина",
                                     identities=[("telegram", "@Olga_E")])
    for query in ("ольга", "ЁЛКИНА", "олЬГА ё", "@OLGA_E", "olga_e"):
        assert [c.id for c in customers.list_customers(query=query)] == [olga.id], query
    assert customers.list_customers(query="olga%") == []  # wildcards are literal
    assert customers.list_customers(query="o_ga") == []


def test_ticket_counts_and_requests_respect_visibility(team) -> None:
    def make(subject: str, group, status: str = "open") -> int:
        ticket = tickets.create_ticket(actor=SYSTEM, customer_id=team.customer.id,
                                       subject=subject, text="t", group_id=group.id)
        if status != "open":
            tickets.update_ticket(ticket.id, actor=SYSTEM,
                                  changes=tickets.TicketChanges(status=status))
        return ticket.id

    a = make("a", team.support)
    b = make("b", team.support, "closed")
    make("c", team.billing)
    d = make("d", team.support, "pending")
    counts = customers.ticket_counts(team.customer.id, actor=team.anna)
    assert (counts.unsolved, counts.solved, counts.hidden) == (2, 1, 1)
    assert customers.ticket_counts(team.customer.id, actor=team.manager).hidden == 0
    page = customers.list_requests(team.customer.id, actor=team.anna, limit=2)
    assert [x.id for x in page.items] == [d, a]
    rest = customers.list_requests(team.customer.id, actor=team.anna, cursor=page.next_cursor)
    assert [x.id for x in rest.items] == [b] and rest.next_cursor is None
    solved = customers.list_requests(team.customer.id, actor=team.anna, show="solved")
    assert [x.id for x in solved.items] == [b]
    with pytest.raises(ValidationError):
        customers.list_requests(team.customer.id, actor=team.anna, cursor="9.x")
