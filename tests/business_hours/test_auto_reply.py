"""The shipped out-of-hours auto-reply, as customers and the channel see it."""

from __future__ import annotations

import typing as t

import pytest
from sqlalchemy import update

from flask_helpdesk import Identity
from flask_helpdesk import InboundMessage
from flask_helpdesk.extension import get_state
from flask_helpdesk.models import RuleFiring
from flask_helpdesk.services import SYSTEM
from flask_helpdesk.services import RuleChanges
from flask_helpdesk.services import ingest
from flask_helpdesk.services import messages
from flask_helpdesk.services import rules
from tests.business_hours.helpers import always_open
from tests.business_hours.helpers import closed_until_day_after_tomorrow
from tests.plugins.channel import RecordingChannel
from tests.tasks.helpers import Workers

NAME = "Out-of-hours auto-reply"


@pytest.fixture
def channel() -> RecordingChannel:
    return RecordingChannel()


@pytest.fixture
def app(app_factory, recorder, channel):
    app = app_factory(plugins=[recorder, channel])
    with app.app_context():
        yield app


@pytest.fixture
def workers(app) -> t.Iterator[Workers]:
    w = Workers(app)
    w.start()
    yield w
    assert w.worker is not None
    w.worker.stop()


def _enable_default() -> t.Any:
    installed = {r.name: r for r in rules.install_defaults(actor=SYSTEM)}
    assert not installed[NAME].enabled
    return rules.update_rule(installed[NAME].id, actor=SYSTEM,
                             changes=RuleChanges(enabled=True))


_count = iter(range(1, 10_000))


def mail(sender: str = "carla@example.org", **kw: t.Any) -> InboundMessage:
    n = next(_count)
    kw.setdefault("subject", "Where is my order?")
    return InboundMessage(channel="test", external_id=f"<m{n}@mail>", text=f"message {n}",
                          sender=Identity("email", sender, kw.pop("name", "Carla")),
                          own_keys=(f"m{n}",), **kw)


def _replies(ticket_id: int) -> list[t.Any]:
    return [m for m in messages.list_messages(ticket_id, actor=SYSTEM) if m.kind == "reply"]


def test_customers_hear_when_the_team_is_back_once_per_closed_period(app, channel,
                                                                      workers) -> None:
    from babel.dates import format_date

    _calendar, opens = closed_until_day_after_tomorrow(is_default=True)
    _enable_default()
    first = ingest(mail())
    workers.join()
    [sent] = _replies(first.ticket_id)
    # 09:00 in São Paulo, on the day it opens, in English (the default language).
    assert f"we are back {format_date(opens, 'full', locale='en')}, 9:00\u202fAM (Brasilia" \
        " Standard Time)" in sent.text
    assert sent.text.startswith("Hello Carla, thank you for your message.")
    assert sent.meta["automatic"] and sent.author_name == f"Rule: {NAME}"
    assert [(m.ticket_id, m.automatic) for m in channel.sent] == [(first.ticket_id, True)]
    # The same customer again, on that ticket and on a new one: no second answer.
    again = ingest(mail(thread_keys=(f"out-{sent.id}",)))
    other_ticket = ingest(mail(subject="Another question"))
    assert again.ticket_id == first.ticket_id and other_ticket.created
    assert len(_replies(first.ticket_id)) == 1 and _replies(other_ticket.ticket_id) == []
    # Another customer gets their own answer.
    boris = ingest(mail("boris@example.org", name="Boris"))
    assert len(_replies(boris.ticket_id)) == 1
    # In the next closed period (the ledger says the answer was sent in an
    # earlier one) the customer is answered again.
    s = get_state().db.session
    s.execute(update(RuleFiring).values(anchor=RuleFiring.anchor - __import__(
        "datetime").timedelta(days=7)))
    s.commit()
    later = ingest(mail(subject="Still waiting"))
    assert len(_replies(later.ticket_id)) == 1


def test_no_answer_to_machines_spam_or_inside_hours(app_factory, channel) -> None:
    app = app_factory(plugins=[channel], config={"HELPDESK_SPAM_THRESHOLD": 0.8})
    with app.app_context():
        closed, _opens = closed_until_day_after_tomorrow(is_default=True)
        _enable_default()
        robot = ingest(mail("mailer-daemon@example.net", auto_submitted=True))
        listed = ingest(mail("news@example.net", meta={"flags": {"mailing_list": True}}))
        spam = ingest(mail("spam@example.net", spam_score=0.95))
        assert [_replies(r.ticket_id) for r in (robot, listed, spam)] == [[], [], []]
        # An agent opening a ticket for the customer is no customer message.
        from flask_helpdesk.services import customers
        from flask_helpdesk.services import tickets

        customer = customers.create_customer(actor=SYSTEM, name="Dora",
                                             identities=[("email", "dora@example.org")])
        by_phone = tickets.create_ticket(actor=SYSTEM, customer_id=customer.id,
                                         subject="Called us", text="Notes of the call")
        assert _replies(by_phone.id) == []
        # Inside business hours nobody is told the team is away.
        from flask_helpdesk.services import CalendarChanges
        from flask_helpdesk.services import calendars

        always_open(is_default=True)
        assert not calendars.get_calendar(closed.id, actor=SYSTEM).is_default
        daytime = ingest(mail("eve@example.org", name="Eve"))
        assert _replies(daytime.ticket_id) == []
        calendars.update_calendar(closed.id, actor=SYSTEM,
                                  changes=CalendarChanges(is_default=True))
        assert len(_replies(ingest(mail("eve@example.org")).ticket_id)) == 1


def test_a_group_rule_in_portuguese(app) -> None:
    from flask_helpdesk.services import agents

    closed, _opens = closed_until_day_after_tomorrow()
    group = agents.create_group(actor=SYSTEM, name="Suporte", calendar_id=closed.id)
    rules.create_rule(
        actor=SYSTEM, name="Fora do horário", enabled=True,
        when={"type": "event", "on": "message.received"},
        conditions={"all": [{"field": "group", "op": "is", "value": group.id},
                            {"field": "business_hours", "op": "outside", "value": None}]},
        actions=[{"type": "out_of_hours_reply", "language": "pt_BR",
                  "text": "Olá {{ customer.name }}, voltamos {{ opens_at }}."}])
    routed = ingest(mail(group="Suporte"))
    [sent] = _replies(routed.ticket_id)
    assert sent.text.startswith("Olá Carla, voltamos ") and sent.text.endswith(
        " 09:00 (Horário Padrão de Brasília).")
    assert _replies(ingest(mail("zoe@example.org")).ticket_id) == []  # no group: no rule
    from flask_helpdesk import ValidationError

    with pytest.raises(ValidationError, match="Unknown placeholder {closes_at}"):
        rules.create_rule(actor=SYSTEM, name="bad", when={"type": "manual"}, actions=[
            {"type": "out_of_hours_reply", "text": "until {closes_at}"}])


def test_defaults_installed_in_russian_answer_in_russian(app) -> None:
    from babel.dates import format_date

    _calendar, opens = closed_until_day_after_tomorrow(is_default=True)
    with app.test_request_context(headers={"Accept-Language": "ru"}):
        installed = {r.name: r for r in rules.install_defaults(actor=SYSTEM)}
    rule = installed["Автоответ в нерабочее время"]
    assert rule.actions[0]["language"] == "ru"
    rules.update_rule(rule.id, actor=SYSTEM, changes=RuleChanges(enabled=True))
    [sent] = _replies(ingest(mail()).ticket_id)
    assert sent.text == (
        "Здравствуйте, Carla! Спасибо за ваше сообщение. Сейчас мы не работаем; мы вернёмся"
        f" {format_date(opens, 'full', locale='ru')}, 09:00 (Бразилия, стандартное время)"
        " и тогда вам ответим.")
