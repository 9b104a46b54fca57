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
        "-----Original Message-----",
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


def test_bottom_quotes_removed_interleaved_kept() -> None:
    body = "> Which browser?\nFirefox.\n\nOn Mon, Support wrote:\n> old\n> older\n"
    reply = split_reply(body)
    assert reply.text == "> Which browser?\nFirefox."
    assert reply.quoted.startswith("On Mon, Support wrote:")


@pytest.mark.parametrize(
    "signature",
    ["-- \nCarla\n+1 555", "Sent from my iPhone", "Enviado do meu iPhone", "Отправлено с iPhone",
     "__\nACME Inc."],
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
