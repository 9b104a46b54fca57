"""The exceptions raised by helpdesk services.

Every error a user can cause derives from :class:`HelpdeskError` and carries a
translated message fit to show that user, and a stable ``code`` that the REST
API returns. Misuse of the library itself (no ``init_app``, a second
``init_app``) raises :class:`RuntimeError` instead.
"""

from __future__ import annotations

import typing as t


class HelpdeskError(Exception):
    """Base of every user-facing helpdesk error.

    :param message: Human-readable, already translated.
    :param field: The input field at fault, when there is one.
    :param details: Extra machine-readable data for API clients.
    """

    #: Stable machine-readable code, returned by the REST API.
    code: t.ClassVar[str] = "error"
    #: HTTP status the blueprints map this error to.
    http_status: t.ClassVar[int] = 400

    def __init__(
        self, message: str, *, field: str | None = None, details: dict[str, t.Any] | None = None
    ) -> None:
        super().__init__(message)
        self.message = message
        self.field = field
        self.details = details or {}

    def to_dict(self) -> dict[str, t.Any]:
        """The error as the JSON body of an API response."""
        body: dict[str, t.Any] = {"code": self.code, "message": self.message}
        if self.field:
            body["field"] = self.field
        if self.details:
            body["details"] = self.details
        return body


class ValidationError(HelpdeskError):
    """Input is malformed, out of range or not allowed in the current state."""

    code = "validation_error"
    http_status = 422


class PermissionDenied(HelpdeskError):
    """The actor may not do this."""

    code = "permission_denied"
    http_status = 403


class NotFound(HelpdeskError):
    """The object does not exist, or the actor may not know that it does."""

    code = "not_found"
    http_status = 404


class Conflict(HelpdeskError):
    """The action clashes with the current state, e.g. a newer customer message."""

    code = "conflict"
    http_status = 409


class ChannelError(HelpdeskError):
    """A channel could not read or parse its source."""

    code = "channel_error"
    http_status = 502


class RetryFailed(ChannelError):
    """A quarantined message failed again on retry; it stays with the new error."""

    code = "retry_failed"
    http_status = 422


class DeliveryError(ChannelError):
    """Sending an outbound message failed; the delivery job retries it.

    :param permanent: ``True`` when retrying cannot help (bad address).
    """

    code = "delivery_error"

    def __init__(self, message: str, *, permanent: bool = False, **kwargs: t.Any) -> None:
        super().__init__(message, **kwargs)
        self.permanent = permanent


class PluginError(HelpdeskError):
    """A plugin failed to load.

    :param name: The plugin or entry-point name.
    :param distribution: The distribution that provides it, if known.
    :param cause: The original exception.
    """

    code = "plugin_error"
    http_status = 500

    def __init__(self, name: str, distribution: str | None, cause: BaseException) -> None:
        where = f" from distribution {distribution!r}" if distribution else ""
        super().__init__(f"Plugin {name!r}{where} failed to load: {cause!r}")
        self.name = name
        self.distribution = distribution
        self.__cause__ = cause
