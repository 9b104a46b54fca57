"""REST API endpoints of customers, identities, groups, agents and API tokens."""

from __future__ import annotations

import typing as t

from flask import Blueprint

from ..services import TicketFilter
from ..services import agents
from ..services import customers
from ..services import views
from . import _serialize as serialize
from . import api_input as inp
from .api_auth import actor
from .api_auth import authenticated_by_token
from .api_auth import csrf_token
from .api_tickets import ID
from .api_tickets import ticket_page

bp = Blueprint("people", __name__)

Json = dict[str, t.Any]


# ---------------------------------------------------------------- customers


@bp.get("/customers", endpoint="customers")
def list_customers() -> Json:
    params = inp.query("listCustomers")
    size = inp.limit(params)
    rows = customers.list_customers(cursor=params.get("cursor"), limit=size + 1,
                                    query=params.get("q") or None)
    items, cursor = inp.page(rows, size)
    return {"items": [serialize.customer(c) for c in items], "next_cursor": cursor}


@bp.post("/customers", endpoint="create_customer")
def create_customer() -> tuple[Json, int]:
    data = inp.body("createCustomer")
    identities = [(i["kind"], i["value"]) for i in data.pop("identities", [])]
    customer = customers.create_customer(actor=actor(), identities=identities, **data)
    return serialize.customer(customer), 201


@bp.get(f"/customers/<{ID}:customer_id>", endpoint="customer")
def get_customer(customer_id: int) -> Json:
    return serialize.customer(customers.get_customer(customer_id))


@bp.patch(f"/customers/<{ID}:customer_id>", endpoint="update_customer")
def update_customer(customer_id: int) -> Json:
    data = inp.body("updateCustomer")
    return serialize.customer(customers.update_customer(customer_id, actor=actor(), **data))


@bp.get(f"/customers/<{ID}:customer_id>/tickets", endpoint="customer_tickets")
def customer_tickets(customer_id: int) -> Json:
    params = inp.query("listCustomerTickets")
    customers.get_customer(customer_id)
    page = views.list_tickets(actor=actor(), filters=TicketFilter(customer=customer_id),
                              sort=params.get("sort", "-updated"), cursor=params.get("cursor"),
                              limit=inp.limit(params))
    return ticket_page(page)


@bp.post(f"/customers/<{ID}:customer_id>/identities", endpoint="add_identity")
def add_identity(customer_id: int) -> tuple[Json, int]:
    data = inp.body("addIdentity")
    identity = customers.add_identity(customer_id, actor=actor(), kind=data["kind"],
                                      value=data["value"])
    return serialize.identity(identity), 201


@bp.delete(f"/identities/<{ID}:identity_id>", endpoint="remove_identity")
def remove_identity(identity_id: int) -> tuple[str, int]:
    customers.remove_identity(identity_id, actor=actor())
    return "", 204


@bp.post(f"/customers/<{ID}:customer_id>/merge", endpoint="merge_customer")
def merge_customer(customer_id: int) -> Json:
    into_id = inp.body("mergeCustomer")["into_id"]
    return serialize.customer(customers.merge_customers(customer_id, into_id, actor=actor()))


# ------------------------------------------------------------------- groups


@bp.get("/groups", endpoint="groups")
def list_groups() -> Json:
    return {"items": [serialize.group(g) for g in agents.list_groups()]}


@bp.post("/groups", endpoint="create_group")
def create_group() -> tuple[Json, int]:
    data = inp.body("createGroup")
    return serialize.group(agents.create_group(actor=actor(), **data)), 201


@bp.patch(f"/groups/<{ID}:group_id>", endpoint="update_group")
def update_group(group_id: int) -> Json:
    data = inp.body("updateGroup")
    return serialize.group(agents.update_group(group_id, actor=actor(), **data))


# ------------------------------------------------------------------- agents


@bp.get("/agents", endpoint="agents")
def list_agents() -> Json:
    params = inp.query("listAgents")
    rows = agents.list_agents(include_inactive=bool(params.get("include_inactive")))
    return {"items": [serialize.agent(a) for a in rows]}


@bp.post("/agents", endpoint="create_agent")
def create_agent() -> tuple[Json, int]:
    data = inp.body("createAgent")
    return serialize.agent(agents.create_agent(actor=actor(), **data)), 201


@bp.get(f"/agents/<{ID}:agent_id>", endpoint="agent")
def get_agent(agent_id: int) -> Json:
    return serialize.agent(agents.get_agent(agent_id))


@bp.patch(f"/agents/<{ID}:agent_id>", endpoint="update_agent")
def update_agent(agent_id: int) -> Json:
    data = inp.body("updateAgent")
    return serialize.agent(agents.update_agent(agent_id, actor=actor(), **data))


@bp.get("/me", endpoint="me")
def me() -> Json:
    """The caller, with the CSRF token that session-authenticated changes need."""
    token = None if authenticated_by_token() else csrf_token()
    return {**serialize.agent(actor()), "csrf_token": token}


# --------------------------------------------------------------- API tokens


@bp.get("/tokens", endpoint="tokens")
def list_tokens() -> Json:
    params = inp.query("listTokens")
    rows = agents.list_tokens(actor=actor(), agent_id=params.get("agent_id", actor().id))
    return {"items": [serialize.token(row) for row in rows]}


@bp.post("/tokens", endpoint="create_token")
def create_token() -> tuple[Json, int]:
    data = inp.body("createToken")
    row, secret = agents.create_token(actor=actor(), agent_id=data.get("agent_id", actor().id),
                                      name=data["name"])
    return serialize.token(row, secret), 201


@bp.delete(f"/tokens/<{ID}:token_id>", endpoint="revoke_token")
def revoke_token(token_id: int) -> tuple[str, int]:
    agents.revoke_token(token_id, actor=actor())
    return "", 204
