"""Sender filters: allow and block lists, internal mail, spam headers.

Every fetched message is judged before ingest by :func:`judge`, from the
account's settings and the ``HELPDESK_EMAIL_*`` keys:

1. ``allow_senders`` (account): addresses or domains whose mail always goes
   to the inbox; the mail server's spam headers are ignored for them.
2. ``block_senders`` (account): their new tickets get the ``spam`` status.
3. Internal mail: a sender of :data:`HELPDESK_EMAIL_INTERNAL_DOMAINS` or of
   the account's ``internal_domains``; when
   :data:`HELPDESK_EMAIL_INTERNAL_MAIL` is ``"spam"`` its new tickets get the
   ``spam`` status, like Zendesk's suspended tickets: kept, searchable, and
   back in the inbox by changing the status.
4. Spam headers (``X-Spam-Flag``, ``X-Spam-Status``, ``X-Spam-Score``, GTUBE)
   as :func:`~flask_helpdesk_email.parse_message` scored them.

Ingest still asks the ``helpdesk_spam_score`` hook: a classifier plugin can
mark any message as spam, an allowed sender's too. A filtered ticket is
tagged (:data:`TAGS`), so the reason is on its history.

An entry is an address (``ann@example.com``) or a domain (``example.com`` or
``@example.com``, which also covers its subdomains), compared case-insensitively.
"""

from __future__ import annotations

import dataclasses
import typing as t

if t.TYPE_CHECKING:
    from flask_helpdesk import InboundMessage

#: The tag a filtered ticket gets, per reason.
TAGS = {
    "blocked": "email:blocked",
    "internal": "email:internal",
    "spam_header": "email:spam-header",
    "flood": "email:flood",
}


@dataclasses.dataclass(frozen=True)
class Verdict:
    """What the filters decided: the spam score to ingest with and why.

    :ivar score: 0.0 (clean) to 1.0 (spam), given to ingest as ``spam_score``.
    :ivar reason: ``allowed``, ``blocked``, ``internal``, ``spam_header`` or ``None``.
    """

    score: float
    reason: str | None = None

    @property
    def tag(self) -> str | None:
        return TAGS.get(self.reason or "")


def matches(address: str, entries: t.Iterable[str]) -> bool:
    """Whether ``address`` is one of ``entries`` or in one of their domains."""
    address = address.strip().lower()
    domain = address.rpartition("@")[2]
    for entry in entries:
        entry = str(entry).strip().lower()
        if not entry:
            continue
        if "@" in entry and not entry.startswith("@"):
            if address == entry:
                return True
            continue
        entry = entry.lstrip("@")
        if domain == entry or domain.endswith("." + entry):
            return True
    return False


def internal_domains(config: t.Mapping[str, t.Any], account: t.Mapping[str, t.Any]) -> list[str]:
    """The company's own domains: the config key's and the account's."""
    return [*_list(config.get("HELPDESK_EMAIL_INTERNAL_DOMAINS")),
            *_list(account.get("internal_domains"))]


def judge(
    message: InboundMessage, *, config: t.Mapping[str, t.Any], account: t.Mapping[str, t.Any],
    threshold: float,
) -> Verdict:
    """Decide how ``message`` enters the helpdesk (see the module docstring).

    :param config: The app's configuration (``HELPDESK_EMAIL_*`` keys).
    :param account: The account's settings (``allow_senders``, ``block_senders``,
        ``internal_domains``).
    :param threshold: :data:`HELPDESK_SPAM_THRESHOLD`.
    """
    sender = message.sender.value
    if matches(sender, _list(account.get("allow_senders"))):
        return Verdict(0.0, "allowed")
    if matches(sender, _list(account.get("block_senders"))):
        return Verdict(1.0, "blocked")
    if (str(config.get("HELPDESK_EMAIL_INTERNAL_MAIL", "spam")) == "spam"
            and matches(sender, internal_domains(config, account))):
        return Verdict(1.0, "internal")
    if message.spam_score >= threshold:
        return Verdict(message.spam_score, "spam_header")
    return Verdict(message.spam_score)


def apply(message: InboundMessage, verdict: Verdict) -> InboundMessage:
    """``message`` with the verdict's score and reason (``meta["filter"]``)."""
    meta = {**message.meta, "filter": verdict.reason}
    return dataclasses.replace(message, spam_score=verdict.score, meta=meta)


def _list(value: t.Any) -> list[str]:
    if not value:
        return []
    if isinstance(value, str):
        return [part for part in value.replace(",", " ").split() if part]
    return [str(v) for v in value]
