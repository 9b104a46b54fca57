"""Hostile HTML mail: pathological nesting flattened, text kept, the message says so; URL schemes.

Real parse (``parse_message``) and real ingest (the plugin's :class:`Intake`,
as the fetcher and the archive import use it) on SQLite; the ticket page and
the REST API are fetched as an agent sees them. No timing here: see
``benchmarks/sanitize_html.py``.
"""

from __future__ import annotations

import base64
import re
import typing as t

import nh3
import pytest
from flask import Flask
from flask_helpdesk_email import html_to_text
from flask_helpdesk_email import sanitize_html
from flask_helpdesk_email.intake import Intake

from flask_helpdesk.services import SYSTEM
from flask_helpdesk.services import agents
from flask_helpdesk.services import messages
from flask_helpdesk.services.markup import MAX_DEPTH
from flask_helpdesk.services.messages import HTML_MAX
from flask_helpdesk.testing import User


def html_mail(body: str, *, message_id: str = "deep-1@example.org",
              extra: str = "") -> bytes:
    head = ("From: Carla <carla@example.org>\r\nTo: support@example.com\r\n"
            f"Subject: Deep\r\nMessage-ID: <{message_id}>\r\nMIME-Version: 1.0\r\n")
    if not extra:
        return (head + "Content-Type: text/html; charset=utf-8\r\n"
                "Content-Transfer-Encoding: base64\r\n\r\n").encode() + base64.encodebytes(
                    body.encode())
    return (head + 'Content-Type: multipart/related; boundary="b"\r\n\r\n--b\r\n'
            "Content-Type: text/html; charset=utf-8\r\n\r\n" + body + "\r\n" + extra
            + "--b--\r\n").encode()


def store(app: Flask, raw: bytes) -> t.Any:
    intake = Intake(None, {})
    [result] = intake.store([intake.prepare(raw)])
    assert not isinstance(result, Exception), result
    [message] = [m for m in messages.list_messages(result.ticket_id, actor=SYSTEM)
                 if m.id == result.message_id]
    return message


def agent_client(app: Flask) -> t.Any:
    agents.create_agent(actor=SYSTEM, name="Ada", user_id="ada", role="admin")
    return app.test_client(user=User("ada"))


WORDS = [f"word{i}" for i in range(2000)]


def test_a_deep_div_mail_is_stored_whole_and_says_what_was_cut(mail_app: Flask) -> None:
    body = "".join(f"<div>{w} " for w in WORDS) + "</div>" * len(WORDS)
    message = store(mail_app, html_mail(body))
    assert message.text.split() == WORDS  # every word, in order
    assert re.sub(r"<[^>]+>", " ", message.html).split() == WORDS
    assert message.html.count("<div>") == MAX_DEPTH
    cut = len(WORDS) - MAX_DEPTH
    assert message.meta["html_simplified"] == {"elements_removed": cut}
    client = agent_client(mail_app)
    page = client.get(f"/helpdesk/tickets/{message.ticket_id}").text
    item = page.split(f'id="message-{message.id}"')[1].split("</li>")[0]
    assert (f"The HTML of this message was simplified: {cut} nested elements removed"
            " (their text is kept).") in item
    _token, secret = agents.create_token(actor=SYSTEM, agent_id=agents.list_agents()[0].id,
                                         name="tests")
    [item_json] = mail_app.test_client().get(
        f"/helpdesk/api/v1/tickets/{message.ticket_id}/messages",
        headers={"Authorization": f"Bearer {secret}"}).json["items"]
    assert item_json["html_simplified"] == {"elements_removed": cut, "attributes_removed": 0,
                                            "cut_at": 0}


@pytest.mark.parametrize("unit, close", [
    ("<span>", ""),  # unclosed inline tags
    ("<table><tr><td>", ""),  # deep tables
    ("<blockquote>", "</blockquote>"),
    ("<ul><li>", "</ul>"),
    ("<font><div>", ""),
])
def test_other_deep_shapes_keep_their_text(mail_app: Flask, unit: str, close: str) -> None:
    body = "".join(f"{unit}{w} " for w in WORDS[:500]) + close * 500
    message = store(mail_app, html_mail(body, message_id=f"{len(unit)}@example.org"))
    text = message.meta["full_text"].replace(">", " ").replace("- ", " ")  # quotes, items
    assert text.split() == WORDS[:500]
    assert message.meta["html_simplified"]["elements_removed"] > 0


def test_reopened_formatting_and_nested_links_stay_small(mail_app: Flask) -> None:
    # Unclosed <b>s with distinct attributes, each in its own <div>: nh3 alone
    # reopens them all in every later block (quadratic output).
    body = "".join(f'<div><b title="{i}"><a href="https://example.org/{i}">w{i} </div>'
                   for i in range(3000))
    message = store(mail_app, html_mail(body))
    assert len(message.html) < 2 * len(body)
    assert message.text.split() == [f"w{i}" for i in range(3000)]
    assert message.html.count('<a href="https://example.org/') == 3000
    assert "html_simplified" not in message.meta  # nothing had to be cut


def test_an_element_with_thousands_of_attributes(mail_app: Flask) -> None:
    attrs = " ".join(f"data-x{i}=1" for i in range(5000))
    message = store(mail_app, html_mail(f'<p {attrs} align="center">Hello</p>'))
    assert message.text == "Hello"
    assert message.meta["html_simplified"] == {"attributes_removed": 5000 - 64 + 1}


def test_html_over_the_limit_is_cut_and_stored(mail_app: Flask) -> None:
    # Longer than the core stores (HTML_MAX): the first HTML_MAX characters
    # are kept, the message is stored (not quarantined) and says it was cut.
    body = "<p>Start here</p>" + "<br>" * (HTML_MAX // 4) + "<p>lost</p>"
    message = store(mail_app, html_mail(body))
    assert message.text == "Start here"
    assert message.meta["html_simplified"]["cut_at"] <= HTML_MAX
    assert len(message.html) <= HTML_MAX
    page = agent_client(mail_app).get(f"/helpdesk/tickets/{message.ticket_id}").text
    assert "The HTML of this message was too long and was cut after" in page


def test_malformed_markup_does_not_stop_the_text() -> None:
    # html.parser alone is quadratic on unclosed comments, and raises on "<![".
    assert html_to_text("<p>Hi</p>" + "<![" * 20_000) == "Hi"
    assert html_to_text("<p>Hi</p><!--" + "<!--" * 20_000) == "Hi"


# -- URL schemes ---------------------------------------------------------------

HOSTILE_URLS = [
    "data:text/html;base64,PHNjcmlwdD5hbGVydCgxKTwvc2NyaXB0Pg==",
    "data:image/svg+xml,&lt;svg onload=alert(1)&gt;",
    "javascript:alert(1)",
    "JaVaScRiPt:alert(1)",
    "java&#x09;script:alert(1)",
    "java&#10;script:alert(1)",
    "java&NewLine;script:alert(1)",
    "&#x20;javascript:alert(1)",
    "&#106;avascript&#58;alert(1)",
    "javascript&colon;alert(1)",
    "vbscript:msgbox(1)",
    "VbScRiPt:msgbox(1)",
]


def hostile_body() -> str:
    parts = ['<p>Links:</p><img src="cid:logo@example.org" alt="logo">']
    for url in HOSTILE_URLS:
        parts.append(
            f'<a href="{url}">link</a><img src="{url}" alt="i" srcset="{url} 2x">'
            f'<table background="{url}"><tr><td background="{url}">c</td></tr></table>'
            f'<p style="background: url({url})">s</p><blockquote cite="{url}">q</blockquote>'
            f"<p style='background:url(&quot;{url}&quot;)'>t</p>")
    parts.append('<p style="color: red; background: url(https://example.org/bg.png)">ok</p>'
                 '<a href="https://example.org/">https</a><a href="mailto:a@example.org">m</a>'
                 '<a href="tel:+15551234">tel</a><a href="http://example.org/">http</a>')
    return "".join(parts)


def assert_safe(html: str) -> None:
    for name, value in re.findall(r'\s([a-z-]+)="([^"]*)"', html):
        value = nh3.clean_text(value) if "&" in value else value
        squeezed = re.sub(r"[\x00-\x20]", "", value).lower()
        for word in ("data:", "javascript:", "vbscript:", "javascript&", "vbscript&"):
            assert word not in squeezed.replace("&#58;", ":"), (name, value)
    assert "srcset" not in html and "background=" not in html


def test_the_plugin_sanitizer_keeps_only_safe_schemes() -> None:
    html = sanitize_html(hostile_body())
    assert_safe(html)
    assert html.count(">link</a>") == len(HOSTILE_URLS)
    assert 'src="cid:logo@example.org"' in html
    assert 'style="color: red; background: url(https://example.org/bg.png)"' in html
    for url in ("https://example.org/", "mailto:a@example.org", "tel:+15551234",
                "http://example.org/"):
        assert f'href="{url}"' in html


PNG = bytes.fromhex(
    "89504e470d0a1a0a0000000d4948445200000001000000010806000000"
    "1f15c4890000000d49444154789c6360000002000154a24f5d0000000049454e44ae426082")


def test_hostile_links_never_reach_the_page_and_cid_images_still_show(mail_app: Flask) -> None:
    logo = ("--b\r\nContent-Type: image/png; name=logo.png\r\nContent-ID: <logo@example.org>\r\n"
            "Content-Disposition: inline\r\nContent-Transfer-Encoding: base64\r\n\r\n"
            + base64.encodebytes(PNG).decode().replace("\n", "\r\n"))
    message = store(mail_app, html_mail(hostile_body(), message_id="hostile@example.org",
                                        extra=logo))
    assert_safe(message.html)
    [image] = [a for a in message.attachments if a.filename == "logo.png"]
    page = agent_client(mail_app).get(f"/helpdesk/tickets/{message.ticket_id}").text
    body = page.split('class="hd-msg-body hd-html">')[1].split("</div>")[0]
    assert f'<img src="/helpdesk/attachments/{image.id}?inline=1" alt="logo">' in body
    assert_safe(body)
    assert body.count(">link</a>") == len(HOSTILE_URLS)
