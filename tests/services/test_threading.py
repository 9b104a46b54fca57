"""Who may join a ticket: key origin, participants, mailing lists, resolved tickets.

Every rule is checked through ``ingest`` and through ``ingest_batch`` (a batch
of one, and all rules in one batch against one-by-one ingest).
"""

from __future__ import annotations

import pytest
from sqlalchemy import select

from flask_helpdesk import Identity
from flask_helpdesk import InboundMessage
from flask_helpdesk import ValidationError
from flask_helpdesk import get_state
from flask_helpdesk.models import Message
from flask_helpdesk.models import Ticket
from flask_helpdesk.models import TicketParticipant
from flask_helpdesk.services import SYSTEM
from flask_helpdesk.services import IngestResult
from flask_helpdesk.services import TicketChanges
from flask_helpdesk.services import agents
from flask_helpdesk.services import ingest
from flask_helpdesk.services import ingest_batch
from flask_helpdesk.services import messages
from flask_helpdesk.services import outbox
from flask_helpdesk.services import tickets
from tests.plugins.channel import RecordingChannel


@pytest.fixture
def app(app_factory, recorder):
    app = app_factory(plugins=[recorder, RecordingChannel()])
    with app.app_context():
        yield app


def _batch_of_one(message: InboundMessage) -> IngestResult:
    result = ingest_batch([message])[0]
    assert isinstance(result, IngestResult), result
    return result


@pytest.fixture(params=["ingest", "ingest_batch"])
def store(request):
    """Ingest one message through either path."""
    return ingest if request.param == "ingest" else _batch_of_one


def msg(key: str, sender: str, *, cc: tuple[str, ...] = (), **kw) -> InboundMessage:
    kw.setdefault("subject", f"About {key}")
    kw.setdefault("text", f"text of {key}")
    return InboundMessage(channel="test", external_id=f"<{key}@mail>",
                          sender=Identity("email", sender), own_keys=(key,),
                          participants=tuple(Identity("email", a) for a in cc), **kw)


def status(ticket_id: int) -> str:
    return tickets.get_ticket(ticket_id, actor=SYSTEM).status


def set_status(ticket_id: int, value: str) -> None:
    tickets.update_ticket(ticket_id, actor=SYSTEM, changes=TicketChanges(status=value))


def sent_reply(ticket_id: int) -> str:
    """Send a reply on the ticket; the key the channel gave it."""
    reply = messages.reply(ticket_id, actor=SYSTEM, text="We are on it.")
    assert outbox.deliver(reply.id) == "sent"
    return f"out-{reply.id}"


# ------------------------------------------------------------- thread keys


def test_customer_reply_to_her_own_message_threads(app, store) -> None:
    first = store(msg("c1", "carla@example.org"))
    again = store(msg("c2", "Carla@Example.org", thread_keys=("c1",)))
    assert again.ticket_id == first.ticket_id and not again.created


def test_stranger_quoting_a_customers_message_id_opens_a_new_ticket(app, store) -> None:
    first = store(msg("c1", "carla@example.org"))
    eve = store(msg("e1", "eve@evil.example", thread_keys=("c1",)))
    assert eve.created and eve.ticket_id != first.ticket_id
    messages_of_first = get_state().db.session.scalars(
        select(Message.external_id).where(Message.ticket_id == first.ticket_id)).all()
    assert messages_of_first == ["<c1@mail>"]


def test_reply_to_our_message_threads_from_a_new_address(app, store) -> None:
    first = store(msg("c1", "carla@example.org"))
    ours = sent_reply(first.ticket_id)
    other = store(msg("o1", "carla.home@example.net", thread_keys=(ours,)))
    assert other.ticket_id == first.ticket_id and not other.created


def participants() -> list[tuple[int, str]]:
    return [tuple(r) for r in get_state().db.session.execute(select(
        TicketParticipant.ticket_id, TicketParticipant.value).order_by(TicketParticipant.id))]


def test_who_answered_our_message_is_remembered_for_the_token_and_inbound_ids(
        app, store) -> None:
    first = store(msg("c1", "carla@example.org"))
    ours = sent_reply(first.ticket_id)
    olga = store(msg("o1", "Olga@Example.net", thread_keys=(ours,)))
    assert olga.ticket_id == first.ticket_id
    assert participants() == [(first.ticket_id, "olga@example.net")]
    by_token = store(msg("o2", "olga@example.net", ticket_hint=first.ticket_id,
                         subject=f"Re: [#{first.ticket_id}] About c1"))
    by_carlas_id = store(msg("o3", "olga@example.net", thread_keys=("c1",)))
    assert (by_token.ticket_id, by_token.created) == (first.ticket_id, False)
    assert (by_carlas_id.ticket_id, by_carlas_id.created) == (first.ticket_id, False)
    # still no one else's: a stranger with the token opens a ticket of her own
    assert store(msg("e1", "eve@evil.example", ticket_hint=first.ticket_id)).created


def test_the_customer_answering_our_message_is_no_participant(app, store) -> None:
    first = store(msg("c1", "carla@example.org"))
    again = store(msg("c2", "carla@example.org", thread_keys=(sent_reply(first.ticket_id),)))
    assert again.ticket_id == first.ticket_id
    assert participants() == []


def test_who_answers_our_message_on_a_closed_ticket_joins_only_the_follow_up(
        app, store) -> None:
    first = store(msg("c1", "carla@example.org"))
    ours = sent_reply(first.ticket_id)
    set_status(first.ticket_id, "closed")
    olga = store(msg("o1", "olga@example.net", thread_keys=(ours,)))
    assert olga.created and olga.follow_up_of == first.ticket_id
    assert participants() == []
    assert store(msg("o2", "olga@example.net", ticket_hint=first.ticket_id)).created


def test_in_reply_to_comes_before_references(app, store) -> None:
    a = store(msg("a1", "carla@example.org"))
    b = store(msg("b1", "carla@example.org", subject="Another matter"))
    ours_a, ours_b = sent_reply(a.ticket_id), sent_reply(b.ticket_id)
    # In-Reply-To (first) names b's reply, References a's.
    result = store(msg("x1", "new@example.net", thread_keys=(ours_b, ours_a)))
    assert result.ticket_id == b.ticket_id


def test_a_key_the_sender_may_not_use_is_passed_over_for_the_next(app, store) -> None:
    first = store(msg("c1", "carla@example.org"))
    other = store(msg("d1", "dan@example.org"))
    ours = sent_reply(first.ticket_id)
    # Dan's own id is fine, Carla's inbound id is not; ours would be, but Dan's comes first.
    result = store(msg("d2", "dan@example.org", thread_keys=("c1", "d1", ours)))
    assert result.ticket_id == other.ticket_id


def test_cc_participant_threads_by_the_tickets_inbound_ids(app, store) -> None:
    first = store(msg("c1", "carla@example.org", cc=("dave@example.org",)))
    dave = store(msg("d1", "dave@example.org", thread_keys=("c1",)))
    assert dave.ticket_id == first.ticket_id and not dave.created


def test_to_and_cc_of_later_mail_make_participants_too(app, store) -> None:
    first = store(msg("c1", "carla@example.org"))
    store(msg("c2", "carla@example.org", thread_keys=("c1",), cc=("Erin@Example.org",)))
    erin = store(msg("e1", "erin@example.org", thread_keys=("c2",)))
    assert erin.ticket_id == first.ticket_id
    rows = get_state().db.session.execute(select(
        TicketParticipant.ticket_id, TicketParticipant.kind, TicketParticipant.value)).all()
    assert [tuple(r) for r in rows] == [(first.ticket_id, "email", "erin@example.org")]


# ------------------------------------------------------------ ticket hint


def test_ticket_token_from_a_cc_participant_threads(app, store) -> None:
    first = store(msg("c1", "carla@example.org", cc=("dave@example.org",)))
    dave = store(msg("d1", "dave@example.org", ticket_hint=first.ticket_id,
                     subject=f"Re: [#{first.ticket_id}] About c1"))
    assert dave.ticket_id == first.ticket_id and not dave.created


def test_ticket_token_from_a_stranger_opens_a_new_ticket(app, store) -> None:
    first = store(msg("c1", "carla@example.org", cc=("dave@example.org",)))
    eve = store(msg("e1", "eve@evil.example", ticket_hint=first.ticket_id))
    assert eve.created and eve.ticket_id != first.ticket_id


def test_participants_of_one_ticket_are_not_participants_of_another(app, store) -> None:
    store(msg("c1", "carla@example.org", cc=("dave@example.org",)))
    other = store(msg("f1", "fay@example.org"))
    dave = store(msg("d1", "dave@example.org", ticket_hint=other.ticket_id))
    assert dave.created and dave.ticket_id != other.ticket_id


def test_invalid_participants_are_left_out(app, store) -> None:
    first = store(msg("c1", "carla@example.org", cc=("not an address", "carla@example.org")))
    assert first.created
    assert get_state().db.session.scalars(select(TicketParticipant)).all() == []


# ----------------------------------------------------------- mailing lists


def test_list_members_replies_to_a_newsletter_are_not_glued(app, store) -> None:
    news = store(msg("n1", "news@list.example", mailing_list=True,
                     cc=("ann@x.example", "bob@y.example")))
    ann = store(msg("r1", "ann@x.example", thread_keys=("n1",), mailing_list=True))
    bob = store(msg("r2", "bob@y.example", thread_keys=("n1",), mailing_list=True))
    bob_again = store(msg("r3", "bob@y.example", thread_keys=("r1", "n1"), mailing_list=True))
    assert len({news.ticket_id, ann.ticket_id, bob.ticket_id, bob_again.ticket_id}) == 4
    assert ann.created and bob.created and bob_again.created


def test_list_mail_joins_its_senders_own_ticket(app, store) -> None:
    first = store(msg("p1", "ann@x.example", mailing_list=True))
    again = store(msg("p2", "ann@x.example", thread_keys=("p1",), mailing_list=True))
    assert again.ticket_id == first.ticket_id


def test_list_mail_does_not_use_our_keys_nor_the_token_of_others(app, store) -> None:
    first = store(msg("c1", "carla@example.org"))
    ours = sent_reply(first.ticket_id)
    by_key = store(msg("l1", "ann@x.example", thread_keys=(ours,), mailing_list=True))
    by_hint = store(msg("l2", "bob@y.example", ticket_hint=first.ticket_id, mailing_list=True))
    assert by_key.created and by_hint.created
    assert first.ticket_id not in (by_key.ticket_id, by_hint.ticket_id)


# -------------------------------------------------------- resolved tickets


@pytest.mark.parametrize("setting", [None, "reopen"])
def test_reply_to_resolved_ticket_reopens_it_by_default(app, store, setting) -> None:
    first = store(msg("c1", "carla@example.org"))
    if setting is not None:
        group = agents.create_group(actor=SYSTEM, name="Support", resolved_reply=setting)
        tickets.update_ticket(first.ticket_id, actor=SYSTEM,
                              changes=TicketChanges(group_id=group.id))
    set_status(first.ticket_id, "resolved")
    again = store(msg("c2", "carla@example.org", thread_keys=("c1",)))
    assert again.ticket_id == first.ticket_id and not again.created
    assert status(first.ticket_id) == "open"


def test_reply_to_resolved_ticket_of_a_follow_up_group_opens_a_linked_ticket(
        app, store, recorder) -> None:
    group = agents.create_group(actor=SYSTEM, name="Sales", resolved_reply="follow_up")
    first = store(msg("c1", "carla@example.org"))
    tickets.update_ticket(first.ticket_id, actor=SYSTEM,
                          changes=TicketChanges(group_id=group.id, status="resolved"))
    recorder.clear()
    again = store(msg("c2", "carla@example.org", ticket_hint=first.ticket_id))
    assert again.created and again.follow_up_of == first.ticket_id
    follow_up = get_state().db.session.get(Ticket, again.ticket_id)
    assert follow_up.follow_up_of_id == first.ticket_id and follow_up.status == "open"
    assert status(first.ticket_id) == "resolved"
    assert "ticket.follow_up_created" in recorder.types
    # The follow-up is open: the next reply joins it, not a third ticket.
    third = store(msg("c3", "carla@example.org", thread_keys=("c2",)))
    assert third.ticket_id == again.ticket_id and not third.created


def test_group_setting_is_validated_and_changeable(app) -> None:
    with pytest.raises(ValidationError) as err:
        agents.create_group(actor=SYSTEM, name="Bad", resolved_reply="ignore")
    assert err.value.field == "resolved_reply"
    group = agents.create_group(actor=SYSTEM, name="Support")
    assert group.resolved_reply == "reopen"
    assert agents.update_group(group.id, actor=SYSTEM,
                               resolved_reply="follow_up").resolved_reply == "follow_up"
    with pytest.raises(ValidationError):
        agents.update_group(group.id, actor=SYSTEM, resolved_reply="")


# ------------------------------------------- both paths, all in one batch


def scenario(run: str, store_all) -> list[tuple[str, bool, str | None]]:
    """Every rule at once; per message its ticket (by first message), created, follow-up of."""
    group = agents.create_group(actor=SYSTEM, name=f"Follow-up {run}",
                                resolved_reply="follow_up")

    def m(key: str, sender: str, **kw) -> InboundMessage:
        local, domain = sender.split("@")
        kw["cc"] = tuple(f"{c.split('@')[0]}+{run}@{c.split('@')[1]}" for c in kw.get("cc", ()))
        return msg(f"{run}-{key}", f"{local}+{run}@{domain}", account=run, **{
            "thread_keys": tuple(f"{run}-{k}" for k in kw.pop("keys", ())), **kw})

    carla = ingest(m("c1", "carla@example.org", cc=("dave@example.org",)))
    resolved = ingest(m("r1", "rita@example.org"))
    tickets.update_ticket(resolved.ticket_id, actor=SYSTEM,
                          changes=TicketChanges(group_id=group.id, status="resolved"))
    ours = messages.reply(carla.ticket_id, actor=SYSTEM, text="Hello")
    outbox.deliver(ours.id)
    ours_key = f"out-{ours.id}"
    batch = [
        m("n1", "news@list.example", mailing_list=True, cc=("ann@x.example",)),
        m("a1", "ann@x.example", keys=("n1",), mailing_list=True),
        m("b1", "bob@y.example", keys=("n1",), mailing_list=True),
        m("e1", "eve@evil.example", keys=("c1",)),
        m("c2", "carla@example.org", keys=("c1",)),
        m("d1", "dave@example.org", ticket_hint=carla.ticket_id),
        m("d2", "dave@example.org", keys=("c2",)),
        msg(f"{run}-x1", f"new+{run}@example.net", account=run, thread_keys=(ours_key,)),
        m("x2", "new@example.net", ticket_hint=carla.ticket_id),
        m("x3", "new@example.net", keys=("c1",)),
        m("r2", "rita@example.org", keys=("r1",)),
        m("r3", "rita@example.org", keys=("r2",)),
        m("f1", "fred@example.org", cc=("gina@example.org",)),
        m("g1", "gina@example.org", keys=("f1",)),
    ]
    results = store_all(batch)
    s = get_state().db.session
    label = {}
    for ext, ticket_id in s.execute(select(Message.external_id, Message.ticket_id).where(
            Message.account == run).order_by(Message.id)):
        label.setdefault(ticket_id, ext.strip("<>").split("@")[0].split("-", 1)[1])
    return [(label[r.ticket_id], r.created, label.get(r.follow_up_of)) for r in results]


def test_batch_threads_as_one_by_one_ingest(app) -> None:
    expected = scenario("one", lambda batch: [ingest(m) for m in batch])
    got = scenario("batch", ingest_batch)
    assert got == expected
    assert got == [
        ("n1", True, None),
        ("a1", True, None),    # list replies are not glued to the newsletter
        ("b1", True, None),
        ("e1", True, None),    # a stranger quoting Carla's id
        ("c1", False, None),   # Carla's own reply
        ("c1", False, None),   # Dave was in Cc: his token threads
        ("c1", False, None),   # ... and so do Carla's ids for him
        ("c1", False, None),   # a reply to our id from a new address
        ("c1", False, None),   # ... who is remembered: their token threads
        ("c1", False, None),   # ... and so do Carla's ids for them
        ("r2", True, "r1"),  # resolved, group opens a follow-up
        ("r2", False, None),   # the follow-up is open
        ("f1", True, None),
        ("f1", False, None),   # Cc'd on a message earlier in the batch
    ]
