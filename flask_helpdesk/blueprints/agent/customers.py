"""Customers: the search list, the profile and the forms that change a customer.

The profile shows the contact identities (add, edit, remove), the host's
attributes, the agent's notes, every request the agent may see (unsolved
first) and the blocks plugins add through ``helpdesk_customer_sidebar_html``.
Merging two customers is a search, a confirmation page and a POST.
"""

from __future__ import annotations

import typing as t

from flask import flash
from flask import redirect
from flask import render_template
from flask import request
from flask import url_for

from ...errors import Conflict
from ...errors import HelpdeskError
from ...errors import NotFound
from ...errors import ValidationError
from ...extension import get_state
from ...i18n import _
from ...models.customer import IDENTITY_KINDS
from ...services import customers
from ...services import views
from ...services import whole_number
from . import _sidebar  # noqa: F401  (registers hd_customer_sidebar)
from ._common import bp
from ._common import current_agent
from ._common import optional_int

if t.TYPE_CHECKING:
    from ...models import Customer

#: Customers per page of the search list.
LIST_LIMIT = 25

#: Requests per page of the profile.
REQUESTS_LIMIT = 25


@bp.get("/customers", endpoint="customers")
def customers_list() -> t.Any:
    """Search customers by name or any identity, keyset-paginated by id."""
    query = request.args.get("q", "").strip()
    after = request.args.get("after", "")
    found = customers.list_customers(query=query, limit=LIST_LIMIT + 1, after=_id(after))
    page, more = found[:LIST_LIMIT], len(found) > LIST_LIMIT
    return render_template(
        "helpdesk/customers.html", customers=page, query=query,
        open_counts=customers.unsolved_counts([c.id for c in page], actor=current_agent()),
        next_url=url_for(".customers", q=query or None, after=page[-1].id) if more else None,
    )


@bp.get("/customers/<helpdesk_id:customer_id>")
def customer(customer_id: int) -> t.Any:
    """A customer: identities, attributes, notes, plugin blocks and requests."""
    person = customers.get_customer(customer_id)
    if person.merged_into_id is not None:
        return redirect(url_for(".customer", customer_id=person.merged_into_id))
    return _render_customer(person)


def _id(text: str) -> int | None:
    """A row id from the query string; ``None`` when it is not one (no 500 on junk)."""
    return whole_number(text)


def _render_customer(person: Customer, *, form: str | None = None,
                     error: HelpdeskError | None = None) -> t.Any:
    """The profile; ``form`` names the form ``error`` belongs to (typed text kept)."""
    actor = current_agent()
    show = request.args.get("show", "all")
    channel = request.args.get("channel") or None
    try:
        page = customers.list_requests(person.id, actor=actor, show=show, channel=channel,
                                       cursor=request.args.get("cursor") or None,
                                       limit=REQUESTS_LIMIT)
    except ValidationError as exc:
        page, show, form, error = views.Page([], None), "all", form or "requests", error or exc
    next_url = None
    if page.next_cursor:
        next_url = url_for(".customer", customer_id=person.id, show=show, channel=channel,
                           cursor=page.next_cursor, _anchor="requests")
    body = render_template(
        "helpdesk/customer.html", customer=person, page=page, show=show, channel=channel,
        counts=customers.ticket_counts(person.id, actor=actor), next_url=next_url,
        channels=get_state().channels, identity_kinds=IDENTITY_KINDS,
        form=form, error=error, values=request.form if form else {},
        merge_with=error.details.get("customer_id") if isinstance(error, Conflict) else None,
    )
    return (body, error.http_status) if error else body


def _act(customer_id: int, form: str, action: t.Callable[[], t.Any], done: str) -> t.Any:
    """Run a service call for a form; on error show the profile with the form filled."""
    try:
        action()
    except (ValidationError, Conflict) as exc:
        return _render_customer(customers.get_customer(customer_id), form=form, error=exc)
    flash(done, "success")
    return redirect(url_for(".customer", customer_id=customer_id, _anchor=form))


@bp.post("/customers/<helpdesk_id:customer_id>/details")
def customer_details(customer_id: int) -> t.Any:
    """Change the customer's name and the agents' notes about them."""
    return _act(customer_id, "details", lambda: customers.update_customer(
        customer_id, actor=current_agent(), name=request.form.get("name", ""),
        notes=request.form.get("notes", ""),
    ), _("Customer saved."))


@bp.post("/customers/<helpdesk_id:customer_id>/identities")
def add_identity(customer_id: int) -> t.Any:
    """Give the customer one more contact identity."""
    return _act(customer_id, "identity-new", lambda: customers.add_identity(
        customer_id, actor=current_agent(), kind=request.form.get("kind", "").strip(),
        value=request.form.get("value", ""),
    ), _("Contact added."))


@bp.post("/customers/<helpdesk_id:customer_id>/identities/<helpdesk_id:identity_id>")
def edit_identity(customer_id: int, identity_id: int) -> t.Any:
    """Change an identity's value (shown as typed, looked up normalized)."""
    _own_identity(customer_id, identity_id)
    return _act(customer_id, f"identity-{identity_id}", lambda: customers.update_identity(
        identity_id, actor=current_agent(), value=request.form.get("value", ""),
    ), _("Contact changed."))


@bp.post("/customers/<helpdesk_id:customer_id>/identities/<helpdesk_id:identity_id>/remove")
def remove_identity(customer_id: int, identity_id: int) -> t.Any:
    """Remove a contact identity from the customer."""
    _own_identity(customer_id, identity_id)
    return _act(customer_id, "identities", lambda: customers.remove_identity(
        identity_id, actor=current_agent()), _("Contact removed."))


def _own_identity(customer_id: int, identity_id: int) -> None:
    if customers.get_identity(identity_id).customer_id != customer_id:
        raise NotFound(_("Identity %(id)s does not exist.", id=identity_id))


@bp.get("/customers/<helpdesk_id:customer_id>/merge")
def merge_customer(customer_id: int) -> t.Any:
    """Pick the customer to merge into this one, then confirm what moves."""
    return _render_merge(customer_id)


def _render_merge(customer_id: int, *, error: HelpdeskError | None = None) -> t.Any:
    actor = current_agent()
    into = customers.get_customer(customer_id)
    if into.merged_into_id is not None:
        return redirect(url_for(".merge_customer", customer_id=into.merged_into_id))
    query = request.values.get("q", "").strip()
    candidates = [c for c in customers.list_customers(query=query, limit=LIST_LIMIT + 1)
                  if c.id != into.id][:LIST_LIMIT] if query else []
    source, tickets, counts = None, views.Page([], None), None
    source_id = _id(request.values.get("source", ""))
    if source_id is not None and source_id != into.id:
        source = customers.get_customer(source_id)
        counts = customers.ticket_counts(source.id, actor=actor)
        tickets = customers.list_requests(source.id, actor=actor, limit=REQUESTS_LIMIT)
    body = render_template(
        "helpdesk/customer_merge.html", into=into, source=source, query=query,
        candidates=candidates, tickets=tickets, counts=counts, error=error,
        open_counts=customers.unsolved_counts([c.id for c in candidates], actor=actor),
        can_merge=actor.has_role("manager"),
    )
    return (body, error.http_status) if error else body


@bp.post("/customers/<helpdesk_id:customer_id>/merge")
def merge_customer_post(customer_id: int) -> t.Any:
    """Merge the chosen customer into this one and show the survivor."""
    try:
        source_id = optional_int("source")
        if source_id is None:
            raise ValidationError(_("Choose the customer to merge."), field="source")
        customers.merge_customers(source_id, customer_id, actor=current_agent())
    except (ValidationError, Conflict) as exc:
        return _render_merge(customer_id, error=exc)
    flash(_("Customer #%(source)s was merged into this one.", source=source_id), "success")
    return redirect(url_for(".customer", customer_id=customer_id))
