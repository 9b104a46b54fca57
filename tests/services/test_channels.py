from __future__ import annotations

import dataclasses
import typing as t

import pytest
from flask import Flask
from sqlalchemy import select

from flask_helpdesk import Conflict
from flask_helpdesk import Identity
from flask_helpdesk import InboundMessage
from flask_helpdesk import NotFound
from flask_helpdesk import PermissionDenied
from flask_helpdesk import ValidationError
from flask_helpdesk import get_state
from flask_helpdesk.models import ChannelAccount
from flask_helpdesk.services import SYSTEM
from flask_helpdesk.services import channels
from flask_helpdesk.services import ingest
from flask_helpdesk.services import transaction
from tests.plugins.channel import RecordingChannel


@pytest.fixture
def app(app_factory: t.Callable[..., Flask]) -> t.Iterator[Flask]:
    app = app_factory(plugins=[RecordingChannel()])
    with app.app_context():
        yield app


def test_accounts_are_admin_only_and_unique_per_channel(team) -> None:
    with pytest.raises(PermissionDenied):
        channels.create_account(actor=team.manager, channel="test", name="support")
    account = channels.create_account(actor=team.admin, channel="test", name="support",
                                      group_id=team.support.id, settings={"host": "imap"})
    with pytest.raises(Conflict):
        channels.create_account(actor=team.admin, channel="test", name="support")
    with pytest.raises(ValidationError):
        channels.create_account(actor=team.admin, channel="fax", name="support")
    with pytest.raises(NotFound):
        channels.create_account(actor=team.admin, channel="test", name="x", group_id=999)
    with pytest.raises(PermissionDenied):
        channels.list_accounts(actor=team.anna)
    assert [a.name for a in channels.list_accounts(actor=team.admin)] == ["support"]
    assert channels.find_account("test", "support", actor=SYSTEM).id == account.id
    with pytest.raises(NotFound):
        channels.find_account("test", "sales", actor=SYSTEM)
    changed = channels.update_account(account.id, actor=team.admin, enabled=False,
                                      group_id=None)
    assert (changed.enabled, changed.group_id, changed.settings) == (False, None,
                                                                     {"host": "imap"})
    assert channels.list_accounts(actor=team.admin, enabled_only=True) == []


def test_secrets_are_encrypted_at_rest(app: Flask, team) -> None:
    account = channels.create_account(actor=team.admin, channel="test", name="support",
                                      settings={"user": "help@example.org"},
                                      secrets={"password": "hunter2-пароль"})
    stored = get_state().db.session.scalar(
        select(ChannelAccount.secrets).where(ChannelAccount.id == account.id))
    assert stored and "hunter2" not in stored and "password" not in stored
    get_state().db.session.expire_all()
    account = channels.get_account(account.id, actor=team.admin)
    assert channels.account_config(account) == {"user": "help@example.org",
                                                "password": "hunter2-пароль"}
    channels.update_account(account.id, actor=team.admin, secrets={})
    assert channels.account_secrets(account) == {}


def test_secrets_under_another_key_are_refused(team, monkeypatch) -> None:
    account = channels.create_account(actor=team.admin, channel="test", name="support",
                                      secrets={"password": "pw"})
    state = get_state()
    monkeypatch.setattr(state, "config", dataclasses.replace(state.config,
                                                             secret_key="another key"))
    with pytest.raises(ValidationError, match="set them again"):
        channels.account_secrets(account)
    monkeypatch.setattr(state, "config", dataclasses.replace(state.config, secret_key=None))
    with pytest.raises(ValidationError, match="HELPDESK_SECRET_KEY"):
        channels.update_account(account.id, actor=team.admin, secrets={"password": "new"})


def test_cursor_commits_with_the_ingest_or_not_at_all(team) -> None:
    account = channels.create_account(actor=team.admin, channel="test", name="support")
    assert channels.get_cursor(account.id, "INBOX") == {}
    message = InboundMessage(channel="test", account="support", external_id="m1",
                             sender=Identity("email", "dan@example.org"), text="hi")
    with pytest.raises(RuntimeError), transaction():
        ingest(message)
        channels.set_cursor(account.id, "INBOX", {"last_uid": 1})
        raise RuntimeError("crash before commit")
    assert channels.get_cursor(account.id, "INBOX") == {}
    with transaction():
        ingest(message)
        channels.set_cursor(account.id, "INBOX", {"uidvalidity": 7, "last_uid": 1})
    channels.set_cursor(account.id, "Archive", {"last_uid": 9})
    assert channels.get_cursor(account.id, "INBOX") == {"uidvalidity": 7, "last_uid": 1}
    assert channels.get_cursor(account.id, "Archive") == {"last_uid": 9}


def test_one_fetcher_holds_the_lease(team) -> None:
    account = channels.create_account(actor=team.admin, channel="test", name="support")
    assert channels.claim_account(account.id, owner="a")
    assert not channels.claim_account(account.id, owner="b")
    assert channels.claim_account(account.id, owner="a")
    channels.release_account(account.id, owner="b")
    assert not channels.claim_account(account.id, owner="b")
    channels.release_account(account.id, owner="a")
    assert channels.claim_account(account.id, owner="b", seconds=-1)
    assert channels.claim_account(account.id, owner="c")  # b's lease expired


def test_health_is_recorded(team) -> None:
    account = channels.create_account(actor=team.admin, channel="test", name="support")
    channels.record_error(account.id, error="login failed " * 500)
    channels.record_success(account.id, backlog=12)
    account = channels.get_account(account.id, actor=team.admin)
    assert account.last_error.startswith("login failed") and len(account.last_error) == 2000
    assert account.last_error_at is not None and account.last_success_at is not None
    assert account.backlog == 12

