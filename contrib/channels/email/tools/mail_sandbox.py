"""A mail sandbox on this machine: the bundled Dovecot plus an SMTP server in front of it.

Run it (as root, since Dovecot switches users; ``scripts/dovecot.sh``
installs Debian's Dovecot when it is missing)::

    .venv/bin/python contrib/channels/email/tools/mail_sandbox.py [--imap-port 1143]
        [--smtp-port 2525] [--out mail-sandbox-out]

It prints the IMAP and SMTP settings of the mailbox ``help@example.test``
(password ``secret``) and serves until Ctrl-C. Mail sent through its SMTP
server to ``help@example.test`` lands in that mailbox's INBOX; mail to any
other address (the helpdesk's replies to customers) is written to
``OUT/<address>/<n>.eml`` and announced on the terminal. Used by the
walk-through in ``docs/contrib/email.rst``.
"""

from __future__ import annotations

import argparse
import email
import email.policy
import json
import shutil
import signal
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))

from imap_server import Dovecot  # noqa: E402
from smtp_server import MailRelay  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--imap-port", type=int, default=1143)
    parser.add_argument("--smtp-port", type=int, default=2525)
    parser.add_argument("--out", default="mail-sandbox-out",
                        help="Folder for mail to other addresses (default: %(default)s).")
    args = parser.parse_args()
    out = Path(args.out).resolve()
    run = Path(tempfile.mkdtemp(prefix="helpdesk-mail-sandbox-"))
    dovecot = Dovecot(run)
    dovecot.port = args.imap_port
    dovecot.start()
    relay = MailRelay(dovecot, port=args.smtp_port)

    def keep(rcpt: str, raw: bytes) -> None:
        folder = out / rcpt
        folder.mkdir(parents=True, exist_ok=True)
        path = folder / f"{len(list(folder.iterdir())) + 1}.eml"
        path.write_bytes(raw)
        msg = email.message_from_bytes(raw, policy=email.policy.default)
        print(f"delivered to {rcpt}: {msg['Subject']!s} -> {path}", flush=True)

    relay.on_outside = keep
    signal.signal(signal.SIGTERM, _interrupt)  # stop Dovecot on kill as on Ctrl-C
    relay.start()
    print(json.dumps({**dovecot.settings(), "imap_password": dovecot.password,
                      **relay.settings()}, indent=2), flush=True)
    print(f"IMAP 127.0.0.1:{dovecot.port}  SMTP 127.0.0.1:{relay.port}  (Ctrl-C stops)",
          flush=True)
    try:
        while True:
            time.sleep(1)
    except KeyboardInterrupt:
        pass
    finally:
        relay.stop()
        dovecot.stop()
        shutil.rmtree(run, ignore_errors=True)


def _interrupt(*_args: object) -> None:
    raise KeyboardInterrupt


if __name__ == "__main__":
    main()
