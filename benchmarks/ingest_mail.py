"""Workload A of shared/bench/README.md: e-mail ingestion through ``flask helpdesk email import``.

Run by hand::

    .venv/bin/python benchmarks/ingest_mail.py [--n 1000 5000] [--runs 3]
        [--db sqlite|postgresql] [--mode import|imap] [--startup-runs 3]

Each run: a fresh database (SQLite file, or a new PostgreSQL database on
127.0.0.1:5432 with ``--db postgresql``); ``phase1/`` ingested by one process
(timed); the phase-1 Message-IDs mapped to their tickets; ``gen_mail.py tag``
fills the ticket token into ``phase2/`` (not timed); ``phase2`` ingested by
one process (timed). ``--mode import`` ingests with ``flask helpdesk email
import``; ``--mode imap`` appends each phase to a private Dovecot's INBOX
(not timed; the tests' ``imap_server.py``, root needed) and ingests it with
``flask helpdesk email poll`` (the IMAP path: fetch, parse, ingest,
acknowledge). The project's bytecode is compiled first (not timed), as an
installed package has it. Prints emails/s (N / (t1 + t2), start-up included), peak RSS of
the ingesting processes, and checks every reply kind against its root's
ticket and the non-ASCII bodies. First, ``--startup-runs`` processes ingest
a single mail each (fresh database): the start-up and exit of one process on
its own. CPU seconds (user + system, the parse pool included) are printed
beside the times, as the wall time on a shared machine depends on its
load. Two reference figures of the machine's speed at the time come first
(``ref_import_s``: a process importing SQLAlchemy's ORM; ``ref_loop_s``: 10
million additions, also measured before each run and printed with it), as a
shared virtual machine's speed drifts by up to a factor of two within an
hour. The last line is ``RESULT key=value ...``.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
import typing as t
import uuid
from pathlib import Path

from sqlalchemy import create_engine
from sqlalchemy import text

ROOT = Path(__file__).resolve().parents[1]
#: shared/bench beside the repository (or beside the worktrees' folder), or HELPDESK_BENCH_GEN.
GEN = Path(os.environ.get("HELPDESK_BENCH_GEN") or next(
    (p for p in (ROOT.parent / "shared/bench/gen_mail.py",
                 ROOT.parents[1] / "shared/bench/gen_mail.py") if p.exists()),
    ROOT.parent / "shared/bench/gen_mail.py"))

APP = '''
import os
from flask_helpdesk.testing import create_tables, make_app
from flask_helpdesk_email import plugin

app = make_app(database_uri=os.environ["BENCH_DB"], plugins=[plugin],
               config={"HELPDESK_ATTACHMENT_DIR": os.environ["BENCH_FILES"],
                       "HELPDESK_EMAIL_POLL_INTERVAL": 0})
if os.environ.get("BENCH_CREATE"):
    with app.app_context():
        create_tables(app)
        if os.environ.get("BENCH_IMAP_PORT"):
            from flask_helpdesk.services import SYSTEM, channels
            channels.create_account(
                actor=SYSTEM, channel="email", name="support",
                settings={"imap_host": "127.0.0.1", "imap_port": int(os.environ["BENCH_IMAP_PORT"]),
                          "imap_security": "plain", "imap_username": os.environ["BENCH_IMAP_USER"]},
                secrets={"imap_password": os.environ["BENCH_IMAP_PASSWORD"]})
'''
PG = "postgresql+psycopg://postgres@127.0.0.1:5432/"


class Ingest:
    """How a phase gets in: ``flask helpdesk email import`` or IMAP (Dovecot + poll)."""

    def __init__(self, mode: str) -> None:
        self.mode, self.dovecot = mode, None
        #: CPU seconds (user + system) of the ingesting processes so far.
        self.cpu = 0.0
        #: The largest peak RSS of one ingesting process so far, in KiB.
        self.peak_rss_kib = 0
        if mode == "imap":
            sys.path.insert(0, str(ROOT / "contrib/channels/email/tests"))
            from imap_server import Dovecot  # type: ignore[import-not-found]

            self.dovecot = Dovecot(Path(tempfile.mkdtemp(prefix="helpdesk-bench-dovecot-")))
            self.dovecot.start()

    def env(self) -> dict[str, str]:
        if self.dovecot is None:
            return {}
        return {"BENCH_IMAP_PORT": str(self.dovecot.port), "BENCH_IMAP_USER": self.dovecot.user,
                "BENCH_IMAP_PASSWORD": self.dovecot.password}

    def reset(self) -> None:
        if self.dovecot is not None:
            self.dovecot.reset()

    def run(self, env: dict[str, str], path: Path) -> float:
        command = ["import", str(path)]
        if self.dovecot is not None:
            from imap_tools import MailBoxUnencrypted

            with MailBoxUnencrypted("127.0.0.1", self.dovecot.port).login(
                    self.dovecot.user, self.dovecot.password) as mb:
                for file in sorted(path.iterdir()):
                    mb.append(file.read_bytes(), "INBOX")
            command = ["poll"]
        wall, usage = run_child([sys.executable, "-m", "flask", "--app", "bench_app", "helpdesk",
                                 "email", *command], env)
        self.cpu += usage.ru_utime + usage.ru_stime
        self.peak_rss_kib = max(self.peak_rss_kib, usage.ru_maxrss)
        return wall

    def close(self) -> None:
        if self.dovecot is not None:
            self.dovecot.stop()


def run_child(argv: list[str], env: dict[str, str], stderr: t.IO[bytes] | None = None
              ) -> tuple[float, resource.struct_rusage]:
    """Run one process to its end (output dropped, a failure raised): wall seconds, resource use.

    The resource use is that process's own with its children's (the parse
    pool), from ``os.wait4``: ``RUSAGE_CHILDREN`` would add every other
    process this one has waited for.
    """
    start = time.perf_counter()
    proc = subprocess.Popen(argv, env=env, stdout=subprocess.DEVNULL, stderr=stderr)
    _, status, usage = os.wait4(proc.pid, 0)
    wall = time.perf_counter() - start
    proc.returncode = os.waitstatus_to_exitcode(status)
    if proc.returncode:
        raise subprocess.CalledProcessError(proc.returncode, argv)
    return wall, usage


def new_database(kind: str, work: Path) -> tuple[str, t.Callable[[], None]]:
    """A fresh database URI and the function that drops it."""
    if kind == "sqlite":
        return f"sqlite:///{work / 'helpdesk.db'}", lambda: None
    name = f"bench_{uuid.uuid4().hex[:10]}"
    admin = create_engine(PG + "postgres", isolation_level="AUTOCOMMIT")
    with admin.connect() as con:
        con.execute(text(f"CREATE DATABASE {name}"))

    def drop() -> None:
        with admin.connect() as con:
            con.execute(text(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)"))
        admin.dispose()

    return PG + name, drop


def one_run(n: int, data: Path, work: Path, db_kind: str, ingest: Ingest
            ) -> dict[str, float | int]:
    uri, drop = new_database(db_kind, work)
    try:
        return _measure(n, data, work, uri, db_kind, ingest)
    finally:
        drop()


def _measure(n: int, data: Path, work: Path, uri: str, db_kind: str, ingest: Ingest
             ) -> dict[str, float | int]:
    env = {**os.environ, "BENCH_DB": uri, "BENCH_FILES": str(work / "files"),
           "PYTHONPATH": str(work), **ingest.env()}
    (work / "bench_app.py").write_text(APP)
    ingest.reset()
    subprocess.run([sys.executable, "-c", "import bench_app"],
                   env={**env, "BENCH_CREATE": "1"}, check=True)
    cpu = ingest.cpu
    t1 = ingest.run(env, data / "phase1")
    manifest = [json.loads(line) for line in (data / "manifest.jsonl").open()]
    engine = create_engine(uri)
    con = engine.connect()
    query = "select external_id, ticket_id from helpdesk_messages where kind = 'inbound'"
    by_id = {row[0]: row[1] for row in con.execute(text(query))}
    stems = {Path(m["file"]).stem: by_id.get(m["message_id"].strip("<>"))
             for m in manifest if m["phase"] == 1}
    (work / "map.json").write_text(json.dumps(stems))
    inbox = work / "inbox"
    subprocess.run([sys.executable, str(GEN), "tag", "--src", str(data / "phase2"), "--dst",
                    str(inbox), "--map", str(work / "map.json"), "--fmt", "[#{id}]"],
                   check=True, stdout=subprocess.DEVNULL)
    t2 = ingest.run(env, inbox)
    cpu = ingest.cpu - cpu
    con.rollback()
    by_id = {row[0]: row[1] for row in con.execute(text(query))}
    ok: dict[str, int] = {}
    total: dict[str, int] = {}
    for m in manifest:
        if m["phase"] != 2:
            continue
        kind = m["kind"]
        total[kind] = total.get(kind, 0) + 1
        ok[kind] = ok.get(kind, 0) + (by_id.get(m["message_id"].strip("<>")) == stems[m["root"]])
    missing = sum(1 for m in manifest if m["message_id"].strip("<>") not in by_id)
    match = "text glob '*[а-я]*'" if db_kind == "sqlite" else "text ~ '[а-я]'"
    cyrillic = con.execute(text(f"select count(*) from helpdesk_messages where {match}")
                           ).scalar_one()
    mojibake = con.execute(text("select count(*) from helpdesk_messages where text like '%Ð%'"
                                " or text like '%Ã%' or text like '%�%'")).scalar_one()
    tickets = con.execute(text("select count(*) from helpdesk_tickets")).scalar_one()
    con.close()
    engine.dispose()
    result: dict[str, float | int] = {"t1": t1, "t2": t2, "rate": n / (t1 + t2), "cpu": cpu,
                                      "tickets": tickets, "missing": missing,
                                      "cyrillic": cyrillic, "mojibake": mojibake}
    for kind in total:
        result[f"{kind}_ok"] = ok[kind]
        result[f"{kind}_total"] = total[kind]
    return result


def compile_sources() -> None:
    """Write the bytecode of the project's modules, as installing a wheel does.

    An editable checkout run with ``PYTHONDONTWRITEBYTECODE`` (as on the shared
    machine) would otherwise compile every module again in each timed process.
    """
    import compileall

    for path in ("flask_helpdesk", "contrib/channels/email/flask_helpdesk_email",
                 "example_site"):
        compileall.compile_dir(str(ROOT / path), quiet=1)


def main() -> None:
    compile_sources()
    parser = argparse.ArgumentParser()
    parser.add_argument("--n", type=int, nargs="+", default=[1000, 5000])
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--db", choices=("sqlite", "postgresql"), default="sqlite")
    parser.add_argument("--mode", choices=("import", "imap"), default="import")
    parser.add_argument("--startup-runs", type=int, default=3,
                        help="1-mail ingesting processes timed on their own (0: none)")
    args = parser.parse_args()
    summary = [f"mode={args.mode} db={args.db}", _machine()]
    ingest = Ingest(args.mode)
    try:
        if args.startup_runs > 0:
            summary.append(_startup(args.startup_runs, args.db, ingest))
        for n in args.n:
            summary.append(_workload(n, args.runs, args.db, ingest))
    finally:
        ingest.close()
    print("RESULT " + " ".join(summary))


def _machine() -> str:
    """How fast this machine is right now, as two figures that owe nothing to the helpdesk.

    On a shared virtual machine the same code runs up to twice as slow from
    one hour to the next; these make figures of different runs comparable:
    the median of 3 processes importing SQLAlchemy's ORM (start-up bound),
    and a loop of 10 million additions in this process (CPU bound).
    """
    imports = []
    for _ in range(3):
        start = time.perf_counter()
        subprocess.run([sys.executable, "-c", "import sqlalchemy.orm"], check=True)
        imports.append(time.perf_counter() - start)
    loop = _loop()
    print(f"machine: import sqlalchemy.orm {statistics.median(imports):.3f} s,"
          f" 10^7 additions {loop:.3f} s", flush=True)
    return f"ref_import_s={statistics.median(imports):.3f} ref_loop_s={loop:.3f}"


def _loop() -> float:
    """Seconds this process takes for 10 million additions (the CPU's speed right now)."""
    start, total = time.perf_counter(), 0
    for i in range(10_000_000):
        total += i
    return time.perf_counter() - start


def _startup(runs_wanted: int, db_kind: str, ingest: Ingest) -> str:
    """One ingesting process on a single mail, fresh database each run: its start-up and exit."""
    with tempfile.TemporaryDirectory() as tmp:
        data = Path(tmp) / "mail"
        subprocess.run([sys.executable, str(GEN), "generate", "--n", "10", "--seed", "42",
                        "--out", str(data)], check=True, stdout=subprocess.DEVNULL)
        one = Path(tmp) / "one"
        one.mkdir()
        first = sorted((data / "phase1").iterdir())[0]
        (one / first.name).write_bytes(first.read_bytes())
        walls, cpus = [], []
        for i in range(runs_wanted):
            work = Path(tmp) / f"run{i}"
            work.mkdir()
            uri, drop = new_database(db_kind, work)
            try:
                env = {**os.environ, "BENCH_DB": uri, "BENCH_FILES": str(work / "files"),
                       "PYTHONPATH": str(work), **ingest.env()}
                (work / "bench_app.py").write_text(APP)
                ingest.reset()
                subprocess.run([sys.executable, "-c", "import bench_app"],
                               env={**env, "BENCH_CREATE": "1"}, check=True)
                cpu = ingest.cpu
                walls.append(ingest.run(env, one))
                cpus.append(ingest.cpu - cpu)
            finally:
                drop()
    wall, cpu = statistics.median(walls), statistics.median(cpus)
    print(f"start-up: a 1-mail process takes {wall:.3f} s (median of {len(walls)}),"
          f" {cpu:.3f} s CPU", flush=True)
    return f"startup_s={wall:.3f} startup_cpu_s={cpu:.3f}"


def _workload(n: int, runs_wanted: int, db_kind: str, ingest: Ingest) -> str:
    with tempfile.TemporaryDirectory() as tmp:
        data = Path(tmp) / "mail"
        subprocess.run([sys.executable, str(GEN), "generate", "--n", str(n), "--seed", "42",
                        "--out", str(data)], check=True, stdout=subprocess.DEVNULL)
        runs = []
        for i in range(runs_wanted):
            work = Path(tmp) / f"run{i}"
            work.mkdir()
            loop = _loop()
            runs.append({**one_run(n, data, work, db_kind, ingest), "ref_loop_s": loop})
            print(f"N={n} run {i + 1}: {runs[-1]}", flush=True)
    rss = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
    rate = statistics.median(r["rate"] for r in runs)
    cpu = statistics.median(r["cpu"] for r in runs)
    loop = statistics.median(r["ref_loop_s"] for r in runs)
    last = runs[-1]
    kinds = " ".join(f"{k[:-3]}={last[k]}/{last[k[:-3] + '_total']}"
                     for k in sorted(last) if k.endswith("_ok"))
    print(f"N={n}: {rate:.1f} emails/s (median of {len(runs)}), {cpu:.2f} s CPU,"
          f" peak RSS {rss:.0f} MiB, 10^7 additions before each run {loop:.3f} s (median),"
          f" replies on their ticket: {kinds}", flush=True)
    return (f"n{n}_emails_per_s={rate:.1f} n{n}_cpu_s={cpu:.2f} n{n}_peak_rss_mib={rss:.0f}"
            f" n{n}_ref_loop_s={loop:.3f}"
            f" n{n}_missing={last['missing']} n{n}_mojibake={last['mojibake']} "
            + " ".join(f"n{n}_{p}" for p in kinds.split()))


if __name__ == "__main__":
    main()
