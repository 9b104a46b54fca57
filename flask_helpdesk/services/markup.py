"""HTML made safe to sanitize in linear time: pathological nesting flattened.

The sanitizer (nh3: html5ever and ammonia) builds an HTML5 tree, and the
HTML5 tree-building rules look through the stack of open elements for many
tags. So its time grows with the square of the nesting: a body of ``<div>``
repeated 200,000 times (1 MB) holds a worker for minutes, stray end tags
under a deep stack do the same, and unclosed formatting tags with distinct
attributes (``<div><b title=1></div>``...) are reopened again and again
until 100 KB become 150 MB. The parsers one could put in front (the
standard library's :mod:`html.parser`, libxml2) are quadratic on other
shapes of their own (unclosed comments, stray end tags).

:func:`simplify_html` reads the markup once, with a tokenizer that follows
the HTML5 tokenizing rules closely enough for mail, keeps a stack of open
elements of at most :data:`MAX_DEPTH` with the common implied end tags of
HTML5 (a ``<p>`` closed by a block, ``<li>`` by the next item, table
cells and rows), and writes well-formed HTML: every element kept is closed
explicitly, so the sanitizer never has to reopen one. What it leaves out:

- elements nested deeper than :data:`MAX_DEPTH` (their start and end
  tags; their text, images and line breaks are kept), counted;
- attributes past :data:`MAX_ATTRIBUTES` on one element, counted;
- comments, doctypes, processing instructions, stray end tags, the
  ``html``, ``head`` and ``body`` tags (none of them would be kept by the
  sanitizer), the content of ``script`` and ``style``.

Every tag a browser would see in the result is a tag of the result's own
writing: text is escaped, attributes are quoted, so the sanitizer parses
exactly the tree counted here, in time proportional to the length.
"""

from __future__ import annotations

import dataclasses
import re

#: Deepest nesting of elements kept; deeper elements are left out, their text kept.
MAX_DEPTH = 100
#: Most attributes kept on one element.
MAX_ATTRIBUTES = 64
#: The URL schemes a link, an image or a style may use after sanitizing:
#: ``cid:`` is an inline image of the same message.
URL_SCHEMES = frozenset({"http", "https", "mailto", "tel", "cid"})


@dataclasses.dataclass(frozen=True)
class Simplified:
    """What :func:`simplify_html` made of some markup.

    :ivar html: Well-formed HTML, nested at most :data:`MAX_DEPTH` deep.
    :ivar elements_removed: Elements left out for being nested too deep.
    :ivar attributes_removed: Attributes left out past :data:`MAX_ATTRIBUTES`.
    """

    html: str
    elements_removed: int = 0
    attributes_removed: int = 0

    def summary(self) -> dict[str, int]:
        """What was left out, for a message's ``meta["html_simplified"]``; empty when nothing."""
        return {key: value for key, value in (
            ("elements_removed", self.elements_removed),
            ("attributes_removed", self.attributes_removed)) if value}


_SPACE = "\t\n\f\r "
#: A tag: ``<``, ``/`` for an end tag, the name, the attributes, ``>`` (or the
#: end of the input: such a tag is dropped, as HTML5 does). Quotes count only
#: in a value; possessive quantifiers and an end that always matches keep it
#: linear on unterminated input.
_TAG = (
    rf"<(?P<end>/?)(?P<name>[a-zA-Z][^{_SPACE}/>]*+)"
    rf"(?P<attrs>(?:[{_SPACE}/]++|[^{_SPACE}/>][^{_SPACE}/>=]*+"
    rf"(?:[{_SPACE}]*+=[{_SPACE}]*+(?:\"[^\"]*+(?:\"|\Z)|'[^']*+(?:'|\Z)|[^{_SPACE}>]*+))?)*+)"
    r"(?P<close>>|\Z)"
)
#: Comments, doctypes, CDATA, processing instructions and ``</...>`` that is
#: no end tag: all left out.
_OTHER = r"<!--(?:-?>|.*?(?:--!?>|\Z))|<[!?][^>]*+(?:>|\Z)|</(?:>|[^a-zA-Z>][^>]*+(?:>|\Z))"
_TOKEN = re.compile(f"{_TAG}|(?P<other>{_OTHER})", re.S)
_ATTR = re.compile(
    rf"(?P<name>[^{_SPACE}/>][^{_SPACE}/>=]*+)"
    rf"(?:[{_SPACE}]*+=[{_SPACE}]*+(?P<value>\"[^\"]*+\"?|'[^']*+'?|[^{_SPACE}>]*+))?")
_SURROGATE = re.compile("[\ud800-\udfff]")
_TAG_NAME = re.compile(r"[a-z][a-z0-9:._-]*")
#: An attribute name as every sanitizer allow-list spells them.
_NAME = re.compile(r"[a-z_:][-a-z0-9_:.]*")
#: Attributes as this module (and the sanitizer) write them: `` name="value"``.
_CANONICAL = re.compile(r'(?: [a-z_:][-a-z0-9_:.]*+(?:="[^"<]*+")?+)*+')

_VOID = frozenset(
    "area base basefont bgsound br col embed frame hr image img input keygen link meta param"
    " source track wbr".split())
#: Tags left out with their content.
_DROP_CONTENT = frozenset({"script", "style"})
#: Tags whose content HTML5 reads as text: the tag is left out, the content kept as text.
_RAW_TEXT = frozenset({"xmp", "iframe", "noembed", "noframes", "noscript", "plaintext"})
#: Tags whose content is text with character references.
_RCDATA = frozenset({"textarea", "title"})
_IGNORED = frozenset({"html", "head", "body"})
#: Start tags that need more than pushing: ignored, or with text content.
_SPECIAL_START = _IGNORED | _DROP_CONTENT | _RAW_TEXT | _RCDATA
_FOREIGN = frozenset({"svg", "math"})
_HEADINGS = frozenset({"h1", "h2", "h3", "h4", "h5", "h6"})
#: Start tags that close an open ``<p>`` (HTML5 "close a p element").
_CLOSES_P = frozenset(
    "address article aside blockquote center details dialog dir div dl fieldset figcaption"
    " figure footer form header hgroup main menu nav ol p section summary ul h1 h2 h3 h4 h5"
    " h6 pre listing table li dd dt".split())
#: Elements an end tag or an implied end tag does not look past (HTML5 scopes).
_SCOPE = frozenset(
    "applet caption html table td th marquee object template mi mo mn ms mtext"
    " annotation-xml foreignobject desc".split())
_BUTTON_SCOPE = _SCOPE | {"button"}
#: HTML5's "special" elements, where the search for an open ``<li>`` stops.
_SPECIAL = _SCOPE | frozenset(
    "address area article aside base basefont bgsound blockquote body br button center col"
    " colgroup dd details dir div dl dt embed fieldset figcaption figure footer form frame"
    " frameset h1 h2 h3 h4 h5 h6 head header hgroup hr iframe img input keygen li link"
    " listing main menu meta nav noembed noframes noscript ol p param plaintext pre script"
    " search section select source style summary tbody textarea tfoot thead title tr track"
    " ul wbr xmp".split())
#: Start tags that close the open element of the same group, looking down to a stop.
_SAME_GROUP: dict[str, tuple[frozenset[str], frozenset[str]]] = {
    "li": (frozenset({"li"}), _SPECIAL - {"address", "div", "p", "li"}),
    "dd": (frozenset({"dd", "dt"}), _SPECIAL - {"address", "div", "p", "dd", "dt"}),
    "dt": (frozenset({"dd", "dt"}), _SPECIAL - {"address", "div", "p", "dd", "dt"}),
    "td": (frozenset({"td", "th"}), frozenset({"table"})),
    "th": (frozenset({"td", "th"}), frozenset({"table"})),
    "tr": (frozenset({"tr"}), frozenset({"table"})),
    "tbody": (frozenset({"tbody", "thead", "tfoot"}), frozenset({"table"})),
    "thead": (frozenset({"tbody", "thead", "tfoot"}), frozenset({"table"})),
    "tfoot": (frozenset({"tbody", "thead", "tfoot"}), frozenset({"table"})),
    "a": (frozenset({"a"}), _SCOPE),
    "nobr": (frozenset({"nobr"}), _SCOPE),
    "button": (frozenset({"button"}), _SCOPE),
    "option": (frozenset({"option"}), _SPECIAL),
    "optgroup": (frozenset({"option", "optgroup"}), _SPECIAL),
}
_P = frozenset({"p"})
#: Per start tag with implied end tags: whether it closes a ``<p>``, its group.
_IMPLIED = {name: (name in _CLOSES_P, _SAME_GROUP.get(name))
            for name in _CLOSES_P | _SAME_GROUP.keys()}
_IMPLIED_OR_VOID = _IMPLIED.keys() | _VOID
#: Start tags whose only implied end tag closes an open one of their group (``<a>``, ``<td>``).
_GROUP_ONLY = {name: group[0] for name, (closes_p, group) in _IMPLIED.items()
               if group is not None and not closes_p and name not in _HEADINGS}
_RAW_END: dict[str, re.Pattern[str]] = {}


def _raw_end(name: str) -> re.Pattern[str]:
    if name not in _RAW_END:
        _RAW_END[name] = re.compile(rf"</{name}(?=[{_SPACE}/>])", re.I)
    return _RAW_END[name]


class _Writer:
    """The stack of open elements and the output, one token at a time."""

    def __init__(self) -> None:
        self.out: list[str] = []
        self.stack: list[str] = []
        #: Elements open past MAX_DEPTH (not written), and how many of each name.
        self.excess: list[str] = []
        self.excess_names: dict[str, int] = {}
        self.foreign = 0
        self.removed = 0
        self.attributes_removed = 0
        #: Tags already written, with the attributes each left out: mail repeats its tags.
        self.tags: dict[tuple[str, str, str], tuple[str, int]] = {}

    # -- the stack -----------------------------------------------------------

    def pop_to(self, index: int) -> None:
        """Close the elements from the top of the stack down to ``index``, included."""
        self.drop_excess()
        while len(self.stack) > index:
            name = self.stack.pop()
            if name in _FOREIGN:
                self.foreign -= 1
            self.out.append(f"</{name}>")

    def drop_excess(self) -> None:
        self.excess.clear()
        self.excess_names.clear()

    def find(self, names: frozenset[str], stop: frozenset[str]) -> int:
        """Index of the nearest open element in ``names``, not looking past ``stop``; -1."""
        stack = self.stack
        for i in range(len(stack) - 1, -1, -1):
            if stack[i] in names:
                return i
            if stack[i] in stop:
                return -1
        return -1

    # -- tokens --------------------------------------------------------------

    def start(self, name: str, attrs: str, self_closing: bool) -> None:
        if self.excess:  # deeper than MAX_DEPTH: only elements without content are kept
            if name in _VOID:
                self.out.append(self.tag(name, attrs, ""))
            elif not (self_closing and self.foreign):
                self.excess.append(name)
                self.excess_names[name] = self.excess_names.get(name, 0) + 1
                self.removed += 1
            return
        self.imply_end(name)
        if name in _VOID:
            self.out.append(self.tag(name, attrs, ""))
        elif self_closing and self.foreign:
            self.out.append(self.tag(name, attrs, "") + f"</{name}>")
        elif len(self.stack) >= MAX_DEPTH:
            self.excess.append(name)
            self.excess_names[name] = 1
            self.removed += 1
        else:
            self.out.append(self.tag(name, attrs, ""))
            self.stack.append(name)
            if name in _FOREIGN:
                self.foreign += 1

    def imply_end(self, name: str) -> None:
        """HTML5's implied end tags for the start tag ``name`` (the common ones)."""
        stack = self.stack
        rule = _IMPLIED.get(name)
        if rule is None or not stack:
            return
        closes_p, group = rule
        if closes_p and "p" in stack:
            i = self.find(_P, _BUTTON_SCOPE)
            if i >= 0:
                self.pop_to(i)
        if name in _HEADINGS and stack and stack[-1] in _HEADINGS:
            self.pop_to(len(stack) - 1)
        if group is not None and not group[0].isdisjoint(stack):
            i = self.find(*group)
            if i >= 0:
                self.pop_to(i)

    def end(self, name: str) -> None:
        if self.excess_names.get(name):
            while True:
                top = self.excess.pop()
                count = self.excess_names[top] - 1
                if count:
                    self.excess_names[top] = count
                else:
                    del self.excess_names[top]
                if top == name:
                    return
        if name in self.stack:
            i = self.find(frozenset({name}), frozenset() if name in _SCOPE else _SCOPE)
            if i >= 0:
                self.pop_to(i)
                return
        if name == "br":
            self.out.append("<br>")
        elif name == "p" and not self.excess:
            self.out.append("<p></p>")

    def text(self, data: str) -> None:
        """Write text; a ``<`` inside it starts no tag (else it would be a token)
        except at its end, before a token left out."""
        self.out.append(data[:-1] + "&lt;" if data[-1] == "<" else data)

    def raw(self, data: str) -> None:
        """Write the content of an element HTML5 reads as text, escaped."""
        if data:
            self.out.append(data.replace("<", "&lt;"))

    def tag(self, name: str, attrs: str, slash: str) -> str:
        """The start tag, written again: names in lower case, values quoted."""
        if not attrs:
            return f"<{name}{slash}>"
        key = (name, attrs, slash)
        cached = self.tags.get(key)
        if cached is not None:
            self.attributes_removed += cached[1]
            return cached[0]
        before = self.attributes_removed
        if not slash and _CANONICAL.fullmatch(attrs) and attrs.count(" ") <= MAX_ATTRIBUTES:
            written = f"<{name}{attrs}>"  # written so already (the sanitizer's output)
        else:
            written = self.write_tag(name, attrs, slash)
        self.tags[key] = (written, self.attributes_removed - before)
        return written

    def write_tag(self, name: str, attrs: str, slash: str) -> str:
        seen: dict[str, str] = {}
        for key, value in _ATTR.findall(attrs):
            key = key.lower()
            if key in seen or not _NAME.fullmatch(key):
                continue  # HTML5 keeps the first of the same name; no sanitizer keeps odd ones
            if len(seen) >= MAX_ATTRIBUTES:
                self.attributes_removed += 1
                continue
            if not value:
                seen[key] = key
                continue
            if value[:1] in ("'", '"'):
                value = value[1:-1] if len(value) > 1 and value[-1] == value[0] else value[1:]
            seen[key] = f'{key}="{value.replace(chr(34), "&quot;")}"'
        return f"<{name} {' '.join(seen.values())}{slash}>" if seen else f"<{name}{slash}>"


def simplify_html(markup: str) -> Simplified:
    """Rewrite ``markup`` as well-formed HTML nested at most :data:`MAX_DEPTH` deep.

    Linear in the length of ``markup``, whatever its shape; see the module
    documentation for what is left out. Run it before anything that builds
    an HTML5 tree of untrusted markup (the sanitizer, :mod:`html.parser`).

    :param markup: HTML as received (need not be well-formed).
    :return: The rewritten HTML and what was left out.
    """
    if not markup:
        return Simplified("")
    markup = _SURROGATE.sub("\ufffd", markup)
    w = _Writer()
    out, stack, excess = w.out, w.stack, w.excess
    lower: dict[str, str] = {}
    pos, size = 0, len(markup)
    while pos < size:
        restart = None
        for match in _TOKEN.finditer(markup, pos):
            start = match.start()
            if start > pos:
                w.text(markup[pos:start])
            pos = match.end()
            end, name, attrs, close, other = match.groups()
            if other is not None or not close:
                continue  # comments and the like; a tag cut by the end of the input
            name = lower.get(name) or lower.setdefault(name, _tag_name(name))
            if name == "-":
                continue  # no element any sanitizer keeps: its text stays, as there
            if end:
                if excess and name == excess[-1]:  # the common case of a deep stack
                    excess.pop()
                    count = w.excess_names[name] - 1
                    if count:
                        w.excess_names[name] = count
                    else:
                        del w.excess_names[name]
                elif stack and name == stack[-1] and not excess:
                    stack.pop()
                    if name in _FOREIGN:
                        w.foreign -= 1
                    out.append(f"</{name}>")
                elif name not in _IGNORED:
                    w.end(name)
                continue
            if name in _SPECIAL_START or w.foreign:
                if name in _IGNORED:
                    continue
                if not w.foreign and (name in _DROP_CONTENT or name in _RAW_TEXT
                                      or name in _RCDATA):
                    restart = _raw(w, markup, pos, name, attrs)
                    break
            if not excess and len(stack) < MAX_DEPTH and (not attrs or attrs[-1] != "/") and (
                    name not in _IMPLIED_OR_VOID
                    or name in _GROUP_ONLY and _GROUP_ONLY[name].isdisjoint(stack)):
                out.append(w.tag(name, attrs, ""))  # the common case: just open it
                stack.append(name)
                if name in _FOREIGN:
                    w.foreign += 1
            elif excess and not attrs.endswith("/") and name not in _VOID:
                excess.append(name)
                w.excess_names[name] = w.excess_names.get(name, 0) + 1
                w.removed += 1
            else:
                w.start(name, attrs, attrs.endswith("/") and not _ends_in_value(attrs))
        else:
            if pos < size:
                w.text(markup[pos:])
            break
        pos = restart
    w.pop_to(0)
    return Simplified("".join(out), w.removed, w.attributes_removed)


def _raw(w: _Writer, markup: str, pos: int, name: str, attrs: str) -> int:
    """Write an element whose content is text (``title``) or nothing (``script``).

    :return: Where to go on reading: after its end tag.
    """
    size = len(markup)
    end = size
    if name != "plaintext":
        found = _raw_end(name).search(markup, pos)
        end = found.start() if found else size
    content = markup[pos:end]
    if name in _RCDATA:
        w.start(name, attrs, False)
        w.raw(content)
        w.end(name)
    elif name in _RAW_TEXT:
        w.raw(content.replace("&", "&amp;"))
    if end < size:  # the end tag: the element was written already, or left out
        found_end = _TOKEN.match(markup, end)
        return found_end.end() if found_end else end + 1
    return end


def _tag_name(raw: str) -> str:
    """``raw`` in lower case; ``-`` for a name with quotes, ``<``, ``=`` or the like."""
    name = raw.lower()
    return name if _TAG_NAME.fullmatch(name) else "-"


def _ends_in_value(attrs: str) -> bool:
    """Whether the ``/`` that ends ``attrs`` belongs to an unquoted value (``href=/x/``)."""
    last = None
    for match in _ATTR.finditer(attrs):
        last = match
    return last is not None and last.end() == len(attrs) and bool(last["value"])


_SAFE_PREFIXES = ("https://", "http://", "cid:", "mailto:", "tel:", "/", "#")


def url_allowed(url: str) -> bool:
    """Whether ``url`` (decoded) is relative or uses one of :data:`URL_SCHEMES`."""
    if url.startswith(_SAFE_PREFIXES):
        return True  # the usual case, said at once
    url = re.sub(r"[\x00-\x20\x7f]+", "", url).lower()
    scheme = re.match(r"([a-z][a-z0-9+.-]*):", url)
    return scheme is None or scheme.group(1) in URL_SCHEMES


#: Attributes that hold a URL (the sanitizer checks only some of them, not ``cite``).
URL_ATTRIBUTES = frozenset({"href", "src", "cite", "background", "longdesc", "action",
                            "formaction", "poster", "xlink:href", "usemap", "lowsrc", "dynsrc"})


def filter_attribute(tag: str, name: str, value: str) -> str | None:
    """The sanitizer's check of every attribute it keeps (nh3's ``attribute_filter``).

    A URL attribute whose scheme is not in :data:`URL_SCHEMES`, a ``srcset``
    with one such URL, a ``style`` that :func:`style_allowed` refuses: the
    attribute goes (``None``); any other keeps its value.
    """
    if name in URL_ATTRIBUTES:
        return value if url_allowed(value) else None
    if name == "srcset":
        urls = (part.strip().split(" ")[0] for part in value.split(","))
        return value if all(url_allowed(url) for url in urls) else None
    if name == "style":
        return value if style_allowed(value) else None
    return value


_CSS_ESCAPE = re.compile(r"\\(?:([0-9a-fA-F]{1,6})[ \t\n\r\f]?|(.))", re.S)
_CSS_COMMENT = re.compile(r"/\*.*?(?:\*/|\Z)", re.S)
_CSS_URL = re.compile(r"""(?:url|image|image-set|src)\(\s*(?P<q>["']?)(?P<url>[^"')]*)""")


def style_allowed(style: str) -> bool:
    """Whether a ``style`` attribute (decoded) loads nothing but allowed URLs.

    CSS escapes and comments are undone first; ``expression(``, ``-moz-binding``,
    ``behavior`` and any ``url()`` with another scheme than those of
    :data:`URL_SCHEMES` refuse the whole attribute.
    """
    def unescape(match: re.Match[str]) -> str:
        if match.group(1):
            code = int(match.group(1), 16)
            return chr(code) if 0 < code < 0x110000 and not 0xD800 <= code < 0xE000 else "\ufffd"
        return match.group(2)

    css = _CSS_COMMENT.sub("", _CSS_ESCAPE.sub(unescape, style)).lower()
    squeezed = re.sub(r"[\x00-\x20]+", "", css)
    if any(word in squeezed for word in ("expression(", "-moz-binding", "behavior:",
                                         "javascript:", "vbscript:", "data:")):
        return False
    return all(url_allowed(m["url"]) for m in _CSS_URL.finditer(css))

