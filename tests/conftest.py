from __future__ import annotations

import typing as t
import uuid

import pytest
import sqlalchemy as sa
from flask import Flask

from flask_helpdesk.extension import get_state
from flask_helpdesk.models import metadata
from flask_helpdesk.services import SYSTEM
from flask_helpdesk.services import agents
from flask_helpdesk.services import customers
from flask_helpdesk.testing import EventRecorder
from flask_helpdesk.testing import User
from flask_helpdesk.testing import create_tables
from flask_helpdesk.testing import make_app
from tests.services_check import PG_URL
from tests.services_check import require


@pytest.fixture(scope="session")
def postgresql_url() -> t.Iterator[str]:
    require("PostgreSQL", "127.0.0.1", 5432)
    name = f"helpdesk_test_{uuid.uuid4().hex[:8]}"
    admin = sa.create_engine(f"{PG_URL}/postgres", isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(sa.text(f'CREATE DATABASE "{name}"'))
    url = f"{PG_URL}/{name}"
    engine = sa.create_engine(url)
    with engine.begin() as conn:
        conn.execute(sa.text("CREATE EXTENSION IF NOT EXISTS pg_trgm"))
    engine.dispose()
    yield url
    with admin.connect() as conn:
        conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    admin.dispose()


_pg_tables_created: set[str] = set()


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgresql)])
def database_uri(request: pytest.FixtureRequest, tmp_path: t.Any) -> str:
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'helpdesk.db'}"
    return t.cast(str, request.getfixturevalue("postgresql_url"))


@pytest.fixture
def app_factory(database_uri: str, tmp_path: t.Any) -> t.Iterator[t.Callable[..., Flask]]:
    apps: list[Flask] = []

    def factory(config: t.Mapping[str, t.Any] | None = None, plugins: t.Iterable[object] = (),
                **kwargs: t.Any) -> Flask:
        cfg = {"HELPDESK_ATTACHMENT_DIR": str(tmp_path / "attachments"), **(config or {})}
        app = make_app(database_uri=database_uri, config=cfg, plugins=plugins, **kwargs)
        with app.app_context():
            _reset(app)
        apps.append(app)
        return app

    yield factory
    for app in apps:
        state = get_state(app)
        state.jobs.stop()
        with app.app_context():
            state.db.session.remove()
            for engine in state.db.engines.values():
                engine.dispose()


def _reset(app: Flask) -> None:
    state = get_state(app)
    engine = state.db.engines[None]
    if engine.dialect.name == "postgresql":
        if engine.url.database not in _pg_tables_created:
            metadata.drop_all(engine)
            create_tables(app)
            _pg_tables_created.add(t.cast(str, engine.url.database))
        names = ", ".join(f'"{table.name}"' for table in metadata.sorted_tables)
        with engine.begin() as conn:
            conn.execute(sa.text(f"TRUNCATE {names} RESTART IDENTITY CASCADE"))
    else:
        create_tables(app)


@pytest.fixture
def recorder() -> EventRecorder:
    return EventRecorder()


@pytest.fixture
def app(app_factory: t.Callable[..., Flask], recorder: EventRecorder) -> t.Iterator[Flask]:
    app = app_factory(plugins=[recorder])
    with app.app_context():
        yield app


class Team(t.NamedTuple):
    support: t.Any
    billing: t.Any
    admin: t.Any
    manager: t.Any
    anna: t.Any  # agent in support
    boris: t.Any  # agent in billing
    customer: t.Any


@pytest.fixture
def team(app: Flask) -> Team:
    """Two groups, an admin, a manager, an agent in each group, a customer."""
    support = agents.create_group(actor=SYSTEM, name="Support")
    billing = agents.create_group(actor=SYSTEM, name="Billing")
    admin = agents.create_agent(actor=SYSTEM, name="Ada Admin", email="ada@example.com",
                                user_id="1", role="admin")
    manager = agents.create_agent(actor=SYSTEM, name="Max Manager", email="max@example.com",
                                  user_id="2", role="manager", groups=[support.id])
    anna = agents.create_agent(actor=SYSTEM, name="Anna Agent", email="anna@example.com",
                               user_id="3", groups=[support.id])
    boris = agents.create_agent(actor=SYSTEM, name="Boris Billing", email="boris@example.com",
                                user_id="4", groups=[billing.id])
    customer = customers.create_customer(actor=SYSTEM, name="Carla Customer",
                                         identities=[("email", "carla@example.org")])
    return Team(support, billing, admin, manager, anna, boris, customer)


@pytest.fixture
def login(app: Flask) -> t.Callable[[t.Any], t.Any]:
    """``login(agent)`` -> a test client logged in as that agent's host user."""

    def _login(agent: t.Any) -> t.Any:
        return app.test_client(user=User(agent.user_id))

    return _login
