"""Agents get the helpdesk's messages in their own language."""

from __future__ import annotations

import typing as t

import pytest
from flask import Flask
from flask_babel import force_locale
from flask_login import login_user

from flask_helpdesk.errors import NotFound
from flask_helpdesk.errors import ValidationError
from flask_helpdesk.i18n import select_locale
from flask_helpdesk.services import SYSTEM
from flask_helpdesk.services import TicketChanges
from flask_helpdesk.services import agents
from flask_helpdesk.services import tickets
from flask_helpdesk.testing import User


def _closed_ticket(team: t.Any) -> t.Any:
    ticket = tickets.create_ticket(actor=SYSTEM, customer_id=team.customer.id,
                                   subject="Refund", text="Please refund me.",
                                   group_id=team.support.id)
    return tickets.update_ticket(ticket.id, actor=SYSTEM,
                                 changes=TicketChanges(status="closed"))


def test_service_error_in_the_agents_language(app: Flask, team: t.Any) -> None:
    ticket = _closed_ticket(team)
    anna = agents.update_agent(team.anna.id, actor=team.anna, language="ru")
    with app.test_request_context(headers={"Accept-Language": "en"}):
        login_user(User(anna.user_id))
        assert select_locale() == "ru"
        with pytest.raises(ValidationError) as info:
            tickets.update_ticket(ticket.id, actor=anna, changes=TicketChanges(status="open"))
    assert info.value.message == (
        f"Обращение #{ticket.id} закрыто; закрытые обращения изменить нельзя."
        " Новое сообщение откроет связанное с ним новое обращение."
    )


def test_browser_language_without_an_agent_language(app: Flask, team: t.Any) -> None:
    with app.test_request_context(headers={"Accept-Language": "pt-BR,pt;q=0.9"}):
        login_user(User(team.boris.user_id))
        assert select_locale() == "pt_BR"
        with pytest.raises(NotFound) as info:
            tickets.update_ticket(999, actor=team.boris, changes=TicketChanges(status="open"))
    assert info.value.message == "O chamado 999 não existe."


@pytest.mark.parametrize("lang", ["ru", "pt_BR"])
def test_status_labels_are_translated(app: Flask, lang: str) -> None:
    with app.test_request_context(), force_locale(lang):
        labels = {s: tickets.status_label(s) for s in ("open", "pending", "on_hold")}
    assert labels["pending"] == {"ru": "ожидает ответа клиента",
                                 "pt_BR": "aguardando cliente"}[lang]
    assert len(set(labels.values())) == 3
