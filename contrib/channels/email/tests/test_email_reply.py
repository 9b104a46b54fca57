"""split_reply: quote headers in several languages, Outlook blocks, signatures."""

from __future__ import annotations

import pytest
from flask_helpdesk_email import split_reply


@pytest.mark.parametrize(
    "header",
    [
        "On Mon, 1 Mar 2022 at 10:00, Support <s@example.test> wrote:",
        "On Mon, 1 Mar 2022 at 10:00, Support <s@example.test>\nwrote:",
        "1 марта 2022 г., в 10:00, Поддержка <s@example.test> написал(а):",
        "Пн, 1 мар. 2022 г. в 10:00, Поддержка <s@example.test>:",
        "Поддержка пишет:",
        "Em 1 de março de 2022 10:00, Suporte <s@example.test> escreveu:",
        "Le lun. 1 mars 2022 à 10:00, Support <s@example.test>\na écrit :",
        "Il giorno lun 1 mar 2022 alle 10:00 Support <s@example.test> ha scritto:",
        "pe 1. maaliskuuta 2022 klo 10.00 Support\n<s@example.test> kirjoitti:",
        "-----Original Message-----",
        "-------- Oprindelig besked --------\nFra: Support <s@example.test>\nTil: Carla",
        " ------------------------------\n\n*From:* Support [mailto:s@example.test]\n"
        "*Sent:* Monday, March 1, 2022 10:00\n*To:* Carla\n*Subject:* Re: help",
        "From: Support <s@example.test>\nSent: Monday, March 1, 2022 10:00\nTo: Carla\n"
        "Subject: Re: help",
        "От: Поддержка <s@example.test>\nОтправлено: 1 марта 2022 г.\nКому: Карла\nТема: help",
    ],
)
def test_history_is_cut(header: str) -> None:
    body = f"Thanks, it works now.\n\n{header}\n\nPlease try again.\nSupport team\n"
    reply = split_reply(body)
    assert reply.text == "Thanks, it works now."
    assert "Please try again." in reply.quoted


def test_text_line_above_a_header_is_kept() -> None:
    body = "Hello,\nthanks a lot\nOn Mon, 1 Mar 2022, Support <s@example.test> wrote:\n\nOld.\n"
    reply = split_reply(body)
    assert reply.text == "Hello,\nthanks a lot"
    assert reply.quoted.startswith("On Mon, 1 Mar 2022")


@pytest.mark.parametrize(
    "header",
    [
        "On Mon, 1 Mar 2022 at 10:00, Support\n<s@example.test>\nwrote:",
        "On Mon, 1 Mar 2022 at 10:00 Support <\ns@example.test> wrote:",
        '01.03.2022 10:00 пользователь "s@example.test" <\ns@example.test> написал:',
        "tir. 1. mar. 2022 kl. 10:00 skrev Support <s@example.test\n>:",
    ],
)
def test_header_split_over_lines_above_bottom_quotes(header: str) -> None:
    reply = split_reply(f"Hello\n\n{header}\n\n> Please try again.\n>\n")
    assert reply.text == "Hello"
    assert reply.quoted.startswith(header.split("\n")[0])


def test_bottom_quotes_removed_interleaved_kept() -> None:
    body = "> Which browser?\nFirefox.\n\nOn Mon, Support wrote:\n> old\n> older\n"
    reply = split_reply(body)
    assert reply.text == "> Which browser?\nFirefox."
    assert reply.quoted.startswith("On Mon, Support wrote:")


@pytest.mark.parametrize(
    "signature",
    ["-- \nCarla\n+1 555", "Sent from my iPhone", "Enviado do meu iPhone", "Отправлено с iPhone",
     "__\nACME Inc.", "Envoyé de mon iPhone", "Envoyé à partir de Outlook pour iOS",
     "Gesendet von Outlook für Android"],
)
def test_signatures(signature: str) -> None:
    reply = split_reply(f"It works.\n\n{signature}\n")
    assert reply.text == "It works."
    assert reply.signature == signature


def test_only_a_quote_is_kept_whole() -> None:
    body = "> quoted only\n> nothing new"
    assert split_reply(body).text == body


def test_on_in_a_sentence_is_not_a_header() -> None:
    body = "On Monday the export failed again.\nIt wrote: nothing useful.\n"
    assert split_reply(body).text == body.strip()
