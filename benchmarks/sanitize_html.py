"""Hostile and large HTML mail: seconds to parse and store one mail, each shape.

Run by hand::

    .venv/bin/python benchmarks/sanitize_html.py [--cases div-50k,newsletter] [--skip-over S]

Each case is a real mail (text/html, base64) built here, parsed and stored
through the email plugin as the fetcher and the archive import do
(``Intake.prepare`` then ``Intake.store``: parse, sanitize, ingest in one
transaction) into a fresh SQLite database. The seconds printed are the wall
time of that one mail, parse to commit. Shapes: ``<div>`` nesting at 50 KB,
200 KB, 1 MB and at the size limit (the core's ``HTML_MAX``, the most HTML
a message keeps; a longer body is cut there), twice the limit, unclosed
inline tags, deep tables, nested links, reopened formatting tags, one
element with 100,000 attributes, unclosed comments, and a normal large
newsletter (nested tables, inline styles, 600 KB). Before the fix, the 1 MB
nesting took minutes: ``--skip-over S`` stops a case at S seconds (in a
child process) so the old code can be measured too.

A reference of the machine's speed at the time comes first (``ref_loop_s``:
10 million additions), as a shared machine's speed drifts. The last line is
``RESULT worst_s=... worst_case=... ref_loop_s=...``.
"""

from __future__ import annotations

import argparse
import base64
import multiprocessing
import os
import tempfile
import time
import typing as t

SIZE_LIMIT = 1_000_000  # flask_helpdesk.services.messages.HTML_MAX (checked below)


def _fill(unit: str, size: int, tail: str = "") -> str:
    """``unit`` repeated to ``size`` characters, after a line of text and before ``tail``."""
    head = "<p>Hello, see below.</p>"
    return head + unit * ((size - len(head) - len(tail)) // len(unit)) + tail


def newsletter() -> str:
    """A large, ordinary newsletter: nested layout tables, inline styles, links, images."""
    item = (
        '<tr><td style="padding:12px 24px;border-bottom:1px solid #eee" class="item">'
        '<table role="presentation" width="100%" cellpadding="0" cellspacing="0"><tr>'
        '<td width="120" valign="top"><a href="https://shop.example.com/p/{i}?utm_source=news'
        '&amp;utm_medium=email"><img src="https://cdn.example.com/p/{i}.jpg" width="120"'
        ' alt="Product {i}" style="display:block;border:0"></a></td>'
        '<td style="padding-left:16px;font-family:Arial,sans-serif;font-size:14px;color:#333">'
        '<h3 style="margin:0 0 6px;font-size:16px">Product {i}: the autumn range</h3>'
        "<p style=\"margin:0 0 8px\">Hand-made in small batches, product {i} is back in stock"
        " with new colours &amp; sizes. Order before Friday for free delivery.</p>"
        '<a href="https://shop.example.com/p/{i}" style="color:#0a58ca">See it</a>'
        "</td></tr></table></td></tr>\n")
    head = ('<!DOCTYPE html><html><head><meta charset="utf-8"><title>News</title>'
            "<style>.item td{font-family:Arial}</style></head><body style=\"margin:0\">"
            '<table role="presentation" width="100%" bgcolor="#f4f4f4"><tr><td align="center">'
            '<table role="presentation" width="600" style="background:#fff">')
    body = "".join(item.replace("{i}", str(i)) for i in range(640))
    return head + body + "</table></td></tr></table></body></html>"


def cases() -> dict[str, str]:
    word = "<div>"
    return {
        "div-50k": _fill(word, 50_000, "Hello"),
        "div-200k": _fill(word, 200_000, "Hello"),
        "div-1m": _fill(word, 1_000_000, "Hello"),
        "div-at-limit": _fill(word, SIZE_LIMIT, "Hello"),
        "div-twice-limit": _fill(word, 2 * SIZE_LIMIT, "Hello"),
        "ul-li-1m": _fill("<ul><li>x", 1_000_000),
        "span-unclosed-1m": _fill("<span>", 1_000_000, "Hello"),
        "table-1m": _fill("<table><tr><td>", 1_000_000, "Hello"),
        "a-nested-1m": _fill('<a href="https://example.org/">x', 1_000_000),
        "b-reopened-500k": "".join(f"<div><b title={i}>w</div>" for i in range(20_000)),
        "stray-end-1m": "Hello" + "<span>" * 80_000 + "</i>" * 130_000,
        "attrs-100k": "<p " + " ".join(f"a{i}=1" for i in range(100_000)) + ">x</p>",
        "comments-1m": _fill("<!--", 1_000_000, "x"),
        "newsletter-600k": newsletter(),
    }


def mail(name: str, html: str) -> bytes:
    head = (f"From: Bench <bench@example.org>\r\nTo: support@example.com\r\nSubject: {name}\r\n"
            f"Message-ID: <{name}@bench.example.org>\r\nMIME-Version: 1.0\r\n"
            "Content-Type: text/html; charset=utf-8\r\nContent-Transfer-Encoding: base64\r\n\r\n")
    return head.encode() + base64.encodebytes(html.encode())


def _run(name: str, raw: bytes, db: str, files: str, queue: t.Any) -> None:
    from flask_helpdesk_email import plugin
    from flask_helpdesk_email.intake import Intake

    from flask_helpdesk.services import SYSTEM
    from flask_helpdesk.services import messages
    from flask_helpdesk.testing import create_tables
    from flask_helpdesk.testing import make_app

    assert messages.HTML_MAX == SIZE_LIMIT, "SIZE_LIMIT is the core's HTML_MAX"
    app = make_app(database_uri=f"sqlite:///{db}", plugins=[plugin],
                   config={"HELPDESK_ATTACHMENT_DIR": files})
    with app.app_context():
        create_tables(app)
        intake = Intake(None, {})
        start = time.perf_counter()
        [result] = intake.store([intake.prepare(raw)])
        seconds = time.perf_counter() - start
        if isinstance(result, Exception):
            queue.put((seconds, f"refused: {result}"))
            return
        [message] = [m for m in messages.list_messages(result.ticket_id, actor=SYSTEM)
                     if m.id == result.message_id]
        simplified = (message.meta or {}).get("html_simplified")
        note = f"stored html={len(message.html or '')} text={len(message.text)}"
        queue.put((seconds, note + (f" simplified={simplified}" if simplified else "")))


def measure(name: str, html: str, limit: float) -> tuple[float | None, str]:
    with tempfile.TemporaryDirectory() as tmp:
        queue: t.Any = multiprocessing.Queue()
        child = multiprocessing.Process(
            target=_run, args=(name, mail(name, html), os.path.join(tmp, "h.db"),
                               os.path.join(tmp, "files"), queue))
        child.start()
        child.join(limit)
        if child.is_alive():
            child.kill()
            child.join()
            return None, f"stopped after {limit:.0f} s"
        if queue.empty():
            return None, f"failed (exit code {child.exitcode})"
        seconds, note = queue.get()
        return float(seconds), str(note)


def ref_loop() -> float:
    start = time.perf_counter()
    total = 0
    for i in range(10_000_000):
        total += i
    return time.perf_counter() - start


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--cases", default="", help="comma-separated names (default: all)")
    parser.add_argument("--skip-over", type=float, default=120.0,
                        help="stop a case after this many seconds (default 120)")
    args = parser.parse_args(argv)
    ref = ref_loop()
    print(f"ref_loop_s={ref:.2f}", flush=True)
    chosen = cases()
    if args.cases:
        chosen = {k: v for k, v in chosen.items() if k in args.cases.split(",")}
    worst, worst_case = 0.0, ""
    for name, html in chosen.items():
        seconds, note = measure(name, html, args.skip_over)
        shown = f"{seconds:.2f}" if seconds is not None else f">{args.skip_over:.0f}"
        print(f"{name:18} {len(html):>9} chars  {shown:>7} s  {note}", flush=True)
        value = seconds if seconds is not None else args.skip_over
        if value >= worst:
            worst, worst_case = value, name
    prefix = ">" if worst >= args.skip_over else ""
    print(f"RESULT worst_s={prefix}{worst:.2f} worst_case={worst_case} ref_loop_s={ref:.2f}")


if __name__ == "__main__":
    main()
