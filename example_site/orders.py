"""The shop's orders beside the helpdesk: a page per order and a sidebar block.

:func:`helpdesk_customer_sidebar_html` is an in-process plugin of the site,
registered with ``Helpdesk(db=db, plugins=[orders])``. It shows the last
orders of the customer an agent is looking at, found by the customer's email
identities, and escapes every value it takes from the shop's tables: the
helpdesk inserts the returned HTML as it is.
"""

from __future__ import annotations

import typing as t

from flask import Blueprint
from flask import abort
from flask import render_template
from flask import url_for
from flask_login import login_required
from markupsafe import Markup
from sqlalchemy import select

from flask_helpdesk import hookimpl

from .models import Order
from .models import db

if t.TYPE_CHECKING:
    from flask_helpdesk.models import Agent
    from flask_helpdesk.models import Customer

#: How many orders the sidebar block lists.
SIDEBAR_ORDERS = 5

bp = Blueprint("orders", __name__)


@bp.get("/orders/<number>")
@login_required
def order(number: str) -> str:
    """One order of the shop (what the sidebar's references lead to)."""
    found = db.session.scalar(select(Order).where(Order.number == number))
    if found is None:
        abort(404)
    return render_template("example/order.html", order=found)


def last_orders(emails: t.Sequence[str], limit: int = SIDEBAR_ORDERS) -> list[Order]:
    """The newest orders placed with any of ``emails`` (lower-case)."""
    if not emails:
        return []
    return list(db.session.scalars(
        select(Order).where(Order.customer_email.in_(list(emails)))
        .order_by(Order.placed_at.desc(), Order.id.desc()).limit(limit)))


@hookimpl
def helpdesk_customer_sidebar_html(customer: Customer, agent: Agent | None) -> Markup | None:
    """The "Orders" block: the customer's last orders with status and total."""
    if agent is None:
        return None
    emails = [i.value for i in customer.identities if i.kind == "email"]
    if not emails:
        return None
    orders = last_orders(emails)
    rows = Markup("").join(
        Markup('<li class="shop-order"><a href="{url}">{number}</a> <span class="shop-status">'
               "{status}</span> <strong>{total} {currency}</strong>"
               ' <time datetime="{iso}Z">{date}</time></li>').format(
            url=url_for("orders.order", number=o.number), number=o.number, status=o.status,
            total=f"{o.total:.2f}", currency=o.currency, iso=o.placed_at.isoformat(),
            date=o.placed_at.strftime("%Y-%m-%d"))
        for o in orders)
    if not orders:
        rows = Markup('<li class="shop-none">No orders with {emails}.</li>').format(
            emails=", ".join(emails))
    return Markup('<h2>Orders</h2><ul class="shop-orders">{rows}</ul>').format(rows=rows)
