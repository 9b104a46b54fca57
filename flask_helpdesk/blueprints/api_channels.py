"""REST API endpoints of channel accounts and the inbound quarantine (admins)."""

from __future__ import annotations

import typing as t

from flask import Blueprint

from ..services import channels
from ..services import permissions
from ..services import quarantine
from . import _serialize as serialize
from . import api_input as inp
from .api_auth import actor
from .api_tickets import ID

bp = Blueprint("channels", __name__)

Json = dict[str, t.Any]


@bp.get("/channel-accounts", endpoint="accounts")
def list_accounts() -> Json:
    return {"items": [serialize.channel_account(a)
                      for a in channels.list_accounts(actor=actor())]}


@bp.post("/channel-accounts", endpoint="create_account")
def create_account() -> tuple[Json, int]:
    data = inp.body("createChannelAccount")
    return serialize.channel_account(channels.create_account(actor=actor(), **data)), 201


@bp.get(f"/channel-accounts/<{ID}:account_id>", endpoint="account")
def get_account(account_id: int) -> Json:
    return serialize.channel_account(channels.get_account(account_id, actor=actor()))


@bp.patch(f"/channel-accounts/<{ID}:account_id>", endpoint="update_account")
def update_account(account_id: int) -> Json:
    data = inp.body("updateChannelAccount")
    return serialize.channel_account(channels.update_account(account_id, actor=actor(), **data))


@bp.get("/quarantine", endpoint="quarantine")
def list_quarantine() -> Json:
    permissions.require_role(actor(), "admin")  # before the query: 403 whatever it holds
    params = inp.query("listQuarantine")
    size = inp.limit(params)
    rows = quarantine.list_quarantine(actor=actor(), cursor=params.get("cursor"),
                                      limit=size + 1)
    items, cursor = inp.page(rows, size)
    return {"items": [serialize.quarantined(q) for q in items], "next_cursor": cursor}


@bp.post(f"/quarantine/<{ID}:item_id>/retry", endpoint="retry")
def retry(item_id: int) -> Json:
    return serialize.ingest_result(quarantine.retry_quarantined(item_id, actor=actor()))


@bp.delete(f"/quarantine/<{ID}:item_id>", endpoint="discard")
def discard(item_id: int) -> tuple[str, int]:
    quarantine.discard_quarantined(item_id, actor=actor())
    return "", 204
