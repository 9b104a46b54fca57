"""Threading of real mail, end to end through ``parse_message``: our ids, the ticket
token, Cc'd colleagues, mailing lists and resolved tickets; through ``ingest`` and
``ingest_batch`` alike."""

from __future__ import annotations

import email
import email.policy
import typing as t

import pytest
from flask import Flask
from flask_helpdesk_email import parse_message
from flask_helpdesk_email.intake import Intake
from smtp_server import SmtpSink

from flask_helpdesk import InboundMessage
from flask_helpdesk.models import Ticket
from flask_helpdesk.services import SYSTEM
from flask_helpdesk.services import IngestResult
from flask_helpdesk.services import TicketChanges
from flask_helpdesk.services import agents
from flask_helpdesk.services import channels
from flask_helpdesk.services import ingest
from flask_helpdesk.services import ingest_batch
from flask_helpdesk.services import messages
from flask_helpdesk.services import outbox
from flask_helpdesk.services import tickets

ACCOUNT = "support"


def _batch_of_one(message: InboundMessage) -> IngestResult:
    result = ingest_batch([message])[0]
    assert isinstance(result, IngestResult), result
    return result


@pytest.fixture(params=["ingest", "ingest_batch"])
def store(request: pytest.FixtureRequest) -> t.Callable[[bytes], IngestResult]:
    """Parse raw mail and ingest it through either path."""
    path = ingest if request.param == "ingest" else _batch_of_one

    def run(raw: bytes) -> IngestResult:
        return path(parse_message(raw, account=ACCOUNT))

    return run


def mail(sender: str, message_id: str, subject: str = "Printer broken", *,
         headers: str = "", to: str = "help@example.test") -> bytes:
    return (f"From: {sender}\r\nTo: {to}\r\nSubject: {subject}\r\n"
            f"Message-ID: <{message_id}>\r\nDate: Mon, 1 Dec 2025 10:00:00 +0000\r\n"
            f"{headers}\r\nHello, see above.\r\n").encode()


def _ticket(ticket_id: int) -> Ticket:
    return tickets.get_ticket(ticket_id, actor=SYSTEM)


def test_list_members_replies_to_a_newsletter_are_not_glued(mail_app: Flask, store) -> None:
    listed = "List-Id: <news.list.example>\r\nList-Unsubscribe: <mailto:leave@list.example>\r\n"
    news = store(mail("news@list.example", "n1@list.example", "Weekly news", headers=listed,
                      to="members@list.example, help@example.test"))
    ann = store(mail("ann@x.example", "r1@x.example", "Re: Weekly news",
                     headers=f"In-Reply-To: <n1@list.example>\r\n{listed}",
                     to="members@list.example"))
    bob = store(mail("bob@y.example", "r2@y.example", "Re: Weekly news",
                     headers="In-Reply-To: <n1@list.example>\r\n"
                             f"References: <n1@list.example> <r1@x.example>\r\n{listed}",
                     to="members@list.example"))
    assert ann.created and bob.created
    assert len({news.ticket_id, ann.ticket_id, bob.ticket_id}) == 3


def test_stranger_quoting_a_customers_message_id_opens_a_new_ticket(
        mail_app: Flask, store) -> None:
    carla = store(mail("carla@z.example", "c1@z.example", "Help"))
    eve = store(mail("eve@evil.example", "e1@evil.example", "hi",
                     headers="References: <c1@z.example>\r\n"))
    assert eve.created and eve.ticket_id != carla.ticket_id


def test_customers_own_reply_by_her_message_id_threads(mail_app: Flask, store) -> None:
    carla = store(mail("Carla <carla@z.example>", "c1@z.example", "Help"))
    again = store(mail("carla@Z.example", "c2@z.example", "Also this",
                       headers="In-Reply-To: <c1@z.example>\r\n"))
    assert again.ticket_id == carla.ticket_id and not again.created


def test_cc_colleagues_token_reply_threads(mail_app: Flask, store) -> None:
    carla = store(mail("carla@z.example", "c2@z.example", "Need help",
                       headers="Cc: Dave <dave@z.example>\r\n"))
    dave = store(mail("dave@z.example", "d1@z.example", f"Re: [#{carla.ticket_id}] Need help"))
    assert dave.ticket_id == carla.ticket_id and not dave.created
    eve = store(mail("eve@evil.example", "e1@evil.example", f"[#{carla.ticket_id}] hi"))
    assert eve.created


def test_cc_colleagues_reply_by_the_customers_message_id_threads(
        mail_app: Flask, store) -> None:
    carla = store(mail("carla@z.example", "c1@z.example", "Need help",
                       to="help@example.test, dave@z.example"))
    dave = store(mail("dave@z.example", "d1@z.example", "Re: Need help",
                      headers="In-Reply-To: <c1@z.example>\r\n"))
    assert dave.ticket_id == carla.ticket_id


def test_reply_to_our_message_id_from_a_new_address_threads(
        mail_app: Flask, store, smtp_sink: SmtpSink) -> None:
    channels.create_account(
        actor=SYSTEM, channel="email", name=ACCOUNT,
        settings={"imap_host": "127.0.0.1", "imap_username": "help@example.test",
                  **smtp_sink.settings()},
        secrets={"imap_password": "unused"})
    carla = store(mail("carla@z.example", "c1@z.example", "Help"))
    reply = messages.reply(carla.ticket_id, actor=SYSTEM, text="Please send a photo.")
    assert outbox.deliver(reply.id) == "sent"
    [raw] = smtp_sink.received
    ours = email.message_from_bytes(raw, policy=email.policy.default)["Message-ID"]
    other = store(mail("carla.home@other.example", "h1@other.example", "Re: Help",
                       headers=f"In-Reply-To: {ours}\r\n"))
    assert other.ticket_id == carla.ticket_id and not other.created
    # Remembered: the token alone, or a reply to Carla's own mail, threads too.
    by_token = store(mail("carla.home@other.example", "h2@other.example",
                          f"[#{carla.ticket_id}] one more photo"))
    by_her_id = store(mail("carla.home@other.example", "h3@other.example", "Re: Help",
                           headers="In-Reply-To: <c1@z.example>\r\n"))
    assert {by_token.ticket_id, by_her_id.ticket_id} == {carla.ticket_id}
    assert not (by_token.created or by_her_id.created)


def test_resolved_ticket_of_a_follow_up_group_opens_a_linked_ticket(
        mail_app: Flask, store) -> None:
    group = agents.create_group(actor=SYSTEM, name="Sales", resolved_reply="follow_up")
    carla = store(mail("carla@z.example", "c1@z.example", "Quote please"))
    tickets.update_ticket(carla.ticket_id, actor=SYSTEM,
                          changes=TicketChanges(group_id=group.id, status="resolved"))
    again = store(mail("carla@z.example", "c2@z.example", f"Re: [#{carla.ticket_id}] Quote",
                       headers="In-Reply-To: <c1@z.example>\r\n"))
    assert again.created and again.follow_up_of == carla.ticket_id
    assert _ticket(again.ticket_id).follow_up_of_id == carla.ticket_id
    assert _ticket(carla.ticket_id).status == "resolved"
    agents.update_group(group.id, actor=SYSTEM, resolved_reply="reopen")
    tickets.update_ticket(again.ticket_id, actor=SYSTEM,
                          changes=TicketChanges(group_id=group.id, status="resolved"))
    third = store(mail("carla@z.example", "c3@z.example", "Re: Quote",
                       headers="In-Reply-To: <c2@z.example>\r\n"))
    assert third.ticket_id == again.ticket_id and _ticket(again.ticket_id).status == "open"


def test_parser_gives_participants_and_the_list_flag(mail_app: Flask) -> None:
    parsed = parse_message(mail("carla@z.example", "c1@z.example", to="help@example.test",
                                headers="Cc: Dave <dave@z.example>, carla@z.example\r\n"
                                        "Precedence: list\r\n"))
    assert [(p.value, p.name) for p in parsed.participants] == [
        ("help@example.test", ""), ("dave@z.example", "Dave"), ("carla@z.example", "")]
    assert parsed.mailing_list
    settings = {"from_address": "Help@Example.test", "imap_username": "help@example.test"}
    shaped = Intake(None, settings).shape(parsed).message
    assert [p.value for p in shaped.participants] == ["dave@z.example", "carla@z.example"]
