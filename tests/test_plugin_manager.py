from __future__ import annotations

import importlib.metadata
import logging
import sys
import types

import pytest

from flask_helpdesk import PluginError
from flask_helpdesk import hookimpl
from flask_helpdesk.plugins import manager


class Greeter:
    @hookimpl
    def helpdesk_config_defaults(self) -> dict[str, object]:
        return {"HELPDESK_GREETER_WORD": "hello"}


def test_defaults_registered_and_listed() -> None:
    pm = manager.make_plugin_manager(load_entry_points=False)
    listed = {p["name"]: p for p in manager.list_plugins(pm)}
    web = listed["flask_helpdesk.plugins.defaults.web"]
    assert web["default"] is True
    assert "helpdesk_deliver_message" in web["hooks"]


def test_essential_plugin_cannot_be_disabled() -> None:
    with pytest.raises(RuntimeError, match="cannot be disabled"):
        manager.make_plugin_manager(disabled=["flask_helpdesk.plugins.defaults.web"],
                                    load_entry_points=False)


def test_misspelled_hook_is_an_error() -> None:
    class Typo:
        @hookimpl
        def helpdesk_tikcet_event(self) -> None: ...

    from pluggy import PluginValidationError

    with pytest.raises(PluginValidationError, match="helpdesk_tikcet_event"):
        manager.make_plugin_manager(load_entry_points=False, extra=[Typo()])


def _fake_entry_point(monkeypatch: pytest.MonkeyPatch, name: str, target: str) -> None:
    ep = importlib.metadata.EntryPoint(name=name, value=target, group=manager.ENTRY_POINT_GROUP)

    def entry_points(*, group: str) -> list[importlib.metadata.EntryPoint]:
        return [ep] if group == manager.ENTRY_POINT_GROUP else []

    monkeypatch.setattr(manager.importlib.metadata, "entry_points", entry_points)


def test_entry_point_plugins_load_and_can_be_blocked(monkeypatch: pytest.MonkeyPatch) -> None:
    module = types.ModuleType("hd_greeter_plugin")
    module.helpdesk_config_defaults = Greeter.helpdesk_config_defaults.__get__(Greeter())  # type: ignore[attr-defined]
    monkeypatch.setitem(sys.modules, "hd_greeter_plugin", module)
    _fake_entry_point(monkeypatch, "greeter", "hd_greeter_plugin")
    pm = manager.make_plugin_manager()
    assert pm.get_plugin("greeter") is module
    assert {"HELPDESK_GREETER_WORD": "hello"} in pm.hook.helpdesk_config_defaults()
    blocked = manager.make_plugin_manager(disabled=["greeter"])
    assert blocked.get_plugin("greeter") is None


def test_broken_entry_point_names_the_plugin(monkeypatch: pytest.MonkeyPatch) -> None:
    _fake_entry_point(monkeypatch, "broken", "hd_no_such_module_xyz")
    with pytest.raises(PluginError, match="'broken'") as info:
        manager.make_plugin_manager()
    assert isinstance(info.value.__cause__, ImportError)


def test_tracing_logs_hook_calls(caplog: pytest.LogCaptureFixture) -> None:
    pm = manager.make_plugin_manager(load_entry_points=False, trace=True, extra=[Greeter()])
    with caplog.at_level(logging.DEBUG, logger="flask_helpdesk.plugins"):
        pm.hook.helpdesk_config_defaults()
    assert "helpdesk_config_defaults" in caplog.text


def test_plugin_config_defaults_reach_app_config(app_factory) -> None:
    app = app_factory(plugins=[Greeter()])
    assert app.config["HELPDESK_GREETER_WORD"] == "hello"
    from flask_helpdesk import get_state

    assert get_state(app).config["HELPDESK_GREETER_WORD"] == "hello"


def test_plugin_config_key_without_prefix_is_refused(app_factory) -> None:
    class Bad:
        @hookimpl
        def helpdesk_config_defaults(self) -> dict[str, object]:
            return {"GREETING": "x"}

    with pytest.raises(RuntimeError, match="HELPDESK_"):
        app_factory(plugins=[Bad()])


def test_list_plugins_names_the_distribution_of_each_plugin() -> None:
    from flask_helpdesk_email import plugin as email

    version = importlib.metadata.version("flask-helpdesk-email")
    pm = manager.make_plugin_manager(load_entry_points=False, extra=[email, Greeter()])
    listed = {p["name"]: p for p in manager.list_plugins(pm)}
    # Passed as Helpdesk(plugins=[...]): the distribution holding its package.
    assert (listed["flask_helpdesk_email.plugin"]["distribution"],
            listed["flask_helpdesk_email.plugin"]["version"]) == ("flask-helpdesk-email", version)
    greeter = [p for name, p in listed.items() if "Greeter" in name or name.isdigit()]
    assert [(p["distribution"], p["version"]) for p in greeter] == [(None, None)]
    web = listed["flask_helpdesk.plugins.defaults.web"]
    assert (web["distribution"], web["default"]) == (None, True)

    loaded = manager.make_plugin_manager()  # the installed entry point "email"
    email_ep = {p["name"]: p for p in manager.list_plugins(loaded)}["email"]
    assert (email_ep["distribution"], email_ep["version"]) == ("flask-helpdesk-email", version)
