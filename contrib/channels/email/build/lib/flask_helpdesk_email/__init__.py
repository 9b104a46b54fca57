"""Email channel for flask-helpdesk.

The plugin's hooks are in :mod:`flask_helpdesk_email.plugin` (entry point
``email``); fetching in :mod:`~flask_helpdesk_email.client`, sending in
:mod:`~flask_helpdesk_email.smtp`, archive import in
:mod:`~flask_helpdesk_email.archive`, loop protection in
:mod:`~flask_helpdesk_email.loops`; the pure parser is re-exported here.
"""

from __future__ import annotations

# -- parsing ---------------------------------------------------------------
from .html import html_to_text as html_to_text
from .html import rewrite_cid as rewrite_cid
from .html import sanitize_html as sanitize_html
from .parse import parse_message as parse_message
from .reply import Reply as Reply
from .reply import split_reply as split_reply

__all__ = [
    "Reply",
    "html_to_text",
    "parse_message",
    "rewrite_cid",
    "sanitize_html",
    "split_reply",
]
