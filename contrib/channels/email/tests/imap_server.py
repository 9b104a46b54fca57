"""A private Dovecot IMAP server for the tests, with its config under a temporary folder.

``scripts/dovecot.sh`` installs Debian's dovecot-imapd when it is missing. The
server listens on loopback only: plain IMAP with STARTTLS on :attr:`Dovecot.port`,
implicit TLS on :attr:`Dovecot.tls_port`, with a certificate for ``127.0.0.1``
signed by a CA made for the run (:attr:`Dovecot.certs`).
"""

from __future__ import annotations

import http.server
import json
import os
import pwd
import shutil
import socket
import subprocess
import threading
import time
import urllib.parse
from pathlib import Path

from tls_certs import make_certs

ROOT = Path(__file__).resolve().parents[4]
USER, PASSWORD = "help@example.test", "secret"

_CONF = """\
base_dir = {run}/base
state_dir = {run}/state
log_path = {run}/dovecot.log
protocols = imap
listen = 127.0.0.1
ssl = yes
ssl_cert = <{certs.cert}
ssl_key = <{certs.key}
ssl_dh = </usr/share/dovecot/dh.pem
disable_plaintext_auth = no
auth_mechanisms = plain login xoauth2 oauthbearer
default_login_user = dovenull
default_internal_user = dovecot
mail_uid = dovecot
mail_gid = dovecot
first_valid_uid = 1
first_valid_gid = 1
mail_location = maildir:{run}/mail/%u
passdb {{
  driver = oauth2
  mechanisms = xoauth2 oauthbearer
  args = {run}/oauth2.conf.ext
}}
passdb {{
  driver = passwd-file
  mechanisms = plain login
  args = scheme=PLAIN {run}/passwd
}}
userdb {{
  driver = static
  args = uid=dovecot gid=dovecot home={run}/mail/%u allow_all_users=yes
}}
service imap-login {{
  inet_listener imap {{
    address = 127.0.0.1
    port = {port}
  }}
  inet_listener imaps {{
    address = 127.0.0.1
    port = {tls_port}
    ssl = yes
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


# Dovecot asks our token server (RFC 7662 introspection) whether a bearer token is good.
_OAUTH2 = """\
introspection_mode = post
introspection_url = http://127.0.0.1:{port}/introspect
force_introspection = yes
username_attribute = username
active_attribute = active
active_value = true
"""


class TokenServer:
    """A tiny OAuth2 introspection endpoint: ``tokens`` maps a valid token to its user."""

    def __init__(self) -> None:
        self.tokens: dict[str, str] = {}
        #: Every token Dovecot asked about, in order.
        self.asked: list[str] = []
        server = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802 - the stdlib's name
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                token = urllib.parse.parse_qs(body.decode()).get("token", [""])[0]
                server.asked.append(token)
                user = server.tokens.get(token)
                answer = {"active": "true", "username": user} if user else {"active": "false"}
                data = json.dumps(answer).encode()
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def log_message(self, *args: object) -> None:
                pass

        self.httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.port = int(self.httpd.server_address[1])
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()

    def stop(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class Dovecot:
    """One running server: ``port`` (plain, STARTTLS), ``tls_port``, ``user``, ``password``,
    ``certs``; ``stop()`` ends it."""

    def __init__(self, run: Path) -> None:
        self.run, self.port = run, _free_port()
        self.tls_port = next(p for p in iter(_free_port, 0) if p != self.port)
        self.certs = make_certs(run / "tls")
        self.user, self.password = USER, PASSWORD
        self.conf = run / "dovecot.conf"
        self.oauth = TokenServer()

    def start(self) -> None:
        subprocess.run(["sh", str(ROOT / "scripts" / "dovecot.sh")], check=True)
        dovecot = pwd.getpwnam("dovecot")
        for sub in ("base", "state", "mail"):
            (self.run / sub).mkdir(parents=True, exist_ok=True)
        os.chown(self.run / "mail", dovecot.pw_uid, dovecot.pw_gid)
        os.chmod(self.run, 0o755)
        (self.run / "passwd").write_text(f"{USER}:{{PLAIN}}{PASSWORD}:::::\n")
        self.conf.write_text(_CONF.format(run=self.run, port=self.port, tls_port=self.tls_port,
                                          certs=self.certs))
        (self.run / "oauth2.conf.ext").write_text(_OAUTH2.format(port=self.oauth.port))
        self.proc = subprocess.Popen([shutil.which("dovecot") or "dovecot", "-F", "-c",
                                      str(self.conf)])
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            try:
                for port in (self.port, self.tls_port):
                    socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
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
        self.oauth.stop()
        subprocess.run(["doveadm", "-c", str(self.conf), "stop"], check=False)
        try:
            self.proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()

    def settings(self) -> dict[str, object]:
        return {"imap_host": "127.0.0.1", "imap_port": self.port, "imap_security": "plain",
                "imap_username": self.user}

    def tls_settings(self, security: str = "tls") -> dict[str, object]:
        """Settings of a ``tls`` or ``starttls`` account that trusts the run's CA."""
        port = self.tls_port if security == "tls" else self.port
        return {**self.settings(), "imap_port": port, "imap_security": security,
                "imap_ca_file": str(self.certs.ca)}
