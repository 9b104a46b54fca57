"""Workload A of shared/bench/README.md on the closest peer, django-helpdesk 2.6.1.

Run by hand, with the project's venv (this script imports
``benchmarks/ingest_mail.py``)::

    .venv/bin/python benchmarks/peer_ingest_mail.py [--n 1000 [5000]] [--runs 3]
        [--venv /tmp/helpdesk-peer-venv] [--with-ours]

The peer runs in a venv of its own outside the repository (``--venv``),
created or brought up to date with ``pip install`` of the pinned versions in
``PINS`` when missing or different (not timed). A minimal Django project in a
temporary folder (SQLite file database, ``DEBUG = False``, the locmem e-mail
backend: every answer is rendered and dropped, no network; the apps
django-helpdesk's installation guide lists but ``bootstrap4form``, which
2.6.1 neither requires nor loads; teams mode off, as pinax-teams is an
optional extra) is migrated once into a template database, with one queue
``support`` (``support@example.com``, a local mailbox directory, check
interval 0), not timed.

Each run, the same procedure as ``benchmarks/ingest_mail.py``: a fresh copy of
that database; ``phase1/`` copied into a fresh folder and ingested by one
``manage.py get_email`` process (timed, whole process); which ticket each
phase-1 Message-ID became, read from ``helpdesk_followup.message_id``;
``gen_mail.py tag --fmt "[support-{id}]"`` (the token django-helpdesk looks
for in subjects: ``.*\\[<queue slug>-(?P<id>\\d+)\\]``) writes ``phase2`` into
a fresh folder (not timed); one ``get_email`` process ingests it (timed).
django-helpdesk reads every regular file of the folder as text in the
locale's encoding and deletes each one it stored, so the files left show what
it did not ingest. Prints emails/s (N / (t1 + t2), start-up included), CPU
seconds and the peak RSS of one ingesting process (from ``os.wait4``), and the
checks: tickets, follow-ups and attachments created, files left unprocessed,
Message-IDs not stored, each reply kind on its root's ticket, Russian bodies
with real Cyrillic and bodies with mojibake (``Ð``, ``Ã``, U+FFFD), and the
automatic answers (``FollowUp.email_recipients``, what django-helpdesk
records as sent), in all and to the out-of-office mails.

``--with-ours`` runs our workload (``flask helpdesk email import``, SQLite)
run by run between the peer's (peer 1, ours 1, peer 2, ...) on the same
generated mail, and prints ``ratio_n<N>`` = our median emails/s / the peer's:
the machine's speed drifts by up to a factor of two within an hour, so a
ratio measured in one sitting is the fair figure. Our peak RSS here is that
of one ingesting process too (``ingest_mail.py`` alone prints the largest of
all its child processes). The machine's reference figures
(``ref_import_s``, ``ref_loop_s``) come first, as in ``ingest_mail.py``, and
10 million additions are timed before each run. The last line is
``RESULT key=value ...``.
"""

from __future__ import annotations

import argparse
import collections
import json
import os
import re
import shutil
import sqlite3
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

import ingest_mail  # noqa: E402

VERSION = "2.6.1"
#: django-helpdesk 2.6.1 and everything it requires, as pip resolved them for
#: Python 3.11 (its own requirements are unpinned, Django >= 5.2).
PINS = (
    f"django-helpdesk=={VERSION}",
    "Django==5.2.19",
    "asgiref==3.13.0",
    "sqlparse==0.6.1",
    "beautifulsoup4==4.15.0",
    "soupsieve==4.1.4",
    "typing_extensions==4.16.0",
    "django-cleanup==9.0.0",
    "django-model-utils==5.0.0",
    "djangorestframework==3.18.3",
    "email-reply-parser==0.5.12",
    "Markdown==3.11.3",
    "nh3==0.3.8",
    "oauthlib==4.0.1",
    "requests==2.34.2",
    "requests-oauthlib==2.0.0",
    "certifi==2026.10.19.post1",
    "charset-normalizer==3.5.3",
    "idna==3.20",
    "urllib3==2.8.0",
)
DEFAULT_VENV = Path("/tmp/helpdesk-peer-venv")

SETTINGS = '''
import os

SECRET_KEY = "peer-benchmark"
DEBUG = False
ALLOWED_HOSTS = ["localhost"]
INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "django.contrib.sites",
    "django.contrib.humanize",
    "rest_framework",
    "django_cleanup.apps.CleanupConfig",
    "helpdesk",
]
MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
]
ROOT_URLCONF = "peer_urls"
TEMPLATES = [{
    "BACKEND": "django.template.backends.django.DjangoTemplates",
    "DIRS": [],
    "APP_DIRS": True,
    "OPTIONS": {"context_processors": [
        "django.template.context_processors.request",
        "django.contrib.auth.context_processors.auth",
        "django.contrib.messages.context_processors.messages",
    ]},
}]
DATABASES = {"default": {"ENGINE": "django.db.backends.sqlite3",
                         "NAME": os.environ["PEER_DB"]}}
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"
USE_TZ = True
TIME_ZONE = "UTC"
STATIC_URL = "static/"
MEDIA_ROOT = os.environ["PEER_MEDIA"]
SITE_ID = 1
LOGIN_URL = "helpdesk:login"
EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
DEFAULT_FROM_EMAIL = SERVER_EMAIL = "support@example.com"
HELPDESK_TEAMS_MODE_ENABLED = False
'''
URLS = '''
from django.contrib import admin
from django.urls import include, path

urlpatterns = [path("admin/", admin.site.urls), path("", include("helpdesk.urls"))]
'''
MANAGE = '''
import os
import sys

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "peer_settings")
from django.core.management import execute_from_command_line

execute_from_command_line(sys.argv)
'''
QUEUE = '''
from helpdesk.models import Queue

Queue.objects.create(title="Support", slug="support", email_address="support@example.com",
                     allow_email_submission=True, email_box_type="local",
                     email_box_local_dir="", email_box_interval=0)
'''
CYRILLIC = re.compile("[а-яА-ЯёЁ]")
MOJIBAKE = re.compile("[ÐÃ\ufffd]")


def peer_python(venv: Path) -> Path:
    """The venv's interpreter, with ``PINS`` installed (pip runs only if one is missing)."""
    python = venv / "bin/python"
    pins = [pin.split("==") for pin in PINS]
    check = ("import importlib.metadata as m, sys\n"
             f"sys.exit(any(m.version(n) != v for n, v in {pins!r}))")
    if python.exists() and subprocess.run([python, "-c", check],
                                          stderr=subprocess.DEVNULL).returncode == 0:
        return python
    print(f"installing django-helpdesk {VERSION} into {venv}", flush=True)
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
    subprocess.run([python, "-m", "pip", "install", "-q", *PINS], check=True)
    subprocess.run([python, "-c", check], check=True)
    return python


class Peer:
    """The Django project, its migrated template database, and one run of workload A."""

    def __init__(self, python: Path, tmp: Path) -> None:
        self.python, self.project = python, tmp / "project"
        self.project.mkdir()
        for name, text in (("peer_settings.py", SETTINGS), ("peer_urls.py", URLS),
                           ("manage.py", MANAGE)):
            (self.project / name).write_text(text)
        self.template = tmp / "template.db"
        env = self.env(self.template, tmp / "media")
        for command in (["migrate", "-v", "0"], ["shell", "-v", "0", "-c", QUEUE]):
            subprocess.run([python, "manage.py", *command], cwd=self.project, env=env,
                           check=True)
        # Bytecode, as an installed project has it (site-packages got theirs from pip).
        subprocess.run([python, "-m", "compileall", "-q", str(self.project)], check=True)
        self.cpu = 0.0
        self.peak_rss_kib = 0
        #: The lines the last run's ``get_email`` processes wrote to stderr, counted.
        self.stderr: collections.Counter[str] = collections.Counter()

    def env(self, db: Path, media: Path) -> dict[str, str]:
        return {**os.environ, "PEER_DB": str(db), "PEER_MEDIA": str(media),
                "DJANGO_SETTINGS_MODULE": "peer_settings", "PYTHONPATH": str(self.project)}

    def get_email(self, db: Path, media: Path, mailbox: Path, log: Path) -> float:
        """One ``manage.py get_email`` process on ``mailbox``: its wall seconds.

        What it writes to stderr (django-helpdesk logs a rejected attachment
        there) goes to ``log``.
        """
        with sqlite3.connect(db) as con:
            con.execute("update helpdesk_queue set email_box_local_dir = ?", (str(mailbox),))
        con.close()
        with log.open("ab") as stderr:
            wall, usage = ingest_mail.run_child(
                [str(self.python), str(self.project / "manage.py"), "get_email"],
                self.env(db, media), stderr)
        self.cpu += usage.ru_utime + usage.ru_stime
        self.peak_rss_kib = max(self.peak_rss_kib, usage.ru_maxrss)
        return wall

    def run(self, n: int, data: Path, work: Path) -> dict[str, float | int | str]:
        db, media = work / "peer.db", work / "media"
        shutil.copyfile(self.template, db)
        cpu = self.cpu
        phase1 = work / "phase1"
        shutil.copytree(data / "phase1", phase1)
        log = work / "get_email.stderr"
        t1 = self.get_email(db, media, phase1, log)
        manifest = [json.loads(line) for line in (data / "manifest.jsonl").open()]
        by_id = _followups(db)
        stems = {Path(m["file"]).stem: by_id.get(_mid(m), (None, ""))[0]
                 for m in manifest if m["phase"] == 1}
        (work / "map.json").write_text(json.dumps(stems))
        inbox = work / "inbox"
        subprocess.run([sys.executable, str(ingest_mail.GEN), "tag", "--src",
                        str(data / "phase2"), "--dst", str(inbox), "--map",
                        str(work / "map.json"), "--fmt", "[support-{id}]"],
                       check=True, stdout=subprocess.DEVNULL)
        t2 = self.get_email(db, media, inbox, log)
        self.stderr = collections.Counter(log.read_text(errors="replace").splitlines())
        return {"t1": t1, "t2": t2, "rate": n / (t1 + t2), "cpu": self.cpu - cpu,
                **_checks(db, manifest, stems),
                "left": len(list(phase1.iterdir())) + len(list(inbox.iterdir())),
                "stderr_lines": self.stderr.total()}


def _mid(entry: dict[str, Any]) -> str:
    return str(entry["message_id"]).strip().strip("<>")


def _followups(db: Path) -> dict[str, tuple[int, str]]:
    """Message-ID (without brackets) -> (ticket id, follow-up text) of the stored mails."""
    with sqlite3.connect(db) as con:
        rows = con.execute("select message_id, ticket_id, comment from helpdesk_followup"
                           " where message_id is not null").fetchall()
    con.close()
    return {mid.strip().strip("<>"): (ticket, comment or "") for mid, ticket, comment in rows}


def _checks(db: Path, manifest: list[dict[str, Any]], stems: dict[str, int | None]
            ) -> dict[str, int | str]:
    by_id = _followups(db)
    result: dict[str, int | str] = {}
    with sqlite3.connect(db) as con:
        for table in ("ticket", "followup", "followupattachment"):
            result[table + "s"] = con.execute(f"select count(*) from helpdesk_{table}"
                                              ).fetchone()[0]
        result["html_copies"] = con.execute(
            "select count(*) from helpdesk_followupattachment where filename = ?",
            ("email_html_body.txt",)).fetchone()[0]
        sent = dict(con.execute("select message_id, email_recipients from helpdesk_followup"
                                " where message_id is not null").fetchall())
        files = con.execute("select f.message_id, a.filename from helpdesk_followupattachment a"
                            " join helpdesk_followup f on a.followup_id = f.id").fetchall()
    con.close()
    answered = {mid.strip().strip("<>") for mid, to in sent.items() if json.loads(to or "[]")}
    result["answers"] = len(answered)
    stored = {(mid.strip().strip("<>"), re.sub(r"^part-\d+_", "", name)) for mid, name in files}
    attached = [(_mid(m), m["attachment"]) for m in manifest if m["attachment"]]
    result["mail_attachments"] = f"{sum(a in stored for a in attached)}/{len(attached)}"
    auto = [_mid(m) for m in manifest if m["kind"] == "auto"]
    result["auto_answers"] = f"{sum(mid in answered for mid in auto)}/{len(auto)}"
    result["missing"] = sum(_mid(m) not in by_id for m in manifest)
    ru = [by_id.get(_mid(m), (0, ""))[1] for m in manifest if m["lang"] == "ru"]
    result["cyrillic"] = f"{sum(bool(CYRILLIC.search(text)) for text in ru)}/{len(ru)}"
    result["mojibake"] = sum(bool(MOJIBAKE.search(text)) for _, text in by_id.values())
    kinds: dict[str, list[bool]] = {}
    for m in manifest:
        if m["phase"] == 2:
            root = stems[m["root"]]
            ok = root is not None and by_id.get(_mid(m), (None, ""))[0] == root
            kinds.setdefault(m["kind"], []).append(ok)
    for kind, oks in sorted(kinds.items()):
        result[kind] = f"{sum(oks)}/{len(oks)}"
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description="Workload A on django-helpdesk 2.6.1.")
    parser.add_argument("--n", type=int, nargs="+", default=[1000])
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--venv", type=Path, default=DEFAULT_VENV,
                        help=f"the peer's venv, created when missing (default {DEFAULT_VENV})")
    parser.add_argument("--with-ours", action="store_true",
                        help="run ours (import, SQLite) between the peer's runs")
    args = parser.parse_args()
    python = peer_python(args.venv)
    if args.with_ours:
        ingest_mail.compile_sources()
    summary = [f"peer=django-helpdesk-{VERSION}", ingest_mail._machine()]
    ours = ingest_mail.Ingest("import") if args.with_ours else None
    with tempfile.TemporaryDirectory(prefix="helpdesk-peer-") as tmp:
        peer = Peer(python, Path(tmp))
        for n in args.n:
            summary.append(_workload(n, args.runs, peer, ours, Path(tmp) / f"n{n}"))
    print("RESULT " + " ".join(summary))


def _workload(n: int, runs_wanted: int, peer: Peer, ours: ingest_mail.Ingest | None,
              tmp: Path) -> str:
    data = tmp / "mail"
    subprocess.run([sys.executable, str(ingest_mail.GEN), "generate", "--n", str(n), "--seed",
                    "42", "--out", str(data)], check=True, stdout=subprocess.DEVNULL)
    runs: dict[str, list[dict[str, float | int | str]]] = {"peer": [], "ours": []}
    peer.peak_rss_kib = 0
    if ours is not None:
        ours.peak_rss_kib = 0
    for i in range(runs_wanted):
        for side in ("peer", "ours") if ours is not None else ("peer",):
            work = tmp / f"{side}{i}"
            work.mkdir()
            loop = ingest_mail._loop()
            if side == "peer":
                result = peer.run(n, data, work)
            else:
                assert ours is not None
                result = {**ingest_mail.one_run(n, data, work, "sqlite", ours)}
            runs[side].append({**result, "ref_loop_s": round(loop, 3)})
            print(f"{side} N={n} run {i + 1}: {runs[side][-1]}", flush=True)
    summary = _summary("peer", n, runs["peer"], peer.peak_rss_kib)
    last = runs["peer"][-1]
    print(f"peer N={n} checks: {last['tickets']} tickets, {last['followups']} follow-ups"
          f" ({n} mails), {last['followupattachments']} attachments (the mails' own stored"
          f" {last['mail_attachments']}, {last['html_copies']} copies of an HTML body),"
          f" {last['left']} files left unprocessed, {last['missing']} Message-IDs not stored,"
          f" Russian bodies with Cyrillic {last['cyrillic']}, {last['mojibake']} with mojibake;"
          f" automatic answers sent {last['answers']}, to out-of-office mails"
          f" {last['auto_answers']}", flush=True)
    if peer.stderr:
        common = ", ".join(f"{line!r} x{count}" for line, count in peer.stderr.most_common(3))
        print(f"peer N={n}: get_email wrote {peer.stderr.total()} lines to stderr: {common}",
              flush=True)
    summary += (f" peer_n{n}_tickets={last['tickets']} peer_n{n}_followups={last['followups']}"
                f" peer_n{n}_attachments={last['followupattachments']}"
                f" peer_n{n}_mail_attachments={last['mail_attachments']}"
                f" peer_n{n}_left={last['left']} peer_n{n}_missing={last['missing']}"
                f" peer_n{n}_cyrillic={last['cyrillic']} peer_n{n}_mojibake={last['mojibake']}"
                f" peer_n{n}_answers={last['answers']}"
                f" peer_n{n}_auto_answers={last['auto_answers']}")
    if ours is None:
        return summary
    summary += " " + _summary("ours", n, runs["ours"], ours.peak_rss_kib)
    ratio = (statistics.median(float(r["rate"]) for r in runs["ours"])
             / statistics.median(float(r["rate"]) for r in runs["peer"]))
    print(f"N={n}: ours / peer = {ratio:.2f} (medians of {runs_wanted} interleaved runs)",
          flush=True)
    return summary + f" ratio_n{n}={ratio:.2f}"


def _summary(side: str, n: int, runs: list[dict[str, float | int | str]], rss_kib: int) -> str:
    rate = statistics.median(float(r["rate"]) for r in runs)
    cpu = statistics.median(float(r["cpu"]) for r in runs)
    loop = statistics.median(float(r["ref_loop_s"]) for r in runs)
    last = runs[-1]
    if side == "ours":
        kinds = {k[:-3]: f"{last[k]}/{last[k[:-3] + '_total']}"
                 for k in sorted(last) if k.endswith("_ok")}
    else:
        kinds = {k: str(last[k]) for k in ("auto", "irt", "refs", "tag") if k in last}
    replies = " ".join(f"{k}={v}" for k, v in kinds.items())
    print(f"{side} N={n}: {rate:.1f} emails/s (median of {len(runs)}), {cpu:.2f} s CPU,"
          f" peak RSS {rss_kib / 1024:.0f} MiB, 10^7 additions before each run {loop:.3f} s"
          f" (median), replies on their ticket: {replies}", flush=True)
    return (f"{side}_n{n}_emails_per_s={rate:.1f} {side}_n{n}_cpu_s={cpu:.2f}"
            f" {side}_n{n}_peak_rss_mib={rss_kib / 1024:.0f} {side}_n{n}_ref_loop_s={loop:.3f} "
            + " ".join(f"{side}_n{n}_{k}={v}" for k, v in kinds.items()))


if __name__ == "__main__":
    main()
