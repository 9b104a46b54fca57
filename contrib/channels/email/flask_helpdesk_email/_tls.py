"""TLS contexts and the loopback rule shared by the IMAP and SMTP connections."""

from __future__ import annotations

import ipaddress
import socket
import ssl

from flask_helpdesk import ChannelError
from flask_helpdesk.i18n import gettext as _


def context(*, verify: bool = True, ca_file: str = "") -> ssl.SSLContext:
    """A client context that checks the server's certificate and name.

    :param verify: ``False`` accepts any certificate (a test server only).
    :param ca_file: PEM file of the CA(s) to trust instead of the system's.
    :raises ChannelError: ``ca_file`` cannot be read or holds no certificate.
    """
    try:
        found = ssl.create_default_context(cafile=ca_file or None)
    except (OSError, ssl.SSLError) as exc:
        raise ChannelError(_("The CA file %(path)s cannot be read: %(error)s",
                             path=ca_file, error=str(exc))) from exc
    if not verify:
        found.check_hostname, found.verify_mode = False, ssl.CERT_NONE
    return found


def loopback(host: str) -> bool:
    """Whether ``host`` resolves to a loopback address (plain connections only go there)."""
    try:
        return ipaddress.ip_address(socket.gethostbyname(host)).is_loopback
    except (OSError, ValueError):
        return False


def verify_failed(service: str, host: str, exc: ssl.SSLCertVerificationError) -> ChannelError:
    """The error of a certificate the client does not trust, with what to do about it."""
    setting = service + "_ca_file"
    return ChannelError(_(
        "The certificate of %(service)s server %(host)s could not be verified (%(reason)s)."
        " If it is signed by a private CA, set %(setting)s to that CA's PEM file.",
        service=service.upper(), host=host, reason=exc.verify_message or str(exc),
        setting=setting))
