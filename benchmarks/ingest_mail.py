"""Workload A of shared/bench/README.md: e-mail ingestion through ``flask helpdesk email import``.

Run by hand: ``.venv/bin/python benchmarks/ingest_mail.py [--n 1000 5000] [--runs 3]``.
Each run: a fresh SQLite database; ``phase1/`` imported by one process (timed);
the phase-1 Message-IDs mapped to their tickets; ``gen_mail.py tag`` fills the
ticket token into ``phase2/`` (not timed); ``phase2`` imported by one process
(timed). Prints emails/s (N / (t1 + t2), start-up included), peak RSS of the
import processes, and checks every reply kind against its root's ticket and
the non-ASCII bodies. The last line is ``RESULT key=value ...``.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
GEN = Path(os.environ.get("HELPDESK_BENCH_GEN", ROOT.parent / "shared/bench/gen_mail.py"))

APP = '''
import os
from flask_helpdesk.testing import create_tables, make_app
from flask_helpdesk_email import plugin

app = make_app(database_uri=os.environ["BENCH_DB"], plugins=[plugin],
               config={"HELPDESK_ATTACHMENT_DIR": os.environ["BENCH_FILES"]})
if os.environ.get("BENCH_CREATE"):
    with app.app_context():
        create_tables(app)
'''


def run_import(env: dict[str, str], path: Path) -> float:
    start = time.perf_counter()
    subprocess.run([sys.executable, "-m", "flask", "--app", "bench_app", "helpdesk", "email",
                    "import", str(path)], env=env, check=True, stdout=subprocess.DEVNULL)
    return time.perf_counter() - start


def one_run(n: int, data: Path, work: Path) -> dict[str, float | int]:
    db = work / "helpdesk.db"
    env = {**os.environ, "BENCH_DB": f"sqlite:///{db}", "BENCH_FILES": str(work / "files"),
           "PYTHONPATH": str(work)}
    (work / "bench_app.py").write_text(APP)
    subprocess.run([sys.executable, "-c", "import bench_app"],
                   env={**env, "BENCH_CREATE": "1"}, check=True)
    t1 = run_import(env, data / "phase1")
    manifest = [json.loads(line) for line in (data / "manifest.jsonl").open()]
    con = sqlite3.connect(db)
    by_id = dict(con.execute(
        "select external_id, ticket_id from helpdesk_messages where kind = 'inbound'"))
    stems = {Path(m["file"]).stem: by_id.get(m["message_id"].strip("<>"))
             for m in manifest if m["phase"] == 1}
    (work / "map.json").write_text(json.dumps(stems))
    inbox = work / "inbox"
    subprocess.run([sys.executable, str(GEN), "tag", "--src", str(data / "phase2"), "--dst",
                    str(inbox), "--map", str(work / "map.json"), "--fmt", "[#{id}]"],
                   check=True, stdout=subprocess.DEVNULL)
    t2 = run_import(env, inbox)
    by_id = dict(con.execute(
        "select external_id, ticket_id from helpdesk_messages where kind = 'inbound'"))
    ok: dict[str, int] = {}
    total: dict[str, int] = {}
    for m in manifest:
        if m["phase"] != 2:
            continue
        kind = m["kind"]
        total[kind] = total.get(kind, 0) + 1
        ok[kind] = ok.get(kind, 0) + (by_id.get(m["message_id"].strip("<>")) == stems[m["root"]])
    missing = sum(1 for m in manifest if m["message_id"].strip("<>") not in by_id)
    cyrillic = con.execute("select count(*) from helpdesk_messages where text glob '*[а-я]*'"
                           ).fetchone()[0]
    mojibake = con.execute("select count(*) from helpdesk_messages where text like '%Ð%'"
                           " or text like '%Ã%' or text like '%�%'").fetchone()[0]
    tickets = con.execute("select count(*) from helpdesk_tickets").fetchone()[0]
    con.close()
    result: dict[str, float | int] = {"t1": t1, "t2": t2, "rate": n / (t1 + t2),
                                      "tickets": tickets, "missing": missing,
                                      "cyrillic": cyrillic, "mojibake": mojibake}
    for kind in total:
        result[f"{kind}_ok"] = ok[kind]
        result[f"{kind}_total"] = total[kind]
    return result


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--n", type=int, nargs="+", default=[1000, 5000])
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()
    summary = []
    for n in args.n:
        with tempfile.TemporaryDirectory() as tmp:
            data = Path(tmp) / "mail"
            subprocess.run([sys.executable, str(GEN), "generate", "--n", str(n), "--seed", "42",
                            "--out", str(data)], check=True, stdout=subprocess.DEVNULL)
            runs = []
            for i in range(args.runs):
                work = Path(tmp) / f"run{i}"
                work.mkdir()
                runs.append(one_run(n, data, work))
                print(f"N={n} run {i + 1}: {runs[-1]}", flush=True)
        rss = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
        rate = statistics.median(r["rate"] for r in runs)
        last = runs[-1]
        kinds = " ".join(f"{k[:-3]}={last[k]}/{last[k[:-3] + '_total']}"
                         for k in sorted(last) if k.endswith("_ok"))
        summary.append(f"n{n}_emails_per_s={rate:.1f} n{n}_peak_rss_mib={rss:.0f}"
                       f" n{n}_missing={last['missing']} n{n}_mojibake={last['mojibake']} "
                       + " ".join(f"n{n}_{p}" for p in kinds.split()))
        print(f"N={n}: {rate:.1f} emails/s (median of {len(runs)}), peak RSS {rss:.0f} MiB,"
              f" replies on their ticket: {kinds}", flush=True)
    print("RESULT " + " ".join(summary))


if __name__ == "__main__":
    main()
