"""Group figures and deletion, and the last-admin protection of agents."""

from __future__ import annotations

import pytest

from flask_helpdesk.errors import Conflict
from flask_helpdesk.errors import PermissionDenied
from flask_helpdesk.errors import ValidationError
from flask_helpdesk.services import SYSTEM
from flask_helpdesk.services import TicketChanges
from flask_helpdesk.services import agents
from flask_helpdesk.services import channels
from flask_helpdesk.services import tickets


def _ticket(team, group, *, assignee=None, status: str = "open") -> int:
    ticket = tickets.create_ticket(actor=team.admin, customer_id=team.customer.id,
                                   subject="Help", text="Hello", group_id=group.id,
                                   assignee_id=assignee.id if assignee else None)
    if status != "open":
        tickets.update_ticket(ticket.id, actor=team.admin, changes=TicketChanges(status=status))
    return ticket.id


def _stats() -> dict[str, tuple[int, int, int, int]]:
    return {s.group.name: (s.members, s.unsolved, s.tickets, s.accounts)
            for s in agents.list_group_stats()}


def test_group_stats_count_members_tickets_and_accounts(team) -> None:
    _ticket(team, team.support)
    _ticket(team, team.support, status="pending")
    _ticket(team, team.support, status="resolved")
    _ticket(team, team.billing)
    agents.update_agent(team.boris.id, actor=SYSTEM, active=False)
    channels.create_account(actor=SYSTEM, channel="web", name="site", group_id=team.billing.id)
    assert _stats() == {"Billing": (0, 1, 1, 1), "Support": (2, 2, 3, 0)}


def test_delete_is_refused_while_tickets_or_accounts_point_at_it(team) -> None:
    _ticket(team, team.billing)
    with pytest.raises(Conflict, match="1 tickets and 0 channel accounts") as info:
        agents.delete_group(team.billing.id, actor=team.admin)
    assert info.value.field == "move_to"
    empty = agents.create_group(actor=team.admin, name="Empty")
    channels.create_account(actor=SYSTEM, channel="web", name="site", group_id=empty.id)
    with pytest.raises(Conflict, match="0 tickets and 1 channel accounts"):
        agents.delete_group(empty.id, actor=team.admin)
    assert set(_stats()) == {"Billing", "Empty", "Support"}


def test_delete_moves_tickets_and_accounts_with_history(team, recorder) -> None:
    kept = _ticket(team, team.billing, assignee=team.manager)  # managers work anywhere
    dropped = _ticket(team, team.billing, assignee=team.boris)  # boris is not in support
    closed = _ticket(team, team.billing, status="closed")
    account = channels.create_account(actor=SYSTEM, channel="web", name="site",
                                      group_id=team.billing.id)
    recorder.clear()
    agents.delete_group(team.billing.id, actor=team.admin, move_to=team.support.id)
    assert set(_stats()) == {"Support"}
    for tid, assignee in ((kept, team.manager.id), (dropped, None), (closed, None)):
        ticket = tickets.get_ticket(tid, actor=SYSTEM)
        assert (ticket.group_id, ticket.assignee_id) == (team.support.id, assignee)
    event = [e for e in tickets.list_events(dropped, actor=SYSTEM)][-1]
    assert (event.type, event.data) == ("ticket.assigned", {
        "old": team.boris.id, "new": None, "group_old": team.billing.id,
        "group_new": team.support.id})
    assert channels.get_account(account.id, actor=SYSTEM).group_id == team.support.id
    assert agents.get_agent(team.boris.id).groups == []
    assert sorted(e.ticket_id for e in recorder.events if e.type == "ticket.assigned") == [
        kept, dropped, closed]


def test_delete_checks_the_target_and_the_actor(team) -> None:
    with pytest.raises(ValidationError):
        agents.delete_group(team.support.id, actor=team.admin, move_to=team.support.id)
    with pytest.raises(PermissionDenied):
        agents.delete_group(team.support.id, actor=team.manager, move_to=team.billing.id)
    assert set(_stats()) == {"Billing", "Support"}


def test_the_last_admin_cannot_be_demoted_or_deactivated(team) -> None:
    with pytest.raises(Conflict, match="last active administrator") as info:
        agents.update_agent(team.admin.id, actor=team.admin, role="manager")
    assert info.value.field == "role"
    with pytest.raises(Conflict) as info:
        agents.update_agent(team.admin.id, actor=team.admin, active=False)
    assert info.value.field == "active"
    assert agents.get_agent(team.admin.id).role == "admin"
    # With a second admin, the first may step down.
    agents.update_agent(team.manager.id, actor=team.admin, role="admin")
    agents.update_agent(team.admin.id, actor=team.admin, role="agent")
    assert agents.get_agent(team.admin.id).role == "agent"
    with pytest.raises(Conflict):
        agents.update_agent(team.manager.id, actor=team.manager, active=False)
