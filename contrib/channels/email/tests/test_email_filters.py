"""Spam, allow and block lists and internal mail, fetched from a real Dovecot."""

from __future__ import annotations

import typing as t

from flask import Flask
from flask_helpdesk_email import plugin
from flask_helpdesk_email.filters import matches
from imap_server import Dovecot
from test_email_fetch import account
from test_email_fetch import all_tickets
from test_email_fetch import append
from test_email_fetch import mail
from test_email_fetch import poll

from flask_helpdesk import InboundMessage
from flask_helpdesk import hookimpl
from flask_helpdesk.services import SYSTEM
from flask_helpdesk.services import TicketChanges
from flask_helpdesk.services import tickets


def spam_mail(subject: str, sender: str = "dan@example.org") -> bytes:
    raw = mail(subject, sender=sender)
    return b"X-Spam-Flag: YES\r\nX-Spam-Status: Yes, score=9.1 required=5.0\r\n" + raw


def by_subject() -> dict[str, t.Any]:
    return {t.subject: t for t in all_tickets()}


def tags(ticket: t.Any) -> set[str]:
    return {tag.name for tag in ticket.tags}


def test_address_and_domain_entries() -> None:
    assert matches("Ann@Example.com", ["ann@example.com"])
    assert not matches("bob@example.com", ["ann@example.com"])
    assert matches("bob@mail.example.com", ["@example.com"])
    assert matches("bob@example.com", ["example.com"])
    assert not matches("bob@notexample.com", ["example.com"])


def test_spam_headers_block_and_allow_lists(mail_app: Flask, dovecot: Dovecot) -> None:
    acc = account(dovecot, allow_senders=["vip@partner.test"],
                  block_senders=["spammer.test", "pest@example.org"])
    append(dovecot,
           mail("Hello", sender="dan@example.org"),
           spam_mail("Spam by header"),
           spam_mail("Spam header but allowed", sender="vip@partner.test"),
           mail("Blocked domain", sender="x@mail.spammer.test"),
           mail("Blocked address", sender="pest@example.org"))
    assert poll(acc).ingested == 5  # nothing is dropped
    found = by_subject()
    assert found["Hello"].status == "open" and tags(found["Hello"]) == set()
    assert found["Spam by header"].status == "spam"
    assert tags(found["Spam by header"]) == {"email:spam-header"}
    assert found["Spam header but allowed"].status == "open"  # allow wins over headers
    assert found["Blocked domain"].status == "spam"
    assert tags(found["Blocked domain"]) == {"email:blocked"}
    assert found["Blocked address"].status == "spam"
    # Not in the inbox, but back there with one status change.
    spam = found["Blocked address"]
    tickets.update_ticket(spam.id, actor=SYSTEM, changes=TicketChanges(status="open"))
    assert tickets.get_ticket(spam.id, actor=SYSTEM).status == "open"


def test_internal_mail_is_kept_out_of_the_inbox(mail_app_factory: t.Callable[..., Flask],
                                                dovecot: Dovecot) -> None:
    app = mail_app_factory(HELPDESK_EMAIL_INTERNAL_DOMAINS=["our.example"])
    with app.app_context():
        acc = account(dovecot, internal_domains=["branch.example"],
                      allow_senders=["boss@our.example"])
        append(dovecot, mail("Lunch?", sender="amy@our.example"),
               mail("Branch report", sender="joe@branch.example"),
               mail("From the boss", sender="boss@our.example"),
               mail("Customer", sender="dan@example.org"))
        assert poll(acc).ingested == 4
        found = by_subject()
        assert found["Lunch?"].status == "spam"
        assert tags(found["Lunch?"]) == {"email:internal"}
        assert found["Branch report"].status == "spam"
        assert found["From the boss"].status == "open"
        assert found["Customer"].status == "open"


def test_internal_mail_can_go_to_the_inbox(mail_app_factory: t.Callable[..., Flask],
                                           dovecot: Dovecot) -> None:
    app = mail_app_factory(HELPDESK_EMAIL_INTERNAL_DOMAINS=["our.example"],
                           HELPDESK_EMAIL_INTERNAL_MAIL="inbox")
    with app.app_context():
        append(dovecot, mail("Lunch?", sender="amy@our.example"))
        assert poll(account(dovecot)).ingested == 1
        assert by_subject()["Lunch?"].status == "open"


class Classifier:
    """A spam classifier plugin: anything about pills is spam."""

    @hookimpl
    def helpdesk_spam_score(self, message: InboundMessage) -> float | None:
        return 0.99 if "pills" in message.subject.lower() else None


def test_the_spam_score_hook_judges_email_too(mail_app_factory: t.Callable[..., Flask],
                                              dovecot: Dovecot, tmp_path: t.Any) -> None:
    from flask_helpdesk.testing import create_tables
    from flask_helpdesk.testing import make_app

    app = make_app(database_uri=f"sqlite:///{tmp_path / 'hook.db'}",
                   plugins=[plugin, Classifier()],
                   config={"HELPDESK_ATTACHMENT_DIR": str(tmp_path / "hook-files")})
    with app.app_context():
        create_tables(app)
        acc = account(dovecot, allow_senders=["dan@example.org"])
        append(dovecot, mail("Cheap PILLS", sender="eve@example.org"),
               mail("Pills for my dog?", sender="dan@example.org"), mail("Invoice"))
        assert poll(acc).ingested == 3
        found = by_subject()
        assert found["Cheap PILLS"].status == "spam"
        # The allow list overrides the mail server's headers, not a classifier plugin.
        assert found["Pills for my dog?"].status == "spam"
        assert found["Invoice"].status == "open"
        for engine in app.extensions["helpdesk"].db.engines.values():
            engine.dispose()
