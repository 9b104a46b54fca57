"""HTML bodies: plain-text view, sanitizing, and ``cid:`` references."""

from __future__ import annotations

import html
import re
import typing as t

import nh3

from flask_helpdesk.services.markup import URL_SCHEMES
from flask_helpdesk.services.markup import filter_attribute
from flask_helpdesk.services.markup import simplify_html

_BLOCK = frozenset(
    "address article aside blockquote dd div dl dt fieldset figcaption figure footer form "
    "h1 h2 h3 h4 h5 h6 header hr li main nav ol p pre section table tbody thead tfoot tr ul"
    .split()
)
_SKIP = frozenset({"script", "style", "head", "title", "template", "noscript"})
_SPACES = re.compile(r"[ \t\f\v\u00a0]+")
_BLANKS = re.compile(r"\n{3,}")


class _TextExtractor:
    """The text of a tag stream, with line breaks and quote marks (see :func:`html_to_text`)."""

    def __init__(self) -> None:
        self.parts: list[str] = []
        self.skip = 0
        self.pre = 0
        self.quote = 0

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in _SKIP:
            self.skip += 1
        elif tag == "br":
            self.parts.append("\n")
        elif tag in _BLOCK:
            self.parts.append("\n")
            if tag == "pre":
                self.pre += 1
            elif tag == "blockquote":
                self.quote += 1
            elif tag == "li":
                self.parts.append("- ")
        elif tag in ("td", "th"):
            self.parts.append(" ")

    def handle_endtag(self, tag: str) -> None:
        if tag in _SKIP:
            self.skip = max(0, self.skip - 1)
        elif tag in _BLOCK:
            self.parts.append("\n")
            if tag == "pre":
                self.pre = max(0, self.pre - 1)
            elif tag == "blockquote":
                self.quote = max(0, self.quote - 1)

    def handle_data(self, data: str) -> None:
        if self.skip:
            return
        if not self.pre:
            data = re.sub(r"\s+", " ", data)
        if self.quote:
            # Keep blockquotes recognisable as quotes for the reply splitter.
            data = data.replace("\n", "\n> ")
            if not self.parts or self.parts[-1].endswith("\n"):
                data = "> " * self.quote + data.lstrip()
        self.parts.append(data)


def html_to_text(markup: str) -> str:
    """Return the readable text of an HTML body.

    Scripts, styles and the head are dropped, block elements become line
    breaks, entities are decoded and ``<blockquote>`` content is prefixed
    with ``>`` so that quoted history can be told from the new text. The
    markup is first rewritten by :func:`flask_helpdesk.services.markup.simplify_html`
    (linear time whatever its nesting); all its text is kept.

    :param markup: HTML as received (need not be well-formed).
    """
    return simplified_text(simplify_html(markup).html)


#: A tag as :func:`simplify_html` writes it: values in double quotes, nothing else odd.
_SIMPLE_TAG = r'<(/?)({names})(?=[\s/>])(?:[^">]++|"[^"]*+")*+>'
#: The tags the text depends on; the others are only taken out.
_TEXT_TAG = re.compile(_SIMPLE_TAG.format(names="|".join(
    sorted(_BLOCK | _SKIP | {"br", "td", "th"}, key=len, reverse=True))))
_ANY_TAG = re.compile(_SIMPLE_TAG.format(names=r"[a-zA-Z][^\s/>]*+"))


def simplified_text(markup: str) -> str:
    """:func:`html_to_text` of markup that :func:`simplify_html` wrote already.

    That markup is regular (every tag well-formed, attribute values in double
    quotes), so regular expressions read it, in one linear pass, faster than
    :mod:`html.parser` would.
    """
    parser = _TextExtractor()
    pos = 0

    def data(chunk: str) -> None:
        if "<" in chunk:
            chunk = _ANY_TAG.sub("", chunk)
        if chunk:
            parser.handle_data(html.unescape(chunk))

    for match in _TEXT_TAG.finditer(markup):
        if match.start() > pos:
            data(markup[pos:match.start()])
        pos = match.end()
        if match.group(1):
            parser.handle_endtag(match.group(2))
        else:
            parser.handle_starttag(match.group(2), [])
    if pos < len(markup):
        data(markup[pos:])
    text = "".join(parser.parts)
    lines = [_SPACES.sub(" ", line).strip() for line in text.split("\n")]
    return _BLANKS.sub("\n\n", "\n".join(lines)).strip()


_ATTRIBUTES: dict[str, set[str]] = {
    "*": {"style", "title", "dir", "lang", "align", "width", "height"},
    "a": {"href"},
    "img": {"src", "alt"},
    "td": {"colspan", "rowspan", "valign"},
    "th": {"colspan", "rowspan", "valign"},
    "font": {"color", "face", "size"},
    "table": {"border", "cellpadding", "cellspacing", "bgcolor"},
    "ol": {"start", "type"},
}
_TAGS = set(nh3.ALLOWED_TAGS) | {"font", "center"}


def sanitize_html(markup: str) -> str:
    """Return ``markup`` made safe to show: scripts, handlers, forms removed.

    The markup is first rewritten by
    :func:`flask_helpdesk.services.markup.simplify_html` (elements nested
    deeper than :data:`~flask_helpdesk.services.markup.MAX_DEPTH` are left
    out, their text kept). Links and images keep only the
    :data:`~flask_helpdesk.services.markup.URL_SCHEMES` (``http``, ``https``,
    ``mailto``, ``tel``, ``cid``); a ``style`` that loads anything else goes.
    ``cid:`` image sources are kept so that :func:`rewrite_cid` can point
    them at stored attachments later.
    """
    return sanitize_simplified(simplify_html(markup).html)


def sanitize_simplified(markup: str) -> str:
    """:func:`sanitize_html` of markup that :func:`simplify_html` wrote already."""
    return nh3.clean(
        markup,
        tags=_TAGS,
        attributes=_ATTRIBUTES,
        url_schemes=set(URL_SCHEMES),
        link_rel="noopener noreferrer nofollow",
        attribute_filter=filter_attribute,
    )


_CID = re.compile(r"""(?P<q>["'(])cid:(?P<id>[^"')\s>]+)""", re.IGNORECASE)


def rewrite_cid(markup: str, urls: t.Mapping[str, str]) -> str:
    """Point ``cid:`` references at URLs.

    :param markup: HTML with ``src="cid:..."`` references (sanitized or not).
    :param urls: Content-ID (without angle brackets) to URL. IDs are compared
        case-insensitively; references without an entry stay as they are.
    :return: The HTML with each known reference replaced by its URL
        (HTML-escaped).
    """
    table = {key.strip("<>").lower(): value for key, value in urls.items()}

    def repl(match: re.Match[str]) -> str:
        from urllib.parse import unquote

        key = unquote(match["id"]).strip("<>").lower()
        url = table.get(key)
        if url is None:
            return match.group(0)
        return match["q"] + html.escape(url, quote=True)

    return _CID.sub(repl, markup)


def cid_references(markup: str) -> set[str]:
    """Return the Content-IDs (lower case, no brackets) that ``markup`` uses."""
    from urllib.parse import unquote

    return {unquote(m["id"]).strip("<>").lower() for m in _CID.finditer(markup)}
