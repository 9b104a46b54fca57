"""Small input checks shared by services; each raises a clear ValidationError."""

from __future__ import annotations

import typing as t

from ..errors import ValidationError
from ..i18n import _


class _Unset:
    """Marks a keyword argument that was not given (``None`` is a value)."""

    def __repr__(self) -> str:
        return "UNSET"

    def __bool__(self) -> bool:
        return False


#: A changes argument that was not given.
UNSET: t.Any = _Unset()


def text(value: object, field: str, *, max_length: int, required: bool = True) -> str:
    """A stripped string of at most ``max_length`` characters, without NUL."""
    if not isinstance(value, str):
        raise ValidationError(_("%(field)s must be text.", field=field), field=field)
    value = value.replace("\x00", "").strip()
    if required and not value:
        raise ValidationError(_("%(field)s must not be empty.", field=field), field=field)
    if len(value) > max_length:
        raise ValidationError(
            _("%(field)s is too long (%(length)d characters, at most %(max)d).",
              field=field, length=len(value), max=max_length),
            field=field,
        )
    return value


def one_of(value: object, field: str, allowed: t.Sequence[str]) -> str:
    if not isinstance(value, str) or value not in allowed:
        raise ValidationError(
            _("%(field)s must be one of: %(allowed)s.", field=field, allowed=", ".join(allowed)),
            field=field,
        )
    return value


def integer(value: object, field: str, *, minimum: int = 1) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
        raise ValidationError(_("%(field)s must be a whole number.", field=field), field=field)
    return value
