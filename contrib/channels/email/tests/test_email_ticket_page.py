"""What agents see of a parsed email: inline images in the HTML, the quoted text on demand."""

from __future__ import annotations

import base64
import re
import typing as t

from flask import Flask
from flask_helpdesk_email.parse import parse_message

from flask_helpdesk.services import SYSTEM
from flask_helpdesk.services import agents
from flask_helpdesk.services import messages
from flask_helpdesk.services.inbound import ingest
from flask_helpdesk.testing import User

#: The smallest valid PNG (1x1 pixel).
PNG = bytes.fromhex(
    "89504e470d0a1a0a0000000d4948445200000001000000010806000000"
    "1f15c4890000000d49444154789c6360000002000154a24f5d0000000049454e44ae426082")


def _b64(data: bytes) -> str:
    return base64.encodebytes(data).decode().replace("\n", "\r\n")


#: Outlook's shape: multipart/related with the HTML and the image it shows,
#: a PDF the HTML also names through cid: (not an image: stays a file),
#: and an ordinary attachment.
RELATED = (
    "From: Carla <carla@example.org>\r\nTo: support@example.com\r\n"
    "Subject: Printer error\r\nMessage-ID: <related-1@example.org>\r\nMIME-Version: 1.0\r\n"
    'Content-Type: multipart/mixed; boundary="mixed"\r\n\r\n'
    '--mixed\r\nContent-Type: multipart/related; boundary="rel"; type="text/html"\r\n\r\n'
    '--rel\r\nContent-Type: text/html; charset="utf-8"\r\n\r\n'
    '<p>The printer shows this:</p><img src="cid:image001.png@01DA1234.56789AB0" alt="error">'
    '<p><img src="cid:spec@x" alt="spec"></p>\r\n'
    "--rel\r\nContent-Type: image/png; name=image001.png\r\n"
    "Content-ID: <image001.png@01DA1234.56789AB0>\r\nContent-Disposition: inline\r\n"
    f"Content-Transfer-Encoding: base64\r\n\r\n{_b64(PNG)}"
    "--rel\r\nContent-Type: application/pdf; name=spec.pdf\r\nContent-ID: <spec@x>\r\n"
    f"Content-Transfer-Encoding: base64\r\n\r\n{_b64(b'%PDF-1.4 spec')}"
    "--rel--\r\n"
    "--mixed\r\nContent-Type: text/plain; name=log.txt\r\n"
    "Content-Disposition: attachment; filename=log.txt\r\n\r\nE42 paper jam\r\n"
    "--mixed--\r\n"
).encode()


def _ingest(raw: bytes) -> t.Any:
    result = ingest(parse_message(raw))
    [message] = [m for m in messages.list_messages(result.ticket_id, actor=SYSTEM)
                 if m.id == result.message_id]
    return result.ticket_id, message


def _agent(app: Flask) -> t.Any:
    agents.create_agent(actor=SYSTEM, name="Ada", user_id="ada", role="admin")
    return app.test_client(user=User("ada"))


def test_inline_images_show_in_the_html_and_are_served_as_images(mail_app: Flask) -> None:
    ticket_id, message = _ingest(RELATED)
    files = {a.filename: a for a in message.attachments}
    image, pdf, log = files["image001.png"], files["spec.pdf"], files["log.txt"]
    client = _agent(mail_app)
    page = client.get(f"/helpdesk/tickets/{ticket_id}").text
    body = page.split('class="hd-msg-body hd-html">')[1].split("</div>")[0]
    assert f'<img src="/helpdesk/attachments/{image.id}?inline=1" alt="error">' in body
    assert 'src="cid:spec@x"' in body  # not an image: never pointed at the file
    # The image is in the text, so it is not listed again; the other files are.
    listed = re.findall(r'href="/helpdesk/attachments/(\d+)" download>', page)
    assert sorted(map(int, listed)) == sorted([pdf.id, log.id])
    served = client.get(f"/helpdesk/attachments/{image.id}?inline=1")
    assert served.status_code == 200 and served.data == PNG
    assert served.mimetype == "image/png"
    assert served.headers["Content-Disposition"].startswith("inline")
    assert served.headers["X-Content-Type-Options"] == "nosniff"
    assert "sandbox" in served.headers["Content-Security-Policy"]


def test_an_image_type_over_other_bytes_is_only_downloaded(mail_app: Flask) -> None:
    # The sender calls an HTML page image/png and names it in the HTML: the
    # stored type follows the name, but the bytes decide how it is served.
    raw = RELATED.replace(_b64(PNG).encode(), _b64(b"<script>alert(1)</script>").encode())
    raw = raw.replace(b"related-1@", b"related-2@")
    ticket_id, message = _ingest(raw)
    [image] = [a for a in message.attachments if a.filename == "image001.png"]
    client = _agent(mail_app)
    served = client.get(f"/helpdesk/attachments/{image.id}?inline=1")
    assert served.headers["Content-Disposition"].startswith("attachment")
    assert served.mimetype != "text/html"
    assert served.headers["X-Content-Type-Options"] == "nosniff"


def test_cut_quotes_are_behind_a_toggle_and_in_the_api(mail_app: Flask) -> None:
    body = ("Thanks, it prints again!\r\n\r\n-- \r\nCarla\r\n\r\n"
            "On Mon, 1 Mar 2022, Support <support@example.com> wrote:\r\n> Try turning it off\r\n")
    raw = ("From: carla@example.org\r\nTo: support@example.com\r\nSubject: Re: Printer\r\n"
           "Message-ID: <quoted-1@example.org>\r\nContent-Type: text/plain\r\n\r\n" + body)
    ticket_id, message = _ingest(raw.encode())
    uncut_id, _ = _ingest(b"From: carla@example.org\r\nSubject: Other\r\n"
                          b"Message-ID: <plain-1@example.org>\r\n\r\nJust this.\r\n")
    client = _agent(mail_app)
    page = client.get(f"/helpdesk/tickets/{ticket_id}").text
    item = page.split(f'id="message-{message.id}"')[1].split("</li>")[0]
    shown, hidden = item.split('<details class="hd-quoted">')
    assert "Thanks, it prints again!" in shown and "Try turning it off" not in shown
    assert "<summary>Show quoted text</summary>" in hidden
    assert "&gt; Try turning it off" in hidden and "Carla" in hidden
    uncut = client.get(f"/helpdesk/tickets/{uncut_id}").text
    assert "Just this." in uncut and "hd-quoted" not in uncut
    _token, secret = agents.create_token(actor=SYSTEM, agent_id=agents.list_agents()[0].id,
                                         name="tests")
    api = mail_app.test_client()
    answer = api.get(f"/helpdesk/api/v1/tickets/{ticket_id}/messages",
                     headers={"Authorization": f"Bearer {secret}"}).json
    [item_json] = answer["items"]
    assert item_json["text"] == "Thanks, it prints again!"
    assert item_json["full_text"] == body.replace("\r\n", "\n").strip("\n")
