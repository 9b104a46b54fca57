from __future__ import annotations

import pytest
from hypothesis import HealthCheck
from hypothesis import given
from hypothesis import settings
from hypothesis import strategies as st

from flask_helpdesk.services import SYSTEM
from flask_helpdesk.services import TicketFilter
from flask_helpdesk.services import customers
from flask_helpdesk.services import messages
from flask_helpdesk.services import search
from flask_helpdesk.services import transaction
from flask_helpdesk.services import views
from tests.search.conftest import found


@pytest.fixture
def corpus(new_ticket):
    return {
        "en": new_ticket("Printer is broken", "The office printer jams on every page."),
        "ru": new_ticket("Не работает ПРИНТЕР", "Мой принтера не печатает с утра."),
        "pt": new_ticket("Falha na impressão", "A impressora não imprime a fatura."),
        "other": new_ticket("Password reset", "I cannot log in to my account."),
    }


@pytest.mark.parametrize(("q", "expected"), [
    ("printer", {"en"}),
    ("PRINTER jams", {"en"}),
    ("print", {"en"}),  # a word's beginning
    ("printers", {"en"}),  # English stemming (Porter on SQLite, tsvector on PostgreSQL)
    ("принтер", {"ru"}),
    ("ПРИНТЕРА", {"ru"}),  # Cyrillic, case-insensitive
    ("Печат", {"ru"}),
    ("impressao", {"pt"}),  # accents do not matter
    ("IMPRESSÃO", {"pt"}),
    ("impressora fatura", {"pt"}),
    ("carla@example.org", {"en", "ru", "pt", "other"}),  # the customer's identity
    ("printer password", set()),  # every word must match
    ("zebra", set()),
])
def test_words_in_english_russian_portuguese(corpus, team, q, expected) -> None:
    assert found(team.admin, q) == {corpus[k].id for k in expected}


def test_postgresql_stems_and_matches_parts_of_words(corpus, team, dialect) -> None:
    if dialect != "postgresql":
        pytest.skip("stemming in every language and substrings are PostgreSQL's")
    assert found(team.admin, "принтеры") == {corpus["ru"].id}  # Russian stemmer
    assert found(team.admin, "impressoras") == {corpus["pt"].id}  # Portuguese stemmer
    assert found(team.admin, "rinte") == {corpus["en"].id}  # trigram substring
    assert found(team.admin, "ечата") == {corpus["ru"].id}


def test_ticket_number_finds_the_ticket(corpus, team) -> None:
    ticket = corpus["other"]
    assert ticket.id in found(team.admin, f"#{ticket.id}")
    assert ticket.id in found(team.admin, str(ticket.id))
    assert found(team.admin, "#999999") == set()


def test_new_message_makes_ticket_findable(corpus, team) -> None:
    ticket = corpus["other"]
    assert found(team.admin, "kangaroo") == set()
    messages.add_note(ticket.id, actor=team.admin, text="The customer mentions a Kangaroo.")
    assert found(team.admin, "kangaroo") == {ticket.id}


def test_subject_change_is_indexed(corpus, team) -> None:
    from flask_helpdesk.services import TicketChanges
    from flask_helpdesk.services import tickets

    ticket = corpus["other"]
    tickets.update_ticket(ticket.id, actor=team.admin,
                          changes=TicketChanges(subject="Login loop on Safari"))
    assert found(team.admin, "safari") == {ticket.id}
    assert found(team.admin, "password") == set()


def test_rolled_back_change_leaves_index_unchanged(corpus, team) -> None:
    ticket = corpus["other"]
    with pytest.raises(RuntimeError), transaction():
        messages.add_note(ticket.id, actor=team.admin, text="kangaroo")
        assert found(team.admin, "kangaroo") == set()  # not flushed to the index yet
        raise RuntimeError("the request failed")
    assert found(team.admin, "kangaroo") == set()
    assert found(team.admin, "password") == {ticket.id}


def test_merging_customers_moves_identities_into_documents(corpus, team, new_ticket) -> None:
    dora = customers.create_customer(actor=SYSTEM, name="Dora",
                                     identities=[("email", "dora@example.net")])
    hers = new_ticket("Refund please", "Order 77", customer_id=dora.id)
    customers.merge_customers(dora.id, team.customer.id, actor=team.admin)
    # Dora's ticket now belongs to Carla and is found by Carla's address.
    assert hers.id in found(team.admin, "carla@example.org")
    assert found(team.admin, "dora@example.net") >= {hers.id}


def test_merging_customers_indexes_new_identity_on_existing_tickets(corpus, team) -> None:
    dora = customers.create_customer(actor=SYSTEM, name="Dora",
                                     identities=[("email", "dora@example.net")])
    customers.merge_customers(dora.id, team.customer.id, actor=team.admin)
    assert corpus["en"].id in found(team.admin, "dora@example.net")


def test_new_identity_is_indexed(corpus, team) -> None:
    customers.add_identity(team.customer.id, actor=team.admin, kind="phone",
                           value="+7 (912) 345-67-89")
    assert corpus["ru"].id in found(team.admin, "+79123456789")


def test_agent_never_finds_other_groups_tickets(team, new_ticket) -> None:
    mine = new_ticket("Printer in support", group=team.support)
    theirs = new_ticket("Printer in billing", group=team.billing)
    assert found(team.anna, "printer") == {mine.id}
    assert found(team.boris, "printer") == {theirs.id}
    assert found(team.boris, f"#{mine.id}") == set()
    assert found(team.admin, "printer") == {mine.id, theirs.id}


HOSTILE = [
    '"', "'", '""', 'printer"', 'a" OR 1=1 --', "NEAR(printer broken)", "*", "printer*",
    "^printer", "printer AND", "AND OR NOT", "-printer", "()", "(", "{document}: x",
    "document:printer", "helpdesk_search_fts:printer", "%", "_", "\\", "%printer%",
    "\x00", "pri\x00nter", "\ud800", "🙂", "!!!", "   ", ":*", "printer:*", "a & b | !c",
    "<->", "'printer' & 'broken'", "x" * 5000, " ".join(["word"] * 500), "#", "#-1",
    "#99999999999999999999", "0", "\u0301", "ª", "\t\n",
]


@pytest.mark.parametrize("q", HOSTILE)
def test_hostile_queries_never_break_the_database(corpus, team, q) -> None:
    found(team.admin, q)
    found(team.anna, q, status=("open",))


def test_punctuation_only_query_matches_nothing(corpus, team) -> None:
    for q in ("!!!", '"', "*", "-- ;", "\x00"):
        assert found(team.admin, q) == set()


def test_quotes_and_operators_are_plain_text(corpus, team) -> None:
    assert found(team.admin, '"printer"') == {corpus["en"].id}
    assert found(team.admin, "printer OR password") == set()  # OR is a word here


@settings(max_examples=60, derandomize=True, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(q=st.text(max_size=40))
def test_any_text_is_a_safe_query(corpus, team, q) -> None:
    views.list_tickets(actor=team.anna, filters=TicketFilter(q=q), limit=5)


def test_terms_fold_and_bound_the_query() -> None:
    assert search.terms("  Ação ПРИНТЕР !! printer ") == ["acao", "принтер", "printer"]
    assert search.terms("йод ёлка") == ["йод", "ёлка"]  # Cyrillic letters keep their marks
    assert len(search.terms(" ".join(f"w{i}" for i in range(50)))) == search.MAX_TERMS
    assert search.fts5_query(['a"', "printer"]) == '"a""" "printer"*'
