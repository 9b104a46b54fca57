"""``flask helpdesk doctor`` reports each email account's settings (``helpdesk_doctor``)."""

from __future__ import annotations

import typing as t

from flask import Flask

from flask_helpdesk.services import SYSTEM
from flask_helpdesk.services import channels

COMPLETE = {"imap_host": "imap.example.com", "imap_port": 993, "imap_username": "support",
            "smtp_host": "smtp.example.com", "smtp_port": 587,
            "from_address": "support@example.com"}


def _doctor(app: Flask) -> tuple[int, list[str]]:
    result = app.test_cli_runner().invoke(args=["helpdesk", "doctor"])
    assert "Traceback" not in result.output
    return result.exit_code, result.output.splitlines()


def test_doctor_without_an_email_account_warns(mail_app: Flask) -> None:
    code, lines = _doctor(mail_app)
    assert code == 0
    assert "WARN  email: no enabled email account, so no mail is read: add one on the Channels" \
           " admin page or in HELPDESK_EMAIL_ACCOUNTS." in lines


def test_doctor_checks_each_email_account(mail_app_factory: t.Callable[..., Flask]) -> None:
    app = mail_app_factory(HELPDESK_EMAIL_NOTIFY_ACCOUNT="alerts")
    with app.app_context():
        channels.create_account(actor=SYSTEM, channel="email", name="support",
                                settings=COMPLETE, secrets={"imap_password": "pw"})
        channels.create_account(actor=SYSTEM, channel="email", name="sales",
                                settings={**COMPLETE, "smtp_host": ""})
        failing = channels.create_account(actor=SYSTEM, channel="email", name="billing",
                                          settings=COMPLETE, secrets={"imap_password": "pw"})
        channels.record_error(failing.id, error="LOGIN failed\nmore")
        code, lines = _doctor(app)
    assert code == 1
    assert "OK    email support: settings complete (imap.example.com, smtp.example.com)." \
        in lines
    assert "FAIL  email sales: smtp_host, imap_password not set: fill them in on its Channels" \
           " admin page." in lines
    assert "WARN  email billing: the last fetch failed (LOGIN failed): check the server, the" \
           " login and the folders." in lines
    assert "FAIL  email: HELPDESK_EMAIL_NOTIFY_ACCOUNT names alerts, which is no enabled email" \
           " account: fix the name or enable it." in lines
    assert all("pw" not in line for line in lines)
