"""Full-text search over tickets, kept up to date in the same transaction as the change.

Each ticket has one search document (:class:`~flask_helpdesk.models.SearchDocument`):
its subject, its customer's identities and the text of its messages, case-
and accent-folded. Services call :func:`touch` for every ticket whose
subject, messages or customer identities changed; the unit of work calls
:func:`flush_index` just before it commits, which rebuilds those tickets'
documents with set-based queries (no query per ticket). The database index
over the documents (:mod:`flask_helpdesk.schema`) follows them: by triggers
on SQLite, as a generated column on PostgreSQL. A rollback therefore leaves
documents and index as they were.

:func:`matching` turns what a person typed into a condition on ``Ticket.id``:

- each word must match (AND); quotes and operators are plain text;
- SQLite: FTS5 with English stemming and prefix matching of words of three
  letters or more ("print" finds "printer");
- PostgreSQL: ``tsvector`` stemming in every ``HELPDESK_SEARCH_LANGUAGES``
  language ("принтер" finds "принтера"), or a substring of three letters or
  more through the trigram index ("rinte" finds "printer");
- case- and accent-insensitive on both ("ACAO" finds "ação", "ПРИНТЕР"
  finds "принтер");
- ``123`` or ``#123`` also finds ticket 123.
"""

from __future__ import annotations

import re
import typing as t
import unicodedata

from sqlalchemy import Text
from sqlalchemy import and_
from sqlalchemy import column
from sqlalchemy import delete
from sqlalchemy import false
from sqlalchemy import func
from sqlalchemy import insert
from sqlalchemy import literal
from sqlalchemy import literal_column
from sqlalchemy import or_
from sqlalchemy import select
from sqlalchemy import table

from ..models import ContactIdentity
from ..models import Message
from ..models import SearchDocument
from ..models import Ticket
from ..models import utcnow

if t.TYPE_CHECKING:
    from sqlalchemy import ColumnElement
    from sqlalchemy import Select
    from sqlalchemy import Table
    from sqlalchemy.orm import Session

#: Longest document indexed per ticket, in characters; text past it is not
#: searchable (PostgreSQL refuses a ``tsvector`` over 1 MB).
DOCUMENT_MAX = 200_000
#: Most words of a query that are used; the rest are ignored.
MAX_TERMS = 8
#: Longest word of a query, in characters; longer ones are cut.
MAX_TERM_LENGTH = 64
#: Shortest word matched as a prefix (SQLite) or a substring (PostgreSQL).
PARTIAL_MIN = 3

_TOUCHED = "helpdesk_search_touched"
_TICKET_NUMBER = re.compile(r"#?(\d{1,9})")
_ALNUM = re.compile(r"[^\W_]")

_fts = table("helpdesk_search_fts", column("rowid"), column("helpdesk_search_fts"))
_docs = table("helpdesk_search_documents", column("ticket_id"), column("document"),
              column("tsv"))


# ------------------------------------------------------------------ folding


def fold(text: str) -> str:
    """Case-fold ``text`` and strip the accents of Latin letters.

    Documents and queries go through the same folding, so matching does not
    depend on the database's locale. Cyrillic letters keep their marks
    ("й" stays "й"), since they are distinct letters there.
    """
    if text.isascii():
        return text.lower()
    decomposed = unicodedata.normalize("NFD", text.casefold())
    out: list[str] = []
    latin = False
    for ch in decomposed:
        if unicodedata.combining(ch):
            if latin:
                continue
        else:
            code = ord(ch)
            latin = code < 0x0250 or 0x1E00 <= code < 0x1F00
        out.append(ch)
    return unicodedata.normalize("NFC", "".join(out))


def build_document(parts: t.Iterable[str | None]) -> str:
    """The search document of a ticket from its texts, folded and size-capped."""
    text = "\n".join(p for p in parts if p)
    return fold(text[:DOCUMENT_MAX])[:DOCUMENT_MAX]


# ---------------------------------------------------------- index upkeep


def touch(ticket_id: int) -> None:
    """Mark a ticket's search document stale in the current transaction."""
    from ._uow import session

    session().info.setdefault(_TOUCHED, set()).add(ticket_id)


def flush_index(s: Session) -> None:
    """Rebuild the documents of every touched ticket (called before commit)."""
    touched: set[int] = s.info.pop(_TOUCHED, set())
    if not touched:
        return
    s.flush()
    ids = sorted(touched)
    for start in range(0, len(ids), 500):
        _rebuild(s, ids[start:start + 500])


def _rebuild(s: Session, ids: list[int]) -> None:
    # Core statements: see the note on the tables in ``_batch_ingest``.
    tickets, identities = Ticket.__table__, ContactIdentity.__table__
    messages = Message.__table__
    documents = t.cast("Table", SearchDocument.__table__)
    parts: dict[int, list[str]] = {}
    customers: dict[int, list[int]] = {}
    for ticket_id, subject, customer_id in s.execute(
        select(tickets.c.id, tickets.c.subject, tickets.c.customer_id)
        .where(tickets.c.id.in_(ids))
    ):
        parts[ticket_id] = [subject]
        customers.setdefault(customer_id, []).append(ticket_id)
    if customers:
        for customer_id, value, display in s.execute(
            select(identities.c.customer_id, identities.c.value, identities.c.display)
            .where(identities.c.customer_id.in_(list(customers)))
            .order_by(identities.c.id)
        ):
            for ticket_id in customers[customer_id]:
                parts[ticket_id].append(value if fold(display) == value else
                                        f"{value} {display}")
    for ticket_id, text in s.execute(
        select(messages.c.ticket_id, messages.c.text).where(messages.c.ticket_id.in_(ids))
        .order_by(messages.c.ticket_id, messages.c.id)
    ):
        parts[ticket_id].append(text)
    s.execute(delete(documents).where(documents.c.ticket_id.in_(ids)))
    rows = [{"ticket_id": i, "document": build_document(p), "updated_at": utcnow()}
            for i, p in parts.items()]
    if rows:
        s.execute(insert(documents), rows)


# ---------------------------------------------------------------- queries


def terms(q: str) -> list[str]:
    """The folded words of a query, as :func:`matching` uses them.

    Control characters are dropped, words without a letter or digit are
    ignored, at most :data:`MAX_TERMS` words of at most
    :data:`MAX_TERM_LENGTH` characters are kept.
    """
    cleaned = "".join(" " if unicodedata.category(ch)[0] == "C" else ch for ch in q)
    out: list[str] = []
    for chunk in cleaned.split():
        word = fold(chunk)[:MAX_TERM_LENGTH]
        if _ALNUM.search(word) and word not in out:
            out.append(word)
    return out[:MAX_TERMS]


def matching(q: str) -> ColumnElement[bool]:
    """The condition on ``Ticket.id`` for tickets matching the text ``q``.

    Any text is safe: it is never parsed as query syntax. A query without a
    letter or digit matches nothing.
    """
    words = terms(q)
    if not words:
        return false()
    condition = _fts5(words) if _dialect() == "sqlite" else _postgresql(words)
    number = _TICKET_NUMBER.fullmatch(q.strip())
    if number:
        return or_(Ticket.id == int(number.group(1)), condition)
    return condition


def narrowed(q: str, *, cap: int = 1000) -> ColumnElement[bool]:
    """Like :func:`matching`, shaped for one page of a sorted list (one more query).

    A first query fetches at most ``cap + 1`` matching ids. When the words
    are rare (``cap`` hits or fewer), the list looks those tickets up by id;
    when they are common, the list walks the index of its sort order and
    checks each ticket against the hits, which stops after one page. Left to
    itself, a planner cannot tell the two apart (PostgreSQL took half a second
    on a word found once in 100,000 tickets).
    """
    from ._uow import session

    condition = matching(q)
    words = terms(q)
    if not words:
        return condition
    subquery = _fts5_ids(words) if _dialect() == "sqlite" else _postgresql_ids(words)
    ids = list(session().scalars(subquery.limit(cap + 1)))
    number = _TICKET_NUMBER.fullmatch(q.strip())
    if len(ids) <= cap:
        return Ticket.id.in_(ids + ([int(number.group(1))] if number else []))
    common = (Ticket.id + 0).in_(subquery)  # "+ 0": no lookup by id, walk the sort index
    return or_(Ticket.id == int(number.group(1)), common) if number else common


def _dialect() -> str:
    from ._uow import session

    return session().get_bind(mapper=Ticket.__mapper__).dialect.name


def fts5_query(words: t.Sequence[str]) -> str:
    """An FTS5 query in which every word is a quoted phrase (no syntax survives)."""
    return " ".join('"' + w.replace('"', '""') + '"' + ("*" if len(w) >= PARTIAL_MIN else "")
                    for w in words)


def _fts5(words: list[str]) -> ColumnElement[bool]:
    return Ticket.id.in_(_fts5_ids(words))


def _fts5_ids(words: list[str]) -> Select[tuple[int]]:
    match = _fts.c.helpdesk_search_fts.op("MATCH")(fts5_query(words))
    return select(_fts.c.rowid).where(match)


def _postgresql(words: list[str]) -> ColumnElement[bool]:
    return Ticket.id.in_(_postgresql_ids(words))


def _postgresql_ids(words: list[str]) -> Select[tuple[int]]:
    from ..extension import get_state
    from ..schema import tsvector_sql

    languages = get_state().config.search_languages
    tsvector_sql(languages)  # validates the names used below
    clauses = []
    for word in words:
        tsquery: t.Any = None
        for name in languages:
            one = func.plainto_tsquery(literal_column(f"'{name}'::regconfig"), word)
            tsquery = one if tsquery is None else tsquery.op("||")(one)
        # The values come from scalar subqueries so that the planner cannot
        # see them: its estimates for them are unreliable (a word found once
        # was estimated at 12 % of the rows, turning an index lookup into a
        # scan), and its defaults (0.5 %) make it use both GIN indexes.
        clause: ColumnElement[bool] = _docs.c.tsv.op("@@")(select(tsquery).scalar_subquery())
        if len(word) >= PARTIAL_MIN:
            pattern = "%" + re.sub(r"([\\%_])", r"\\\1", word) + "%"
            hidden = select(literal(pattern, Text)).scalar_subquery()
            clause = or_(clause, _docs.c.document.like(hidden, escape="\\"))
        clauses.append(clause)
    return select(_docs.c.ticket_id).where(and_(*clauses))
