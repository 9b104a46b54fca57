"""Print the parser's pass rate on shared/email-corpus, per source and field.

Run from the repository root::

    .venv/bin/python contrib/channels/email/tools/corpus_report.py [--failures]

Set HELPDESK_EMAIL_CORPUS to use a corpus in another place.
"""

from __future__ import annotations

import sys
from pathlib import Path

HERE = Path(__file__).resolve()
sys.path[:0] = [str(HERE.parents[1] / "tests"), str(HERE.parents[4])]

import email_corpus_check as check  # noqa: E402

FIELDS = (*check.MESSAGE_FIELDS, *check.REPLY_FIELDS)


def main(argv: list[str]) -> int:
    report = check.run_all()
    width = max(map(len, report)) + 2
    print("source".ljust(width) + "".join(f.rjust(15) for f in FIELDS) + "        all")
    totals = {f: [0, 0] for f in (*FIELDS, "all")}
    for source, files in report.items():
        row = source.ljust(width)
        for field in (*FIELDS, "all"):
            results = [
                all(r.values()) if field == "all" else r[field]
                for r in files.values()
                if (r if field == "all" else field in r)
            ]
            totals[field][0] += sum(results)
            totals[field][1] += len(results)
            cell = f"{sum(results)}/{len(results)}" if results else "-"
            row += cell.rjust(15 if field != "all" else 11)
        print(row)
    row = "total".ljust(width)
    for field in (*FIELDS, "all"):
        passed, count = totals[field]
        row += f"{passed}/{count} {100 * passed / max(count, 1):.0f}%".rjust(
            15 if field != "all" else 11
        )
    print(row)
    if "--failures" in argv:
        for source, files in report.items():
            for name, result in files.items():
                failed = [f for f, ok in result.items() if not ok]
                if failed:
                    print(f"{source}/{name}: {', '.join(failed)}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
