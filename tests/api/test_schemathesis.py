"""Property-based test of the whole API against its own OpenAPI document.

Schemathesis generates requests for every operation from the document, sends
them to the WSGI app with a real API token, and checks that no answer is a
server error, that every answer matches the documented status codes, content
types and schemas, and that no operation works without the token. Each
operation runs three ways: valid input aimed at existing objects, valid input
with generated ids, and input that breaks the schema (negative mode, checked
for server errors only). Hypothesis is derandomized, so CI sees the same
cases on every run.
"""

from __future__ import annotations

import typing as t

import hypothesis
import pytest
import schemathesis
from flask import Flask
from hypothesis import HealthCheck
from hypothesis import Phase
from schemathesis import GenerationMode
from schemathesis.checks import content_type_conformance
from schemathesis.checks import ignored_auth
from schemathesis.checks import not_a_server_error
from schemathesis.checks import response_schema_conformance
from schemathesis.checks import status_code_conformance

from flask_helpdesk.channels import InboundAttachment
from flask_helpdesk.services import SYSTEM
from flask_helpdesk.services import agents
from flask_helpdesk.services import calendars
from flask_helpdesk.services import channels
from flask_helpdesk.services import customers
from flask_helpdesk.services import drafts
from flask_helpdesk.services import messages
from flask_helpdesk.services import quarantine
from flask_helpdesk.services import rules
from flask_helpdesk.services import templates
from flask_helpdesk.services import tickets
from flask_helpdesk.services import views

from .conftest import PREFIX

#: Examples per operation and mode; three modes x ~40 operations.
EXAMPLES = 15

POSITIVE_CHECKS = [not_a_server_error, status_code_conformance, content_type_conformance,
                   response_schema_conformance, ignored_auth]


class World:
    """Objects for generated requests to hit, and a token that stays valid."""

    def __init__(self, team: t.Any) -> None:
        self.team = team
        ticket = tickets.create_ticket(
            actor=team.admin, customer_id=team.customer.id, subject="Printer", text="Broken",
            group_id=team.support.id, tags=["printer"],
            attachments=[InboundAttachment("log.txt", "text/plain", b"log")])
        reply = messages.reply(ticket.id, actor=team.admin, text="On it")
        identity = customers.add_identity(team.customer.id, actor=SYSTEM, kind="phone",
                                          value="+1 555 0100")
        view = views.create_view(actor=team.admin, name="Mine", filters={"status": ["open"]})
        spare, _secret = agents.create_token(actor=SYSTEM, agent_id=team.anna.id, name="spare")
        account = channels.create_account(actor=SYSTEM, channel="web", name="site",
                                          secrets={"token": "t"})
        item = quarantine.quarantine_message(channel="web", account="site", raw=b"?",
                                             error="bad")
        attachment_id = messages.list_messages(ticket.id, actor=team.admin)[0].attachments[0].id
        rule = rules.create_rule(actor=SYSTEM, name="Printers", when={"type": "manual"},
                                 actions=[{"type": "add_tags", "tags": ["printer"]}])
        run = rules.run_rule(rule.id, actor=SYSTEM, send=False)
        template = templates.create_template(
            actor=SYSTEM, name="Refund", body="Hello {{ customer.first_name }}", shared=True,
            folder="Billing", actions={"add_tags": ["refund"]},
            attachments=[InboundAttachment("policy.txt", "text/plain", b"30 days")])
        calendar = calendars.create_calendar(
            actor=SYSTEM, name="Office", timezone="Europe/Berlin",
            periods=[{"weekday": "mon", "start": "09:00", "end": "17:00"}],
            holidays=[{"date": "2026-12-25", "name": "Christmas"}])
        drafts.save_draft(ticket.id, actor=team.admin, kind="reply", text="Almost done")
        self.ids: dict[str, int | str] = {
            "ticket_id": ticket.id, "customer_id": team.customer.id,
            "attachment_id": attachment_id, "message_id": reply.id,
            "identity_id": identity.id, "group_id": team.support.id,
            "agent_id": team.anna.id, "view_id": view.id, "token_id": spare.id,
            "account_id": account.id, "item_id": item.id,
            "rule_id": rule.id, "run_id": run.id, "template_id": template.id,
            "calendar_id": calendar.id, "kind": "reply",
        }
        self.secret = ""
        self.renew()

    def renew(self) -> None:
        """Undo what generated requests may have done to the caller itself."""
        agents.update_agent(self.team.admin.id, actor=SYSTEM, active=True, role="admin")
        if not self.secret or agents.authenticate_token(self.secret) is None:
            _token, self.secret = agents.create_token(actor=SYSTEM, agent_id=self.team.admin.id,
                                                      name="schemathesis")

    @property
    def headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.secret}"}


def _run(op: t.Any, world: World, mode: GenerationMode, fixed: dict[str, t.Any]) -> None:
    checks = POSITIVE_CHECKS if mode is GenerationMode.POSITIVE else [not_a_server_error]

    @hypothesis.given(case=op.as_strategy(generation_mode=mode, path_parameters=fixed or None))
    @hypothesis.settings(max_examples=EXAMPLES, derandomize=True, database=None, deadline=None,
                         suppress_health_check=list(HealthCheck),
                         phases=[Phase.explicit, Phase.generate, Phase.shrink])
    def run(case: t.Any) -> None:
        world.renew()
        response = case.call(headers=world.headers)
        case.validate_response(response, checks=checks, headers=world.headers)

    run()


@pytest.mark.parametrize("database_uri", ["sqlite"], indirect=True)
def test_every_operation_matches_the_document(app: Flask, team: t.Any) -> None:
    world = World(team)
    schema = schemathesis.openapi.from_wsgi(f"{PREFIX}/openapi.json", app)
    failures = []
    for result in schema.get_all_operations():
        op = result.ok()
        names = {p.name for p in op.path_parameters}
        fixed = {name: world.ids[name] for name in names}
        modes = [(GenerationMode.POSITIVE, fixed), (GenerationMode.NEGATIVE, {})]
        if fixed:
            modes.append((GenerationMode.POSITIVE, {}))
        for mode, ids in modes:
            try:
                _run(op, world, mode, ids)
            except Exception as exc:  # collect them all, report at the end
                failures.append(f"{op.label} [{mode.value}{' fixed' if ids else ''}]: {exc}")
    assert not failures, "\n\n".join(failures)

