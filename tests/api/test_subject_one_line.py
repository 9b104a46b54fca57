"""A subject is one line at every entry: the API refuses a line break, ingest folds it."""

from __future__ import annotations

import re
import typing as t

import pytest

from flask_helpdesk import Identity
from flask_helpdesk import InboundMessage
from flask_helpdesk import ValidationError
from flask_helpdesk.services import SYSTEM
from flask_helpdesk.services import TicketChanges
from flask_helpdesk.services import ingest
from flask_helpdesk.services import ingest_batch
from flask_helpdesk.services import tickets
from tests.plugins.channel import RecordingChannel

#: Every character that ends a line for Python (str.splitlines), and NUL.
BREAKS = ["\r\n", "\n", "\r", "\x0b", "\x0c", "\x1c", "\x1d", "\x1e", "\x85", "\u2028",
          "\u2029", "\x00"]


@pytest.fixture
def app(app_factory, recorder):
    app = app_factory(plugins=[recorder, RecordingChannel()])
    with app.app_context():
        yield app


@pytest.mark.parametrize("brk", BREAKS, ids=["+".join(f"U{ord(c):04X}" for c in b) for b in BREAKS])
def test_patch_and_create_refuse_a_line_break_in_the_subject(team, api_as, brk) -> None:
    api = api_as(team.admin)
    made = api.post("/tickets", json={"customer_id": team.customer.id, "subject": "Hello",
                                        "text": "Hi"})
    assert made.status_code == 201, made.get_json()
    ticket_id = made.get_json()["id"]
    for answer in (
        api.patch(f"/tickets/{ticket_id}", json={"subject": f"Printer{brk}Bcc: eve@x.example"}),
        api.patch(f"/tickets/{ticket_id}", json={"subject": f"Printer{brk}"}),
        api.post("/tickets", json={"customer_id": team.customer.id, "text": "Hi",
                                   "subject": f"Printer{brk}jam"}),
    ):
        error = answer.get_json()["error"]
        if brk == "\x00":  # refused with every NUL in a request (whichever field)
            assert answer.status_code in (400, 422), error
            continue
        assert answer.status_code == 422, error
        assert (error["code"], error["field"]) == ("validation_error", "subject")
        assert error["message"] == "subject must be one line, without line breaks."
    assert tickets.get_ticket(ticket_id, actor=SYSTEM).subject == "Hello"
    assert len(api.get("/tickets").get_json()["items"]) == 1


def test_the_services_refuse_it_too_and_keep_other_text(team) -> None:
    tk = tickets.create_ticket(actor=SYSTEM, customer_id=team.customer.id, text="Hi",
                               subject="Tab\tand «unicode» ok")
    assert tk.subject == "Tab\tand «unicode» ok"
    with pytest.raises(ValidationError) as caught:
        tickets.update_ticket(tk.id, actor=team.admin,
                              changes=TicketChanges(subject="one\u2028two"))
    assert caught.value.field == "subject"
    with pytest.raises(ValidationError):
        tickets.create_ticket(actor=SYSTEM, customer_id=team.customer.id, text="Hi",
                              subject="a\nb")


def test_the_openapi_pattern_says_what_the_api_accepts(team, api_as) -> None:
    api = api_as(team.admin)
    schemas = api.get("/openapi.json").get_json()["components"]["schemas"]
    for name in ("TicketCreate", "TicketUpdate"):
        pattern = schemas[name]["properties"]["subject"]["pattern"]
        for value in ["Printer jam", " x ", "Tab\tok", "\ufeffBOM", *(
                f"a{brk}b" for brk in BREAKS), "a\n", "   ", "\x1f", ""]:
            try:
                tickets.check_subject(value)
                accepted = True
            except ValidationError:
                accepted = False
            assert bool(re.search(pattern, value)) is accepted, (name, value)


def _inbound(external_id: str, subject: str) -> InboundMessage:
    return InboundMessage(channel="test", account="", external_id=external_id,
                          sender=Identity("email", "dan@example.org", "Dan"),
                          subject=subject, text="Hello")


def _subject(ticket_id: int) -> str:
    return t.cast(str, tickets.get_ticket(ticket_id, actor=SYSTEM).subject)


def test_ingest_folds_line_breaks_into_spaces(app) -> None:
    raw = "Printer \r\n  jam\u2028on floor\x0b2\x00\x85 today\n"
    one = ingest(_inbound("<one@x>", raw))
    many = ingest_batch([_inbound("<two@x>", raw), _inbound("<three@x>", "\u2029\r\n")])
    assert _subject(one.ticket_id) == "Printer jam on floor 2 today"
    assert [_subject(r.ticket_id) for r in many] == [
        "Printer jam on floor 2 today", "(no subject)"]
