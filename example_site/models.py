"""The host's own data: users and the shop's orders, in the host's metadata,
not the helpdesk's."""

from __future__ import annotations

import datetime as dt
import decimal
import typing as t

from flask_login import UserMixin
from flask_sqlalchemy import SQLAlchemy
from sqlalchemy import JSON
from sqlalchemy import DateTime
from sqlalchemy import Numeric
from sqlalchemy import String
from sqlalchemy.orm import DeclarativeBase
from sqlalchemy.orm import Mapped
from sqlalchemy.orm import mapped_column
from werkzeug.security import check_password_hash
from werkzeug.security import generate_password_hash


class Base(DeclarativeBase):
    pass


db = SQLAlchemy(model_class=Base)


class User(UserMixin, db.Model):  # type: ignore[name-defined,misc]
    """A person who logs in to the example site."""

    __tablename__ = "users"

    id: Mapped[int] = mapped_column(primary_key=True)
    username: Mapped[str] = mapped_column(String(80), unique=True)
    name: Mapped[str] = mapped_column(String(200), default="")
    password_hash: Mapped[str] = mapped_column(String(300))

    def set_password(self, password: str) -> None:
        self.password_hash = generate_password_hash(password)

    def check_password(self, password: str) -> bool:
        return check_password_hash(self.password_hash, password)


#: Order statuses of the shop, in the order an order goes through them.
ORDER_STATUSES = ("placed", "paid", "shipped", "delivered", "cancelled", "refunded")


class Order(db.Model):  # type: ignore[name-defined,misc]
    """An order in the example shop; the helpdesk sidebar shows a customer's last ones.

    Orders know their customer by email only, as many shops do: the helpdesk
    matches them on the customer's email identities.
    """

    __tablename__ = "shop_orders"

    id: Mapped[int] = mapped_column(primary_key=True)
    number: Mapped[str] = mapped_column(String(20), unique=True)
    customer_email: Mapped[str] = mapped_column(String(320), index=True)
    #: ``[{"name": ..., "quantity": ..., "price": "12.50"}, ...]``
    items: Mapped[list[dict[str, t.Any]]] = mapped_column(JSON, default=list)
    total: Mapped[decimal.Decimal] = mapped_column(Numeric(12, 2))
    currency: Mapped[str] = mapped_column(String(3), default="USD")
    status: Mapped[str] = mapped_column(String(20), default="placed")
    placed_at: Mapped[dt.datetime] = mapped_column(DateTime, index=True)
