"""A rule's notify action mails the agents through a mailbox's SMTP server (a real one)."""

from __future__ import annotations

import email
import email.policy
import typing as t

import pytest
from flask import Flask
from smtp_server import SmtpSink

from flask_helpdesk import DeliveryError
from flask_helpdesk import get_state
from flask_helpdesk.services import SYSTEM
from flask_helpdesk.services import agents
from flask_helpdesk.services import channels
from flask_helpdesk.services import customers
from flask_helpdesk.services import notifications
from flask_helpdesk.services import rules
from flask_helpdesk.services import tickets

#: IMAP settings nobody connects to here: only SMTP is used.
IMAP = {"imap_host": "127.0.0.1", "imap_port": 1, "imap_security": "plain",
        "imap_username": "help"}


def _mailbox(name: str, sink: SmtpSink, **settings: t.Any) -> t.Any:
    return channels.create_account(actor=SYSTEM, channel="email", name=name,
                                   settings={**IMAP, **sink.settings(), **settings},
                                   secrets={"imap_password": "x"})


def _notified_ticket(subject: str = "Printer on fire") -> tuple[t.Any, list[int]]:
    """A ticket assigned to Anna that a rule tells her about; its notification ids."""
    anna = agents.get_by_user_id("1")
    customer = customers.create_customer(actor=SYSTEM, name="Dan Customer",
                                         identities=[("email", "dan@example.org")])
    ticket = tickets.create_ticket(actor=SYSTEM, customer_id=customer.id, subject=subject,
                                   text="Help", assignee_id=anna.id)
    [event] = [e for e in tickets.list_events(ticket.id, actor=SYSTEM)
               if e.type == "rule.notified"]
    return ticket, event.data["notification_ids"]


def _anna_and_rule() -> t.Any:
    anna = agents.create_agent(actor=SYSTEM, name="Anna Agent", email="anna@example.test",
                               user_id="1", role="admin")
    rules.create_rule(actor=SYSTEM, name="tell", enabled=True,
                      when={"type": "event", "on": "ticket.created"},
                      actions=[{"type": "notify", "message": "{{ customer.name }} needs you"}])
    return anna


@pytest.fixture
def team(mail_app: Flask) -> t.Any:
    return _anna_and_rule()


def notify_agents_email(ids: list[int]) -> None:
    """Run the jobs the commit sent (``notify_agents_email`` among them) on a real worker."""
    jobs = get_state().jobs
    jobs.start(sweep=False)
    try:
        jobs.join()
    finally:
        jobs.stop()


def _sent(sink: SmtpSink) -> list[t.Any]:
    return [email.message_from_bytes(raw, policy=email.policy.default) for raw in sink.received]


def test_the_notification_is_mailed_to_the_agent(mail_app: Flask, smtp_sink: SmtpSink,
                                                 team: t.Any) -> None:
    _mailbox("support", smtp_sink)
    ticket, ids = _notified_ticket()
    notify_agents_email(ids)
    [mail] = _sent(smtp_sink)
    assert smtp_sink.envelopes == [("help@example.test", ["anna@example.test"])]
    assert mail["To"] == "Anna Agent <anna@example.test>"
    assert mail["Auto-Submitted"] == "auto-generated"
    assert mail["Subject"] == f"[#{ticket.id}] Printer on fire"
    body = mail.get_content()
    assert "Dan Customer needs you" in body
    assert f"Ticket #{ticket.id} in the helpdesk" in body  # no SERVER_NAME: no link
    [row] = notifications.list_notifications(actor=team)
    assert row.email_state == "sent" and row.emailed_at is not None
    assert notifications.send_emails(ids) == {}  # a retry of the job sends nothing twice
    assert len(smtp_sink.received) == 1


def test_the_named_account_sends_and_a_known_server_name_links_the_ticket(
        mail_app_factory: t.Callable[..., Flask], smtp_sink: SmtpSink) -> None:
    app = mail_app_factory(HELPDESK_EMAIL_NOTIFY_ACCOUNT="alerts", SERVER_NAME="help.example.com",
                           PREFERRED_URL_SCHEME="https")
    with app.app_context():
        _anna_and_rule()
        _mailbox("aaa-sales", smtp_sink, from_address="sales@example.test")
        _mailbox("alerts", smtp_sink, from_address="alerts@example.test")
        ticket, ids = _notified_ticket()
        notify_agents_email(ids)
        [mail] = _sent(smtp_sink)
        assert smtp_sink.envelopes[0][0] == "alerts@example.test"
        assert f"https://help.example.com/helpdesk/tickets/{ticket.id}" in mail.get_content()


def test_refusals_are_recorded_and_a_temporary_one_retried(mail_app: Flask,
                                                           smtp_sink: SmtpSink,
                                                           team: t.Any) -> None:
    _mailbox("support", smtp_sink)
    _ticket, ids = _notified_ticket()
    smtp_sink.answer = "451 try again later"
    with pytest.raises(DeliveryError, match="Notification emails to retry: 1"):
        notifications.send_emails(ids)  # the job's body: dramatiq retries it
    [row] = notifications.list_notifications(actor=team)
    assert row.email_state == "queued" and "451" in (row.email_error or "")
    smtp_sink.answer = "550 no such user"
    assert notifications.send_emails(ids) == {ids[0]: "failed"}  # permanent: no retry
    [row] = notifications.list_notifications(actor=team)
    assert row.email_state == "failed" and "550" in (row.email_error or "")
    assert smtp_sink.received == []


def test_without_a_mailbox_the_notice_stays_in_the_workspace(mail_app: Flask,
                                                             smtp_sink: SmtpSink,
                                                             team: t.Any) -> None:
    _ticket, ids = _notified_ticket()
    notify_agents_email(ids)
    [row] = notifications.list_notifications(actor=team)
    assert (row.email_state, row.emailed_at) == ("skipped", None)
    assert row.email_error == "No installed plugin sends email to agents."
    assert smtp_sink.received == []
