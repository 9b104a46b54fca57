"""REST API endpoints of rules, their dry runs and manual runs (managers)."""

from __future__ import annotations

import typing as t

from flask import Blueprint

from ..services import RuleChanges
from ..services import rules
from . import _serialize as serialize
from . import api_input as inp
from .api_auth import actor
from .api_tickets import ID

bp = Blueprint("rules", __name__)

Json = dict[str, t.Any]


@bp.get("/rules", endpoint="list")
def list_rules() -> Json:
    return {"items": [serialize.rule(r) for r in rules.list_rules(actor=actor())]}


@bp.post("/rules", endpoint="create")
def create_rule() -> tuple[Json, int]:
    data = inp.body("createRule")
    return serialize.rule(rules.create_rule(actor=actor(), **data)), 201


@bp.get(f"/rules/<{ID}:rule_id>", endpoint="get")
def get_rule(rule_id: int) -> Json:
    return serialize.rule(rules.get_rule(rule_id, actor=actor()))


@bp.patch(f"/rules/<{ID}:rule_id>", endpoint="update")
def update_rule(rule_id: int) -> Json:
    changes = RuleChanges(**inp.body("updateRule"))
    return serialize.rule(rules.update_rule(rule_id, actor=actor(), changes=changes))


@bp.delete(f"/rules/<{ID}:rule_id>", endpoint="delete")
def delete_rule(rule_id: int) -> tuple[str, int]:
    rules.delete_rule(rule_id, actor=actor())
    return "", 204


@bp.get(f"/rules/<{ID}:rule_id>/dry-run", endpoint="dry_run")
def dry_run(rule_id: int) -> Json:
    params = inp.query("dryRunRule")
    result = rules.dry_run(rule_id, actor=actor(), limit=inp.limit(params))
    return {"total": result.total, "ticket_ids": result.ticket_ids}


@bp.post(f"/rules/<{ID}:rule_id>/run", endpoint="run")
def run_rule(rule_id: int) -> tuple[Json, int]:
    return serialize.rule_run(rules.run_rule(rule_id, actor=actor())), 202


@bp.get(f"/rule-runs/<{ID}:run_id>", endpoint="run_status")
def get_run(run_id: int) -> Json:
    return serialize.rule_run(rules.get_run(run_id, actor=actor()))
