"""TLS and STARTTLS to a real Dovecot and aiosmtpd, with a CA made for the run."""

from __future__ import annotations

import typing as t
from email.message import EmailMessage

import pytest
from flask import Flask
from flask_helpdesk_email import smtp
from imap_server import Dovecot
from smtp_server import SmtpSink
from test_email_fetch import all_tickets
from test_email_fetch import append
from test_email_fetch import mail
from test_email_fetch import poll

from flask_helpdesk import ChannelError
from flask_helpdesk import DeliveryError
from flask_helpdesk.services import SYSTEM
from flask_helpdesk.services import channels


def _account(settings: dict[str, t.Any]) -> t.Any:
    return channels.create_account(actor=SYSTEM, channel="email", name="support",
                                   settings=settings, secrets={"imap_password": "secret"})


@pytest.mark.parametrize("security", ["tls", "starttls"])
def test_mail_is_fetched_over_tls_and_starttls_with_the_accounts_ca(
        mail_app: Flask, dovecot: Dovecot, security: str) -> None:
    acc = _account(dovecot.tls_settings(security))
    append(dovecot, mail("Over TLS"))
    assert poll(acc).ingested == 1
    assert [t.subject for t in all_tickets()] == ["Over TLS"]
    acc = channels.get_account(acc.id, actor=SYSTEM)
    assert acc.last_success_at is not None and acc.last_error == ""


@pytest.mark.parametrize("security", ["tls", "starttls"])
def test_a_certificate_the_client_does_not_trust_is_an_error_on_the_accounts_health(
        mail_app: Flask, dovecot: Dovecot, security: str) -> None:
    settings = dovecot.tls_settings(security)
    del settings["imap_ca_file"]  # the system's CAs do not know the run's CA
    acc = _account(settings)
    append(dovecot, mail("Not fetched"))
    with pytest.raises(ChannelError, match="could not be verified"):
        poll(acc)
    acc = channels.get_account(acc.id, actor=SYSTEM)
    assert "certificate of IMAP server 127.0.0.1 could not be verified" in acc.last_error
    assert "imap_ca_file" in acc.last_error and acc.last_success_at is None
    assert all_tickets() == []


def test_a_missing_ca_file_is_an_error_on_the_accounts_health(
        mail_app: Flask, dovecot: Dovecot) -> None:
    acc = _account({**dovecot.tls_settings(), "imap_ca_file": "/nonexistent/ca.pem"})
    with pytest.raises(ChannelError):
        poll(acc)
    acc = channels.get_account(acc.id, actor=SYSTEM)
    assert "The CA file /nonexistent/ca.pem cannot be read" in acc.last_error


def test_plain_imap_only_to_loopback(mail_app: Flask, dovecot: Dovecot) -> None:
    acc = _account({**dovecot.settings(), "imap_host": "192.0.2.1"})  # TEST-NET-1
    with pytest.raises(ChannelError, match="Plain IMAP is allowed only to a loopback"):
        poll(acc)
    acc = channels.get_account(acc.id, actor=SYSTEM)
    assert "Plain IMAP is allowed only to a loopback address" in acc.last_error


def test_plain_imap_to_a_name_of_loopback_works(mail_app: Flask, dovecot: Dovecot) -> None:
    acc = _account({**dovecot.settings(), "imap_host": "localhost"})
    append(dovecot, mail("Local"))
    assert poll(acc).ingested == 1


# -- SMTP -------------------------------------------------------------------------


def _notice() -> EmailMessage:
    msg = EmailMessage()
    msg["From"], msg["To"], msg["Subject"] = "help@example.test", "dan@example.org", "Hi"
    msg.set_content("Over TLS")
    return msg


@pytest.fixture(params=["tls", "starttls"])
def tls_sink(request: pytest.FixtureRequest, dovecot_server: Dovecot) -> t.Iterator[SmtpSink]:
    sink = SmtpSink(tls=request.param, context=dovecot_server.certs.server_context())
    sink.start()
    yield sink
    sink.stop()


def test_mail_is_sent_over_tls_and_starttls_with_the_accounts_ca(
        tls_sink: SmtpSink, dovecot_server: Dovecot) -> None:
    settings = smtp.SmtpSettings.from_config({
        **tls_sink.settings(), "smtp_ca_file": str(dovecot_server.certs.ca)})
    smtp.send(_notice(), settings)
    [raw] = tls_sink.received
    assert b"Over TLS" in raw


def test_an_untrusted_smtp_certificate_fails_the_delivery_with_the_reason(
        tls_sink: SmtpSink) -> None:
    settings = smtp.SmtpSettings.from_config(tls_sink.settings())
    with pytest.raises(DeliveryError, match="certificate of SMTP server 127.0.0.1 could not"
                                            " be verified") as caught:
        smtp.send(_notice(), settings)
    assert "smtp_ca_file" in caught.value.message and not caught.value.permanent
    assert tls_sink.received == []
