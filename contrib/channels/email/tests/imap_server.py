"""A private Dovecot IMAP server for the tests, with its config under a temporary folder.

``scripts/dovecot.sh`` installs Debian's dovecot-imapd when it is missing.
"""

from __future__ import annotations

import os
import pwd
import shutil
import socket
import subprocess
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[4]
USER, PASSWORD = "help@example.test", "secret"

_CONF = """\
base_dir = {run}/base
state_dir = {run}/state
log_path = {run}/dovecot.log
protocols = imap
listen = 127.0.0.1
ssl = no
disable_plaintext_auth = no
auth_mechanisms = plain login
default_login_user = dovenull
default_internal_user = dovecot
mail_uid = dovecot
mail_gid = dovecot
first_valid_uid = 1
first_valid_gid = 1
mail_location = maildir:{run}/mail/%u
passdb {{
  driver = passwd-file
  args = scheme=PLAIN {run}/passwd
}}
userdb {{
  driver = static
  args = uid=dovecot gid=dovecot home={run}/mail/%u
}}
service imap-login {{
  inet_listener imap {{
    address = 127.0.0.1
    port = {port}
  }}
  inet_listener imaps {{
    port = 0
  }}
}}
service stats {{
  unix_listener stats-reader {{
    mode = 0666
  }}
  unix_listener stats-writer {{
    mode = 0666
  }}
}}
"""


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class Dovecot:
    """One running server: ``port``, ``user``, ``password``; ``stop()`` ends it."""

    def __init__(self, run: Path) -> None:
        self.run, self.port = run, _free_port()
        self.user, self.password = USER, PASSWORD
        self.conf = run / "dovecot.conf"

    def start(self) -> None:
        subprocess.run(["sh", str(ROOT / "scripts" / "dovecot.sh")], check=True)
        dovecot = pwd.getpwnam("dovecot")
        for sub in ("base", "state", "mail"):
            (self.run / sub).mkdir(parents=True, exist_ok=True)
        os.chown(self.run / "mail", dovecot.pw_uid, dovecot.pw_gid)
        os.chmod(self.run, 0o755)
        (self.run / "passwd").write_text(f"{USER}:{{PLAIN}}{PASSWORD}:::::\n")
        self.conf.write_text(_CONF.format(run=self.run, port=self.port))
        self.proc = subprocess.Popen([shutil.which("dovecot") or "dovecot", "-F", "-c",
                                      str(self.conf)])
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            try:
                socket.create_connection(("127.0.0.1", self.port), timeout=0.2).close()
                return
            except OSError:
                time.sleep(0.05)
        raise RuntimeError(f"dovecot did not listen; see {self.run / 'dovecot.log'}")

    def doveadm(self, *args: str) -> None:
        subprocess.run(["doveadm", "-c", str(self.conf), *args], check=True)

    def reset(self) -> None:
        """Empty every folder and forget the folders' UIDs (a new UIDVALIDITY)."""
        shutil.rmtree(self.run / "mail" / USER, ignore_errors=True)

    def stop(self) -> None:
        subprocess.run(["doveadm", "-c", str(self.conf), "stop"], check=False)
        try:
            self.proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()

    def settings(self) -> dict[str, object]:
        return {"imap_host": "127.0.0.1", "imap_port": self.port, "imap_security": "plain",
                "imap_username": self.user}
