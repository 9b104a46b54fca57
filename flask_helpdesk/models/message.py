"""Messages on a ticket (inbound, public replies, internal notes) and attachments."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import Boolean
from sqlalchemy import DateTime
from sqlalchemy import ForeignKey
from sqlalchemy import Index
from sqlalchemy import Integer
from sqlalchemy import String
from sqlalchemy import Text
from sqlalchemy import UniqueConstraint
from sqlalchemy import false
from sqlalchemy.orm import Mapped
from sqlalchemy.orm import mapped_column
from sqlalchemy.orm import relationship

from ._base import Base
from ._base import JSONType
from ._base import utcnow

#: ``inbound``: from the customer; ``reply``: public answer sent to the
#: customer; ``note``: internal, never shown or sent to a customer.
MESSAGE_KINDS = ("inbound", "reply", "note")

#: Delivery states of outbound replies (``None`` for inbound and notes).
DELIVERY_STATES = ("queued", "sending", "sent", "failed")


class Message(Base):
    """One message on a ticket."""

    __tablename__ = "helpdesk_messages"
    __table_args__ = (
        UniqueConstraint("channel", "account", "external_id"),
        Index("ix_helpdesk_messages_ticket", "ticket_id", "id"),
        Index("ix_helpdesk_messages_delivery", "delivery_state", "next_attempt_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    ticket_id: Mapped[int] = mapped_column(ForeignKey("helpdesk_tickets.id", ondelete="CASCADE"))
    kind: Mapped[str] = mapped_column(String(10))
    channel: Mapped[str] = mapped_column(String(30))
    account: Mapped[str] = mapped_column(String(100), default="")
    #: The channel's own id of the message (Message-ID, update id...).
    external_id: Mapped[str | None] = mapped_column(String(500))
    author_agent_id: Mapped[int | None] = mapped_column(ForeignKey("helpdesk_agents.id"))
    author_customer_id: Mapped[int | None] = mapped_column(ForeignKey("helpdesk_customers.id"))
    #: Who wrote it when neither an agent nor the customer did (a rule, a system).
    author_name: Mapped[str] = mapped_column(String(200), default="")
    subject: Mapped[str] = mapped_column(String(500), default="")
    text: Mapped[str] = mapped_column(Text, default="")
    #: Sanitized HTML (nh3); never the raw HTML a customer sent.
    html: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[dt.datetime] = mapped_column(DateTime, default=utcnow)
    #: Channel-specific extras (addresses, flags, the full quoted text...).
    meta: Mapped[dict[str, object]] = mapped_column(JSONType, default=dict)

    delivery_state: Mapped[str | None] = mapped_column(String(10))
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    last_error: Mapped[str | None] = mapped_column(Text)
    next_attempt_at: Mapped[dt.datetime | None] = mapped_column(DateTime)
    sent_at: Mapped[dt.datetime | None] = mapped_column(DateTime)

    attachments: Mapped[list[Attachment]] = relationship(
        lazy="raise", order_by="Attachment.id", back_populates="message"
    )

    @property
    def is_public(self) -> bool:
        return self.kind != "note"


class Attachment(Base):
    """A file on a message; the bytes live in the attachment storage."""

    __tablename__ = "helpdesk_attachments"

    id: Mapped[int] = mapped_column(primary_key=True)
    message_id: Mapped[int] = mapped_column(
        ForeignKey("helpdesk_messages.id", ondelete="CASCADE"), index=True
    )
    filename: Mapped[str] = mapped_column(String(255))
    content_type: Mapped[str] = mapped_column(String(200))
    size: Mapped[int] = mapped_column(Integer)
    storage_key: Mapped[str] = mapped_column(String(500))
    sha256: Mapped[str] = mapped_column(String(64))
    content_id: Mapped[str | None] = mapped_column(String(500))
    inline: Mapped[bool] = mapped_column(default=False)
    created_at: Mapped[dt.datetime] = mapped_column(DateTime, default=utcnow)

    message: Mapped[Message] = relationship(back_populates="attachments", lazy="raise")


class ThreadKey(Base):
    """A key that threads later messages into a ticket (e.g. a Message-ID).

    Channels store the keys of every message they see or send, and ingest
    looks them up to find the ticket a reply belongs to. A key of a message we
    sent (``outbound``) threads any reply; a key of an inbound message only
    threads mail from the ticket's customer or its participants.
    """

    __tablename__ = "helpdesk_thread_keys"
    __table_args__ = (UniqueConstraint("channel", "account", "key"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    channel: Mapped[str] = mapped_column(String(30))
    account: Mapped[str] = mapped_column(String(100), default="")
    key: Mapped[str] = mapped_column(String(500))
    ticket_id: Mapped[int] = mapped_column(
        ForeignKey("helpdesk_tickets.id", ondelete="CASCADE"), index=True
    )
    #: The key of a message the helpdesk sent (an id we generated).
    outbound: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())
    created_at: Mapped[dt.datetime] = mapped_column(DateTime, default=utcnow)


class TicketParticipant(Base):
    """Someone besides the customer who takes part in a ticket's conversation.

    The addresses an inbound message was also sent to (for email, its To and
    Cc). A participant's reply threads like the customer's: by the keys of
    the ticket's inbound messages and by a ticket number in the subject.
    """

    __tablename__ = "helpdesk_ticket_participants"
    __table_args__ = (UniqueConstraint("ticket_id", "kind", "value"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    ticket_id: Mapped[int] = mapped_column(
        ForeignKey("helpdesk_tickets.id", ondelete="CASCADE"))
    #: An identity, normalized as :class:`ContactIdentity` values are.
    kind: Mapped[str] = mapped_column(String(30))
    value: Mapped[str] = mapped_column(String(320))
    created_at: Mapped[dt.datetime] = mapped_column(DateTime, default=utcnow)
