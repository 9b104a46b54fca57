"""Retrying quarantined mail through the plugin's ``helpdesk_reparse_message``."""

from __future__ import annotations

import pytest
from flask import Flask
from imap_server import Dovecot
from test_email_fetch import account
from test_email_fetch import all_messages
from test_email_fetch import all_tickets
from test_email_fetch import append
from test_email_fetch import mail
from test_email_fetch import poll

from flask_helpdesk import RetryFailed
from flask_helpdesk import get_state
from flask_helpdesk import hookimpl
from flask_helpdesk.services import SYSTEM
from flask_helpdesk.services import agents
from flask_helpdesk.services import channels
from flask_helpdesk.services import quarantine


class BrokenClassifier:
    """A spam plugin with a bug: it fails on every message about invoices."""

    @hookimpl
    def helpdesk_spam_score(self, message: object) -> float | None:
        if "invoice" in getattr(message, "subject", "").lower():
            raise RuntimeError("classifier crashed")
        return None


def test_retry_after_the_cause_is_fixed(mail_app: Flask, dovecot: Dovecot) -> None:
    group = agents.create_group(actor=SYSTEM, name="Billing")
    admin = agents.create_agent(actor=SYSTEM, name="Ada", email="ada@example.com",
                                user_id="1", role="admin")
    acc = account(dovecot, block_senders=["spam.example"])
    channels.update_account(acc.id, actor=SYSTEM, group_id=group.id)
    pm = get_state().pm
    pm.register(BrokenClassifier(), name="broken")
    append(dovecot, mail("Invoice 42", body="Счёт не пришёл"), mail("Hello"))
    try:
        assert (poll(acc).ingested, len(all_tickets())) == (1, 1)
        [item] = quarantine.list_quarantine(actor=admin)
        assert "classifier crashed" in item.error
        with pytest.raises(RetryFailed, match="classifier crashed"):
            quarantine.retry_quarantined(item.id, actor=admin)
        assert quarantine.get_quarantined(item.id, actor=admin).attempts == 2
    finally:
        pm.unregister(name="broken")
    result = quarantine.retry_quarantined(item.id, actor=admin)  # the plugin is fixed
    assert result.created and quarantine.list_quarantine(actor=admin) == []
    ticket = next(t for t in all_tickets() if t.id == result.ticket_id)
    assert (ticket.subject, ticket.group_id, ticket.account) == ("Invoice 42", group.id,
                                                                  "support")
    [message] = all_messages(ticket.id)
    assert "Счёт" in message.text
    assert poll(acc).fetched == 0  # the mailbox is not read again for it
