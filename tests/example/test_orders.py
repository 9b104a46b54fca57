"""The example site's own data in the helpdesk: the "Orders" sidebar block."""

from __future__ import annotations

import sqlalchemy as sa
from flask import Flask

from example_site.models import Order
from flask_helpdesk.extension import get_state
from flask_helpdesk.services import SYSTEM
from flask_helpdesk.services import customers

from .conftest import Browser


def _busiest_customer(site: Flask) -> tuple[int, list[Order]]:
    """The demo customer with the most orders, and their orders, newest first."""
    with site.app_context():
        session = get_state().db.session
        email = session.scalar(sa.select(Order.customer_email).group_by(Order.customer_email)
                               .order_by(sa.func.count().desc(), Order.customer_email))
        orders = list(session.scalars(sa.select(Order).where(Order.customer_email == email)
                                      .order_by(Order.placed_at.desc())))
        session.expunge_all()
        return customers.find_by_identity("email", email).id, orders


def test_demo_customers_have_orders(site: Flask) -> None:
    with site.app_context():
        session = get_state().db.session
        assert session.scalar(sa.select(sa.func.count()).select_from(Order)) > 10
        currencies = set(session.scalars(sa.select(Order.currency).distinct()))
        assert currencies <= {"USD", "RUB", "BRL"} and len(currencies) > 1


def test_profile_sidebar_shows_the_customers_last_five_orders(site: Flask,
                                                              browser: Browser) -> None:
    customer_id, orders = _busiest_customer(site)
    assert len(orders) > 5
    browser.login("anna")
    page = browser.get(f"/helpdesk/customers/{customer_id}").text
    block = page.split('<section class="hd-sidebar-block" data-plugin="example_site.orders">')[1]
    block = block.split("</section>")[0]
    assert "<h2>Orders</h2>" in block
    for order in orders[:5]:
        assert f'<a href="/orders/{order.number}">{order.number}</a>' in block
        assert f"<strong>{order.total:.2f} {order.currency}</strong>" in block
        assert f'<span class="shop-status">{order.status}</span>' in block
    assert orders[5].number not in block
    numbers = [o.number for o in orders[:5]]
    assert sorted(numbers, key=block.index) == numbers  # newest first
    detail = browser.get(f"/orders/{orders[0].number}")
    assert detail.status_code == 200 and orders[0].customer_email in detail.text


def test_a_customer_without_orders_gets_a_short_note(site: Flask, browser: Browser) -> None:
    with site.app_context():
        person = customers.create_customer(actor=SYSTEM, name="New",
                                           identities=[("email", "new@shop.test")])
        customer_id = person.id
    browser.login("admin")
    page = browser.get(f"/helpdesk/customers/{customer_id}").text
    assert "No orders with new@shop.test." in page
