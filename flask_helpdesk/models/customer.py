"""Customers and the contact identities (email, phone, telegram...) they write from."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import DateTime
from sqlalchemy import ForeignKey
from sqlalchemy import String
from sqlalchemy import Text
from sqlalchemy import UniqueConstraint
from sqlalchemy.orm import Mapped
from sqlalchemy.orm import mapped_column
from sqlalchemy.orm import relationship

from ._base import Base
from ._base import JSONType
from ._base import utcnow

#: Identity kinds the core knows how to normalize; plugins may use others
#: (lower-case words of letters, digits, ``_`` and ``-``).
IDENTITY_KINDS = ("email", "phone", "telegram", "vk", "whatsapp", "web")


class Customer(Base):
    """A person who asks for help, whatever channel they use."""

    __tablename__ = "helpdesk_customers"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(200), default="")
    notes: Mapped[str] = mapped_column(Text, default="")
    attributes: Mapped[dict[str, object]] = mapped_column(JSONType, default=dict)
    created_at: Mapped[dt.datetime] = mapped_column(DateTime, default=utcnow)
    #: Set when this customer was merged into another; the row stays for history.
    merged_into_id: Mapped[int | None] = mapped_column(ForeignKey("helpdesk_customers.id"))

    identities: Mapped[list[ContactIdentity]] = relationship(
        back_populates="customer", lazy="selectin", order_by="ContactIdentity.id"
    )

    def __repr__(self) -> str:
        return f"<Customer {self.id} {self.name!r}>"


class ContactIdentity(Base):
    """One way to reach a customer: ``kind`` plus normalized ``value``."""

    __tablename__ = "helpdesk_contact_identities"
    __table_args__ = (UniqueConstraint("kind", "value"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    customer_id: Mapped[int] = mapped_column(
        ForeignKey("helpdesk_customers.id", ondelete="CASCADE"), index=True
    )
    kind: Mapped[str] = mapped_column(String(30))
    value: Mapped[str] = mapped_column(String(320))
    #: The value as the customer wrote it (display form).
    display: Mapped[str] = mapped_column(String(320), default="")
    created_at: Mapped[dt.datetime] = mapped_column(DateTime, default=utcnow)

    customer: Mapped[Customer] = relationship(back_populates="identities", lazy="raise")
