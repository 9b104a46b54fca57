from __future__ import annotations

import pytest

from flask_helpdesk import Conflict
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
