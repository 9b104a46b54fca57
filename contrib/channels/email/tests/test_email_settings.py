"""The email plugin's mailbox form on the admin pages."""

from __future__ import annotations

import re

from flask import Flask
from flask_helpdesk_email.smtp import SmtpSettings

from flask_helpdesk.services import SYSTEM
from flask_helpdesk.services import agents
from flask_helpdesk.services import channels
from flask_helpdesk.testing import User

NEW = "/helpdesk/admin/channels/new/email"


def _admin_client(app: Flask):
    agents.create_agent(actor=SYSTEM, name="Ada", user_id="1", role="admin")
    return app.test_client(user=User("1"))


def _token(html: str) -> str:
    return re.search(r'name="csrf_token" value="([^"]+)"', html).group(1)


def test_the_mailbox_form_has_every_key_the_plugin_reads(mail_app: Flask) -> None:
    client = _admin_client(mail_app)
    assert 'href="/helpdesk/admin/channels/new/email">Email (IMAP/SMTP)' in client.get(
        "/helpdesk/admin/channels").text
    html = client.get(NEW).text
    names = set(re.findall(r'name="([a-z_]+)"', html))
    assert {"imap_host", "imap_port", "imap_security", "imap_verify", "imap_ca_file",
            "imap_username", "imap_password", "folders", "smtp_host", "smtp_port",
            "smtp_security", "smtp_verify", "smtp_ca_file", "smtp_username", "smtp_password",
            "from_address", "from_name", "smtp_timeout"} <= names
    assert 'type="password" name="imap_password" value=""' in html
    assert 'name="imap_port" value="993"' in html
    assert '<option value="starttls" selected>STARTTLS</option>' in html


def test_the_mailbox_form_speaks_the_admins_language(mail_app: Flask) -> None:
    agents.create_agent(actor=SYSTEM, name="Олег", user_id="2", role="admin", language="ru")
    html = mail_app.test_client(user=User("2")).get(NEW).text
    assert "IMAP-сервер" in html and "Пароль SMTP" in html
    assert "По одной папке в строке; INBOX, если пусто." in html
    assert "IMAP server" not in html


def test_an_account_saved_from_the_form_is_read_by_the_fetcher_and_sender(
    mail_app: Flask,
) -> None:
    client = _admin_client(mail_app)
    response = client.post(NEW, data={
        "csrf_token": _token(client.get(NEW).text), "name": "support", "enabled": "1",
        "imap_host": "imap.example.com", "imap_port": "993", "imap_security": "tls",
        "imap_verify": "1", "imap_username": "support@example.com",
        "imap_password": "imap-secret", "folders": "INBOX\nSales",
        "smtp_host": "smtp.example.com", "smtp_port": "587", "smtp_security": "starttls",
        "smtp_verify": "1", "smtp_username": "support@example.com",
        "smtp_password": "smtp-secret", "from_address": "support@example.com",
        "from_name": "Example Support", "smtp_timeout": "20",
    })
    assert response.status_code == 302
    account = channels.find_account("email", "support", actor=SYSTEM)
    config = channels.account_config(account)
    assert (config["imap_host"], config["imap_port"], config["imap_password"]) == (
        "imap.example.com", 993, "imap-secret")
    assert config["folders"] == ["INBOX", "Sales"]
    assert "imap_password" not in account.settings  # kept encrypted
    smtp = SmtpSettings.from_config(config)
    assert (smtp.host, smtp.port, smtp.security, smtp.password, smtp.timeout) == (
        "smtp.example.com", 587, "starttls", "smtp-secret", 20)
    edit = client.get(f"/helpdesk/admin/channels/{account.id}").text
    assert "imap-secret" not in edit and "smtp-secret" not in edit
    assert edit.count("A value is stored; leave empty to keep it.") == 2
