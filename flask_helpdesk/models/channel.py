"""Channel accounts (mailboxes, bots), their fetch cursors and the inbound quarantine."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import Boolean
from sqlalchemy import DateTime
from sqlalchemy import ForeignKey
from sqlalchemy import Integer
from sqlalchemy import String
from sqlalchemy import Text
from sqlalchemy import UniqueConstraint
from sqlalchemy import false
from sqlalchemy.orm import Mapped
from sqlalchemy.orm import mapped_column

from ._base import Base
from ._base import JSONType
from ._base import utcnow


class ChannelAccount(Base):
    """One mailbox, bot or page a channel reads from and sends through.

    Plain settings are in :attr:`settings`; secret ones (passwords, tokens)
    are in :attr:`secrets`, a Fernet token encrypted with the configured key.
    """

    __tablename__ = "helpdesk_channel_accounts"
    __table_args__ = (UniqueConstraint("channel", "name"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    channel: Mapped[str] = mapped_column(String(50))
    name: Mapped[str] = mapped_column(String(100))
    #: New tickets of this account go to this group.
    group_id: Mapped[int | None] = mapped_column(
        ForeignKey("helpdesk_groups.id", ondelete="SET NULL"))
    settings: Mapped[dict[str, object]] = mapped_column(JSONType, default=dict)
    #: Encrypted JSON object of the secret settings ("" when there are none).
    secrets: Mapped[str] = mapped_column(Text, default="")
    enabled: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[dt.datetime] = mapped_column(DateTime, default=utcnow)
    updated_at: Mapped[dt.datetime] = mapped_column(DateTime, default=utcnow)
    last_success_at: Mapped[dt.datetime | None] = mapped_column(DateTime)
    last_error: Mapped[str] = mapped_column(Text, default="")
    last_error_at: Mapped[dt.datetime | None] = mapped_column(DateTime)
    #: Messages waiting at the source after the last fetch.
    backlog: Mapped[int] = mapped_column(Integer, default=0)
    #: Who holds the fetch lease, and until when (one fetcher per account).
    lease_owner: Mapped[str] = mapped_column(String(100), default="")
    lease_until: Mapped[dt.datetime | None] = mapped_column(DateTime)

    def __repr__(self) -> str:
        return f"<ChannelAccount {self.id} {self.channel}:{self.name}>"


class ChannelCursor(Base):
    """Where a fetcher stopped in one folder of an account (e.g. UIDVALIDITY, last UID)."""

    __tablename__ = "helpdesk_channel_cursors"

    account_id: Mapped[int] = mapped_column(
        ForeignKey("helpdesk_channel_accounts.id", ondelete="CASCADE"), primary_key=True)
    folder: Mapped[str] = mapped_column(String(200), primary_key=True)
    state: Mapped[dict[str, object]] = mapped_column(JSONType, default=dict)
    updated_at: Mapped[dt.datetime] = mapped_column(DateTime, default=utcnow)


class QuarantinedMessage(Base):
    """Raw inbound data that could not be parsed or ingested, kept to retry."""

    __tablename__ = "helpdesk_quarantine"

    id: Mapped[int] = mapped_column(primary_key=True)
    channel: Mapped[str] = mapped_column(String(50), index=True)
    account: Mapped[str] = mapped_column(String(100), default="")
    #: Key of the raw bytes in the attachment storage.
    storage_key: Mapped[str] = mapped_column(String(200))
    size: Mapped[int] = mapped_column(Integer, default=0)
    #: Where the data came from (e.g. ``INBOX uid 42``), for the admin.
    source: Mapped[str] = mapped_column(String(500), default="")
    error: Mapped[str] = mapped_column(Text, default="")
    attempts: Mapped[int] = mapped_column(Integer, default=1)
    #: It failed during an archive import: a retry ingests it as imported
    #: history (``InboundMessage.imported``), so no event rule answers it.
    imported: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())
    created_at: Mapped[dt.datetime] = mapped_column(DateTime, default=utcnow)
    last_attempt_at: Mapped[dt.datetime] = mapped_column(DateTime, default=utcnow)

    def __repr__(self) -> str:
        return f"<QuarantinedMessage {self.id} {self.channel}:{self.account}>"
