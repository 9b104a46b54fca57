"""The walk-through of docs/contrib/email.rst, on the example site, with real servers.

An admin configures a mailbox on the admin pages against the bundled Dovecot;
a customer sends mail with ``smtplib`` through an SMTP server that delivers
into Dovecot; ``flask helpdesk email poll`` fetches it; an agent answers on
the ticket page; the answer reaches the customer's mailbox with threading
headers; the customer's answer to it lands on the same ticket.
"""

from __future__ import annotations

import email
import email.policy
import re
import smtplib
import time
import typing as t
from email.message import EmailMessage
from email.utils import make_msgid
from pathlib import Path

import pytest
from flask import Flask
from imap_server import Dovecot
from smtp_server import MailRelay

from flask_helpdesk import get_state
from flask_helpdesk.services import SYSTEM
from flask_helpdesk.services import messages
from flask_helpdesk.services import views

example_site = pytest.importorskip("example_site")


@pytest.fixture
def site(tmp_path: Path) -> t.Iterator[Flask]:
    from example_site.commands import prepare

    app = example_site.create_app({
        "TESTING": True, "SQLALCHEMY_DATABASE_URI": f"sqlite:///{tmp_path / 'site.db'}",
        "HELPDESK_ATTACHMENT_DIR": str(tmp_path / "files"), "HELPDESK_EMAIL_POLL_INTERVAL": 0,
    }, instance_path=str(tmp_path / "instance"))
    assert "email" in dict(get_state(app).pm.list_name_plugin())  # found by its entry point
    prepare(app, demo_sizes={"customers": 3, "tickets": 3, "days": 3})
    yield app
    get_state(app).jobs.stop()
    with app.app_context():
        get_state(app).db.engine.dispose()


@pytest.fixture
def relay(dovecot: Dovecot) -> t.Iterator[MailRelay]:
    server = MailRelay(dovecot)
    server.start()
    yield server
    server.stop()


def _csrf(html: str) -> str:
    return re.search(r'name="csrf_token" value="([^"]+)"', html).group(1)


def _send(relay: MailRelay, msg: EmailMessage) -> None:
    with smtplib.SMTP("127.0.0.1", relay.port) as client:  # a customer's mail program
        client.send_message(msg)


def _poll(site: Flask) -> str:
    """``flask --app example_site helpdesk email poll``."""
    with site.app_context():  # the flask command pushes one; the test runner does not
        return str(site.test_cli_runner().invoke(args=["helpdesk", "email", "poll"]).output)


def _received(relay: MailRelay, address: str, count: int) -> list[t.Any]:
    deadline = time.monotonic() + 20  # the site's in-process worker delivers
    while len(relay.outside.get(address, [])) < count:
        assert time.monotonic() < deadline, f"no mail reached {address}"
        time.sleep(0.05)
    return [email.message_from_bytes(raw, policy=email.policy.default)
            for raw in relay.outside[address]]


def test_a_mailbox_on_the_example_site_from_first_mail_to_the_customers_answer(
        site: Flask, dovecot: Dovecot, relay: MailRelay) -> None:
    browser = site.test_client()
    login = browser.get("/login").text
    browser.post("/login", data={"username": "admin", "password": "helpdesk-demo",
                                 "csrf_token": _csrf(login)})
    # 1. The admin adds the mailbox: Admin -> Channel accounts -> Email (IMAP/SMTP).
    new = "/helpdesk/admin/channels/new/email"
    saved = browser.post(new, data={
        "csrf_token": _csrf(browser.get(new).text), "name": "support", "enabled": "1",
        "imap_host": "127.0.0.1", "imap_port": str(dovecot.port), "imap_security": "plain",
        "imap_username": dovecot.user, "imap_password": dovecot.password,
        "folders": "INBOX", "smtp_host": "127.0.0.1", "smtp_port": str(relay.port),
        "smtp_security": "plain", "from_address": dovecot.user, "from_name": "Example Help",
        "smtp_timeout": "10",
    })
    assert saved.status_code == 302

    # 2. A customer writes with an ordinary mail program.
    first = EmailMessage()
    first["From"], first["To"] = "Carla Díaz <carla@example.org>", dovecot.user
    first["Subject"], first["Message-ID"] = "Мой заказ не пришёл", make_msgid("example.org")
    first.set_content("Здравствуйте! Заказ 1001 так и не пришёл.")
    _send(relay, first)

    # 3. The helpdesk fetches it.
    polled = _poll(site)
    assert "support: fetched=1 ingested=1 quarantined=0" in polled, polled
    with site.app_context():
        [ticket] = [t for t in views.list_tickets(actor=SYSTEM, limit=50).items
                    if t.channel == "email"]
        assert ticket.subject == "Мой заказ не пришёл"

    # 4. An agent answers on the ticket page.
    page = browser.get(f"/helpdesk/tickets/{ticket.id}").text
    assert "Заказ 1001 так и не пришёл" in page
    answered = browser.post(f"/helpdesk/tickets/{ticket.id}/reply", data={
        "csrf_token": _csrf(page), "text": "Carla, we sent it again today.",
        "status": "pending"})
    assert answered.status_code in (200, 302, 303)

    # 5. The answer reaches the customer, threaded onto her mail.
    [reply] = _received(relay, "carla@example.org", 1)
    assert reply["In-Reply-To"] == first["Message-ID"]
    assert first["Message-ID"] in reply["References"]
    assert f"[#{ticket.id}]" in reply["Subject"] and reply["Message-ID"]
    assert "we sent it again today" in reply.get_content()

    # 6. The customer answers from her mail program: In-Reply-To names our Message-ID.
    answer = EmailMessage()
    answer["From"], answer["To"] = "carla@example.org", dovecot.user
    answer["Subject"], answer["Message-ID"] = "Re: thanks", make_msgid("example.org")
    answer["In-Reply-To"] = reply["Message-ID"]
    answer["References"] = f"{reply['References']} {reply['Message-ID']}"
    answer.set_content("Thank you, it arrived!\n\n> Carla, we sent it again today.")
    _send(relay, answer)
    polled = _poll(site)
    assert "support: fetched=1 ingested=1" in polled, polled
    with site.app_context():
        texts = [(m.kind, m.text) for m in messages.list_messages(ticket.id, actor=SYSTEM)]
        assert texts[-1] == ("inbound", "Thank you, it arrived!")
        assert [k for k, _t in texts] == ["inbound", "reply", "inbound"]
        from flask_helpdesk.services import tickets

        assert tickets.get_ticket(ticket.id, actor=SYSTEM).status == "open"  # reopened
    assert "Thank you, it arrived!" in browser.get(f"/helpdesk/tickets/{ticket.id}").text
