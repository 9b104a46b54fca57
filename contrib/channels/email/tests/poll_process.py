"""Run one poll of every email account in a process of its own (for the crash test).

Usage: python poll_process.py DATABASE_URI ATTACHMENT_DIR LEASE_SECONDS
"""

from __future__ import annotations

import sys

from flask_helpdesk_email import plugin
from flask_helpdesk_email.client import FetchOptions
from flask_helpdesk_email.client import poll_all

from flask_helpdesk.testing import make_app

if __name__ == "__main__":
    app = make_app(database_uri=sys.argv[1], plugins=[plugin],
                   config={"HELPDESK_ATTACHMENT_DIR": sys.argv[2]})
    with app.app_context():
        poll_all(FetchOptions(lease=float(sys.argv[3])))
