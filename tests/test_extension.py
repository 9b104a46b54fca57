from __future__ import annotations

import logging

import pytest
from flask import Flask
from flask_sqlalchemy import SQLAlchemy

from flask_helpdesk import Helpdesk
from flask_helpdesk import current_helpdesk
from flask_helpdesk import get_state
from flask_helpdesk.config import DEFAULTS
from flask_helpdesk.services import SYSTEM
from flask_helpdesk.services import customers
from flask_helpdesk.services import tickets
from flask_helpdesk.testing import create_tables
from flask_helpdesk.testing import make_app


def _host(tmp_path, name: str = "host") -> tuple[Flask, SQLAlchemy]:
    app = Flask(name)
    app.config.update(SQLALCHEMY_DATABASE_URI=f"sqlite:///{tmp_path / (name + '.db')}",
                      HELPDESK_LOAD_ENTRY_POINTS=False, HELPDESK_BROKER_URL="stub")
    return app, SQLAlchemy(app)


def test_second_init_app_on_same_app_names_the_fix(tmp_path) -> None:
    app, db = _host(tmp_path)
    Helpdesk(app, db=db)
    with pytest.raises(RuntimeError, match="already been registered"):
        Helpdesk(app, db=db)


def test_missing_db_names_the_fix(tmp_path) -> None:
    app, _db = _host(tmp_path)
    with pytest.raises(RuntimeError, match=r"Helpdesk\(app, db=db\)"):
        Helpdesk(app)


def test_db_not_registered_on_app(tmp_path) -> None:
    app = Flask("bare")
    with pytest.raises(RuntimeError, match="db.init_app"):
        Helpdesk(app, db=SQLAlchemy())


def test_accessor_without_init_app_names_the_fix() -> None:
    app = Flask("nothing")
    with app.app_context(), pytest.raises(RuntimeError, match="init_app"):
        get_state()


def test_defaults_applied_visible_and_frozen(tmp_path) -> None:
    app, db = _host(tmp_path)
    app.config["HELPDESK_PAGE_SIZE"] = 40
    Helpdesk(app, db=db)
    for key in DEFAULTS:
        assert key in app.config
    state = get_state(app)
    assert state.config.page_size == 40
    assert state.config.url_prefix == "/helpdesk"
    app.config["HELPDESK_PAGE_SIZE"] = 10
    assert get_state(app).config.page_size == 40  # never re-read


def test_bad_config_value_is_refused(tmp_path) -> None:
    app, db = _host(tmp_path)
    app.config["HELPDESK_PAGE_SIZE"] = "many"
    with pytest.raises(RuntimeError, match="HELPDESK_PAGE_SIZE"):
        Helpdesk(app, db=db)


def test_factory_pattern_and_two_apps_in_one_process(tmp_path) -> None:
    helpdesk = Helpdesk()
    apps = []
    for name in ("one", "two"):
        app, db = _host(tmp_path, name)
        helpdesk.db = db
        helpdesk.init_app(app)
        apps.append(app)
    assert get_state(apps[0]) is not get_state(apps[1])
    for n, app in enumerate(apps):
        with app.app_context():
            create_tables(app)
            customer = customers.create_customer(actor=SYSTEM, name=f"C{n}",
                                                 identities=[("email", "same@example.org")])
            tickets.create_ticket(actor=SYSTEM, customer_id=customer.id, subject=f"app {n}",
                                  text="hi")
            assert current_helpdesk.app is app
    for n, app in enumerate(apps):
        with app.app_context():
            ticket = tickets.get_ticket(1, actor=SYSTEM)
            assert ticket.subject == f"app {n}"
            assert ticket.customer.name == f"C{n}"
    for app in apps:
        get_state(app).jobs.stop()


def test_helpdesk_tables_stay_out_of_host_create_all(tmp_path) -> None:
    app, db = _host(tmp_path)

    class Thing(db.Model):  # type: ignore[name-defined]
        id = db.Column(db.Integer, primary_key=True)

    Helpdesk(app, db=db)
    with app.app_context():
        db.create_all()
        names = set(db.inspect(db.engine).get_table_names())
        assert "thing" in names
        assert not any(n.startswith("helpdesk_") for n in names)
        create_tables(app)
        assert "helpdesk_tickets" in set(db.inspect(db.engine).get_table_names())
        assert "thing" in set(db.inspect(db.engine).get_table_names())
    get_state(app).jobs.stop()


def test_bind_key_moves_helpdesk_to_its_own_database(tmp_path) -> None:
    app = make_app(database_uri=f"sqlite:///{tmp_path / 'host.db'}", config={
        "SQLALCHEMY_BINDS": {"helpdesk": f"sqlite:///{tmp_path / 'hd.db'}"},
        "HELPDESK_DATABASE_BIND_KEY": "helpdesk",
    })
    state = get_state(app)
    try:
        with app.app_context():
            create_tables(app)
            customer = customers.create_customer(actor=SYSTEM, name="Bound")
            assert customer.id == 1
            state.db.session.rollback()  # end the read transaction (BEGIN IMMEDIATE)
            host_tables = set(state.db.inspect(state.db.engines[None]).get_table_names())
            hd_tables = set(state.db.inspect(state.db.engines["helpdesk"]).get_table_names())
            assert "helpdesk_customers" in hd_tables
            assert "helpdesk_customers" not in host_tables
    finally:
        from flask_helpdesk.models import metadata

        metadata.info.pop("bind_key", None)
        state.jobs.stop()


def test_agent_loader_maps_host_users_to_agents(tmp_path) -> None:
    from flask_login import LoginManager

    from flask_helpdesk.extension import current_agent_or_none
    from flask_helpdesk.services import agents
    from flask_helpdesk.testing import User

    app, db = _host(tmp_path)
    app.config["SECRET_KEY"] = "x"
    LoginManager(app).user_loader(User)
    helpdesk = Helpdesk(app, db=db)

    @helpdesk.agent_loader  # registered after init_app: still used
    def load(user: User):
        return agents.get_by_user_id(user.id.removeprefix("host-"))

    @app.get("/whoami")
    def whoami() -> str:
        agent = current_agent_or_none()
        return agent.name if agent else "-"

    from flask_login import FlaskLoginClient

    app.test_client_class = FlaskLoginClient
    with app.app_context():
        create_tables(app)
        agents.create_agent(actor=SYSTEM, name="Anna", user_id="7")
        agents.create_agent(actor=SYSTEM, name="Gone", user_id="8")
        agents.update_agent(2, actor=SYSTEM, active=False)
    assert app.test_client(user=User("host-7")).get("/whoami").text == "Anna"
    assert app.test_client(user=User("host-8")).get("/whoami").text == "-"  # deactivated
    assert app.test_client().get("/whoami").text == "-"
    get_state(app).jobs.stop()


def test_sqlite_tuning_lets_concurrent_writers_wait(tmp_path) -> None:
    import threading

    app = make_app(database_uri=f"sqlite:///{tmp_path / 'busy.db'}")
    state = get_state(app)
    errors: list[BaseException] = []
    with app.app_context():
        create_tables(app)
        journal = state.db.session.execute(state.db.text("PRAGMA journal_mode")).scalar()
        state.db.session.rollback()
        assert journal == "wal"

    def write(n: int) -> None:
        try:
            with app.app_context():
                for i in range(10):
                    # read first, then write: fails at once without BEGIN IMMEDIATE
                    customers.list_customers(limit=1)
                    customers.create_customer(actor=SYSTEM, name=f"w{n}-{i}")
        except BaseException as exc:  # pragma: no cover - asserted below
            errors.append(exc)

    threads = [threading.Thread(target=write, args=(n,)) for n in range(4)]
    for th in threads:
        th.start()
    for th in threads:
        th.join()
    assert errors == []
    with app.app_context():
        assert len(customers.list_customers(limit=100)) == 40
    state.jobs.stop()


@pytest.mark.parametrize(("setting", "expected"), [(None, 1), ("full", 2), ("EXTRA", 3)])
def test_sqlite_synchronous_is_normal_unless_configured(tmp_path, setting, expected) -> None:
    config = {} if setting is None else {"HELPDESK_SQLITE_SYNCHRONOUS": setting}
    app = make_app(database_uri=f"sqlite:///{tmp_path / 'sync.db'}", config=config)
    state = get_state(app)
    with app.app_context():
        assert state.db.session.execute(state.db.text("PRAGMA synchronous")).scalar() == expected
        state.db.session.rollback()
    state.jobs.stop()


def test_sqlite_synchronous_off_is_refused(tmp_path) -> None:
    with pytest.raises(RuntimeError, match="HELPDESK_SQLITE_SYNCHRONOUS must be one of NORMAL"):
        make_app(database_uri=f"sqlite:///{tmp_path / 'x.db'}",
                 config={"HELPDESK_SQLITE_SYNCHRONOUS": "OFF"})


def test_unknown_bind_key_names_sqlalchemy_binds(tmp_path) -> None:
    with pytest.raises(RuntimeError, match="SQLALCHEMY_BINDS"):
        make_app(database_uri=f"sqlite:///{tmp_path / 'x.db'}",
                 config={"HELPDESK_DATABASE_BIND_KEY": "nowhere"})


def test_misspelled_config_key_is_logged_naming_the_closest_key(
    tmp_path, caplog: pytest.LogCaptureFixture,
) -> None:
    from flask_helpdesk_email import plugin as email

    config = {"HELPDESK_BROKR_URL": "redis://localhost", "HELPDESK_EMAIL_POLL_INTERVALL": 5,
              "HELPDESK_ZZZ": 1, "HELPDESK_EMAIL_POLL_INTERVAL": 30}
    with caplog.at_level(logging.WARNING, logger="flask_helpdesk"):
        app = make_app(database_uri=f"sqlite:///{tmp_path / 'x.db'}", config=config,
                       plugins=[email])
    get_state(app).jobs.stop()
    assert [r.getMessage() for r in caplog.records] == [
        "HELPDESK_BROKR_URL is not a setting of the helpdesk or of its plugins and is ignored:"
        " did you mean HELPDESK_BROKER_URL?",
        "HELPDESK_EMAIL_POLL_INTERVALL is not a setting of the helpdesk or of its plugins and is"
        " ignored: did you mean HELPDESK_EMAIL_POLL_INTERVAL?",
        "HELPDESK_ZZZ is not a setting of the helpdesk or of its plugins and is ignored: see"
        " `flask helpdesk config`.",
    ]


@pytest.mark.parametrize(("url", "missing", "extra"), [
    ("redis://:pw@localhost:6379/0", "redis", "redis"),
    ("amqp://guest:pw@localhost:5672/", "pika", "rabbitmq"),
])
def test_broker_without_its_client_library_names_the_extra(
    tmp_path, monkeypatch: pytest.MonkeyPatch, url: str, missing: str, extra: str,
) -> None:
    import sys

    # As if the extra were not installed: importing its client library fails.
    monkeypatch.setitem(sys.modules, missing, None)
    for name in [m for m in sys.modules if m.startswith("dramatiq.brokers.")]:
        monkeypatch.delitem(sys.modules, name)
    with pytest.raises(RuntimeError) as info:
        make_app(database_uri=f"sqlite:///{tmp_path / 'x.db'}",
                 config={"HELPDESK_BROKER_URL": url})
    message = str(info.value)
    assert message.startswith(f"HELPDESK_BROKER_URL='{url.split('://')[0]}://...' needs the"
                              f" '{extra}' extra, which is not installed")
    assert message.endswith(f'pip install "flask-helpdesk[{extra}]".')
    assert "pw" not in message


def test_presence_in_redis_without_the_client_library_names_the_extra(
    tmp_path, monkeypatch: pytest.MonkeyPatch,
) -> None:
    import sys

    monkeypatch.setitem(sys.modules, "redis", None)
    with pytest.raises(RuntimeError, match=r'pip install "flask-helpdesk\[redis\]"'):
        make_app(database_uri=f"sqlite:///{tmp_path / 'x.db'}",
                 config={"HELPDESK_PRESENCE_URL": "redis://localhost:6379/1"})
