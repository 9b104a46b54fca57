from __future__ import annotations

import pytest

from flask_helpdesk import PermissionDenied
from flask_helpdesk import ValidationError
from flask_helpdesk.models.ticket import STATUSES
from flask_helpdesk.models.ticket import TRANSITIONS
from flask_helpdesk.services import TicketChanges
from flask_helpdesk.services import tickets


def _ticket(team, **kw):
    kw.setdefault("group_id", team.support.id)
    return tickets.create_ticket(actor=team.anna, customer_id=team.customer.id,
                                 subject="Printer is broken", text="It prints nothing.", **kw)


def test_create_records_history_and_dispatches_after_commit(team, recorder) -> None:
    recorder.clear()
    ticket = _ticket(team, tags=["Printer", "urgent-ish"])
    assert ticket.status == "open" and ticket.priority_name == "normal"
    assert [t.name for t in ticket.tags] == ["printer", "urgent-ish"]
    assert recorder.types == ["ticket.created", "message.received"]
    assert recorder.events[0].actor_agent_id == team.anna.id
    history = tickets.list_events(ticket.id, actor=team.anna)
    assert [e.type for e in history] == ["ticket.created", "message.received"]


@pytest.mark.parametrize("old", STATUSES)
@pytest.mark.parametrize("new", STATUSES)
def test_status_transitions_are_exactly_the_allowed_ones(team, old, new) -> None:
    ticket = _ticket(team)
    if old != "open":
        path = {"pending": ["pending"], "on_hold": ["on_hold"], "resolved": ["resolved"],
                "closed": ["closed"], "spam": ["spam"]}[old]
        for step in path:
            tickets.update_ticket(ticket.id, actor=team.anna, changes=TicketChanges(status=step))
    allowed = new == old or new in TRANSITIONS[old]
    if allowed:
        result = tickets.update_ticket(ticket.id, actor=team.anna,
                                       changes=TicketChanges(status=new))
        assert result.status == new
    else:
        with pytest.raises(ValidationError) as info:
            tickets.update_ticket(ticket.id, actor=team.anna, changes=TicketChanges(status=new))
        assert info.value.field == "status"
        assert tickets.get_ticket(ticket.id, actor=team.anna).status == old


def test_closed_is_final(team) -> None:
    ticket = _ticket(team)
    tickets.update_ticket(ticket.id, actor=team.anna, changes=TicketChanges(status="closed"))
    with pytest.raises(ValidationError, match="closed"):
        tickets.update_ticket(ticket.id, actor=team.anna, changes=TicketChanges(status="open"))


def test_agent_cannot_see_other_groups_ticket(team) -> None:
    ticket = _ticket(team)
    with pytest.raises(PermissionDenied):
        tickets.get_ticket(ticket.id, actor=team.boris)
    with pytest.raises(PermissionDenied):
        tickets.update_ticket(ticket.id, actor=team.boris, changes=TicketChanges(priority="low"))
    assert tickets.get_ticket(ticket.id, actor=team.admin).id == ticket.id


def test_failed_change_changes_nothing_and_dispatches_nothing(team, recorder) -> None:
    ticket = _ticket(team)
    recorder.clear()
    with pytest.raises(ValidationError):
        tickets.update_ticket(ticket.id, actor=team.anna, changes=TicketChanges(
            priority="high", subject="x" * 500))
    assert recorder.events == []
    fresh = tickets.get_ticket(ticket.id, actor=team.anna)
    assert fresh.priority_name == "normal" and fresh.subject == "Printer is broken"
    assert [e.type for e in tickets.list_events(ticket.id, actor=team.anna)] == [
        "ticket.created", "message.received"]


def test_field_changes_record_old_and_new(team, recorder) -> None:
    ticket = _ticket(team)
    recorder.clear()
    tickets.update_ticket(ticket.id, actor=team.manager, changes=TicketChanges(
        priority="urgent", assignee_id=team.anna.id, add_tags=["vip"], status="pending"))
    by_type = {e.type: e.data for e in recorder.events}
    assert by_type["ticket.updated"] == {"field": "priority", "old": "normal", "new": "urgent"}
    assert by_type["ticket.assigned"]["new"] == team.anna.id
    assert by_type["ticket.tags_changed"] == {"added": ["vip"], "removed": []}
    assert by_type["ticket.status_changed"] == {"old": "open", "new": "pending"}


def test_assignee_must_be_in_group(team) -> None:
    ticket = _ticket(team)
    with pytest.raises(ValidationError, match="not a member"):
        tickets.update_ticket(ticket.id, actor=team.manager,
                              changes=TicketChanges(assignee_id=team.boris.id))


def test_reassign_with_note_moves_group_in_one_action(team, recorder) -> None:
    ticket = _ticket(team, assignee_id=team.anna.id)
    recorder.clear()
    tickets.reassign(ticket.id, actor=team.anna, group_id=team.billing.id,
                     note="Colleagues, please send the payment logs.")
    fresh = tickets.get_ticket(ticket.id, actor=team.boris)
    assert fresh.group_id == team.billing.id and fresh.assignee_id is None
    assert recorder.types == ["ticket.assigned", "note.added"]
    assert "payment logs" not in str(recorder.events[1].data)


def test_merge_moves_messages_and_closes_source(team) -> None:
    a, b = _ticket(team), _ticket(team)
    into = tickets.merge_tickets(b.id, a.id, actor=team.anna)
    from flask_helpdesk.services import messages

    assert len(messages.list_messages(into.id, actor=team.anna)) == 2
    source = tickets.get_ticket(b.id, actor=team.anna)
    assert source.status == "closed" and source.merged_into_id == a.id


def test_concurrent_new_tags_do_not_collide(team) -> None:
    import threading

    from flask_helpdesk import get_state
    from flask_helpdesk.services import agents

    ids = [_ticket(team).id for _ in range(6)]
    app, manager_id = get_state().app, team.manager.id
    start = threading.Barrier(len(ids))
    errors: list[BaseException] = []

    def tag(ticket_id: int) -> None:
        try:
            with app.app_context():
                manager = agents.get_agent(manager_id)
                start.wait()
                tickets.update_ticket(ticket_id, actor=manager,
                                      changes=TicketChanges(add_tags=["outage", "new-tag"]))
        except BaseException as exc:  # pragma: no cover - asserted below
            errors.append(exc)

    threads = [threading.Thread(target=tag, args=(i,)) for i in ids]
    for th in threads:
        th.start()
    for th in threads:
        th.join()
    assert errors == []
    for ticket_id in ids:
        names = [t.name for t in tickets.get_ticket(ticket_id, actor=team.manager).tags]
        assert names == ["new-tag", "outage"]
