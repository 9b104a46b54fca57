"""Value types of the channel contract.

A channel plugin turns outside traffic into :class:`InboundMessage` values and
hands them to :func:`flask_helpdesk.services.inbound.ingest`. For outbound
replies, the delivery job builds an :class:`OutboundMessage` and calls the
``helpdesk_deliver_message`` hook; the plugin that owns the channel sends it
and answers with a :class:`DeliveryReceipt`. A rule's notification of an
agent reaches the plugin that mails agents as an :class:`AgentNotice`.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import typing as t


@dataclasses.dataclass(frozen=True)
class Identity:
    """Who sent a message: a contact identity and a display name.

    :ivar kind: ``email``, ``phone``, ``telegram``, ``vk`` or a plugin's kind.
    :ivar value: The address, number or account id.
    :ivar name: The sender's display name, if the channel gives one.
    """

    kind: str
    value: str
    name: str = ""


@dataclasses.dataclass(frozen=True)
class InboundAttachment:
    """A file that came with an inbound message.

    :ivar filename: As the sender named it (sanitized on storage).
    :ivar content_type: As declared; the core sniffs the bytes as well.
    :ivar data: The file's bytes.
    :ivar content_id: For inline parts referenced as ``cid:`` in the HTML.
    :ivar inline: Shown inside the message rather than as a download.
    """

    filename: str
    content_type: str
    data: bytes
    content_id: str | None = None
    inline: bool = False

    @property
    def size(self) -> int:
        return len(self.data)


@dataclasses.dataclass(frozen=True)
class InboundMessage:
    """One message from a customer, as a channel delivers it to ingest.

    :ivar channel: The channel's name (``email``, ``telegram``...).
    :ivar account: Which mailbox/bot/page of that channel received it.
    :ivar external_id: The channel's unique id of the message; ingest is
        idempotent on ``(channel, account, external_id)``.
    :ivar sender: Who sent it.
    :ivar subject: Subject, or a summary for channels without one.
    :ivar text: Plain text (the customer's new text, quotes removed).
    :ivar html: HTML as received; ingest sanitizes it before storing.
    :ivar received_at: When the customer sent it (naive UTC), for archives.
    :ivar thread_keys: Keys this message refers to (e.g. In-Reply-To and
        References ids), in order of preference; the first known one that
        may thread this sender wins (see :ref:`threading`).
    :ivar own_keys: Keys that identify this message, stored so that later
        messages can thread onto it (e.g. its Message-ID).
    :ivar ticket_hint: A ticket number the sender quoted (e.g. ``[#123]`` in a
        subject); used only when ``sender`` is a known identity of that
        ticket's customer or one of its participants.
    :ivar participants: Others the message was also addressed to (for email,
        To and Cc without the helpdesk's own address). They become the
        ticket's participants, whose replies thread like the customer's.
    :ivar mailing_list: Sent through a mailing list (or as bulk mail): it
        joins a ticket only of its sender's own customer, so that list
        members' replies to one post are never glued together.
    :ivar group: Name of the group the account routes to, if any.
    :ivar attachments: Files that came with it.
    :ivar auto_submitted: An auto-reply, bounce or list mail: no automatic
        answer may be sent to it.
    :ivar spam_score: The channel's own spam score (0 = clean, 1 = spam).
    :ivar imported: Imported history (an archive import), not live traffic:
        its events carry ``imported: true`` and event rules do not run on
        them, so nothing is answered, notified or called; see
        :ref:`imported-messages`.
    :ivar content_hash: A hash of the message's content (e.g. ``sha256:<hex>``
        of the raw mail, at most 100 characters). When a message with the
        same ``external_id`` was stored with a different hash, this one is a
        different message that reuses the id: it is stored as a new message
        under ``<external_id>#<content_hash>``; see :ref:`idempotent-ingest`.
    :ivar meta: Channel-specific extras stored on the message (addresses,
        full quoted text, headers...). Must be JSON-serializable.
    """

    channel: str
    external_id: str
    sender: Identity
    text: str = ""
    subject: str = ""
    html: str | None = None
    account: str = ""
    received_at: dt.datetime | None = None
    thread_keys: tuple[str, ...] = ()
    own_keys: tuple[str, ...] = ()
    ticket_hint: int | None = None
    participants: tuple[Identity, ...] = ()
    mailing_list: bool = False
    group: str | None = None
    attachments: tuple[InboundAttachment, ...] = ()
    auto_submitted: bool = False
    spam_score: float = 0.0
    meta: t.Mapping[str, t.Any] = dataclasses.field(default_factory=dict)
    imported: bool = False
    content_hash: str | None = None


@dataclasses.dataclass(frozen=True)
class OutboundAttachment:
    """A stored attachment of an outbound reply; ``read()`` returns its bytes."""

    filename: str
    content_type: str
    size: int
    read: t.Callable[[], bytes]


@dataclasses.dataclass(frozen=True)
class OutboundMessage:
    """A public reply to send, as the delivery hook receives it.

    :ivar id: The message row id.
    :ivar ticket_id: Its ticket.
    :ivar channel: The channel to send through (the ticket's channel).
    :ivar account: The account the ticket came in through.
    :ivar recipient: The customer's identity on that channel, if known.
    :ivar subject: Subject of the ticket.
    :ivar text: Plain text of the reply.
    :ivar html: Sanitized HTML of the reply, if any.
    :ivar author_name: Who wrote it.
    :ivar in_reply_to: Thread keys of the ticket, oldest first.
    :ivar attachments: Files to send.
    :ivar attempt: 1 on the first try.
    :ivar idempotency_key: Stable across retries of the same message.
    :ivar automatic: Sent by the helpdesk on its own (a rule, an auto-reply),
        not written by an agent: the channel must mark it as automatic (for
        email, ``Auto-Submitted: auto-replied``) so that the customer's
        auto-responder does not answer it.
    """

    id: int
    ticket_id: int
    channel: str
    account: str
    recipient: Identity | None
    subject: str
    text: str
    html: str | None
    author_name: str
    in_reply_to: tuple[str, ...]
    attachments: tuple[OutboundAttachment, ...]
    attempt: int
    idempotency_key: str
    automatic: bool = False


@dataclasses.dataclass(frozen=True)
class DeliveryReceipt:
    """What a channel answers after sending.

    :ivar external_id: The channel's id of the sent message (e.g. Message-ID).
    :ivar thread_keys: Keys to store so that answers thread onto the ticket.
    """

    external_id: str | None = None
    thread_keys: tuple[str, ...] = ()


@dataclasses.dataclass(frozen=True)
class AgentNotice:
    """A rule's notification for one agent, as ``helpdesk_notify_agent_email`` receives it.

    :ivar id: The notification row id (stable across retries: an idempotency key).
    :ivar ticket_id: The ticket it is about.
    :ivar ticket_subject: That ticket's subject.
    :ivar message: The rule's text, filled in for the ticket.
    :ivar actor_name: Who notified: the rule ("Rule: escalate").
    :ivar created_at: When (naive UTC).
    :ivar ticket_url: The ticket's absolute address in the workspace, when the
        app knows its own (Flask's ``SERVER_NAME`` is set); otherwise ``None``
        and the mail names the ticket by its number.
    """

    id: int
    ticket_id: int
    ticket_subject: str
    message: str
    actor_name: str
    created_at: dt.datetime
    ticket_url: str | None = None
