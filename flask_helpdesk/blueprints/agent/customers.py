"""The customer profile: identities, attributes and every visible request."""

from __future__ import annotations

import typing as t

from flask import redirect
from flask import render_template
from flask import url_for

from ...extension import get_state
from ...services import TicketFilter
from ...services import customers
from ...services import views
from ._common import bp
from ._common import current_agent


@bp.get("/customers/<int:customer_id>")
def customer(customer_id: int) -> str:
    """A customer: identities, attributes and the tickets the agent may see."""
    actor = current_agent()
    person = customers.get_customer(customer_id)
    if person.merged_into_id is not None:
        return t.cast(str, redirect(url_for(".customer", customer_id=person.merged_into_id)))
    page = views.list_tickets(actor=actor, filters=TicketFilter(customer=customer_id),
                              sort="-created", limit=get_state().config.max_page_size)
    return render_template("helpdesk/customer.html", customer=person, page=page)
