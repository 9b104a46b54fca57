"""Property-based test of the whole API against its own OpenAPI document.

Schemathesis's engine (:mod:`tests.api.fuzzing`) runs every phase against the
WSGI app: the document's examples, the coverage phase (boundary values, every
undocumented method, missing and malformed parameters), fuzzing with valid
and invalid data, and stateful sequences that follow the links between
operations. Every check is on: no server error, documented status codes,
content types, headers and bodies, 405 with the right ``Allow``, valid data
accepted, invalid data refused, no operation served without the token.
Hypothesis is derandomized with a fixed seed, so CI sees the same cases on
every run. ``scripts/fuzz_api.sh`` runs the long version against a server.
"""

from __future__ import annotations

import typing as t

import pytest
import schemathesis
from flask import Flask

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

from . import fuzzing
from .conftest import PREFIX

#: Examples per operation and phase: the whole file stays under ~3 minutes.
EXAMPLES = 5
SEED = 14


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
        self.renewals = 0
        self.admin_id = team.admin.id

    def secret_now(self) -> str:
        """A working token of the admin, repaired when a generated request broke it."""
        admin = agents.get_agent(self.admin_id)
        broken = admin.role != "admin" or not admin.active
        if broken:
            agents.update_agent(admin.id, actor=SYSTEM, active=True, role="admin")
        if not self.secret or agents.authenticate_token(self.secret) is None:
            _token, self.secret = agents.create_token(actor=SYSTEM, agent_id=admin.id,
                                                      name="schemathesis")
            broken = True
        self.renewals += broken
        return self.secret


class _Credentials:
    """The world's token, checked in an app context of its own (the engine runs in a thread)."""

    def __init__(self, app: Flask, world: World) -> None:
        self.app, self.world = app, world

    @property
    def renewals(self) -> int:
        return self.world.renewals

    def secret(self) -> str:
        with self.app.app_context():
            return self.world.secret_now()


@pytest.mark.filterwarnings("ignore:Generating overly large repr")
@pytest.mark.parametrize("database_uri", ["sqlite"], indirect=True)
def test_every_operation_matches_the_document(app: Flask, team: t.Any) -> None:
    world = World(team)
    config = fuzzing.configure(max_examples=EXAMPLES, seed=SEED, negative_coverage=False)
    with fuzzing.serve(app) as url:
        schema = schemathesis.openapi.from_url(f"{url}{PREFIX}/openapi.json", config=config)
        outcome = fuzzing.run(schema, _Credentials(app, world))
    print(outcome.result_line(), outcome.phases)
    assert outcome.cases > 1000
    problems = outcome.server_errors + outcome.violations
    assert not problems, "\n".join(problems)
