"""An aiosmtpd server that keeps what it receives, or answers with a chosen error."""

from __future__ import annotations

import base64
import socket
import typing as t

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult


class SmtpSink:
    """``received``: the raw bytes of every accepted message; ``answer``: reply to DATA."""

    def __init__(self, *, tls: str = "", context: t.Any = None) -> None:
        """``tls="starttls"`` offers STARTTLS, ``tls="tls"`` speaks implicit TLS, with the
        server :class:`ssl.SSLContext` ``context``."""
        self.tls = tls
        self.received: list[bytes] = []
        self.envelopes: list[tuple[str, list[str]]] = []
        #: Set to e.g. ``"451 try later"`` or ``"550 no such user"`` to refuse.
        self.answer: str | None = None
        #: XOAUTH2 bearer tokens accepted, by token: the user they log in.
        self.tokens: dict[str, str] = {}
        #: ``(user, token)`` of every XOAUTH2 attempt.
        self.xoauth2: list[tuple[str, str]] = []
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            self.port = int(s.getsockname()[1])
        kwargs: dict[str, t.Any] = {}
        if tls == "starttls":
            kwargs["tls_context"] = context
        elif tls == "tls":
            kwargs["ssl_context"] = context
        self.controller = Controller(self, hostname="127.0.0.1", port=self.port,
                                     auth_require_tls=False, **kwargs)

    async def auth_XOAUTH2(self, server: t.Any, args: list[str]) -> AuthResult:  # noqa: N802
        """The XOAUTH2 SASL mechanism: ``user=...^Aauth=Bearer <token>^A^A``."""
        blob = args[1] if len(args) > 1 else ""
        fields = dict(part.split("=", 1) for part in
                      base64.b64decode(blob).decode().split("\x01") if "=" in part)
        user, token = fields.get("user", ""), fields.get("auth", "").removeprefix("Bearer ")
        self.xoauth2.append((user, token))
        return AuthResult(success=self.tokens.get(token) == user, handled=False,
                          auth_data=user)

    async def handle_DATA(self, server: t.Any, session: t.Any, envelope: t.Any) -> str:
        if self.answer is not None:
            return self.answer
        self.received.append(bytes(envelope.original_content))
        self.envelopes.append((envelope.mail_from, list(envelope.rcpt_tos)))
        return "250 OK"

    def start(self) -> None:
        self.controller.start()

    def stop(self) -> None:
        self.controller.stop()

    def settings(self) -> dict[str, object]:
        return {"smtp_host": "127.0.0.1", "smtp_port": self.port,
                "smtp_security": self.tls or "plain",
                "from_address": "help@example.test", "from_name": "Example Help"}


class MailRelay:
    """A tiny mail system: an SMTP server that delivers our mailbox's mail into Dovecot.

    Mail to the Dovecot user (``help@example.test``) is appended to its INBOX,
    as a real server's local delivery would; mail to anyone else is kept in
    :attr:`outside` by recipient, standing for the customers' own mailboxes.
    Customers send with any SMTP client (``smtplib``) and the helpdesk sends
    its replies through the same server.
    """

    def __init__(self, dovecot: t.Any, port: int = 0) -> None:
        self.dovecot = dovecot
        #: Raw messages delivered to other addresses, by lower-cased address.
        self.outside: dict[str, list[bytes]] = {}
        #: Called with ``(recipient, raw)`` after each outside delivery.
        self.on_outside: t.Callable[[str, bytes], None] | None = None
        if not port:
            with socket.socket() as s:
                s.bind(("127.0.0.1", 0))
                port = int(s.getsockname()[1])
        self.port = port
        self.controller = Controller(self, hostname="127.0.0.1", port=self.port)

    async def handle_DATA(self, server: t.Any, session: t.Any, envelope: t.Any) -> str:
        import asyncio

        raw = bytes(envelope.original_content)
        for rcpt in envelope.rcpt_tos:
            if rcpt.lower() == self.dovecot.user.lower():
                await asyncio.to_thread(self._append, raw)
            else:
                self.outside.setdefault(rcpt.lower(), []).append(raw)
                if self.on_outside is not None:
                    self.on_outside(rcpt.lower(), raw)
        return "250 OK"

    def _append(self, raw: bytes) -> None:
        from imap_tools import MailBoxUnencrypted

        with MailBoxUnencrypted("127.0.0.1", self.dovecot.port).login(
                self.dovecot.user, self.dovecot.password) as mb:
            mb.append(raw, "INBOX")

    def start(self) -> None:
        self.controller.start()

    def stop(self) -> None:
        self.controller.stop()

    def settings(self) -> dict[str, object]:
        return {"smtp_host": "127.0.0.1", "smtp_port": self.port, "smtp_security": "plain",
                "from_address": self.dovecot.user, "from_name": "Example Help"}
