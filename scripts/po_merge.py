"""A git merge driver for gettext catalogs: the union of both sides' entries.

Two branches that each add strings and their translations touch neighbouring
lines of a sorted catalog, which a line merge reports as a conflict. This
driver reads the common ancestor, ours and theirs with Babel and writes the
union into ours: an entry changed on one side only takes that side, an entry
translated differently on both sides keeps ours. Register it once per clone:

    git config merge.po-union.driver ".venv/bin/python scripts/po_merge.py %O %A %B"

(``.gitattributes`` maps ``*.po`` to it). Afterwards run
``scripts/i18n.sh`` so the catalogs match the sources again.
"""

from __future__ import annotations

import sys

from babel.messages.pofile import read_po
from babel.messages.pofile import write_po


def _load(path: str):  # type: ignore[no-untyped-def]
    with open(path, "rb") as f:
        return read_po(f)


def main(base_path: str, ours_path: str, theirs_path: str) -> int:
    base, ours, theirs = _load(base_path), _load(ours_path), _load(theirs_path)
    for message in theirs:
        if not message.id:
            continue
        mine = ours.get(message.id, message.context)
        old = base.get(message.id, message.context)
        if mine is None:
            ours[message.id] = message
        elif (old is not None and mine.string == old.string
              and message.string != old.string) or (not mine.string and message.string):
            mine.string = message.string
            mine.flags = message.flags
    with open(ours_path, "wb") as f:
        write_po(f, ours, width=0, omit_header=False, sort_output=True, no_location=True,
                 ignore_obsolete=True)
    return 0


if __name__ == "__main__":
    sys.exit(main(*sys.argv[1:4]))
