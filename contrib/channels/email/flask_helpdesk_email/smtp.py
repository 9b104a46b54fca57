"""Sending replies over SMTP: building the RFC 5322 message and handing it to a server.

:func:`build_message` (a reply) and :func:`build_notice` (a notification to an
agent) are pure; :func:`send` does the I/O with :mod:`smtplib`
and turns every failure into :class:`~flask_helpdesk.DeliveryError` (a 5xx
answer is permanent, anything else is retried by the core's outbox).
"""

from __future__ import annotations

import dataclasses
import email.policy
import email.utils
import smtplib
import ssl
import typing as t
from email.message import EmailMessage

from flask_helpdesk import ChannelError
from flask_helpdesk import DeliveryError
from flask_helpdesk.i18n import gettext as _

from . import _tls

if t.TYPE_CHECKING:
    from flask_helpdesk import AgentNotice
    from flask_helpdesk import OutboundMessage

#: Security modes of an SMTP connection.
SECURITY = ("tls", "starttls", "plain")


@dataclasses.dataclass(frozen=True)
class SmtpSettings:
    """Where and how an account sends.

    :ivar host: SMTP server.
    :ivar port: Its port.
    :ivar security: ``tls`` (implicit TLS), ``starttls``, or ``plain`` (loopback only).
    :ivar username: Login, ``""`` for none.
    :ivar password: Password (kept encrypted in the account's secrets).
    :ivar from_address: The address replies come from.
    :ivar from_name: Display name of that address.
    :ivar timeout: Seconds before a connection or command gives up.
    :ivar verify: Check the server's TLS certificate.
    :ivar ca_file: PEM file of the CA(s) trusted instead of the system's.
    :ivar auth: ``password``, or ``xoauth2`` to log in with ``oauth2_token``.
    :ivar oauth2_token: The access token of an ``xoauth2`` account (from the
        ``helpdesk_email_oauth2_token`` hook).
    """

    host: str
    port: int
    from_address: str
    security: str = "starttls"
    username: str = ""
    password: str = ""
    from_name: str = ""
    timeout: float = 30.0
    verify: bool = True
    ca_file: str = ""
    auth: str = "password"
    oauth2_token: str = ""

    @classmethod
    def from_config(cls, config: t.Mapping[str, t.Any]) -> SmtpSettings:
        """Read the ``smtp_*`` keys of an account's settings and secrets.

        :raises DeliveryError: A required key is missing (permanent).
        """
        try:
            return cls(
                host=str(config["smtp_host"]), port=int(config["smtp_port"]),
                from_address=str(config["from_address"]),
                security=str(config.get("smtp_security", "starttls")),
                username=str(config.get("smtp_username", "")),
                password=str(config.get("smtp_password", "")),
                from_name=str(config.get("from_name", "")),
                timeout=float(config.get("smtp_timeout", 30.0)),
                verify=bool(config.get("smtp_verify", True)),
                ca_file=str(config.get("smtp_ca_file") or ""),
                auth=str(config.get("smtp_auth", "password")).lower(),
            )
        except (KeyError, TypeError, ValueError) as exc:
            raise DeliveryError(_("The email account lacks SMTP setting %(key)s.", key=str(exc)),
                                permanent=True) from None


def one_line(value: str) -> str:
    """A header text on one line: every line break (CR, LF, U+2028 and the other
    separators of :meth:`str.splitlines`), with the spaces around it, becomes one
    space, and NUL goes, so building the header never fails on a stored subject
    or name."""
    parts = (part.strip() for part in (value or "").replace("\x00", "").splitlines())
    return " ".join(part for part in parts if part)


def build_message(
    out: OutboundMessage, *, from_address: str, from_name: str = "",
    automatic: bool = False, ticket_token: str = "[#{id}]",
) -> EmailMessage:
    """The email of one reply.

    :param out: The reply as the delivery hook receives it.
    :param from_address: Sender address (the account's).
    :param automatic: Mark it ``Auto-Submitted: auto-replied`` (RFC 3834).
    :param ticket_token: Added to the subject unless already in it.
    :return: A message with a fresh Message-ID, threaded with In-Reply-To
        (the newest key) and References (all keys, oldest first).
    """
    if out.recipient is None or out.recipient.kind != "email":
        raise DeliveryError(_("The customer has no email address to answer."), permanent=True)
    msg = EmailMessage(policy=email.policy.SMTP)
    domain = from_address.rpartition("@")[2] or "localhost"
    msg["Message-ID"] = email.utils.make_msgid(domain=domain)
    msg["From"] = email.utils.formataddr((one_line(from_name or out.author_name), from_address))
    msg["To"] = email.utils.formataddr((one_line(out.recipient.name), out.recipient.value))
    token = ticket_token.format(id=out.ticket_id)
    subject = one_line(out.subject)
    subject = subject if token in subject else f"{subject} {token}".strip()
    msg["Subject"] = subject if subject.lower().startswith("re:") else f"Re: {subject}"
    msg["Date"] = email.utils.formatdate(localtime=False)
    keys = [k for k in out.in_reply_to if k]
    if keys:
        msg["In-Reply-To"] = f"<{keys[-1]}>"
        msg["References"] = " ".join(f"<{k}>" for k in keys[-20:])
    if automatic:
        msg["Auto-Submitted"] = "auto-replied"
    msg.set_content(out.text or "")
    if out.html:
        msg.add_alternative(out.html, subtype="html")
    for attachment in out.attachments:
        maintype, _sep, subtype = attachment.content_type.partition("/")
        msg.add_attachment(attachment.read(), maintype=maintype or "application",
                           subtype=subtype or "octet-stream", filename=attachment.filename)
    return msg


def build_notice(notice: AgentNotice, *, to: tuple[str, str], from_address: str,
                 from_name: str = "", ticket_token: str = "[#{id}]") -> EmailMessage:
    """The plain-text email telling an agent about a rule's notification.

    Marked ``Auto-Submitted: auto-generated`` (RFC 3834): no auto-responder
    answers it. The ticket is linked when ``notice.ticket_url`` is known,
    otherwise named by its number.

    :param to: The agent's name and address.
    """
    msg = EmailMessage(policy=email.policy.SMTP)
    domain = from_address.rpartition("@")[2] or "localhost"
    msg["Message-ID"] = email.utils.make_msgid(domain=domain)
    msg["From"] = email.utils.formataddr((one_line(from_name or notice.actor_name),
                                          from_address))
    msg["To"] = email.utils.formataddr((one_line(to[0]), to[1]))
    token = ticket_token.format(id=notice.ticket_id)
    msg["Subject"] = one_line(f"{token} {notice.ticket_subject or notice.message[:60]}")
    msg["Date"] = email.utils.formatdate(localtime=False)
    msg["Auto-Submitted"] = "auto-generated"
    msg["X-Helpdesk-Notification"] = str(notice.id)
    where = notice.ticket_url or _("Ticket #%(id)s in the helpdesk", id=notice.ticket_id)
    msg.set_content(f"{notice.message}\n\n{where}\n\n-- \n{notice.actor_name}\n")
    return msg


def message_id(msg: EmailMessage) -> str:
    """The Message-ID of ``msg`` without angle brackets (the form thread keys use)."""
    return str(msg["Message-ID"]).strip().strip("<>")


def send(msg: EmailMessage, settings: SmtpSettings) -> None:
    """Hand ``msg`` to the account's SMTP server.

    :raises DeliveryError: Refused or unreachable; ``permanent`` for 5xx answers
        and for a configuration that can never work.
    """
    if settings.security not in SECURITY:
        raise DeliveryError(_("Unknown SMTP security %(mode)s.", mode=settings.security),
                            permanent=True)
    if settings.security == "plain" and not _tls.loopback(settings.host):
        raise DeliveryError(_("Plain SMTP is allowed only to a loopback address; use tls or"
                              " starttls."), permanent=True)
    try:
        context = _tls.context(verify=settings.verify, ca_file=settings.ca_file)
    except ChannelError as exc:  # an unreadable CA file: a setting to fix
        raise DeliveryError(exc.message, permanent=True) from exc
    try:
        with _connect(settings, context) as smtp:
            if settings.auth == "xoauth2":
                _xoauth2(smtp, settings)
            elif settings.username:
                smtp.login(settings.username, settings.password)
            smtp.send_message(msg, from_addr=settings.from_address)
    except ssl.SSLCertVerificationError as exc:
        raise DeliveryError(_tls.verify_failed("smtp", settings.host, exc).message) from exc
    except smtplib.SMTPRecipientsRefused as exc:
        codes = [code for code, _msg in exc.recipients.values()]
        raise _error(min(codes) if codes else 450, str(exc.recipients)) from exc
    except smtplib.SMTPResponseException as exc:
        raise _error(exc.smtp_code, exc.smtp_error.decode("utf-8", "replace")) from exc
    except (smtplib.SMTPException, OSError) as exc:
        raise DeliveryError(_("SMTP server unreachable: %(error)s", error=str(exc))) from exc


def _xoauth2(smtp: smtplib.SMTP, settings: SmtpSettings) -> None:
    from .oauth2 import sasl_string

    initial = sasl_string(settings.username, settings.oauth2_token)
    smtp.ehlo_or_helo_if_needed()
    try:
        # On failure the server sends a JSON challenge; the client answers it empty.
        smtp.auth("XOAUTH2", lambda challenge=None: initial if challenge is None else "")
    except smtplib.SMTPAuthenticationError as exc:
        # Retried: the token plugin may well have a fresh token next time.
        raise DeliveryError(_("The SMTP server refused the OAuth2 token: %(code)s %(text)s",
                              code=exc.smtp_code,
                              text=exc.smtp_error.decode("utf-8", "replace"))) from exc


def _connect(settings: SmtpSettings, context: ssl.SSLContext) -> smtplib.SMTP:
    if settings.security == "tls":
        return smtplib.SMTP_SSL(settings.host, settings.port, timeout=settings.timeout,
                                context=context)
    smtp = smtplib.SMTP(settings.host, settings.port, timeout=settings.timeout)
    if settings.security == "starttls":
        smtp.starttls(context=context)
    return smtp


def _error(code: int, text: str) -> DeliveryError:
    return DeliveryError(_("The SMTP server answered %(code)s: %(text)s", code=code, text=text),
                         permanent=500 <= code < 600)

