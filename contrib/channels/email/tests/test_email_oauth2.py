"""XOAUTH2: the ``helpdesk_email_oauth2_token`` hook's token logs in to a real Dovecot
(its oauth2 passdb asks a local introspection endpoint) and to an aiosmtpd server."""

from __future__ import annotations

import typing as t

import pytest
from flask import Flask
from imap_server import Dovecot
from smtp_server import SmtpSink
from test_email_fetch import all_tickets
from test_email_fetch import append
from test_email_fetch import mail
from test_email_fetch import poll

from flask_helpdesk import get_state
from flask_helpdesk import hookimpl
from flask_helpdesk.services import SYSTEM
from flask_helpdesk.services import agents
from flask_helpdesk.services import channels
from flask_helpdesk.services import messages
from flask_helpdesk.services import outbox


class Tokens:
    """An OAuth2 plugin: one access token per service, counting the calls."""

    def __init__(self) -> None:
        self.calls: list[tuple[str, str]] = []

    @hookimpl
    def helpdesk_email_oauth2_token(self, account: t.Any, service: str) -> str | None:
        self.calls.append((account.name, service))
        return f"{service}-token-of-{account.name}"


@pytest.fixture
def tokens(mail_app: Flask) -> t.Iterator[Tokens]:
    plugin = Tokens()
    pm = get_state().pm
    pm.register(plugin, name="tokens")
    yield plugin
    pm.unregister(name="tokens")


def _account(dovecot: Dovecot, sink: SmtpSink | None = None) -> t.Any:
    settings = {**dovecot.settings(), "imap_auth": "xoauth2"}
    if sink is not None:
        settings.update(sink.settings(), smtp_auth="xoauth2", smtp_username=dovecot.user)
    return channels.create_account(actor=SYSTEM, channel="email", name="support",
                                   settings=settings)  # no password anywhere


def test_imap_logs_in_with_the_hooks_token(mail_app: Flask, dovecot: Dovecot,
                                           tokens: Tokens) -> None:
    dovecot.oauth.tokens = {"imap-token-of-support": dovecot.user}
    acc = _account(dovecot)
    append(dovecot, mail("Sent to an OAuth mailbox"))
    assert poll(acc).ingested == 1
    assert [t.subject for t in all_tickets()] == ["Sent to an OAuth mailbox"]
    assert tokens.calls == [("support", "imap")]
    assert dovecot.oauth.asked[-1] == "imap-token-of-support"  # Dovecot checked it


def test_a_refused_token_is_kept_on_the_account(mail_app: Flask, dovecot: Dovecot,
                                                tokens: Tokens) -> None:
    dovecot.oauth.tokens = {}
    acc = _account(dovecot)
    with pytest.raises(Exception, match="failed"):
        poll(acc)
    error = channels.get_account(acc.id, actor=SYSTEM).last_error
    assert "AUTHENTICATIONFAILED" in error.upper()


def test_without_a_token_plugin_the_error_names_the_hook(mail_app: Flask,
                                                         dovecot: Dovecot) -> None:
    acc = _account(dovecot)
    with pytest.raises(Exception, match="helpdesk_email_oauth2_token"):
        poll(acc)


def test_smtp_sends_with_the_hooks_token(mail_app: Flask, dovecot: Dovecot,
                                         smtp_sink: SmtpSink, tokens: Tokens) -> None:
    dovecot.oauth.tokens = {"imap-token-of-support": dovecot.user}
    acc = _account(dovecot, smtp_sink)
    append(dovecot, mail("Reply by OAuth please"))
    poll(acc)
    agent = agents.create_agent(actor=SYSTEM, name="Anna", email="anna@example.test",
                                user_id="1")
    [ticket] = all_tickets()
    reply = messages.reply(ticket.id, actor=agent, text="Done.")
    smtp_sink.tokens = {}
    assert outbox.deliver(reply.id) == "queued"  # refused, retried later: tokens expire
    assert smtp_sink.received == []
    refused = next(m for m in messages.list_messages(ticket.id, actor=SYSTEM)
                   if m.id == reply.id)
    assert "OAuth2 token" in (refused.last_error or "")
    smtp_sink.tokens = {"smtp-token-of-support": dovecot.user}
    second = messages.reply(ticket.id, actor=agent, text="Done, really.")
    assert outbox.deliver(second.id) == "sent"
    assert len(smtp_sink.received) == 1
    assert smtp_sink.xoauth2[-1] == (dovecot.user, "smtp-token-of-support")
    assert ("support", "smtp") in tokens.calls
