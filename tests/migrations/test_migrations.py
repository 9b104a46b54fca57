"""The Alembic history matches the models exactly and leaves the host's tables alone.

If this fails after a model change, add a revision (helpdesk contributors:
``flask helpdesk db revision -m "what changed"`` on a database at head, then
``ruff format`` the new file); before the first release the initial revision
may be regenerated instead.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import typing as t
import uuid
import warnings

import pytest
import sqlalchemy as sa
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from flask import Flask

from flask_helpdesk.extension import get_state
from flask_helpdesk.migrations import VERSION_TABLE
from flask_helpdesk.migrations import heads
from flask_helpdesk.models import metadata
from flask_helpdesk.schema import create_search_index
from flask_helpdesk.testing import make_app
from tests.services_check import PG_URL
from tests.services_check import require

host_metadata = sa.MetaData()
#: A table of the host application, which the helpdesk must never touch.
host_orders = sa.Table(
    "orders", host_metadata,
    sa.Column("id", sa.Integer, primary_key=True),
    sa.Column("item", sa.String(50)),
)


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgresql)])
def fresh_url(request: pytest.FixtureRequest, tmp_path: t.Any) -> t.Iterator[t.Callable[[], str]]:
    """A factory of empty databases of one kind."""
    made: list[str] = []
    admin = None
    if request.param == "postgresql":
        require("PostgreSQL", "127.0.0.1", 5432)
        admin = sa.create_engine(f"{PG_URL}/postgres", isolation_level="AUTOCOMMIT")

    def make() -> str:
        name = f"helpdesk_mig_{uuid.uuid4().hex[:8]}"
        if admin is None:
            return f"sqlite:///{tmp_path / name}.db"
        with admin.connect() as conn:
            conn.execute(sa.text(f'CREATE DATABASE "{name}"'))
        made.append(name)
        return f"{PG_URL}/{name}"

    yield make
    if admin is not None:
        with admin.connect() as conn:
            for name in made:
                conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


def _app(url: str, tmp_path: t.Any, **config: t.Any) -> Flask:
    return make_app(database_uri=url, config={
        "HELPDESK_ATTACHMENT_DIR": str(tmp_path / "attachments"), **config})


def _cli(app: Flask, *args: str) -> str:
    result = app.test_cli_runner().invoke(args=["helpdesk", *args])
    assert result.exit_code == 0, result.output
    return result.output


@contextlib.contextmanager
def _quiet_reflection() -> t.Iterator[None]:
    """SQLite cannot reflect expression indexes; they are checked by name instead."""
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", "Skipped unsupported reflection of expression")
        warnings.filterwarnings("ignore", "autogenerate skipping metadata-specified expression")
        yield


def _missing_expression_indexes(engine: sa.Engine) -> set[str]:
    """Expression indexes of the models that the database lacks (checked by name)."""
    wanted = {str(index.name) for table in metadata.tables.values() for index in table.indexes
              if not all(isinstance(e, sa.Column) for e in index.expressions)}
    with engine.connect() as conn:
        if engine.dialect.name == "sqlite":
            query = "SELECT name FROM sqlite_master WHERE type = 'index'"
        else:
            query = "SELECT indexname FROM pg_indexes"
        return wanted - set(conn.execute(sa.text(query)).scalars())


def _schema(engine: sa.Engine) -> set[tuple[str, ...]]:
    """Tables, columns, indexes and unique constraints, as comparable names."""
    inspector = sa.inspect(engine)
    found: set[tuple[str, ...]] = set()
    with _quiet_reflection():
        for table in inspector.get_table_names():
            found.add(("table", table))
            found.update(("column", table, c["name"]) for c in inspector.get_columns(table))
            found.update(("index", table, str(i["name"])) for i in inspector.get_indexes(table))
            found.update(("unique", table, str(u["name"]))
                         for u in inspector.get_unique_constraints(table))
    return found


def _search_objects(url: str) -> set[tuple[str, ...]]:
    """What ``schema.create_search_index`` adds on top of the models' tables."""
    engine = sa.create_engine(url)
    try:
        metadata.create_all(engine)
        before = _schema(engine)
        create_search_index(engine)
        return _schema(engine) - before
    finally:
        engine.dispose()


def _differences(engine: sa.Engine, ignore: set[tuple[str, ...]]) -> list[t.Any]:
    def include_object(obj: t.Any, name: str | None, type_: str, reflected: bool,
                       compare_to: t.Any) -> bool:
        if type_ == "table":
            return name in metadata.tables
        if type_ == "column":
            return ("column", obj.table.name, name) not in ignore
        if type_ in ("index", "unique_constraint"):
            kind = "index" if type_ == "index" else "unique"
            return (kind, obj.table.name, str(name)) not in ignore
        return True

    with engine.connect() as conn, _quiet_reflection():
        context = MigrationContext.configure(conn, opts={
            "compare_type": True, "include_object": include_object,
            "target_metadata": metadata})
        return list(compare_metadata(context, metadata))


def test_upgrade_matches_the_models_and_downgrade_spares_the_host(
    fresh_url: t.Callable[[], str], tmp_path: t.Any,
) -> None:
    url = fresh_url()
    search_objects = _search_objects(fresh_url())
    app = _app(url, tmp_path)
    with app.app_context():
        engine = get_state(app).db.engine
        host_metadata.create_all(engine)
        with engine.begin() as conn:
            conn.execute(host_orders.insert().values(item="coffee"))
        assert "Not migrated" in _cli(app, "db", "current")

        _cli(app, "db", "upgrade")
        assert f"{heads()[0]} (head)" in _cli(app, "db", "current")
        diff = _differences(engine, search_objects)
        assert not diff, (
            "The migrations and the models differ; add a migration for:\n"
            + "\n".join(f"  {d!r}" for d in diff))
        assert _missing_expression_indexes(engine) == set()
        schema = _schema(engine)
        missing = search_objects - schema
        assert not missing, f"the migration did not create the search index: {missing}"
        helpdesk_tables = {name for kind, name, *_ in schema
                           if kind == "table" and name.startswith("helpdesk_")}
        assert set(metadata.tables) | {VERSION_TABLE} <= helpdesk_tables

        _cli(app, "db", "upgrade")  # at head: nothing to do, nothing breaks
        _cli(app, "db", "downgrade", "base", "--yes")
        left = sa.inspect(engine).get_table_names()
        assert [name for name in left if name.startswith("helpdesk_")] == []
        with engine.connect() as conn:
            assert conn.execute(sa.select(host_orders.c.item)).scalars().all() == ["coffee"]

        _cli(app, "db", "upgrade")  # and back again
        assert _differences(engine, search_objects) == []
        get_state(app).db.session.remove()
        engine.dispose()


def test_upgrade_honours_the_bind_key(tmp_path: t.Any) -> None:
    main_url = f"sqlite:///{tmp_path / 'host.db'}"
    helpdesk_url = f"sqlite:///{tmp_path / 'helpdesk.db'}"
    app = _app(main_url, tmp_path, SQLALCHEMY_BINDS={"helpdesk": helpdesk_url},
               HELPDESK_DATABASE_BIND_KEY="helpdesk")
    try:
        with app.app_context():
            output = _cli(app, "db", "upgrade")
            assert "helpdesk.db" in output
            db = get_state(app).db
            assert "helpdesk_tickets" in sa.inspect(db.engines["helpdesk"]).get_table_names()
            assert sa.inspect(db.engine).get_table_names() == []
            for engine in db.engines.values():
                engine.dispose()
    finally:
        metadata.info.pop("bind_key", None)


def test_unknown_revision_is_a_clear_error(tmp_path: t.Any) -> None:
    app = _app(f"sqlite:///{tmp_path / 'y.db'}", tmp_path)
    with app.app_context():
        result = app.test_cli_runner().invoke(args=["helpdesk", "db", "upgrade", "nosuch"])
        assert result.exit_code == 1
        assert "Error: " in result.output and "nosuch" in result.output
        assert "Traceback" not in result.output
        get_state(app).db.engine.dispose()


def test_0008_marks_keys_of_inbound_mail_and_keeps_the_others_threading_any_reply(
    fresh_url: t.Callable[[], str], tmp_path: t.Any,
) -> None:
    app = _app(fresh_url(), tmp_path)
    with app.app_context():
        engine = get_state(app).db.engine
        _cli(app, "db", "upgrade", "0007_agent_notifications")
        now = "2026-12-01 10:00:00"
        with engine.begin() as conn:
            conn.execute(sa.text(
                "INSERT INTO helpdesk_customers (id, name, notes, attributes, created_at)"
                " VALUES (1, 'Carla', '', '{}', :now)"), {"now": now})
            conn.execute(sa.text(
                "INSERT INTO helpdesk_tickets (id, subject, status, priority, channel, account,"
                " customer_id, created_at, updated_at, status_changed_at, custom_fields)"
                " VALUES (1, 'Hi', 'open', 1, 'email', '', 1, :now, :now, :now, '{}')"),
                {"now": now})
            conn.execute(sa.text(
                "INSERT INTO helpdesk_groups (id, name, description, created_at)"
                " VALUES (1, 'Support', '', :now)"), {"now": now})
            for n, (kind, ext) in enumerate([("inbound", "in@x"), ("reply", "out@us")], 1):
                conn.execute(sa.text(
                    "INSERT INTO helpdesk_messages (id, ticket_id, kind, channel, account,"
                    " external_id, author_name, subject, text, created_at, meta, attempts)"
                    " VALUES (:n, 1, :kind, 'email', '', :ext, '', '', '', :now, '{}', 0)"),
                    {"n": n, "kind": kind, "ext": ext, "now": now})
            for n, key in enumerate(["in@x", "out@us", "chat:7"], 1):
                conn.execute(sa.text(
                    "INSERT INTO helpdesk_thread_keys (id, channel, account, key, ticket_id,"
                    " created_at) VALUES (:n, 'email', '', :key, 1, :now)"),
                    {"n": n, "key": key, "now": now})
        _cli(app, "db", "upgrade")
        with engine.connect() as conn:
            keys = dict(conn.execute(sa.text(
                "SELECT key, outbound FROM helpdesk_thread_keys")).all())
            replies = conn.execute(sa.text(
                "SELECT resolved_reply FROM helpdesk_groups")).scalars().all()
        assert {k: bool(v) for k, v in keys.items()} == {
            "in@x": False, "out@us": True, "chat:7": True}
        assert replies == ["reopen"]
        get_state(app).db.session.remove()
        engine.dispose()


def test_0009_keeps_quarantined_entries_as_fetched_mail(
    fresh_url: t.Callable[[], str], tmp_path: t.Any,
) -> None:
    app = _app(fresh_url(), tmp_path)
    with app.app_context():
        engine = get_state(app).db.engine
        _cli(app, "db", "upgrade", "0008_threading")
        with engine.begin() as conn:
            conn.execute(sa.text(
                "INSERT INTO helpdesk_quarantine (id, channel, account, storage_key, size,"
                " source, error, attempts, created_at, last_attempt_at) VALUES"
                " (1, 'email', '', 'k1', 3, 'INBOX uid 4', 'bad', 1, :now, :now)"),
                {"now": "2026-12-01 10:00:00"})
        _cli(app, "db", "upgrade")
        with engine.begin() as conn:
            conn.execute(sa.text(
                "INSERT INTO helpdesk_quarantine (id, channel, account, storage_key, size,"
                " source, error, attempts, created_at, last_attempt_at, imported) VALUES"
                " (2, 'email', '', 'k2', 3, 'old.mbox#1', 'bad', 1, :now, :now, :yes)"),
                {"now": "2026-12-02 10:00:00", "yes": True})
            rows = conn.execute(sa.text(
                "SELECT id, imported FROM helpdesk_quarantine ORDER BY id")).all()
        assert [(n, bool(v)) for n, v in rows] == [(1, False), (2, True)]
        _cli(app, "db", "downgrade", "0008_threading", "--yes")
        with engine.connect() as conn:
            assert conn.execute(sa.text(
                "SELECT source FROM helpdesk_quarantine ORDER BY id")).scalars().all() == [
                "INBOX uid 4", "old.mbox#1"]
        get_state(app).db.session.remove()
        engine.dispose()


def test_0010_rewrites_rule_texts_as_templates_that_fill_in_as_before(
    fresh_url: t.Callable[[], str], tmp_path: t.Any,
) -> None:
    from flask_helpdesk.services import SYSTEM
    from flask_helpdesk.services import automation
    from flask_helpdesk.services import customers
    from flask_helpdesk.services import messages
    from flask_helpdesk.services import rules
    from flask_helpdesk.services import tickets

    json = sa.JSON().with_variant(sa.dialects.postgresql.JSONB(), "postgresql")
    table = sa.table("helpdesk_rules", *[sa.column(n) for n in (
        "id", "name", "trigger", "position", "enabled", "created_at", "updated_at")],
        sa.column("when", json), sa.column("conditions", json), sa.column("actions", json))
    old = [
        {"type": "note", "text": "Hi {customer_name}, #{ticket_id:0100000} for {agent_name}."},
        {"type": "note", "text": "{{literal}} {customer_name!r:>10} {{%x%}}"},
        {"type": "notify", "message": "Stray { brace, kept {as} written"},
        {"type": "add_tags", "tags": ["legacy"]},
    ]
    app = _app(fresh_url(), tmp_path)
    with app.app_context():
        engine = get_state(app).db.engine
        _cli(app, "db", "upgrade", "0009_quarantine_imported")
        with engine.begin() as conn:
            conn.execute(table.insert().values(
                id=1, name="legacy", trigger="manual", position=1, enabled=False,
                created_at=dt.datetime(2026, 12, 1), updated_at=dt.datetime(2026, 12, 1),
                when={"type": "manual"}, conditions={}, actions=old))
        _cli(app, "db", "upgrade")
        with engine.connect() as conn:
            new = conn.execute(sa.select(table.c.actions)).scalar_one()
        assert new == [
            {"type": "note", "text": "Hi {{ customer.name }}, #{{ ticket.id }} for"
                                     " {{ agent.name }}."},
            {"type": "note", "text": '{{ "{" }}literal} {{ customer.name }} {{ "{" }}%x%}'},
            {"type": "notify", "message": 'Stray {{ "{" }} brace, kept {{ "{" }}as} written'},
            {"type": "add_tags", "tags": ["legacy"]},
        ]
        carla = customers.create_customer(actor=SYSTEM, name="Carla",
                                          identities=[("email", "c@example.org")])
        tk = tickets.create_ticket(actor=SYSTEM, customer_id=carla.id, subject="Hi", text="x")
        rule = rules.get_rule(1, actor=SYSTEM)
        rules.validate_when(rule.when)  # still a rule the services accept
        automation.apply_rule(automation.Spec.of(rule), tk.id)
        notes = [m.text for m in messages.list_messages(tk.id, actor=SYSTEM) if m.kind == "note"]
        assert notes == [f"Hi Carla, #{tk.id} for .", "{literal} Carla {%x%}"]
        events = tickets.list_events(tk.id, actor=SYSTEM)
        assert [e.data["message"] for e in events if e.type == "rule.notified"] == [
            "Stray { brace, kept {as} written"]
        assert rules.update_rule(1, actor=SYSTEM, changes=rules.RuleChanges(enabled=True))
        _cli(app, "db", "downgrade", "0009_quarantine_imported", "--yes")
        with engine.connect() as conn:
            back = conn.execute(sa.select(table.c.actions)).scalar_one()
        assert back[0]["text"] == "Hi {customer_name}, #{ticket_id} for {agent_name}."
        assert back[2]["message"] == "Stray {{ brace, kept {{as}} written"
        get_state(app).db.session.remove()
        engine.dispose()
