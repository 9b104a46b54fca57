"""Admin tag services: usage counts, rename, merge and delete, with history."""

from __future__ import annotations

import pytest

from flask_helpdesk.errors import Conflict
from flask_helpdesk.errors import PermissionDenied
from flask_helpdesk.errors import ValidationError
from flask_helpdesk.services import SYSTEM
from flask_helpdesk.services import TicketChanges
from flask_helpdesk.services import tags
from flask_helpdesk.services import tickets


def _ticket(team, subject: str, tag_names: list[str], group=None) -> int:
    ticket = tickets.create_ticket(actor=team.admin, customer_id=team.customer.id,
                                   subject=subject, text="Hello", tags=tag_names,
                                   group_id=(group or team.support).id)
    return ticket.id


def _tags_of(ticket_id: int) -> list[str]:
    return [tag.name for tag in tickets.get_ticket(ticket_id, actor=SYSTEM).tags]


def _last_tag_event(ticket_id: int):
    events = [e for e in tickets.list_events(ticket_id, actor=SYSTEM)
              if e.type == "ticket.tags_changed"]
    return events[-1] if events else None


def _usage() -> dict[str, int]:
    return {u.name: u.tickets for u in tags.tag_usage()}


def test_usage_counts_tickets_per_tag(team) -> None:
    _ticket(team, "One", ["printer", "vip"])
    _ticket(team, "Two", ["printer"])
    tid = _ticket(team, "Three", ["unused"])
    tickets.update_ticket(tid, actor=team.admin, changes=TicketChanges(remove_tags=["unused"]))
    assert _usage() == {"printer": 2, "unused": 0, "vip": 1}
    assert [u.name for u in tags.tag_usage(prefix="PR")] == ["printer"]
    assert [u.name for u in tags.tag_usage(after="printer")] == ["unused", "vip"]


def test_rename_changes_every_ticket_and_records_history(team, recorder) -> None:
    a, b = _ticket(team, "One", ["printr"]), _ticket(team, "Two", ["printr", "vip"],
                                                     group=team.billing)
    other = _ticket(team, "Three", ["vip"])
    recorder.clear()
    tag = tags.rename_tag(tags.find_tag("printr").id, actor=team.admin, name="Printer")
    assert tag.name == "printer"
    assert _tags_of(a) == ["printer"] and _tags_of(b) == ["printer", "vip"]
    event = _last_tag_event(a)
    assert (event.data, event.actor_name) == ({"added": ["printer"], "removed": ["printr"]},
                                              "Ada Admin")
    assert _last_tag_event(other) is None  # untouched
    dispatched = {(e.ticket_id, e.group_id) for e in recorder.events
                  if e.type == "ticket.tags_changed"}
    assert dispatched == {(a, team.support.id), (b, team.billing.id)}


def test_rename_to_an_existing_tag_is_refused(team) -> None:
    _ticket(team, "One", ["printer", "printers"])
    with pytest.raises(Conflict, match="merge"):
        tags.rename_tag(tags.find_tag("printers").id, actor=team.admin, name="printer")
    with pytest.raises(ValidationError) as info:
        tags.rename_tag(tags.find_tag("printers").id, actor=team.admin, name="no/slash")
    assert info.value.field == "name"


def test_merge_keeps_one_tag_per_ticket(team) -> None:
    both = _ticket(team, "Both", ["printer", "printers"])
    only_source = _ticket(team, "Source", ["printers", "vip"])
    only_into = _ticket(team, "Into", ["printer"])
    source, into = tags.find_tag("printers"), tags.find_tag("printer")
    tags.merge_tags(source.id, into_id=into.id, actor=team.admin)
    assert _tags_of(both) == ["printer"]
    assert _tags_of(only_source) == ["printer", "vip"]
    assert _tags_of(only_into) == ["printer"]
    assert _usage() == {"printer": 3, "vip": 1}
    assert _last_tag_event(both).data == {"added": [], "removed": ["printers"]}
    assert _last_tag_event(only_source).data == {"added": ["printer"], "removed": ["printers"]}
    assert _last_tag_event(only_into) is None  # it had the tag already
    with pytest.raises(ValidationError):
        tags.merge_tags(into.id, into_id=into.id, actor=team.admin)


def test_delete_removes_the_tag_from_tickets(team) -> None:
    a = _ticket(team, "One", ["spam-filter", "vip"])
    deleted = tags.delete_tag(tags.find_tag("spam-filter").id, actor=team.admin)
    assert deleted == 1
    assert _tags_of(a) == ["vip"]
    assert _last_tag_event(a).data == {"added": [], "removed": ["spam-filter"]}
    assert "spam-filter" not in _usage()
    # The name can be used again afterwards.
    tickets.update_ticket(a, actor=team.admin, changes=TicketChanges(add_tags=["spam-filter"]))
    assert _tags_of(a) == ["spam-filter", "vip"]


@pytest.mark.parametrize("who", ["manager", "anna"])
def test_only_admins_change_tags(team, who: str) -> None:
    _ticket(team, "One", ["printer", "vip"])
    actor = getattr(team, who)
    tag, other = tags.find_tag("printer"), tags.find_tag("vip")
    with pytest.raises(PermissionDenied):
        tags.rename_tag(tag.id, actor=actor, name="printers")
    with pytest.raises(PermissionDenied):
        tags.merge_tags(tag.id, into_id=other.id, actor=actor)
    with pytest.raises(PermissionDenied):
        tags.delete_tag(tag.id, actor=actor)
    assert _usage() == {"printer": 1, "vip": 1}
