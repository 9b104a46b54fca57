"""One test per hook, and a meta-test that every hook has one."""

from __future__ import annotations

import inspect
import sys
import typing as t

import click
import pytest

from flask_helpdesk import DeliveryReceipt
from flask_helpdesk import Identity
from flask_helpdesk import InboundMessage
from flask_helpdesk import ValidationError
from flask_helpdesk import get_state
from flask_helpdesk import hookimpl
from flask_helpdesk.plugins import hookspecs
from flask_helpdesk.services import SYSTEM
from flask_helpdesk.services import TicketChanges
from flask_helpdesk.services import agents
from flask_helpdesk.services import channels as channels_service
from flask_helpdesk.services import ingest
from flask_helpdesk.services import messages
from flask_helpdesk.services import outbox
from flask_helpdesk.services import tickets
from tests.plugins.channel import RecordingChannel


def test_every_hook_has_a_test() -> None:
    hooks = {name for name, _ in inspect.getmembers(hookspecs, inspect.isfunction)
             if name.startswith("helpdesk_")}
    tests = {name.removeprefix("test_hook_") for name in dir(sys.modules[__name__])
             if name.startswith("test_hook_")}
    assert hooks - tests == set()


def test_hook_helpdesk_add_hookspecs(app_factory) -> None:
    import pluggy

    class Specs:
        @pluggy.HookspecMarker("flask_helpdesk")(firstresult=True)
        def helpdesk_p_answer(self, question: str) -> str | None:
            """The answer to ``question``."""

    class Declares:
        @hookimpl
        def helpdesk_add_hookspecs(self, pluginmanager: pluggy.PluginManager) -> None:
            pluginmanager.add_hookspecs(Specs)

    class Answers:
        @hookimpl
        def helpdesk_p_answer(self, question: str) -> str:
            return f"42 is the answer to {question}"

    # The implementation comes first: without the declaration check_pending() would fail.
    app = app_factory(plugins=[Answers(), Declares()])
    assert get_state(app).hook.helpdesk_p_answer(question="everything") == (
        "42 is the answer to everything")
    with pytest.raises(pluggy.PluginValidationError):
        app_factory(plugins=[Answers()])


def test_hook_helpdesk_config_defaults(app_factory) -> None:
    class P:
        @hookimpl
        def helpdesk_config_defaults(self) -> dict[str, object]:
            return {"HELPDESK_P_LIMIT": 3}

    app = app_factory(config={"HELPDESK_P_LIMIT": 9}, plugins=[P()])
    assert get_state(app).config["HELPDESK_P_LIMIT"] == 9  # the host's value wins


def test_hook_helpdesk_startup(app_factory) -> None:
    seen = []

    class P:
        @hookimpl
        def helpdesk_startup(self, helpdesk) -> None:
            seen.append(helpdesk.app)

    app = app_factory(plugins=[P()])
    assert seen == [app]


def test_hook_helpdesk_startup_can_refuse_bad_config(app_factory) -> None:
    class P:
        @hookimpl
        def helpdesk_startup(self) -> None:
            raise RuntimeError("Set HELPDESK_P_TOKEN.")

    with pytest.raises(RuntimeError, match="HELPDESK_P_TOKEN"):
        app_factory(plugins=[P()])


def test_hook_helpdesk_register_commands(app_factory) -> None:
    class P:
        @hookimpl
        def helpdesk_register_commands(self, cli: click.Group) -> None:
            @cli.command("hello")
            def hello() -> None:
                click.echo("hello from plugin")

    app = app_factory(plugins=[P()])
    result = app.test_cli_runner().invoke(args=["helpdesk", "hello"])
    assert result.output == "hello from plugin\n"


def test_hook_helpdesk_doctor(app_factory) -> None:
    class P:
        @hookimpl
        def helpdesk_doctor(self, helpdesk) -> list[tuple[str, str]]:
            assert helpdesk is get_state()
            return [("ok", "crm: the API answers."), ("warn", "crm: no webhook: set one.")]

    app = app_factory(plugins=[P()])
    result = app.test_cli_runner().invoke(args=["helpdesk", "doctor"])
    lines = result.output.splitlines()
    assert "OK    crm: the API answers." in lines
    assert "WARN  crm: no webhook: set one." in lines


def test_hook_helpdesk_register_channels(app_factory) -> None:
    app = app_factory(plugins=[RecordingChannel()])
    assert get_state(app).channels == {"test": "Test", "web": "Web"}


def test_two_plugins_declaring_one_channel_is_an_error(app_factory) -> None:
    with pytest.raises(RuntimeError, match="'test'"):
        app_factory(plugins=[RecordingChannel(), RecordingChannel()])


def _inbound(n: int = 1, **kw) -> InboundMessage:
    return InboundMessage(channel="test", external_id=f"m{n}",
                          sender=Identity("email", "spammer@example.net", "S"),
                          subject="Cheap pills", text="buy now", **kw)


def test_hook_helpdesk_spam_score(app_factory) -> None:
    class Classifier:
        @hookimpl
        def helpdesk_spam_score(self, message: InboundMessage) -> float | None:
            return 0.95 if "pills" in message.subject else None

    class Abstains:
        @hookimpl
        def helpdesk_spam_score(self) -> None:
            return None

    app = app_factory(plugins=[RecordingChannel(), Classifier(), Abstains()])
    with app.app_context():
        result = ingest(_inbound())
        assert tickets.get_ticket(result.ticket_id, actor=SYSTEM).status == "spam"
        clean = ingest(InboundMessage(channel="test", external_id="m2",
                                      sender=Identity("email", "ok@example.net"),
                                      subject="Invoice question", text="hello"))
        assert tickets.get_ticket(clean.ticket_id, actor=SYSTEM).status == "open"


class RefusesPlainFax:
    """A plugin that checks its channel's settings as they are saved."""

    def __init__(self) -> None:
        self.calls: list[tuple[str, str, dict[str, t.Any], dict[str, t.Any] | None]] = []

    @hookimpl
    def helpdesk_validate_account(self, channel: str, name: str, settings: dict[str, t.Any],
                                  secrets: dict[str, t.Any] | None) -> None:
        self.calls.append((channel, name, settings, secrets))
        if channel == "test" and settings.get("mode") == "plain":
            raise ValidationError("Plain is not allowed.", field="mode")


def test_hook_helpdesk_validate_account(app_factory) -> None:
    checker = RefusesPlainFax()
    app = app_factory(plugins=[RecordingChannel(), checker])
    with app.app_context():
        with pytest.raises(ValidationError) as refused:
            channels_service.create_account(actor=SYSTEM, channel="test", name="support",
                                    settings={"mode": "plain"}, secrets={"password": "x"})
        assert refused.value.field == "mode"
        assert channels_service.list_accounts(actor=SYSTEM) == []
        account = channels_service.create_account(actor=SYSTEM, channel="test", name="support",
                                          settings={"mode": "tls"}, secrets={"password": "x"})
        assert checker.calls[-1] == ("test", "support", {"mode": "tls"}, {"password": "x"})
        with pytest.raises(ValidationError):
            channels_service.update_account(account.id, actor=SYSTEM, settings={"mode": "plain"})
        assert channels_service.get_account(account.id, actor=SYSTEM).settings == {"mode": "tls"}
        # new secrets alone are checked against the stored settings
        channels_service.update_account(account.id, actor=SYSTEM, secrets={"password": "y"})
        assert checker.calls[-1] == ("test", "support", {"mode": "tls"}, {"password": "y"})
        calls = len(checker.calls)
        channels_service.update_account(account.id, actor=SYSTEM, enabled=False)
        assert len(checker.calls) == calls  # nothing to check


def test_hook_helpdesk_reparse_message(app_factory) -> None:
    from flask_helpdesk.services import quarantine

    class Reader:
        @hookimpl
        def helpdesk_reparse_message(self, channel: str, account: str,
                                     raw: bytes) -> InboundMessage | None:
            if channel != "test":
                return None
            return InboundMessage(channel="test", account=account, external_id="again",
                                  sender=Identity("email", "dan@example.org"),
                                  text=raw.decode())

    class Other:
        @hookimpl
        def helpdesk_reparse_message(self) -> None:
            return None

    app = app_factory(plugins=[RecordingChannel(), Other(), Reader()])
    with app.app_context():
        item = quarantine.quarantine_message(channel="test", account="box", raw=b"fixed",
                                             error="parser bug")
        admin = agents.create_agent(actor=SYSTEM, name="A", email="a@example.com",
                                    user_id="a", role="admin")
        result = quarantine.retry_quarantined(item.id, actor=admin)
        [message] = messages.list_messages(result.ticket_id, actor=SYSTEM)
        assert (message.text, message.account) == ("fixed", "box")
        assert quarantine.list_quarantine(actor=admin) == []


def test_hook_helpdesk_deliver_message(app_factory) -> None:
    channel = RecordingChannel()
    app = app_factory(plugins=[channel])
    with app.app_context():
        result = ingest(InboundMessage(channel="test", external_id="in-1",
                                       sender=Identity("email", "carla@example.org", "Carla"),
                                       subject="Help", text="my order", own_keys=("in-1",)))
        reply = messages.reply(result.ticket_id, actor=SYSTEM, text="On its way.")
        assert outbox.deliver(reply.id) == "sent"
        sent = channel.sent[0]
        assert sent.text == "On its way." and sent.recipient == Identity(
            "email", "carla@example.org", "")
        assert sent.in_reply_to == ("in-1",)
        assert sent.idempotency_key == f"helpdesk-message-{reply.id}"
        # the receipt's keys thread the customer's answer onto the ticket
        answer = ingest(InboundMessage(channel="test", external_id="in-2",
                                       sender=Identity("email", "carla@example.org"),
                                       text="thanks", thread_keys=(f"out-{reply.id}",)))
        assert answer.ticket_id == result.ticket_id


def test_hook_helpdesk_deliver_message_web_default(app) -> None:
    class Fake:
        channel = "web"
        id = 5

    receipt = get_state().pm.hook.helpdesk_deliver_message(helpdesk=get_state(), message=Fake())
    assert receipt == DeliveryReceipt(external_id="web-5")


def test_hook_helpdesk_notify_agent_email(app_factory) -> None:
    from flask_helpdesk import DeliveryError
    from flask_helpdesk.services import notifications
    from flask_helpdesk.services import rules

    class Sends:
        def __init__(self) -> None:
            self.sent: list[tuple[str, str, int]] = []

        @hookimpl
        def helpdesk_notify_agent_email(self, agent, notification) -> bool:
            self.sent.append((agent.name, notification.message, notification.ticket_id))
            return True

    class Bounces:  # registered last, asked first; None leaves the mail to the next one
        @hookimpl
        def helpdesk_notify_agent_email(self, agent) -> None:
            if agent.email.endswith("@gone.test"):
                raise DeliveryError("mailbox gone", permanent=True)

    sends = Sends()
    app = app_factory(plugins=[sends, Bounces()])
    with app.app_context():
        ada = agents.create_agent(actor=SYSTEM, name="Ada", email="ada@example.com",
                                  role="admin")
        gil = agents.create_agent(actor=SYSTEM, name="Gil", email="gil@gone.test",
                                  role="admin")
        rules.create_rule(actor=SYSTEM, name="tell", enabled=True,
                          when={"type": "event", "on": "ticket.created"},
                          actions=[{"type": "notify", "message": "New: #{{ ticket.id }}",
                                    "to": "agents", "agent_ids": [ada.id, gil.id]}])
        from flask_helpdesk.services import customers

        carla = customers.create_customer(actor=SYSTEM, name="Carla")
        ticket = tickets.create_ticket(actor=SYSTEM, customer_id=carla.id, subject="Help",
                                       text="my order").id
        [event] = [e for e in tickets.list_events(ticket, actor=SYSTEM)
                   if e.type == "rule.notified"]
        done = notifications.send_emails(event.data["notification_ids"])
        assert sorted(done.values()) == ["failed", "sent"]
        assert sends.sent == [("Ada", f"New: #{ticket}", ticket)]
        [gone] = notifications.list_notifications(actor=gil)
        assert (gone.email_state, gone.email_error) == ("failed", "mailbox gone")


def test_hook_helpdesk_ticket_event(app_factory) -> None:
    seen = []

    class Broken:
        @hookimpl
        def helpdesk_ticket_event(self, event) -> None:
            raise ValueError("plugin bug")

    class Listener:
        @hookimpl
        def helpdesk_ticket_event(self, helpdesk, event) -> None:
            # runs after commit: the change is visible from a fresh query
            from flask_helpdesk.models import Ticket

            row = helpdesk.db.session.get(Ticket, event.ticket_id)
            seen.append((event.type, row is not None))

    app = app_factory(plugins=[Broken(), Listener()])
    with app.app_context():
        from flask_helpdesk.services import customers

        customer = customers.create_customer(actor=SYSTEM, name="X")
        ticket = tickets.create_ticket(actor=SYSTEM, customer_id=customer.id, subject="S",
                                       text="t")
        assert seen == [("ticket.created", True), ("message.received", True)]
        seen.clear()
        with pytest.raises(ValidationError):
            tickets.update_ticket(ticket.id, actor=SYSTEM,
                                  changes=TicketChanges(priority="urgent", status="bogus"))
        assert seen == []  # rolled back: nothing dispatched


def test_hook_helpdesk_allow_automatic_reply(app_factory) -> None:
    from flask_helpdesk.services import rules

    class Guard:
        def __init__(self) -> None:
            self.asked: list[tuple[int, str | None, str | None]] = []

        @hookimpl
        def helpdesk_allow_automatic_reply(self, ticket, message, recipient):
            self.asked.append((ticket.id, message.text if message else None,
                               recipient.value if recipient else None))
            return False if "out of office" in message.text else None

    class Agrees:
        @hookimpl
        def helpdesk_allow_automatic_reply(self):
            return True  # one False is enough to refuse

    guard = Guard()
    app = app_factory(plugins=[RecordingChannel(), guard, Agrees()])
    with app.app_context():
        rules.create_rule(actor=SYSTEM, name="ack", enabled=True,
                          when={"type": "event", "on": "ticket.created"},
                          actions=[{"type": "reply", "text": "We got it."},
                                   {"type": "add_tags", "tags": ["acked"]}])
        person = ingest(_inbound(1))
        robot = ingest(InboundMessage(channel="test", external_id="m2",
                                      sender=Identity("email", "ooo@example.net"),
                                      subject="Re: hi", text="I am out of office"))
        replies = {r: [m.text for m in messages.list_messages(r.ticket_id, actor=SYSTEM)
                       if m.kind == "reply"] for r in (person, robot)}
        assert replies == {person: ["We got it."], robot: []}
        assert guard.asked == [(person.ticket_id, "buy now", "spammer@example.net"),
                               (robot.ticket_id, "I am out of office", "ooo@example.net")]
        history = tickets.list_events(robot.ticket_id, actor=SYSTEM)
        refused = [e for e in history if e.type == "message.automatic_reply_refused"]
        assert [e.actor_name for e in refused] == ["Rule: ack"]
        assert {t.name for t in tickets.get_ticket(robot.ticket_id, actor=SYSTEM).tags} == {
            "acked"}  # the rule's other actions still apply


def test_hook_helpdesk_register_rule_actions(app_factory) -> None:
    from flask_helpdesk.services import customers
    from flask_helpdesk.services import rules

    class Escalate:
        @hookimpl
        def helpdesk_register_rule_actions(self):
            def validate(action):
                if action.get("level") not in (1, 2):
                    raise ValidationError("escalate needs level 1 or 2.", field="actions")
                return {"type": "escalate", "level": action["level"]}

            def apply(ticket_id, actor, action):
                tickets.update_ticket(ticket_id, actor=actor, changes=TicketChanges(
                    add_tags=[f"level-{action['level']}"]))

            return {"escalate": {"validate": validate, "apply": apply}}

    app = app_factory(plugins=[Escalate()])
    with app.app_context():
        with pytest.raises(ValidationError, match="level 1 or 2"):
            rules.create_rule(actor=SYSTEM, name="bad", when={"type": "manual"},
                              actions=[{"type": "escalate", "level": 7}])
        rules.create_rule(actor=SYSTEM, name="esc", enabled=True,
                          when={"type": "event", "on": "ticket.created"},
                          actions=[{"type": "escalate", "level": 2}])
        customer = customers.create_customer(actor=SYSTEM, name="C",
                                             identities=[("email", "c@example.org")])
        ticket = tickets.create_ticket(actor=SYSTEM, customer_id=customer.id, subject="s",
                                       text="t")
        history = tickets.list_events(ticket.id, actor=SYSTEM)
        tagged = [e for e in history if e.type == "ticket.tags_changed"]
        assert [(e.data["added"], e.actor_name) for e in tagged] == [(["level-2"], "Rule: esc")]


def test_hook_helpdesk_customer_sidebar_html(app_factory) -> None:
    from markupsafe import Markup

    from flask_helpdesk.services import agents
    from flask_helpdesk.services import customers
    from flask_helpdesk.testing import User

    seen = []

    class Crm:
        @hookimpl
        def helpdesk_customer_sidebar_html(self, helpdesk, customer, agent):
            seen.append((helpdesk.app, customer.id, agent.name))
            return Markup("<h2>CRM</h2><p>Plan: {}</p>").format(customer.attributes["plan"])

    class Silent:
        @hookimpl
        def helpdesk_customer_sidebar_html(self, customer):
            return None

    app = app_factory(plugins=[Crm(), Silent()])
    with app.app_context():
        agents.create_agent(actor=SYSTEM, name="Ann", email="ann@example.com", user_id="1")
        customer = customers.create_customer(actor=SYSTEM, name="Carla",
                                             attributes={"plan": "<gold>"})
        customer_id = customer.id
    page = app.test_client(user=User("1")).get(f"/helpdesk/customers/{customer_id}").text
    assert seen == [(app, customer_id, "Ann")]
    assert "<h2>CRM</h2><p>Plan: &lt;gold&gt;</p>" in page
    assert page.count('class="hd-sidebar-block"') == 1  # None adds no block


def test_hook_helpdesk_channel_settings(app_factory) -> None:
    from flask_helpdesk.services import agents
    from flask_helpdesk.services import channels
    from flask_helpdesk.testing import User

    class Form:
        @hookimpl
        def helpdesk_channel_settings(self):
            return [{"channel": "test", "label": "Test bot", "fields": [
                {"name": "url", "label": "Bot URL", "type": "text", "required": True},
                {"name": "api_key", "label": "API key", "type": "password"},
            ]}]

    app = app_factory(plugins=[RecordingChannel(), Form()])
    with app.app_context():
        form = channels.channel_forms()["test"]
        assert [(f.name, f.secret, f.required) for f in form.fields] == [
            ("url", False, True), ("api_key", True, False)]
        agents.create_agent(actor=SYSTEM, name="Ada", user_id="1", role="admin")
    page = app.test_client(user=User("1")).get("/helpdesk/admin/channels/new/test").text
    assert "Bot URL" in page and 'type="password" name="api_key"' in page


def test_hook_helpdesk_channel_settings_must_name_a_declared_channel(app_factory) -> None:
    from flask_helpdesk.services import channels

    class Stray:
        @hookimpl
        def helpdesk_channel_settings(self):
            return [{"channel": "fax", "fields": []}]

    app = app_factory(plugins=[Stray()])
    with app.app_context(), pytest.raises(RuntimeError, match="'fax'"):
        channels.channel_forms()
