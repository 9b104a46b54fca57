"""Reading REST API requests: JSON bodies, multipart uploads and query strings.

The shapes come from the OpenAPI document (:mod:`.api_openapi`): a view asks
for the body or the query of its ``operationId`` and gets plain Python values
that match the documented schema, or an error. So the published document and
what the server accepts cannot drift apart.

:func:`check` understands the subset of JSON Schema the document uses (listed
in :data:`KEYWORDS`). A wrong type, a missing or an unknown field is a 400
``invalid_request``; a value out of range (too long, not one of the allowed
values) is a 422 ``validation_error``, like the services' own checks.
"""

from __future__ import annotations

import base64
import binascii
import datetime as dt
import functools
import json
import math
import re
import typing as t

from flask import request
from werkzeug.exceptions import UnsupportedMediaType

from ..channels import InboundAttachment
from ..errors import ValidationError
from ..extension import get_state
from ..i18n import _
from ..services import tickets
from . import api_openapi
from ._errors import InvalidRequest
from ._errors import MalformedJSON

Json = dict[str, t.Any]

#: The JSON Schema keywords :func:`check` enforces; annotations are ignored.
KEYWORDS = frozenset({
    "$ref", "type", "enum", "anyOf", "minLength", "maxLength", "pattern", "format",
    "minimum", "maximum", "minItems", "maxItems", "uniqueItems", "items", "properties",
    "required", "additionalProperties", "propertyNames", "minProperties",
})

#: An integer in a query string or form field: what JSON would write.
_INTEGER = re.compile(r"-?(0|[1-9][0-9]{0,11})")
_BOOLEANS = {"true": True, "false": False}


@functools.lru_cache(maxsize=256)
def _regex(pattern: str) -> re.Pattern[str]:
    """A JSON Schema pattern for Python: its ``$`` ends the text (Python's also
    matches before a final newline)."""
    if pattern.endswith("$") and not pattern.endswith("\\$"):
        pattern = pattern[:-1] + r"\Z"
    return re.compile(pattern)


# -------------------------------------------------------------- validation


def _type_names() -> dict[str, str]:
    return {"string": _("text"), "integer": _("a whole number"), "number": _("a number"),
            "boolean": _("true or false"), "object": _("an object"), "array": _("a list"),
            "null": _("null")}


def _is(value: object, kind: str) -> bool:
    if kind == "integer":
        return isinstance(value, int) and not isinstance(value, bool)
    if kind == "number":
        return isinstance(value, int | float) and not isinstance(value, bool)
    return isinstance(value, {"string": str, "boolean": bool, "object": dict, "array": list,
                              "null": type(None)}[kind])


def parse_datetime(value: str) -> dt.datetime | None:
    """An ISO 8601 date and time as naive UTC, or ``None`` if it is not one."""
    try:
        parsed = dt.datetime.fromisoformat(value.strip().replace("z", "Z"))
        if parsed.tzinfo is not None:
            parsed = parsed.astimezone(dt.UTC).replace(tzinfo=None)
    except (ValueError, OverflowError):
        return None
    return parsed


def check(schema: Json, value: t.Any, field: str) -> None:
    """Raise :class:`InvalidRequest` or :class:`ValidationError` unless ``value`` fits.

    :param field: How the error names the value (``subject``, ``tags[2]``).
    """
    if "$ref" in schema:
        schema = api_openapi.resolve(schema["$ref"])
    if "anyOf" in schema:
        if not any(_fits(sub, value, field) for sub in schema["anyOf"]):
            raise ValidationError(_("%(field)s has an invalid value.", field=field), field=field)
        return
    kinds = schema.get("type")
    if kinds is not None:
        kinds = [kinds] if isinstance(kinds, str) else kinds
        if not any(_is(value, kind) for kind in kinds):
            names = _type_names()
            raise InvalidRequest(_("%(field)s must be %(types)s.", field=field,
                                   types=_(" or ").join(names[k] for k in kinds)), field=field)
    if "enum" in schema and value not in schema["enum"]:
        raise ValidationError(_("%(field)s must be one of: %(allowed)s.", field=field,
                                allowed=", ".join(map(str, schema["enum"]))), field=field)
    if isinstance(value, str):
        _check_string(schema, value, field)
    elif _is(value, "number"):
        _check_number(schema, value, field)
    elif isinstance(value, list):
        _check_array(schema, value, field)
    elif isinstance(value, dict):
        _check_object(schema, value, field)


def _fits(schema: Json, value: t.Any, field: str) -> bool:
    try:
        check(schema, value, field)
    except (InvalidRequest, ValidationError):
        return False
    return True


def _check_string(schema: Json, value: str, field: str) -> None:
    if len(value) > schema.get("maxLength", math.inf):
        raise ValidationError(_("%(field)s is too long (at most %(max)d characters).",
                                field=field, max=schema["maxLength"]), field=field)
    if len(value) < schema.get("minLength", 0):
        raise ValidationError(_("%(field)s must not be empty.", field=field), field=field)
    if "pattern" in schema and not _regex(schema["pattern"]).search(value):
        if schema["pattern"] == tickets.SUBJECT_PATTERN:
            tickets.check_subject(value, field)  # says what is wrong with a subject
        raise ValidationError(_("%(field)s has an invalid format.", field=field), field=field)
    if schema.get("format") == "date-time" and parse_datetime(value) is None:
        raise ValidationError(_("%(field)s must be a date and time (ISO 8601).", field=field),
                              field=field)


def _check_number(schema: Json, value: float, field: str) -> None:
    low, high = schema.get("minimum", -math.inf), schema.get("maximum", math.inf)
    if not low <= value <= high:
        raise ValidationError(_("%(field)s must be between %(min)s and %(max)s.",
                                field=field, min=low, max=high), field=field)


def _check_array(schema: Json, value: list[t.Any], field: str) -> None:
    if len(value) > schema.get("maxItems", math.inf):
        raise ValidationError(_("%(field)s has too many items (at most %(max)d).",
                                field=field, max=schema["maxItems"]), field=field)
    if len(value) < schema.get("minItems", 0):
        raise ValidationError(_("%(field)s needs at least %(min)d items.",
                                field=field, min=schema["minItems"]), field=field)
    for index, item in enumerate(value):
        if "items" in schema:
            check(schema["items"], item, f"{field}[{index}]")
    if schema.get("uniqueItems"):
        seen = [json.dumps(item, sort_keys=True) for item in value]
        if len(set(seen)) != len(seen):
            raise ValidationError(_("%(field)s lists an item twice.", field=field), field=field)


def _check_object(schema: Json, value: Json, field: str) -> None:
    def name(key: str) -> str:
        return key if field == "body" else f"{field}.{key}"

    properties = schema.get("properties", {})
    if len(value) < schema.get("minProperties", 0):
        raise InvalidRequest(_("Give at least one field to change."), field=field)
    for key in schema.get("required", ()):
        if key not in value:
            raise InvalidRequest(_("%(field)s is required.", field=name(key)), field=name(key))
    extra = schema.get("additionalProperties", True)
    for key, item in value.items():
        if "propertyNames" in schema:
            check(schema["propertyNames"], key, name(key))
        if key in properties:
            check(properties[key], item, name(key))
        elif extra is False:
            raise InvalidRequest(_("%(field)s is not a known field.", field=name(key)),
                                 field=name(key))
        elif isinstance(extra, dict):
            check(extra, item, name(key))


# -------------------------------------------------------------- JSON bodies


def _finite(text: str) -> float | int:
    """A JSON number with a fraction or exponent; whole ones (``2.0``, ``1e3``) are
    integers, as JSON Schema counts them."""
    value = float(text)
    if not math.isfinite(value):
        raise ValueError(text)
    return int(value) if value.is_integer() else value


def _no_constant(name: str) -> t.NoReturn:
    raise ValueError(name)


def _clean_strings(value: t.Any) -> None:
    """Refuse NUL characters and lone surrogates anywhere (databases reject them)."""
    stack = [value]
    while stack:
        item = stack.pop()
        if isinstance(item, dict):
            stack.extend(item.keys())
            stack.extend(item.values())
        elif isinstance(item, list):
            stack.extend(item)
        elif isinstance(item, str):
            _clean_string(item)


def _clean_string(item: str) -> None:
    try:
        item.encode("utf-8")
    except UnicodeEncodeError:
        raise InvalidRequest(_("The request contains text that is not valid Unicode.")) from None
    if "\x00" in item:
        raise InvalidRequest(_("The request contains a NUL character."))


def read_json() -> t.Any:
    """The request's JSON body (``{}`` when empty).

    :raises MalformedJSON: Not JSON, NaN/Infinity, or nested too deeply.
    :raises UnsupportedMediaType: A body that is not declared as JSON.
    """
    raw = request.get_data(cache=True)
    if not raw.strip():
        return {}
    if not request.is_json:
        raise UnsupportedMediaType()
    try:  # UTF-8 only (RFC 8259): json.loads would also guess UTF-16 and UTF-32
        data = json.loads(raw.decode("utf-8"), parse_float=_finite,
                          parse_constant=_no_constant)
    except (ValueError, RecursionError):
        raise MalformedJSON(_("The body is not valid JSON.")) from None
    _clean_strings(data)
    return data


def body(operation_id: str) -> Json:
    """The JSON body of an operation, checked against its documented schema."""
    data = read_json()
    check(api_openapi.body_schema(operation_id), data, "body")
    return t.cast(Json, data)


def message_body(operation_id: str) -> tuple[Json, list[InboundAttachment]]:
    """The body of an operation that takes attachments, as JSON or multipart.

    JSON carries ``attachments: [{"filename", "content_type", "data": base64}]``;
    multipart/form-data carries form fields and files named ``attachments``.
    """
    if request.mimetype == "multipart/form-data":
        data = _form(api_openapi.form_schema(operation_id))
        files = [InboundAttachment(f.filename or "attachment",
                                   f.mimetype or "application/octet-stream", f.read())
                 for f in request.files.getlist("attachments") if f.filename or f.content_length]
        return data, files
    data = body(operation_id)
    items = data.pop("attachments", None) or []
    return data, [_decode(item, index) for index, item in enumerate(items)]


def _decode(item: Json, index: int) -> InboundAttachment:
    field = f"attachments[{index}].data"
    try:
        data = base64.b64decode("".join(item["data"].split()), validate=True)
    except (binascii.Error, ValueError):
        raise ValidationError(_("%(field)s is not base64.", field=field), field=field) from None
    return InboundAttachment(item["filename"],
                             item.get("content_type") or "application/octet-stream", data)


def _form(schema: Json) -> Json:
    properties = schema["properties"]
    # A malformed part header can yield a field without a name (None).
    unknown = sorted((set(request.form) | set(request.files)) - set(properties), key=str)
    if unknown:
        raise InvalidRequest(_("%(field)s is not a known field.", field=unknown[0]),
                             field=unknown[0])
    data = {}
    for key in request.form:
        values = request.form.getlist(key)
        for value in values:
            _clean_string(value)
        data[key] = coerce(values, properties[key])
    check({**schema, "properties": {k: v for k, v in properties.items()
                                    if k != "attachments"}}, data, "body")
    return data


# ----------------------------------------------------------- query strings


def coerce(values: list[str], schema: Json) -> t.Any:
    """Form or query strings as the type ``schema`` wants; ``check`` judges the result.

    Arrays take repeated values and comma lists (``status=open,pending``).
    """
    if "$ref" in schema:
        schema = api_openapi.resolve(schema["$ref"])
    kinds = schema.get("type", ())
    kinds = [kinds] if isinstance(kinds, str) else kinds
    if "array" in kinds:
        parts = [p.strip() for v in values for p in v.split(",") if p.strip()]
        return [coerce([p], schema.get("items", {})) for p in parts]
    value = values[-1]
    if "integer" in kinds and _INTEGER.fullmatch(value):
        return int(value)
    if "boolean" in kinds and value in _BOOLEANS:
        return _BOOLEANS[value]
    if "null" in kinds and value in ("", "null"):
        return None
    if "object" in kinds:  # multipart/form-data sends objects as JSON text
        try:
            return json.loads(value, parse_float=_finite, parse_constant=_no_constant)
        except (ValueError, RecursionError):
            return value
    return value


def query(operation_id: str) -> Json:
    """The documented query parameters of an operation that the request gives."""
    out: Json = {}
    for param in api_openapi.operation(operation_id).get("parameters", ()):
        name, schema = param["name"], param["schema"]
        if param["in"] != "query" or name not in request.args:
            continue
        values = request.args.getlist(name)
        for value in values:
            _clean_string(value)
        value = coerce(values, schema)
        check(schema, value, name)
        out[name] = value
    return out


def limit(params: Json) -> int:
    """The page size asked for, or ``HELPDESK_PAGE_SIZE``."""
    return int(params.get("limit") or get_state().config.page_size)


def page(rows: list[t.Any], size: int, key: t.Callable[[t.Any], object] = lambda r: r.id,
         ) -> tuple[list[t.Any], str | None]:
    """Cut a list fetched with ``size + 1`` rows into a page and the next cursor."""
    if len(rows) <= size:
        return rows, None
    rows = rows[:size]
    return rows, str(key(rows[-1]))
