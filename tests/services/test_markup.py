"""HTML bodies: pathological nesting is flattened before sanitizing, text kept, URLs checked.

No timing here (see ``benchmarks/sanitize_html.py``): the tests check what a
reader of the message would notice, that all the text is there, that the
nesting left is bounded and that the message says what was cut.
"""

from __future__ import annotations

import re
from html.parser import HTMLParser

import nh3
import pytest

from flask_helpdesk import Identity
from flask_helpdesk import InboundMessage
from flask_helpdesk.services import SYSTEM
from flask_helpdesk.services import TicketChanges
from flask_helpdesk.services import agents
from flask_helpdesk.services import drafts
from flask_helpdesk.services import ingest
from flask_helpdesk.services import messages
from flask_helpdesk.services import templates
from flask_helpdesk.services import tickets
from flask_helpdesk.services.markup import MAX_ATTRIBUTES
from flask_helpdesk.services.markup import MAX_DEPTH
from flask_helpdesk.services.markup import URL_SCHEMES
from flask_helpdesk.services.markup import simplify_html
from flask_helpdesk.services.markup import style_allowed
from tests.plugins.channel import RecordingChannel


class _Depth(HTMLParser):
    """Deepest nesting of well-formed HTML, and its text."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.depth = self.deepest = 0
        self.text: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag not in ("br", "img", "hr", "wbr"):
            self.depth += 1
            self.deepest = max(self.deepest, self.depth)

    def handle_endtag(self, tag: str) -> None:
        self.depth -= 1

    def handle_data(self, data: str) -> None:
        self.text.append(data)


def depth_and_text(html: str) -> tuple[int, str]:
    parser = _Depth()
    parser.feed(html)
    parser.close()
    return parser.deepest, "".join(parser.text)


def words(n: int) -> list[str]:
    return [f"w{i}" for i in range(n)]


# -- the shapes that made nh3 quadratic ----------------------------------------


@pytest.mark.parametrize("open_tag, close_tag", [
    ("<div>", "</div>"), ("<blockquote>", "</blockquote>"), ("<span>", "</span>"),
    ("<ul><li>", "</li></ul>"), ("<table><tr><td>", "</td></tr></table>"),
    ("<font><div>", "</div></font>"),
])
def test_deep_nesting_is_cut_and_every_word_kept(open_tag: str, close_tag: str) -> None:
    n = 3 * MAX_DEPTH
    markup = "".join(f"{open_tag}{w} " for w in words(n)) + close_tag * n
    result = simplify_html(markup)
    depth, text = depth_and_text(result.html)
    assert depth <= MAX_DEPTH
    assert text.split() == words(n)
    assert result.elements_removed >= n * open_tag.count("<") - MAX_DEPTH
    assert result.summary() == {"elements_removed": result.elements_removed}
    clean = messages.sanitize_html(markup)
    assert depth_and_text(clean)[0] <= 2 * MAX_DEPTH  # HTML5 adds a <tbody> to each table
    assert depth_and_text(clean)[1].split() == words(n)


def test_unclosed_divs_keep_their_text_and_images() -> None:
    markup = '<div>' * 5000 + 'Hello <b>you</b><img src="https://example.org/a.png"><br>there'
    clean = messages.clean_html(markup)
    assert clean.elements_removed == 5000 - MAX_DEPTH + 1  # the <b> too
    assert 'Hello you<img src="https://example.org/a.png"><br>there' in clean.html
    assert clean.html.count("<div>") == MAX_DEPTH


def test_stray_end_tags_under_a_deep_stack_are_dropped() -> None:
    markup = "<span>" * 2000 + "x" + "</i>" * 2000 + "y" + "</span>" * 2000
    result = simplify_html(markup)
    assert depth_and_text(result.html) == (MAX_DEPTH, "xy")
    assert "</i>" not in result.html


def test_unclosed_formatting_tags_are_not_reopened_without_end() -> None:
    # html5ever reopens every unclosed <b> in each new <div>: 100 KB became
    # 150 MB. Closed where their block ends, they stay as long as they were.
    markup = "".join(f"<div><b title={i}>w{i}</div>" for i in range(3000))
    clean = messages.sanitize_html(markup)
    assert len(clean) < 2 * len(markup)
    assert re.sub(r"<[^>]+>", " ", clean).split() == words(3000)
    assert nh3.clean(markup[:2000]).count("<b") > 100  # what it was: reopened again and again


def test_nested_links_are_not_nested() -> None:
    markup = "".join(f'<a href="https://example.org/{i}">w{i} ' for i in range(500))
    clean = messages.sanitize_html(markup)
    assert clean.count("<a ") == 500 and depth_and_text(clean)[0] == 1


def test_an_element_keeps_at_most_the_attribute_limit() -> None:
    markup = "<p " + " ".join(f"data-a{i}=1" for i in range(10_000)) + ' title="t">text</p>'
    result = simplify_html(markup)
    assert result.attributes_removed == 10_001 - MAX_ATTRIBUTES
    assert result.html.count("=") == MAX_ATTRIBUTES and result.html.endswith(">text</p>")
    assert messages.sanitize_html(markup) == "<p>text</p>"


@pytest.mark.parametrize("unit, tail", [
    ("<!--", "x"),  # an unclosed comment hides the rest, as in a browser
    ("<![", ">x"), ("</", "x"), ("<", "x"), ("<!x", "y"), ("<?", "x"),
    ('<div title="', "<a x"), ("<a ", ">x"), ("<p/", ">x"), ("</ ", ">x"),
    ("<script>", "x</script>y"), ("<style>", "x</style>y"), ("<title>", "x</title>y"),
    ("<noscript>", "<b>x</b>"), ("<xmp>", "<b>x&lt;</xmp>y"), ("<plaintext>", "<b>x"),
    ("&lt;b&gt; &amp; ", "<br>d"), ("<svg><g/></svg>", "<p>x"), ("<a href=#>", "x</a>"),
    ("<table><tr><td>x<td>y</table>", ""), ("<li>", "x"), ("<p>", "x"), ("<option>", "x"),
])
def test_malformed_markup_reads_as_without_the_rewrite(unit: str, tail: str) -> None:
    # Small enough for nh3 alone: the rewrite changes none of what is shown.
    markup = unit * 300 + tail
    assert messages.sanitize_html(markup) == nh3.clean(markup, url_schemes=set(URL_SCHEMES),
                                                       link_rel="noopener noreferrer nofollow")
    assert simplify_html(unit * 100_000 + tail).summary() == {}


@pytest.mark.parametrize("markup, expected", [
    ("<p>one<p>two<div>three</div>", "<p>one</p><p>two</p><div>three</div>"),
    ("<ul><li>one<li>two</ul><p>x</p>", "<ul><li>one</li><li>two</li></ul><p>x</p>"),
    ("<table><tr><td>a<td>b<tr><td>c</table>",
     "<table><tbody><tr><td>a</td><td>b</td></tr><tr><td>c</td></tr></tbody></table>"),
    ("<h1>Title<h2>Sub</h2>", "<h1>Title</h1><h2>Sub</h2>"),
    ('<a href="https://e.org/?a=1&amp;b=2" title=\'say "hi"\'>x</a>',
     '<a href="https://e.org/?a=1&amp;b=2" title="say &quot;hi&quot;" rel="noopener noreferrer'
     ' nofollow">x</a>'),
    ("<html><head><title>T</title><style>p{}</style></head><body>Hi<script>x()</script>"
     "</body></html>", "THi"),
    ("<textarea><b>x</b></textarea>", "&lt;b&gt;x&lt;/b&gt;"),
    ("<blockquote><p>quoted</blockquote>new", "<blockquote><p>quoted</p></blockquote>new"),
])
def test_ordinary_html_is_sanitized_as_before(markup: str, expected: str) -> None:
    assert messages.sanitize_html(markup) == expected
    assert simplify_html(markup).summary() == {}


def test_misnested_formatting_keeps_its_text() -> None:
    # HTML5 would reopen the <i> for "y": the rewrite closes it where the <b>
    # ends (so that nothing is reopened, see above); the words stay.
    assert messages.sanitize_html("<b><i>x</b>y</i>z") == "<b><i>x</i></b>yz"


def test_lone_surrogates_do_not_stop_the_sanitizer() -> None:
    assert messages.sanitize_html("<p>a\udcdbb</p>") == "<p>a\ufffdb</p>"


# -- URL schemes ------------------------------------------------------------------

#: Links and sources no sanitizer may keep.
HOSTILE_URLS = [
    "data:text/html;base64,PHNjcmlwdD5hbGVydCgxKTwvc2NyaXB0Pg==",
    "DATA:text/html,<script>alert(1)</script>",
    "javascript:alert(1)",
    "JaVaScRiPt:alert(1)",
    "java&#x09;script:alert(1)",
    "java\nscript:alert(1)",
    "java\tscript:alert(1)",
    " \x01javascript:alert(1)",
    "&#106;&#97;&#118;&#97;&#115;&#99;&#114;&#105;&#112;&#116;&#58;alert(1)",
    "&#x6A;avascript&#x3A;alert(1)",
    "javascript&colon;alert(1)",
    "vbscript:msgbox(1)",
    "VBScript:msgbox(1)",
    "file:///etc/passwd",
]


def hostile_html() -> str:
    parts = []
    for url in HOSTILE_URLS:
        quoted = url.replace('"', "&quot;")
        parts.append(f'<a href="{quoted}">link</a><img src="{quoted}" alt="img">'
                     f'<img src="https://example.org/ok.png" srcset="{quoted} 1x">'
                     f'<table background="{quoted}"><tr><td background="{quoted}">c</td>'
                     f'</tr></table><blockquote cite="{quoted}">q</blockquote>')
    return "".join(parts)


def assert_no_hostile_url(clean: str) -> None:
    values = re.findall(r'(?:href|src|srcset|background|cite|style)="([^"]*)"', clean)
    for value in values:
        value = nh3.clean_text(value)  # entities decoded by a browser, then checked
        squeezed = re.sub(r"[\x00-\x20]", "", value).lower()
        assert not squeezed.startswith(("data:", "javascript:", "vbscript:", "file:")), value
    assert "srcset" not in clean and "background" not in clean


def test_the_core_sanitizer_keeps_only_safe_schemes() -> None:
    clean = messages.sanitize_html(hostile_html())
    assert_no_hostile_url(clean)
    assert clean.count(">link</a>") == len(HOSTILE_URLS)  # the text of the link stays
    kept = messages.sanitize_html(
        '<a href="https://e.org/">w</a><a href="http://e.org/">w</a><a href="mailto:a@e.org">m</a>'
        '<a href="tel:+15551234">t</a><img src="cid:logo@x"><a href="/helpdesk/x">r</a>')
    assert re.findall(r'(?:href|src)="([^"]*)"', kept) == [
        "https://e.org/", "http://e.org/", "mailto:a@e.org", "tel:+15551234", "cid:logo@x",
        "/helpdesk/x"]


@pytest.mark.parametrize("style, allowed", [
    ("color: red; background: url(https://e.org/a.png)", True),
    ("background-image: url('cid:bg@x')", True),
    ("background: url(data:image/png;base64,AAAA)", False),
    ("background: url( 'javascript:alert(1)' )", False),
    ("background: u\\72l(data:image/png;base64,AAAA)", False),
    ("background: url(\\64 ata:image/png;base64,AAAA)", False),
    ("background: url(java/**/script:alert(1))", False),
    ("width: expression(alert(1))", False),
    ("background-image: image-set('data:image/png;base64,AAAA' 1x)", False),
    ("-moz-binding: url(https://e.org/x.xml#x)", False),
    ("background: url(vbscript:msgbox(1))", False),
])
def test_style_urls(style: str, allowed: bool) -> None:
    assert style_allowed(style) is allowed


# -- what a message says about it ---------------------------------------------------


@pytest.fixture
def app(app_factory, recorder):
    app = app_factory(plugins=[recorder, RecordingChannel()])
    with app.app_context():
        yield app


@pytest.fixture
def ticket_id(app, team) -> int:
    result = ingest(InboundMessage(channel="test", external_id="x1", subject="Help",
                                   sender=Identity("email", "carla@example.org"), text="Hi"))
    tickets.update_ticket(result.ticket_id, actor=SYSTEM,
                          changes=TicketChanges(group_id=team.support.id))
    return result.ticket_id


DEEP = "<div>" * (MAX_DEPTH + 50) + "Deep words" + "</div>" * (MAX_DEPTH + 50)


def test_ingest_notes_the_simplified_html_on_the_message(app, team, login) -> None:
    result = ingest(InboundMessage(channel="test", external_id="deep-1", subject="Deep",
                                   sender=Identity("email", "carla@example.org"), html=DEEP))
    message = stored(result)
    assert message.text == "Deep words" and "Deep words" in (message.html or "")
    assert message.meta["html_simplified"] == {"elements_removed": 50}
    tickets.update_ticket(result.ticket_id, actor=SYSTEM,
                          changes=TicketChanges(group_id=team.support.id))
    page = login(team.anna).get(f"/helpdesk/tickets/{result.ticket_id}").text
    assert ("The HTML of this message was simplified: 50 nested elements removed"
            " (their text is kept).") in page
    _token, secret = agents.create_token(actor=SYSTEM, agent_id=team.anna.id, name="t")
    items = app.test_client().get(
        f"/helpdesk/api/v1/tickets/{result.ticket_id}/messages",
        headers={"Authorization": f"Bearer {secret}"}).json["items"]
    assert [m["html_simplified"] for m in items] == [
        {"elements_removed": 50, "attributes_removed": 0, "cut_at": 0}]


def test_a_batch_ingest_notes_it_too(app) -> None:
    [result] = ingest_batch_of([InboundMessage(
        channel="test", external_id="deep-2", subject="Deep",
        sender=Identity("email", "carla@example.org"), html=DEEP)])
    assert stored(result).meta["html_simplified"] == {"elements_removed": 50}


def stored(result):
    [message] = [m for m in messages.list_messages(result.ticket_id, actor=SYSTEM)
                 if m.id == result.message_id]
    return message


def ingest_batch_of(batch: list[InboundMessage]) -> list:
    from flask_helpdesk.services import ingest_batch

    return ingest_batch(batch)


def test_a_note_in_html_is_simplified_and_says_so(app, team, ticket_id, login) -> None:
    note = messages.add_note(ticket_id, actor=team.anna, text="", html=DEEP)
    assert note.text == "Deep words" and note.meta["html_simplified"] == {"elements_removed": 50}
    page = login(team.anna).get(f"/helpdesk/tickets/{ticket_id}").text
    assert "50 nested elements removed" in page
    plain = messages.add_note(ticket_id, actor=team.anna, text="", html="<p>Fine</p>")
    assert "html_simplified" not in plain.meta


def test_the_notice_is_translated(app, team, ticket_id, login) -> None:
    messages.add_note(ticket_id, actor=team.anna, text="", html=DEEP)
    page = login(team.anna).get(f"/helpdesk/tickets/{ticket_id}",
                                headers={"Accept-Language": "ru"}).text
    assert "HTML этого сообщения упрощён" in page


def test_drafts_and_templates_are_protected(app, team, ticket_id) -> None:
    deep = "<div>" * 10_000 + "draft words"
    draft = drafts.save_draft(ticket_id, actor=team.anna, kind="reply", text="", html=deep)
    assert draft is not None and draft.html == deep  # kept as typed, sanitized when sent
    assert drafts.save_draft(ticket_id, actor=team.anna, kind="reply", text="",
                             html="<div>" * 10_000 + "&nbsp;") is None  # no text: discarded
    template = templates.create_template(actor=team.admin, name="Deep", body="Deep",
                                         body_html="<div>" * 5_000 + "template words")
    assert "template words" in (template.body_html or "")
    assert depth_and_text(template.body_html or "")[0] <= MAX_DEPTH
