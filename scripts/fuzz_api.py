"""Fuzz the REST API of a real running server (run by ``scripts/fuzz_api.sh``).

Prepares a fresh example site with a small demo in a temporary folder, serves
it with ``python -m example_site serve`` on a free port of 127.0.0.1, gives
the demo admin an API token of its own (``fuzz_api``) and runs schemathesis
against it: every phase (examples, coverage, fuzzing, stateful), positive and
negative data, every check (:mod:`tests.api.fuzzing`). Before each request
the token is checked through the services, in this process, on the same
database: when a generated request revoked it or demoted or deactivated the
admin, the admin is repaired and a new token made, and the run counts it
(``token_renewals``), so the fuzzer never goes on with 401s unnoticed.

Prints every failure, then one line::

    RESULT cases=N server_errors=0 violations=0 token_renewals=N seconds=N

and exits 1 when there is a server error or a violation.
"""

from __future__ import annotations

import argparse
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import typing as t
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

#: The demo's size: enough rows for every list to page, quick to generate.
DEMO_SIZES = {"groups": 3, "agents": 8, "customers": 30, "tickets": 120}
TOKEN_NAME = "fuzz_api"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="scripts/fuzz_api.sh", description=__doc__.split(
        "\n\n")[0])
    parser.add_argument("examples", nargs="?", type=int,
                        default=int(os.environ.get("FUZZ_EXAMPLES", "100")),
                        help="examples per operation and phase (default 100, or $FUZZ_EXAMPLES)")
    parser.add_argument("--seed", type=int, default=int(os.environ.get("FUZZ_SEED", "1")),
                        help="random seed (default 1, or $FUZZ_SEED): the same seed, the same run")
    parser.add_argument("--keep", action="store_true",
                        help="keep the temporary site folder (database, server log)")
    args = parser.parse_args(argv)

    folder = Path(tempfile.mkdtemp(prefix="helpdesk-fuzz-"))
    os.environ["EXAMPLE_SITE_INSTANCE"] = str(folder)
    log = folder / "server.log"
    print(f"Preparing a demo site in {folder} ...", flush=True)
    app = _prepare(folder)
    port = _free_port()
    with open(log, "wb") as out:
        server = subprocess.Popen(
            [sys.executable, "-m", "example_site", "serve", "--port", str(port)],
            cwd=ROOT, stdout=out, stderr=subprocess.STDOUT,
            env={**os.environ, "EXAMPLE_SITE_INSTANCE": str(folder)})
    try:
        url = f"http://127.0.0.1:{port}/helpdesk/api/v1/openapi.json"
        _wait_for(url, server)
        print(f"Fuzzing {url} with {args.examples} examples per operation, seed {args.seed}"
              f" (server log: {log})", flush=True)
        outcome = _fuzz(app, url, examples=args.examples, seed=args.seed)
    finally:
        server.terminate()
        server.wait(timeout=30)
    for line in outcome.server_errors + outcome.violations:
        print(line, end="\n\n")
    print(f"Cases per phase: {outcome.phases}")
    print(outcome.result_line(), flush=True)
    if args.keep:
        print(f"Kept {folder}")
    else:
        shutil.rmtree(folder, ignore_errors=True)
    return 1 if outcome.server_errors or outcome.violations else 0


def _prepare(folder: Path) -> t.Any:
    from example_site import create_app
    from example_site.commands import prepare

    app = create_app(instance_path=str(folder))
    prepare(app, demo_sizes=DEMO_SIZES)
    return app


class Credentials:
    """The demo admin's own token, repaired through the services when broken."""

    def __init__(self, app: t.Any) -> None:
        self.app = app
        self.token = ""
        self.renewals = 0

    def secret(self) -> str:
        from flask_helpdesk.extension import get_state
        from flask_helpdesk.services import SYSTEM
        from flask_helpdesk.services import agents

        with self.app.app_context():
            get_state().db.session.remove()  # see what the server committed
            admin = agents.get_by_user_id("admin")
            assert admin is not None, "the demo has no admin"
            broken = admin.role != "admin" or not admin.active
            if broken:
                agents.update_agent(admin.id, actor=SYSTEM, active=True, role="admin")
            if not self.token or agents.authenticate_token(self.token) is None:
                if self.token:
                    print("The fuzzer's token stopped working: a new one is made.", flush=True)
                    broken = True
                _row, self.token = agents.create_token(actor=SYSTEM, agent_id=admin.id,
                                                       name=TOKEN_NAME)
            self.renewals += broken
            return self.token


def _fuzz(app: t.Any, url: str, *, examples: int, seed: int) -> t.Any:
    import schemathesis

    from tests.api import fuzzing

    config = fuzzing.configure(max_examples=examples, seed=seed)
    schema = schemathesis.openapi.from_url(url, config=config)
    return fuzzing.run(schema, Credentials(app))


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _wait_for(url: str, server: subprocess.Popen[bytes], timeout: float = 300) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if server.poll() is not None:
            raise SystemExit(f"The server stopped (exit {server.returncode}); see its log.")
        try:
            with urllib.request.urlopen(url, timeout=5):
                return
        except OSError:
            time.sleep(0.5)
    raise SystemExit(f"The server did not answer {url} within {timeout:.0f} s.")


if __name__ == "__main__":
    sys.exit(main())
