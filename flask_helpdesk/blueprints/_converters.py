"""URL converters of the helpdesk's routes."""

from __future__ import annotations

from werkzeug.routing import BaseConverter

from ..services import MAX_ID


def _up_to(limit: int) -> str:
    """A regular expression of the decimal numbers 1 to ``limit`` (no leading zeros)."""
    text = str(limit)
    shorter = f"[1-9][0-9]{{0,{len(text) - 2}}}" if len(text) > 1 else ""
    parts = [shorter] if shorter else []
    for i, digit in enumerate(text):
        if digit == "0" or (i == 0 and digit == "1"):
            continue
        low = "1" if i == 0 else "0"
        rest = len(text) - i - 1
        parts.append(f"{text[:i]}[{low}-{int(digit) - 1}]" + (f"[0-9]{{{rest}}}" if rest else ""))
    parts.append(text)
    return "(?:" + "|".join(parts) + ")"


class IdConverter(BaseConverter):
    """A row id: 1 to :data:`~flask_helpdesk.services.MAX_ID`, ASCII digits only.

    The range is in the regular expression, so any other text does not match
    the route at all and the URL falls through to the next rule (the API's
    JSON 404). werkzeug's ``int(min=1, max=...)`` instead fails the match from
    ``to_python`` and answers with its own HTML 404, or an HTML 405 naming the
    methods of the rules it tried.
    """

    regex = _up_to(MAX_ID)
    part_isolating = True

    def to_python(self, value: str) -> int:
        return int(value)

    def to_url(self, value: object) -> str:
        return str(int(value))  # type: ignore[call-overload]


#: Name the converter is registered under: ``<helpdesk_id:ticket_id>``.
ID_CONVERTER = "helpdesk_id"
