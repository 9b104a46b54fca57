"""Small input checks shared by services; each raises a clear ValidationError."""

from __future__ import annotations

import re
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

#: Largest row id: ids are 32-bit integers on every database.
MAX_ID = 2**31 - 1

_DIGITS = re.compile(r"[0-9]{1,18}")


def whole_number(text: str, *, maximum: int = MAX_ID) -> int | None:
    """``text`` as a number when it is ASCII digits (spaces around allowed) up to ``maximum``.

    Anything else gives ``None``. Request input goes through this, not
    ``str.isdigit``: that also accepts ``"²"``, which ``int()`` refuses, and
    ``"٣"``, which ``int()`` reads as 3.
    """
    text = text.strip()
    if not _DIGITS.fullmatch(text):
        return None
    value = int(text)
    return value if value <= maximum else None


#: Most digits of an id cursor.
ID_CURSOR_DIGITS = 10


def id_cursor(cursor: str | None) -> int | None:
    """The id of an id cursor (the last id of the previous page, ``"123"``).

    A cursor beyond the largest id is read as the largest id.

    :raises ValidationError: It is not 1 to :data:`ID_CURSOR_DIGITS` ASCII digits.
    """
    if not cursor:
        return None
    value = whole_number(cursor, maximum=10**ID_CURSOR_DIGITS - 1)
    if value is None or cursor != cursor.strip():
        raise ValidationError(_("The page cursor is invalid; start from the first page."),
                              field="cursor")
    return min(value, MAX_ID)


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


#: What ends a line (the separators of :meth:`str.splitlines`): CR, LF, VT,
#: FF, the file/group/record separators, NEL, U+2028 and U+2029.
LINE_BREAKS = "\n\r\x0b\x0c\x1c\x1d\x1e\x85\u2028\u2029"


def line(value: object, field: str, *, max_length: int, required: bool = True) -> str:
    """:func:`text` on one line: a line break (:data:`LINE_BREAKS`) or NUL is refused."""
    if isinstance(value, str) and any(char in value for char in LINE_BREAKS + "\x00"):
        raise ValidationError(_("%(field)s must be one line, without line breaks.",
                                field=field), field=field)
    return text(value, field, max_length=max_length, required=required)


def fold_line(value: str) -> str:
    """``value`` on one line: each line break, with the spaces around it, becomes one
    space; NUL goes; the ends are stripped. Nothing else changes."""
    parts = (part.strip() for part in value.replace("\x00", "").splitlines())
    return " ".join(part for part in parts if part)


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
