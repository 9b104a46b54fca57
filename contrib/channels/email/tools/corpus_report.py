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


def main(argv: list[str]) -> int:
    report = check.run_all()
    print("\n".join(check.rate_table(report)))
    if "--failures" in argv:
        for source, files in report.items():
            for name, result in files.items():
                failed = [f for f, ok in result.items() if not ok]
                if failed:
                    print(f"{source}/{name}: {', '.join(failed)}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
