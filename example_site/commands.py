"""``flask example ...``: prepare the database, users and demo data."""

from __future__ import annotations

import datetime as dt
import decimal
import random
import typing as t

import click
import sqlalchemy as sa
from flask import Flask
from flask import current_app
from flask.cli import AppGroup

from flask_helpdesk import demo
from flask_helpdesk.models import Ticket
from flask_helpdesk.services import customers

from .models import Order
from .models import User
from .models import db

example_cli = AppGroup("example", help="The example site.")


def prepare(app: Flask, *, demo_sizes: dict[str, int] | None = None,
            now: dt.datetime | None = None) -> bool:
    """Create every table, the demo users and (once) the demo data.

    ``now`` is the demo's present (naive UTC; by default the current time):
    tests pass a fixed one, so the data is the same on any day.
    Returns whether demo data was generated now.
    """
    with app.app_context():
        db.create_all()  # the host's own tables
        _upgrade_helpdesk(app)
        for login, name, *_rest in demo.TEAM:
            _user(login, name)
        _user("boss", "Bea Boss (not an agent)")
        db.session.commit()
        if db.session.scalar(sa.select(sa.func.count()).select_from(Ticket)):
            click.echo("The helpdesk already has tickets: no demo data generated (delete"
                       f" {db.engine.url.database} to start over).")
            return False
        click.echo("Generating demo data (a minute or so)...")
        made = demo.generate(**(demo_sizes or {}), now=now)
        made["orders"] = demo_orders(now=now)
        click.echo(", ".join(f"{k}: {v}" for k, v in made.items()))
        return True


#: The shop's catalogue: (product, price).
PRODUCTS = (("Wireless headphones", "79.00"), ("USB-C charger", "24.50"),
            ("Phone case", "12.90"), ("Smart watch", "199.00"), ("Laptop stand", "45.00"),
            ("Mechanical keyboard", "109.00"), ("Webcam", "59.99"), ("Gift card", "25.00"))
#: Currency by the demo customer's language.
CURRENCIES = {"en": "USD", "ru": "RUB", "pt": "BRL"}
#: Price factor of a currency (the demo shop's price lists).
RATES = {"USD": 1, "RUB": 90, "BRL": 5}


def demo_orders(*, seed: int = 7, days: int = 180, now: dt.datetime | None = None) -> int:
    """Give each demo customer 0-4 orders (a regular 8) over the last ``days`` days.

    Orders are matched to helpdesk customers by email, like a real shop's.
    Returns the number of orders made.
    """
    rng = random.Random(seed)
    now = (now or dt.datetime.now(dt.UTC).replace(tzinfo=None)).replace(microsecond=0)
    made, after = 0, None
    while page := customers.list_customers(after=after, limit=200):
        after = page[-1].id
        for person in page:
            emails = [i.value for i in person.identities if i.kind == "email"]
            currency = CURRENCIES.get(str(person.attributes.get("language")), "USD")
            # every tenth customer is a regular, with more orders than the sidebar shows
            count = 8 if person.id % 10 == 1 else rng.choice((0, 1, 1, 2, 3, 4))
            for _n in range(count if emails else 0):
                made += 1
                placed = now - dt.timedelta(days=rng.uniform(0, days))
                db.session.add(_order(rng, f"EX-{10000 + made}", emails[0], currency,
                                      placed, (now - placed).days))
    db.session.commit()
    return made


def _order(rng: random.Random, number: str, email: str, currency: str,
           placed: dt.datetime, age_days: int) -> Order:
    items: list[dict[str, t.Any]] = []
    for name, price in rng.sample(PRODUCTS, rng.randint(1, 3)):
        amount = (decimal.Decimal(price) * RATES[currency]).quantize(decimal.Decimal("0.01"))
        items.append({"name": name, "quantity": rng.randint(1, 2), "price": str(amount)})
    total = sum(decimal.Decimal(i["price"]) * i["quantity"] for i in items)
    if age_days < 3:
        status = rng.choice(("placed", "paid", "shipped"))
    else:
        status = rng.choices(("delivered", "cancelled", "refunded"), weights=(8, 1, 1))[0]
    return Order(number=number, customer_email=email, items=items, total=total,
                 currency=currency, status=status, placed_at=placed)


def _upgrade_helpdesk(app: Flask) -> None:
    """``flask helpdesk db upgrade`` when the helpdesk has it, else create the tables."""
    group = app.cli.commands["helpdesk"]
    if "db" in getattr(group, "commands", {}):
        result = app.test_cli_runner().invoke(args=["helpdesk", "db", "upgrade"])
        if result.exit_code != 0:
            raise click.ClickException(f"flask helpdesk db upgrade failed:\n{result.output}")
        return
    from flask_helpdesk.testing import create_tables

    create_tables(app)


def _user(login: str, name: str) -> User:
    user = db.session.scalar(sa.select(User).where(User.username == login))
    if user is None:
        user = User(username=login, name=name)
        user.set_password(current_app.config["DEMO_PASSWORD"])
        db.session.add(user)
    return user


@example_cli.command("init")
def init_command() -> None:
    """Create tables and demo users; generate demo data if the helpdesk is empty."""
    prepare(current_app._get_current_object())  # type: ignore[attr-defined]
    click.echo(f"Demo users: {', '.join(t[0] for t in demo.TEAM)} and boss;"
               f" password: {current_app.config['DEMO_PASSWORD']}")
